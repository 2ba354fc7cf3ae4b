// Partial RMSNorm (pRMSNorm, Zhang & Sennrich 2019): the RMS is estimated from the first
// k = ceil(C * prmsnorm_pct) entries, clamped to [1, C] (pct is a fraction: 0.0625 = 6.25%):
//   r = sqrt(mean(x[0:k]^2) + eps), y = x / r * gain,  eps = EPS_RMS = 1e-6 inside the square root
// (the reference divides by a bare partial RMS, NaN on a zero row; spec correction).
// Saved: rrms (N) = 1 / r.
import type { ConfigOf, Variant, VariantFlag } from '../variant.js';
import { EPS_RMS } from './rmsnorm.js';
import { dot, pass } from '../op-cost.js';

const flags = [
  {
    name: 'prmsnorm_pct', type: 'float', default: 0.0625, help: 'prmsnorm: fraction of the leading entries used for the RMS',
    // Defined (k is clamped to [1, C]) but almost surely a percentage typed as a percent.
    warn: (v, _c, name) => (typeof v === 'number' && !(v > 0 && v <= 1)
      ? `--${name} is ${v}; it is a fraction in (0, 1] (0.0625 = 6.25%); k is clamped to [1, n_embd]` : null),
  },
] as const satisfies readonly VariantFlag[];
type Config = ConfigOf<typeof flags>;

/** Number of leading entries used for the RMS. */
export function prmsK(C: number, a: Config): number {
  const k = Math.ceil(C * a.prmsnorm_pct);
  return Number.isNaN(k) ? C : Math.min(C, Math.max(1, k));
}

export const prmsnorm: Variant<Config> = {
  name: 'prmsnorm',
  flags,
  params: (C) => ({ gain: { shape: [C], init: 'ones' } }),
  saved: (N) => ({ rrms: N }),
  // Forward: the RMS over k entries only, then y = x r gain over all C. Backward: S = sum(dout gain x)
  // runs over all C (every output depends on r), dgain, dx = dg r, and the correction over k entries.
  cost: (C, a) => {
    const k = prmsK(C, a);
    return {
      forward: pass(dot(k), { mul: 1 + 2 * C, add: 1, sqrt: 1 }),
      backward: pass(dot(C), { mul: C + 2 * C + C + 4 + k, add: C + k }),
    };
  },
  forward(out, x, p, s, N, C, a) {
    const gain = p.gain, k = prmsK(C, a);
    for (let n = 0; n < N; n++) {
      const o = n * C;
      let ss = 0;
      for (let c = 0; c < k; c++) ss += x[o + c] * x[o + c];
      const rr = 1 / Math.sqrt(ss / k + EPS_RMS);
      s.rrms[n] = rr;
      for (let c = 0; c < C; c++) out[o + c] = x[o + c] * rr * gain[c];
    }
  },
  // Native: the same params and saved buffers (gain; rrms), k from prmsK.
  fused(be) {
    const k = be.native;
    return k && {
      forward: (out, x, p, s, N, C, a) => k.prmsnormForward(out, s.rrms, x, p.gain, N, C, prmsK(C, a)),
      backward: (dx, dp, dout, x, p, s, N, C, a) => k.prmsnormBackward(dx, dp.gain, dout, x, p.gain, s.rrms, N, C, prmsK(C, a)),
    };
  },
  // With S = sum_c dout_c gain_c x_c: dL/dr = -S / r^2 and dr/dx_j = x_j / (k r) for j < k only,
  // so dx_c = dout_c gain_c / r  -  [c < k] S x_c / (k r^3).
  backward(dx, dp, dout, x, p, s, N, C, a) {
    const gain = p.gain, dgain = dp.gain, k = prmsK(C, a);
    for (let n = 0; n < N; n++) {
      const o = n * C, rr = s.rrms[n];
      let S = 0;
      for (let c = 0; c < C; c++) {
        S += dout[o + c] * gain[c] * x[o + c];
        dgain[c] += dout[o + c] * x[o + c] * rr;
        dx[o + c] += dout[o + c] * gain[c] * rr;
      }
      const coef = -S * rr * rr * rr / k;
      for (let c = 0; c < k; c++) dx[o + c] += coef * x[o + c];
    }
  },
};
