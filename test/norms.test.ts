// Normalization variants: values at hand-computed points (formulas written here, independent of the
// kernels), gradient checks in Float64, parameter names and shapes, and finite output on a zero row.
// Also the float16 rounding and int8/int16 fake quantization helpers behind kRMSNorm.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { norms } from '../src/nn/norms/norm-registry.js';
import { makeKrmsnorm } from '../src/nn/norms/krmsnorm.js';
import { activations } from '../src/nn/activations/activation-registry.js';
import { fakeQuantInt, roundToHalf } from '../src/engine/quantize.js';
import { erf } from '../src/engine/math.js';
import { Rng } from '../src/engine/rng.js';
import { UserError } from '../src/util/errors.js';
import { fillInit, MetricCtx } from '../src/nn/params.js';
import type { Params, Saved, Variant } from '../src/nn/variant.js';
import { numel, problemsOf } from '../src/nn/variant.js';
import type { ModelConfig } from '../src/config/config-types.js';
import { defaultConfig } from '../src/config/config.js';
import { checkVariant } from './gradcheck.js';

const EPS_RMS = 1e-6, EPS_LN = 1e-5;

function cfg(over: Partial<ModelConfig> = {}): ModelConfig {
  return { ...defaultConfig(), ...over };
}

interface Run { out: Float64Array | Float32Array; p: Params; s: Saved; ctx: MetricCtx }

/** Forward on rows `rows` (N x C) with parameters at their init, overridden by `set`. */
function run(v: Variant, a: ModelConfig, rows: number[][], set: Record<string, number[]> = {},
  opts: { f32?: boolean; rng?: Rng; training?: boolean } = {}): Run {
  const N = rows.length, C = rows[0].length;
  const mk = (n: number) => (opts.f32 ? new Float32Array(n) : new Float64Array(n));
  const p: Params = {};
  for (const [k, spec] of Object.entries(v.params(C, a))) {
    p[k] = mk(numel(spec.shape));
    fillInit(p[k], spec.init);
    if (set[k]) p[k].set(set[k]);
  }
  const s: Saved = {};
  for (const [k, n] of Object.entries(v.saved(N, C, a))) s[k] = mk(n);
  const x = mk(N * C);
  x.set(rows.flat());
  const out = mk(N * C);
  const ctx = new MetricCtx(opts.training ?? true, opts.rng ?? new Rng(7));
  v.forward(out, x, p, s, N, C, a, ctx);
  return { out, p, s, ctx };
}

function close(actual: ArrayLike<number>, expected: number[], tol = 1e-12, what = ''): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]) / Math.max(1, Math.abs(expected[i]));
    assert.ok(err <= tol, `${what}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
  }
}

const X1 = [1, 2, 3, 4];
const X2 = [-2, 0.5, 3, -1];
const sumsq = (v: number[]) => v.reduce((s, t) => s + t * t, 0);
const scaleBy = (v: number[], f: number, g?: number[]) => v.map((t, c) => t * f * (g ? g[c] : 1));

// ---------------------------------------------------------------- registry and parameters

test('registry holds every norm of the user\'s document under its own name', () => {
  for (const n of ['dact', 'hyperspherenorm', 'identity', 'krmsnorm', 'layernorm', 'prmsnorm', 'rmsnorm']) assert.ok(n in norms, n);
  for (const [k, v] of Object.entries(norms)) assert.equal(v.name, k);
});

/** name -> [shape, learned, persistent] */
function specs(v: Variant, C: number, a: ModelConfig): Record<string, [number[], boolean, boolean]> {
  const out: Record<string, [number[], boolean, boolean]> = {};
  for (const [k, s] of Object.entries(v.params(C, a))) out[k] = [s.shape, s.learned ?? true, s.persistent ?? true];
  return out;
}

test('parameter names, shapes and flags follow the spec table', () => {
  const C = 6;
  assert.deepEqual(specs(norms.layernorm, C, cfg()), { weight: [[6], true, true] });
  assert.deepEqual(specs(norms.layernorm, C, cfg({ bias: true })), { weight: [[6], true, true], bias: [[6], true, true] });
  assert.deepEqual(specs(norms.rmsnorm, C, cfg()), { gain: [[6], true, true] });
  assert.deepEqual(specs(norms.prmsnorm, C, cfg()), { gain: [[6], true, true] });
  assert.deepEqual(specs(norms.krmsnorm, C, cfg()), { gain: [[6], true, true] });
  assert.deepEqual(specs(norms.krmsnorm, C, cfg({ krmsnorm_enable_gain: false })), {});
  assert.deepEqual(specs(norms.hyperspherenorm, C, cfg()), { radius: [[1], false, false] });
  assert.deepEqual(specs(norms.hyperspherenorm, C, cfg({ hsnorm_gain: true, hsnorm_radius_learning: true })),
    { radius: [[1], true, true], gain: [[6], true, true] });
  assert.deepEqual(specs(norms.dact, C, cfg()), { alpha: [[1], true, true], gamma: [[6], true, true], beta: [[6], true, true] });
  assert.deepEqual(specs(norms.dact, C, cfg({ dact_use_alpha: false, dact_use_beta: false, dact_use_gamma: false })),
    { alpha: [[1], false, false] });
  assert.deepEqual(specs(norms.identity, C, cfg()), {});
  // inits
  const init = (v: Variant, a: ModelConfig, name: string) => {
    const s = v.params(C, a)[name]; const arr = new Float64Array(numel(s.shape)); fillInit(arr, s.init); return Array.from(arr);
  };
  assert.deepEqual(init(norms.hyperspherenorm, cfg(), 'radius'), [Math.sqrt(6)]);
  assert.deepEqual(init(norms.hyperspherenorm, cfg({ hsnorm_radius: 2.5 }), 'radius'), [2.5]);
  assert.deepEqual(init(norms.dact, cfg({ dact_alpha_init: 0.3 }), 'alpha'), [0.3]);
  assert.deepEqual(init(norms.dact, cfg({ dact_alpha_init: 0.3, dact_use_alpha: false }), 'alpha'), [0.3]);
  assert.deepEqual(init(norms.dact, cfg(), 'gamma'), [1, 1, 1, 1, 1, 1]);
  assert.deepEqual(init(norms.dact, cfg(), 'beta'), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(init(norms.rmsnorm, cfg(), 'gain'), [1, 1, 1, 1, 1, 1]);
});

// ---------------------------------------------------------------- values at known points

test('layernorm, rmsnorm, identity at known points', () => {
  const ln = (x: number[], w: number[], b: number[]) => {
    const m = x.reduce((s, t) => s + t, 0) / x.length;
    const v = x.reduce((s, t) => s + (t - m) ** 2, 0) / x.length; // biased
    return x.map((t, c) => (t - m) / Math.sqrt(v + EPS_LN) * w[c] + b[c]);
  };
  const w = [0.5, 1, 1.5, 2], b = [0.1, -0.2, 0.3, 0];
  close(run(norms.layernorm, cfg(), [X1, X2], { weight: w }).out, [...ln(X1, w, [0, 0, 0, 0]), ...ln(X2, w, [0, 0, 0, 0])]);
  close(run(norms.layernorm, cfg({ bias: true }), [X1], { weight: w, bias: b }).out, ln(X1, w, b));
  // by hand: mean 2.5, biased variance 1.25
  close(run(norms.layernorm, cfg(), [X1]).out, [-1.5, -0.5, 0.5, 1.5].map((t) => t / Math.sqrt(1.25 + 1e-5)));
  close(run(norms.rmsnorm, cfg(), [X1], { gain: w }).out, scaleBy(X1, 1 / Math.sqrt(7.5 + EPS_RMS), w));
  close(run(norms.identity, cfg(), [X1, X2]).out, [...X1, ...X2]);
});

test('prmsnorm at known points: k = ceil(C * pct) clamped to [1, C]', () => {
  const g = [1, 2, 3, 4];
  const cases: [number, number][] = [[0.5, 2], [0.3, 2], [0.25, 1], [1.0, 4], [1e-9, 1], [0, 1], [2, 4], [0.0625, 1]];
  for (const [pct, k] of cases) {
    const r = Math.sqrt(sumsq(X1.slice(0, k)) / k + EPS_RMS);
    const r2 = Math.sqrt(sumsq(X2.slice(0, k)) / k + EPS_RMS);
    close(run(norms.prmsnorm, cfg({ prmsnorm_pct: pct }), [X1, X2], { gain: g }).out,
      [...scaleBy(X1, 1 / r, g), ...scaleBy(X2, 1 / r2, g)], 1e-12, `pct ${pct}`);
  }
  // pct = 1 is rmsnorm exactly
  close(run(norms.prmsnorm, cfg({ prmsnorm_pct: 1 }), [X2]).out, Array.from(run(norms.rmsnorm, cfg(), [X2]).out));
  // C = 384 with the default 6.25% uses 24 entries
  const x = Array.from({ length: 384 }, (_, i) => (i < 24 ? 1 : 100));
  assert.ok(Math.abs(run(norms.prmsnorm, cfg(), [x]).out[0] - 1 / Math.sqrt(1 + EPS_RMS)) < 1e-12);
});

test('hyperspherenorm at known points (gain multiplied: spec correction)', () => {
  const n1 = Math.sqrt(30 + EPS_RMS);
  close(run(norms.hyperspherenorm, cfg(), [X1]).out, scaleBy(X1, 2 / n1)); // radius sqrt(4) = 2
  close(run(norms.hyperspherenorm, cfg({ hsnorm_radius: 3 }), [X1]).out, scaleBy(X1, 3 / n1));
  const g = [0.5, 1, 2, -1];
  close(run(norms.hyperspherenorm, cfg({ hsnorm_gain: true, hsnorm_radius: 3, hsnorm_radius_learning: true }), [X1, X2],
    { gain: g, radius: [1.5] }).out,
  [...scaleBy(X1, 1.5 / n1, g), ...scaleBy(X2, 1.5 / Math.sqrt(sumsq(X2) + EPS_RMS), g)]);
});

test('dact at known points: gamma * act(alpha x) + beta', () => {
  const g = [1, 2, 0.5, -1], b = [0.1, 0, -0.3, 2];
  const gelu = (t: number) => 0.5 * t * (1 + erf(t / Math.SQRT2));
  const acts: [string, (t: number) => number][] = [['tanh', Math.tanh], ['gelu', gelu], ['relu', (t) => Math.max(0, t)]];
  for (const [name, f] of acts) {
    const a = cfg({ dact_activation: name as ModelConfig['dact_activation'], dact_alpha_init: 0.5 });
    close(run(norms.dact, a, [X1, X2], { gamma: g, beta: b }).out,
      [...X1, ...X2].map((t, i) => g[i % 4] * f(0.5 * t) + b[i % 4]), 1e-12, name);
  }
  // alpha not learned: the constant dact_alpha_init (spec correction), gamma 1 and beta 0 when disabled
  const a = cfg({ dact_use_alpha: false, dact_use_gamma: false, dact_use_beta: false, dact_alpha_init: 2 });
  close(run(norms.dact, a, [X2]).out, X2.map((t) => Math.tanh(2 * t)));
  close(run(norms.dact, cfg({ dact_use_gamma: false }), [X2], { beta: b }).out, X2.map((t, c) => Math.tanh(t) + b[c]));
  close(run(norms.dact, cfg({ dact_use_beta: false }), [X2], { gamma: g }).out, X2.map((t, c) => g[c] * Math.tanh(t)));
});

// ---------------------------------------------------------------- float16 and integer fake quantization

/** Value of the binary16 with bits h, decoded by hand (independent of roundToHalf). */
function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0x1f) return f ? NaN : sign * Infinity;
  if (e === 0) return sign * f * 2 ** -24;
  return sign * (1 + f / 1024) * 2 ** (e - 15);
}

test('roundToHalf on known values', () => {
  const cases: [number, number][] = [
    [1, 1], [0.1, 0.0999755859375], [1 / 3, 0.333251953125], [Math.PI, 3.140625], [-2.5, -2.5],
    [1 + 2 ** -11, 1], // tie between 1 and 1 + 2^-10: even mantissa (1)
    [1 + 3 * 2 ** -11, 1 + 2 ** -9], // tie between 1 + 2^-10 and 1 + 2^-9: even (1 + 2^-9)
    [65504, 65504], [65519.99, 65504], [65520, Infinity], [-65520, -Infinity], [1e6, Infinity],
    [2 ** -14, 2 ** -14], [2 ** -24, 2 ** -24], [2 ** -25, 0], [1.5 * 2 ** -25, 2 ** -24],
    [5.5 * 2 ** -24, 6 * 2 ** -24], [6.5 * 2 ** -24, 6 * 2 ** -24], [1e-8, 0], [3e-8, 2 ** -24],
    [Infinity, Infinity], [-Infinity, -Infinity],
  ];
  for (const [v, want] of cases) assert.equal(roundToHalf(v), want, `roundToHalf(${v})`);
  assert.ok(Object.is(roundToHalf(-0), -0));
  assert.ok(Object.is(roundToHalf(-1e-9), -0));
  assert.ok(Number.isNaN(roundToHalf(NaN)));
});

test('roundToHalf: every finite half is fixed; midpoints go to the even neighbour (exhaustive)', () => {
  for (let h = 0; h < 0x7c00; h++) {
    const v = halfValue(h), next = halfValue(h + 1);
    assert.equal(roundToHalf(v), v);
    assert.equal(roundToHalf(-v), -v);
    if (h + 1 === 0x7c00) continue; // next is infinity
    const mid = (v + next) / 2; // exact in float64
    assert.equal(roundToHalf(mid), h % 2 === 0 ? v : next, `midpoint above half 0x${h.toString(16)}`);
    const below = mid - (next - v) * 1e-6, above = mid + (next - v) * 1e-6;
    assert.equal(roundToHalf(below), v);
    assert.equal(roundToHalf(above), next);
  }
});

test('int8 / int16 fake quantization on known values, ties to even', () => {
  const q = (v: number[], qmin: number, qmax: number, fr?: (t: number) => number) => {
    const a = new Float64Array([9, ...v]); // offset 1: only the k values after it are touched
    fakeQuantInt(a, 1, v.length, qmin, qmax, fr);
    assert.equal(a[0], 9);
    return Array.from(a.subarray(1));
  };
  // int8, min 0 max 255: scale 1, zp -128: v + zp = -127.5 -> -128, -126.5 -> -126, -125.5 -> -126, -124.5 -> -124
  assert.deepEqual(q([0, 0.5, 1.5, 2.5, 3.5, 255], -128, 127), [0, 0, 2, 2, 4, 255]);
  assert.deepEqual(q([0, 0.5, 1.5, 2.5, 3.5, 255], -128, 127, Math.fround), [0, 0, 2, 2, 4, 255]);
  // int16, min 0 max 65535: scale 1, zp -32768
  assert.deepEqual(q([0, 0.5, 1.5, 2.5, 100.4, 65535], -32768, 32767), [0, 0, 2, 2, 100, 65535]);
  // [1, 2, 3] in int8: scale 2/255, zp = -255.5; 2 -> 255 - 255.5 = -0.5 -> 0 -> v' = 255.5 * 2/255 = 511/255
  close(q([1, 2, 3], -128, 127), [1, 511 / 255, 3], 1e-14);
  close(q([1, 2, 3], -32768, 32767), [1, 2 * 65535.5 / 65535, 3], 1e-14);
  // max == min: unchanged (no division by a zero scale)
  assert.deepEqual(q([3, 3, 3], -128, 127), [3, 3, 3]);
  assert.deepEqual(q([0, 0], -128, 127), [0, 0]);
  // quantization error is at most scale / 2
  const rng = new Rng(3), v = Array.from({ length: 50 }, () => rng.normal());
  const scale = (Math.max(...v) - Math.min(...v)) / 255;
  q(v, -128, 127).forEach((t, i) => assert.ok(Math.abs(t - v[i]) <= scale / 2 + 1e-12));
});

// ---------------------------------------------------------------- kRMSNorm

/** kRMSNorm by the spec's formula, given the selected values after quantization (vq). */
function krmsRef(x: number[], vq: number[], pct: number | null, gain?: number[]): { y: number[]; full: boolean } {
  let r = Math.sqrt(sumsq(vq) / vq.length + EPS_RMS), full = false;
  if (pct !== null) {
    const rms = Math.sqrt(sumsq(x) / x.length + EPS_RMS);
    if (!(rms * (1 - pct) < r && r < rms * (1 + pct))) { r = rms; full = true; }
  }
  return { y: scaleBy(x, 1 / r, gain), full };
}

test('krmsnorm at known points: selection, quantization, recompute, gain', () => {
  const g = [1, -1, 2, 0.5];
  // first 2 of [1,2,3,4]: krms = sqrt(2.5); last 2: sqrt(12.5); both exact in half precision
  close(run(norms.krmsnorm, cfg({ krmsnorm_num: 2, krmsnorm_selection_type: 'first' }), [X1], { gain: g }).out,
    scaleBy(X1, 1 / Math.sqrt(2.5 + EPS_RMS), g));
  close(run(norms.krmsnorm, cfg({ krmsnorm_num: 2, krmsnorm_selection_type: 'last', krmsnorm_enable_gain: false }), [X1]).out,
    scaleBy(X1, 1 / Math.sqrt(12.5 + EPS_RMS)));
  // num > C: k = C, i.e. rmsnorm
  close(run(norms.krmsnorm, cfg({ krmsnorm_num: 10 }), [X1]).out, scaleBy(X1, 1 / Math.sqrt(7.5 + EPS_RMS)));
  // int8 on the first 3: 2 -> 511/255 (a tie at -0.5 rounds to 0)
  const v8 = [1, 511 / 255, 3], v16 = [1, 2 * 65535.5 / 65535, 3];
  close(run(norms.krmsnorm, cfg({ krmsnorm_num: 3, krmsnorm_selection_type: 'first', krmsnorm_quantize_type: 'int8' }), [X1]).out,
    scaleBy(X1, 1 / Math.sqrt(sumsq(v8) / 3 + EPS_RMS)));
  close(run(norms.krmsnorm, cfg({ krmsnorm_num: 3, krmsnorm_selection_type: 'first', krmsnorm_quantize_type: 'int16' }), [X1]).out,
    scaleBy(X1, 1 / Math.sqrt(sumsq(v16) / 3 + EPS_RMS)));
  // none = half precision: 0.1 -> 0.0999755859375, 1/3 -> 0.333251953125
  close(run(norms.krmsnorm, cfg({ krmsnorm_num: 2, krmsnorm_selection_type: 'first' }), [[0.1, 1 / 3, 5, 7]]).out,
    scaleBy([0.1, 1 / 3, 5, 7], 1 / Math.sqrt((0.0999755859375 ** 2 + 0.333251953125 ** 2) / 2 + EPS_RMS)));
  // per row: the quantization range is each row's own min/max
  const r2 = run(norms.krmsnorm, cfg({ krmsnorm_num: 3, krmsnorm_selection_type: 'first', krmsnorm_quantize_type: 'int8' }), [X1, [10, 20, 30, 0]]);
  close(r2.out, [...scaleBy(X1, 1 / Math.sqrt(sumsq(v8) / 3 + EPS_RMS)),
    ...scaleBy([10, 20, 30, 0], 1 / Math.sqrt(sumsq(v8.map((t) => 10 * t)) / 3 + EPS_RMS))], 1e-12);
  // recompute: first 2 of [1,2,3,4]: krms = 1.581, rms = 2.739. p = 0.5 keeps krms, p = 0.4 recomputes.
  const a5 = cfg({ krmsnorm_num: 2, krmsnorm_selection_type: 'first', krmsnorm_recompute_percentage: 0.5 });
  const k5 = run(norms.krmsnorm, a5, [X1]);
  close(k5.out, scaleBy(X1, 1 / Math.sqrt(2.5 + EPS_RMS)));
  assert.deepEqual(k5.ctx.take(), { krmsnorm_recompute: 0 });
  const a4 = cfg({ krmsnorm_num: 2, krmsnorm_selection_type: 'first', krmsnorm_recompute_percentage: 0.4 });
  const k4 = run(norms.krmsnorm, a4, [X1, [4, 3, 2, 1]]);
  // row 2: krms = sqrt(12.5) = 3.536 is within 40% of rms 2.739: kept
  close(k4.out, [...scaleBy(X1, 1 / Math.sqrt(7.5 + EPS_RMS)), ...scaleBy([4, 3, 2, 1], 1 / Math.sqrt(12.5 + EPS_RMS))]);
  assert.deepEqual(k4.ctx.take(), { krmsnorm_recompute: 0.5 });
  // no metric without the flag
  assert.deepEqual(run(norms.krmsnorm, cfg(), [X1]).ctx.take(), {});
});

test('krmsnorm random selection: k distinct indices, redrawn each call, shared by all rows', () => {
  const a = cfg({ krmsnorm_num: 3, krmsnorm_selection_type: 'random' });
  const rng = new Rng(11), C = 16, N = 5;
  const draw = new Rng(11);
  const rows = Array.from({ length: N }, () => Array.from({ length: C }, () => draw.normal()));
  const seen = new Set<string>();
  for (let call = 0; call < 6; call++) {
    const r = run(norms.krmsnorm, a, rows, {}, { rng });
    const sel = Array.from(r.s.sel);
    assert.equal(new Set(sel).size, 3);
    sel.forEach((i) => assert.ok(Number.isInteger(i) && i >= 0 && i < C));
    seen.add(sel.join(','));
    const y: number[] = [];
    for (const x of rows) y.push(...krmsRef(x, sel.map((i) => roundToHalf(x[i])), null).y.map((t, c) => t * r.p.gain[c]));
    close(r.out, y, 1e-12, `call ${call}`);
  }
  assert.ok(seen.size > 1, 'selection must be redrawn at every call');
  // the draw is rng.choose(C, k) from the run's generator
  const r = run(norms.krmsnorm, a, rows, {}, { rng: new Rng(99) });
  assert.deepEqual(Array.from(r.s.sel), Array.from(new Rng(99).choose(C, 3)));
});

const KRMS_COMBOS: Partial<ModelConfig>[] = [];
for (const q of ['int8', 'int16', 'none'] as const) {
  for (const sel of ['first', 'last', 'random'] as const) {
    for (const gain of [true, false]) {
      for (const pct of [null, 0.3]) {
        KRMS_COMBOS.push({ krmsnorm_num: 3, krmsnorm_quantize_type: q, krmsnorm_selection_type: sel, krmsnorm_enable_gain: gain, krmsnorm_recompute_percentage: pct });
      }
    }
  }
}
const label = (o: Partial<ModelConfig>) => JSON.stringify(o);

test('krmsnorm gradients without quantization match finite differences (Float64)', () => {
  const exact = makeKrmsnorm(false);
  for (const o of KRMS_COMBOS.filter((c) => c.krmsnorm_quantize_type === 'none')) {
    const res = checkVariant(exact, cfg(o), { N: 6, C: 8 });
    assert.ok(res.maxErr < 1e-6, `${label(o)}: ${res.worst}`);
  }
  // k = C and k = 1
  for (const num of [8, 1, 50]) {
    const res = checkVariant(exact, cfg({ krmsnorm_num: num, krmsnorm_selection_type: 'random' }), { N: 4, C: 8 });
    assert.ok(res.maxErr < 1e-6, `num ${num}: ${res.worst}`);
  }
});

test('krmsnorm quantized backward is straight-through: the gradient of x/r(x[sel] + frozen(q(v) - v)) * gain', () => {
  // The spec's dv'/dv = 1 means v' = v + (q(v) - v) with the bracket held constant. So at x0 the
  // backward must equal the finite-difference gradient of the hand-written kRMSNorm whose selected
  // values are x[sel] + d0, with d0 = q(x0[sel]) - x0[sel] frozen at x0's quantization error.
  const N = 6, C = 8;
  let sawBoth = false;
  for (const o of KRMS_COMBOS) {
    const a = cfg(o), v = norms.krmsnorm;
    const rng = new Rng(5);
    const rows = Array.from({ length: N }, () => Array.from({ length: C }, () => rng.normal()));
    const dout = Array.from({ length: N * C }, () => rng.normal());
    const r = run(v, a, rows, {}, { rng: new Rng(21) });
    const gain = r.p.gain ? Array.from(r.p.gain).map((t, c) => t + 0.1 * c) : undefined;
    if (gain) r.p.gain.set(gain);
    const ctx = new MetricCtx(true, new Rng(21));
    const x = new Float64Array(rows.flat());
    v.forward(r.out, x, r.p, r.s, N, C, a, ctx);
    const sel = Array.from(r.s.sel), k = sel.length, vq = Array.from(r.s.vq);
    const d0 = rows.map((row, n) => sel.map((i, j) => vq[n * k + j] - row[i]));
    const fulls = Array.from(r.s.full);
    if (o.krmsnorm_recompute_percentage != null && fulls.includes(0) && fulls.includes(1)) sawBoth = true;
    // backward with a generator in another state: it must use the saved indices, not redraw
    const dx = new Float64Array(N * C), dp: Params = {};
    if (gain) dp.gain = new Float64Array(C);
    v.backward(dx, dp, new Float64Array(dout), x, r.p, r.s, N, C, a, new MetricCtx(true, new Rng(12345)));
    const loss = (xs: number[][], g?: number[]) => {
      let L = 0;
      xs.forEach((row, n) => {
        const { y } = krmsRef(row, sel.map((i, j) => row[i] + d0[n][j]), o.krmsnorm_recompute_percentage ?? null, g);
        y.forEach((t, c) => { L += t * dout[n * C + c]; });
      });
      return L;
    };
    // forward value agrees with the reference at x0
    const y0: number[] = [];
    rows.forEach((row, n) => y0.push(...krmsRef(row, sel.map((i, j) => row[i] + d0[n][j]), o.krmsnorm_recompute_percentage ?? null, gain).y));
    close(r.out, y0, 1e-12, label(o));
    const h = 1e-5;
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        const xp = rows.map((row) => row.slice()), xm = rows.map((row) => row.slice());
        xp[n][c] += h; xm[n][c] -= h;
        const num = (loss(xp, gain) - loss(xm, gain)) / (2 * h);
        assert.ok(Math.abs(num - dx[n * C + c]) < 1e-6 * Math.max(1, Math.abs(num)), `${label(o)} dx[${n},${c}]: ${dx[n * C + c]} vs ${num}`);
      }
    }
    if (gain) {
      for (let c = 0; c < C; c++) {
        const gp = gain.slice(), gm = gain.slice();
        gp[c] += h; gm[c] -= h;
        const num = (loss(rows, gp) - loss(rows, gm)) / (2 * h);
        assert.ok(Math.abs(num - dp.gain[c]) < 1e-6 * Math.max(1, Math.abs(num)), `${label(o)} dgain[${c}]`);
      }
    }
  }
  assert.ok(sawBoth, 'the recompute configs must exercise kept and recomputed rows');
});

test('krmsnorm refuses a non-positive krmsnorm_num', () => {
  assert.match(problemsOf(norms.krmsnorm, cfg({ krmsnorm_num: 0 })).errors[0] ?? '', /krmsnorm_num/);
  assert.deepEqual(problemsOf(norms.krmsnorm, cfg()).errors, []);
});

// ---------------------------------------------------------------- dact with any inner activation

// A test-only activation with a parameter, a saved buffer and training/eval behaviour (like rrelu):
// y = w x for x >= 0, else s x with s ~ U(0.1, 0.3) per element in training, s = 0.2 in evaluation.
const probe: Variant = {
  name: 'probe',
  params: () => ({ w: { shape: [1], init: { fill: 1.5 } } }),
  saved: (N, C) => ({ slope: N * C }),
  forward(out, x, p, s, N, C, _a, ctx) {
    for (let i = 0; i < N * C; i++) {
      s.slope[i] = ctx.training ? 0.1 + 0.2 * ctx.rng.uniform() : 0.2;
      out[i] = x[i] >= 0 ? p.w[0] * x[i] : s.slope[i] * x[i];
    }
  },
  backward(dx, dp, dout, x, p, s, N, C) {
    for (let i = 0; i < N * C; i++) {
      if (x[i] >= 0) { dx[i] += dout[i] * p.w[0]; dp.w[0] += dout[i] * x[i]; } else dx[i] += dout[i] * s.slope[i];
    }
  },
};

test('dact nests the inner activation: activation.* parameters and saved buffers, ctx passed through', () => {
  activations.probe = probe;
  try {
    const a = cfg({ dact_activation: 'probe' as ModelConfig['dact_activation'] });
    assert.equal(norms.dact.check!(a), null);
    assert.deepEqual(Object.keys(norms.dact.params(4, a)), ['alpha', 'gamma', 'beta', 'activation.w']);
    assert.ok('activation.slope' in norms.dact.saved(2, 4, a));
    const x = [[1, -2, 3, -4]];
    const ev = run(norms.dact, a, x, { 'activation.w': [2], alpha: [0.5] }, { training: false });
    close(ev.out, [1, -0.2, 3, -0.4]);
    const tr = run(norms.dact, a, x, { alpha: [1] }, { training: true, rng: new Rng(4) });
    // exact check of the training draws: one uniform per element, in order
    const u2 = new Rng(4), s = [0, 1, 2, 3].map(() => 0.1 + 0.2 * u2.uniform());
    close(tr.out, [1.5, -2 * s[1], 4.5, -4 * s[3]]);
    for (const training of [true, false]) {
      const input = (rng: Rng) => (rng.uniform() < 0.5 ? -1 : 1) * (0.2 + Math.abs(rng.normal()));
      const res = checkVariant(norms.dact, a, { N: 3, C: 5, training, input });
      assert.ok(res.maxErr < 1e-6, `probe training=${training}: ${res.worst}`);
    }
  } finally {
    delete activations.probe;
  }
});

test('dact refuses glu, gated and unknown inner activations', () => {
  assert.match(norms.dact.check!(cfg({ dact_activation: 'glu' })) ?? '', /glu.*width/);
  activations.gated_probe = { ...probe, name: 'gated_probe', gated: true };
  try {
    assert.match(norms.dact.check!(cfg({ dact_activation: 'gated_probe' as ModelConfig['dact_activation'] })) ?? '', /width/);
  } finally {
    delete activations.gated_probe;
  }
  const bad = cfg({ dact_activation: 'nope' as ModelConfig['dact_activation'] });
  assert.match(norms.dact.check!(bad) ?? '', /not a known activation/);
  assert.throws(() => norms.dact.params(4, bad), UserError);
  assert.equal(norms.dact.check!(cfg()), null);
});

// ---------------------------------------------------------------- every variant: gradients and zero rows

const CONFIGS: [string, Partial<ModelConfig>][] = [
  ['layernorm', {}], ['layernorm', { bias: true }],
  ['rmsnorm', {}],
  ['identity', {}],
  ...[0.0625, 0.25, 0.5, 1.0, 1e-9].map((pct): [string, Partial<ModelConfig>] => ['prmsnorm', { prmsnorm_pct: pct }]),
  ...[false, true].flatMap((gain) => [null, 2.5].flatMap((radius) => [false, true].map((learn): [string, Partial<ModelConfig>] =>
    ['hyperspherenorm', { hsnorm_gain: gain, hsnorm_radius: radius, hsnorm_radius_learning: learn }]))),
  ...(['tanh', 'gelu', 'relu'] as const).flatMap((act) => [
    { dact_activation: act },
    { dact_activation: act, dact_use_alpha: false, dact_alpha_init: 0.7 },
    { dact_activation: act, dact_use_gamma: false, dact_use_beta: false, dact_alpha_init: 1.3 },
    { dact_activation: act, dact_use_alpha: false, dact_use_gamma: false, dact_use_beta: false },
  ].map((o): [string, Partial<ModelConfig>] => ['dact', o])),
  ...KRMS_COMBOS.map((o): [string, Partial<ModelConfig>] => ['krmsnorm', o]),
];

test('every norm config covers every registry entry', () => {
  assert.deepEqual([...new Set(CONFIGS.map(([n]) => n))].sort(), Object.keys(norms).sort());
});

test('gradients match finite differences in Float64 (error < 1e-6)', () => {
  for (const [name, o] of CONFIGS) {
    if (name === 'krmsnorm') continue; // quantized forward is piecewise constant: see the kRMSNorm tests
    // inputs kept at least 0.1 away from 0: relu's kink inside dact
    const input = (rng: Rng) => (rng.uniform() < 0.5 ? -1 : 1) * (0.1 + Math.abs(rng.normal()));
    const res = checkVariant(norms[name], cfg(o), { N: 3, C: 8, input });
    assert.ok(res.maxErr < 1e-6, `${name} ${label(o)}: ${res.worst}`);
  }
});

test('a zero row gives finite output and finite gradients, for every config (Float64 and Float32)', () => {
  for (const [name, o] of CONFIGS) {
    for (const f32 of [false, true]) {
      const v = norms[name], a = cfg(o), C = 8, N = 2;
      const rows = [new Array(C).fill(0), Array.from({ length: C }, (_, c) => c - 3.5)];
      const r = run(v, a, rows, {}, { f32 });
      for (const t of r.out) assert.ok(Number.isFinite(t), `${name} ${label(o)}: output ${t}`);
      for (let c = 0; c < C; c++) assert.ok(Math.abs(r.out[c]) < 1e-12 || name === 'dact', `${name}: zero row maps to 0`);
      const mk = (n: number) => (f32 ? new Float32Array(n) : new Float64Array(n));
      const dx = mk(N * C), dp: Params = {};
      for (const [k, p] of Object.entries(r.p)) dp[k] = mk(p.length);
      const dout = mk(N * C).fill(1);
      const x = mk(N * C); x.set(rows.flat());
      v.backward(dx, dp, dout, x, r.p, r.s, N, C, a, new MetricCtx(true, new Rng(1)));
      for (const t of dx) assert.ok(Number.isFinite(t), `${name} ${label(o)}: dx ${t}`);
      for (const [k, g] of Object.entries(dp)) for (const t of g) assert.ok(Number.isFinite(t), `${name} ${label(o)}: d${k} ${t}`);
    }
  }
});

test('Float32 forward agrees with Float64 forward', () => {
  const rng = new Rng(8);
  const rows = Array.from({ length: 3 }, () => Array.from({ length: 8 }, () => Math.fround(rng.normal())));
  for (const [name, o] of CONFIGS) {
    const a = cfg(o);
    const y64 = run(norms[name], a, rows, {}, { rng: new Rng(2) }).out;
    const y32 = run(norms[name], a, rows, {}, { f32: true, rng: new Rng(2) }).out;
    close(y32, Array.from(y64), 1e-5, `${name} ${label(o)}`);
  }
});
