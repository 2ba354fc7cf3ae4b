// kRMSNorm (docs/variants.md, "kRMSNorm"): the RMS estimated from k = min(C, krmsnorm_num) entries.
//   sel   = indices 0..k-1 (first), C-k..C-1 (last), or k distinct random indices (random: redrawn at
//           every forward call from ctx.rng, one draw shared by all rows of the call);
//   v'    = fake quantization of v = x[sel], per row: int8 / int16 affine with round-half-to-even
//           (src/engine/quantize.ts), or 'none' = rounded to IEEE half precision;
//   krms  = sqrt(mean(v'^2) + eps), eps = EPS_RMS = 1e-6 inside the square root;
//   r     = krms; with --krmsnorm_recompute_percentage p, per row: r = krms when
//           rms (1-p) < krms < rms (1+p), else r = rms = sqrt(mean(x^2) + eps) over all C (the row is
//           "recomputed"; the share is reported as the metric krmsnorm_recompute at every forward);
//   y     = x / r * gain (gain only with krmsnorm_enable_gain).
// Backward is straight-through for the quantizer (dv'/dv = 1, as v + (q(v) - v).detach()):
// dkrms/dx[sel_j] = v'_j / (k krms). A recomputed row gets the full RMS gradient x_c / (C rms);
// the choice between the two carries no gradient.
// Saved: sel (k) the indices of the last forward (backward must not redraw), vq (N, k) the quantized
// values, rrms (N) = 1 / r, full (N) = 1 for recomputed rows, else 0.
import { atLeast, type ConfigOf, type MetricSpec, type ParamSpec, type Variant, type VariantFlag } from '../variant.js';
import type { F } from '../../engine/types.js';
import type { Rng } from '../../engine/rng.js';
import { EPS_RMS } from './rmsnorm.js';
import { exact, fakeQuantInt, INT_RANGES, roundToHalf } from '../../engine/quantize.js';
import { dot, pass, type DeclaredCost, type Ops } from '../op-cost.js';

/** Operand width of the partial sum of squares: the quantized integers, or IEEE half for 'none'. */
const QUANT_BITS = { int8: 8, int16: 16, none: 16 } as const;

/**
 * docs/cost.md, "The counts of each variant". Per row, fake quantization of k entries (int8/int16): min and max
 * (2(k-1) compares) and the max == min test, scale = (max - min) / range (a multiply by a
 * constant), one reciprocal of scale, zp; per entry v / scale + zp, round, clamp (2), - zp, * scale.
 * 'none' rounds each entry to half precision (one compare/select class operation each). With
 * --krmsnorm_recompute_percentage the full RMS, the band test (2 multiplies, 2 compares) and the
 * choice (1 select) are added; backward then provisions the costlier full-row correction.
 */
function krmsCost(C: number, a: KrmsConfig): DeclaredCost {
  const k = krmsK(C, a), g = a.krmsnorm_enable_gain ? C : 0, recompute = a.krmsnorm_recompute_percentage != null;
  const qt = a.krmsnorm_quantize_type;
  const quant: Ops = qt === 'none' ? { cmp: k }
    : { cmp: 2 * (k - 1) + 1 + 3 * k, add: 2 + 2 * k, mul: 2 + 2 * k, div: 1 };
  const full = recompute ? pass(dot(C), { mul: 1 + 2, add: 1, sqrt: 1, cmp: 3 }) : { ops: {} };
  const m = recompute ? C : k; // entries the backward correction touches (worst row)
  return {
    forward: pass(quant, dot(k, QUANT_BITS[qt]), { mul: 1, add: 1, sqrt: 1 }, full, { mul: C + g }),
    backward: pass(dot(C), { mul: g + 2 * g + C + 4 + m, add: g + m, cmp: recompute ? 1 : 0 }),
    setup: a.krmsnorm_selection_type === 'random' ? { forward: { rand: k } } : undefined,
  };
}

const flags = [
  { name: 'krmsnorm_num', type: 'int', default: 10, help: 'krmsnorm: number of entries k used for the RMS', check: atLeast(1, ' (the number of entries the partial RMS uses)') },
  { name: 'krmsnorm_quantize_type', type: 'str', default: 'none', choices: ['int8', 'int16', 'none'], help: 'krmsnorm: fake quantization of the selected entries' },
  { name: 'krmsnorm_enable_gain', type: 'bool', default: true, help: 'krmsnorm: learnable gain' },
  { name: 'krmsnorm_selection_type', type: 'str', default: 'last', choices: ['first', 'last', 'random'], help: 'krmsnorm: which k entries' },
  {
    name: 'krmsnorm_recompute_percentage', type: 'float', default: null, nullable: true,
    help: 'krmsnorm: fall back to the full RMS when the partial one is off by more than this fraction',
    check: atLeast(0, ' (a fraction: 0.1 = 10%), or None to never recompute'),
  },
] as const satisfies readonly VariantFlag[];
export type KrmsConfig = ConfigOf<typeof flags>;

/** The share of rows whose RMS was recomputed over all C channels (with --krmsnorm_recompute_percentage). */
const RECOMPUTE: MetricSpec = {
  name: 'krmsnorm_recompute', label: 'kRMSNorm recompute share', column: 'recompute', aggregate: 'ratio', format: 'percent',
};

/** The native kernel's codes of --krmsnorm_quantize_type. */
const QTYPE = { none: 0, int8: 1, int16: 2 } as const;

/** k = min(C, krmsnorm_num): how many channels the partial RMS reads. */
export const krmsK = (C: number, a: KrmsConfig): number => Math.min(C, a.krmsnorm_num);

/** `quantize: false` skips step 3 (v' = v): only for tests that compare the straight-through backward.
 * Longer than 60 lines: it is one variant object (params, forward, backward, the native path), each
 * member short, kept together as every variant file keeps them. */
export function makeKrmsnorm(quantize: boolean): Variant<KrmsConfig> {
  return {
    name: 'krmsnorm',
    flags,
    // Random selection draws its channels from ctx.rng at every forward (selectEntries).
    randomWhen: (a) => a.krmsnorm_selection_type === 'random',
    params: (C, a) => (a.krmsnorm_enable_gain ? { gain: { shape: [C], init: 'ones' as const } } : {}) as Record<string, ParamSpec>,
    saved: (N, C, a) => ({ sel: krmsK(C, a), vq: N * krmsK(C, a), rrms: N, full: N }),
    cost: krmsCost,
    metrics: [RECOMPUTE],
    benchSettings: [
      { label: 'int8', flags: { krmsnorm_quantize_type: 'int8' } },
      { label: 'recompute 0.1', flags: { krmsnorm_recompute_percentage: 0.1 } },
    ],
    forward(out, x, p, s, N, C, a, ctx) {
      const k = krmsK(C, a), sel = s.sel, vq = s.vq, gain = p.gain, pct = a.krmsnorm_recompute_percentage;
      selectEntries(sel, C, k, a, ctx.rng);
      const fr = x instanceof Float32Array ? Math.fround : exact;
      const qt = a.krmsnorm_quantize_type;
      let recomputed = 0;
      for (let n = 0; n < N; n++) {
        const o = n * C, q = n * k;
        for (let j = 0; j < k; j++) vq[q + j] = x[o + sel[j]];
        if (quantize) {
          if (qt === 'none') for (let j = 0; j < k; j++) vq[q + j] = roundToHalf(vq[q + j]);
          else fakeQuantInt(vq, q, k, INT_RANGES[qt].qmin, INT_RANGES[qt].qmax, fr);
        }
        let ss = 0;
        for (let j = 0; j < k; j++) ss += vq[q + j] * vq[q + j];
        let r = Math.sqrt(ss / k + EPS_RMS);
        s.full[n] = 0;
        if (pct != null) {
          let st = 0;
          for (let c = 0; c < C; c++) st += x[o + c] * x[o + c];
          const rms = Math.sqrt(st / C + EPS_RMS);
          if (!(rms * (1 - pct) < r && r < rms * (1 + pct))) { r = rms; s.full[n] = 1; recomputed++; }
        }
        const rr = 1 / r;
        s.rrms[n] = rr;
        for (let c = 0; c < C; c++) out[o + c] = x[o + c] * rr * (gain ? gain[c] : 1);
      }
      if (pct != null) ctx.metric(RECOMPUTE.name, recomputed, N);
    },
    // Native: the selection here (first, last, or drawn from ctx.rng exactly as above, so both
    // backends draw the same channels); quantization, statistics, recomputation and gradients in C.
    fused(be) {
      const kn = be.native;
      if (!kn || !quantize) return undefined;
      return {
        forward(out, x, p, s, N, C, a, ctx) {
          const k = krmsK(C, a), sel = s.sel, pct = a.krmsnorm_recompute_percentage;
          selectEntries(sel, C, k, a, ctx.rng);
          // NaN tells the kernel that pct is unset.
          const rec = kn.krmsnormForward(out, s.vq, s.rrms, s.full, x, p.gain ?? null, sel, N, C, k,
            QTYPE[a.krmsnorm_quantize_type], pct ?? NaN);
          if (pct != null) ctx.metric(RECOMPUTE.name, rec, N);
        },
        backward(dx, dp, dout, x, p, s, N, C, a) {
          const k = krmsK(C, a);
          kn.krmsnormBackward(dx, p.gain ? dp.gain : null, dout, x, p.gain ?? null, s.sel, s.vq, s.rrms, s.full, N, C, k);
        },
      };
    },
    // With S = sum_c dout_c gain_c x_c: dL/dr = -S / r^2. Then dr/dx[sel_j] = v'_j / (k r) (kept row),
    // or dr/dx_c = x_c / (C r) (recomputed row).
    backward(dx, dp, dout, x, p, s, N, C, a) {
      const k = krmsK(C, a), sel = s.sel, vq = s.vq, gain = p.gain, dgain = dp.gain;
      for (let n = 0; n < N; n++) {
        const o = n * C, q = n * k, rr = s.rrms[n];
        let S = 0;
        for (let c = 0; c < C; c++) {
          const g = gain ? gain[c] : 1;
          S += dout[o + c] * g * x[o + c];
          if (dgain) dgain[c] += dout[o + c] * x[o + c] * rr;
          dx[o + c] += dout[o + c] * g * rr;
        }
        if (s.full[n]) {
          const coef = -S * rr * rr * rr / C;
          for (let c = 0; c < C; c++) dx[o + c] += coef * x[o + c];
        } else {
          const coef = -S * rr * rr * rr / k;
          for (let j = 0; j < k; j++) dx[o + sel[j]] += coef * vq[q + j];
        }
      }
    },
  };
}

/**
 * The k channels the partial RMS reads, into sel: first (0..k-1), last (C-k..C-1), or k distinct
 * channels drawn from rng, shared by every row of the call. The native kernel uses this too, so both
 * backends draw the same channels.
 */
export function selectEntries(sel: F, C: number, k: number, a: KrmsConfig, rng: Rng): void {
  if (a.krmsnorm_selection_type === 'random') {
    const idx = rng.choose(C, k);
    for (let j = 0; j < k; j++) sel[j] = idx[j];
  } else {
    const start = a.krmsnorm_selection_type === 'first' ? 0 : C - k;
    for (let j = 0; j < k; j++) sel[j] = start + j;
  }
}

export const krmsnorm = makeKrmsnorm(true);
