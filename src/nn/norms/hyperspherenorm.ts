// HyperSphereNorm: project each row onto the sphere of radius `radius`, then scale per channel:
//   y = x / sqrt(sum(x^2) + eps) * radius * gain,  eps = EPS_RMS = 1e-6 inside the square root
// (the reference divides by the bare L2 norm, NaN on a zero row, and never multiplies by its
// gain: both corrected by the spec).
// radius [1]: init hsnorm_radius, or sqrt(C) when unset. Learned with hsnorm_radius_learning; else a
//   constant: learned:false and persistent:false, because the reference keeps it as a plain Python
//   float that is not in its state_dict (a checkpoint with it would not load there).
// gain [C] ones, only with hsnorm_gain (else 1).
// Saved: rnorm (N) = 1 / sqrt(sum(x^2) + eps).
import type { ConfigOf, Variant, VariantFlag } from '../variant.js';
import { EPS_RMS } from './rmsnorm.js';
import { dot, pass } from '../op-cost.js';

const flags = [
  { name: 'hsnorm_gain', type: 'bool', default: false, help: 'hyperspherenorm: learnable gain' },
  {
    name: 'hsnorm_radius', type: 'float', default: null, nullable: true, help: 'hyperspherenorm: radius (default sqrt(n_embd))',
    warn: (v, _c, name) => (typeof v === 'number' && v <= 0 ? `--${name} is ${v}; a radius is normally > 0 (None: sqrt(n_embd))` : null),
  },
  { name: 'hsnorm_radius_learning', type: 'bool', default: false, help: 'hyperspherenorm: learnable radius' },
] as const satisfies readonly VariantFlag[];

export const hyperspherenorm: Variant<ConfigOf<typeof flags>> = {
  name: 'hyperspherenorm',
  flags,
  params: (C, a) => ({
    radius: {
      shape: [1],
      init: { fill: a.hsnorm_radius ?? Math.sqrt(C) },
      ...(a.hsnorm_radius_learning ? {} : { learned: false, persistent: false }),
    },
    ...(a.hsnorm_gain ? { gain: { shape: [C], init: 'ones' as const } } : {}),
  }),
  saved: (N) => ({ rnorm: N }),
  // Forward: sum of squares (no mean), + eps, one reciprocal root, rn R once, y = x (rn R) (gain).
  // Backward: dg = dout gain, S = sum(dg x), dgain, dx = dg rn R, coef = -R S rn^3, dx += coef x,
  // dradius += S rn when the radius is learned.
  cost: (C, a) => {
    const g = a.hsnorm_gain ? C : 0, r = a.hsnorm_radius_learning ? 1 : 0;
    return {
      forward: pass(dot(C), { mul: 1 + C + g, add: 1, sqrt: 1 }),
      backward: pass(dot(C), { mul: g + 2 * g + C + 4 + C + r, add: g + C + r }),
    };
  },
  forward(out, x, p, s, N, C) {
    const R = p.radius[0], gain = p.gain;
    for (let n = 0; n < N; n++) {
      const o = n * C;
      let ss = 0;
      for (let c = 0; c < C; c++) ss += x[o + c] * x[o + c];
      const rn = 1 / Math.sqrt(ss + EPS_RMS);
      s.rnorm[n] = rn;
      for (let c = 0; c < C; c++) out[o + c] = x[o + c] * rn * R * (gain ? gain[c] : 1);
    }
  },
  // Native: the radius as a number (its gradient only when learned), gain only with hsnorm_gain; rnorm.
  fused(be) {
    const k = be.native;
    return k && {
      forward: (out, x, p, s, N, C) => k.hyperspherenormForward(out, s.rnorm, x, p.gain ?? null, p.radius[0], N, C),
      backward: (dx, dp, dout, x, p, s, N, C) => k.hyperspherenormBackward(dx, p.gain ? dp.gain : null,
        dp.radius ?? null, dout, x, p.gain ?? null, p.radius[0], s.rnorm, N, C),
    };
  },
  // With m = sqrt(sum x^2 + eps) and S = sum_c dout_c gain_c x_c: dL/dm = -R S / m^2, dm/dx_c = x_c / m,
  // so dx_c = R (dout_c gain_c / m - S x_c / m^3); dradius = S / m; dgain_c = dout_c x_c R / m.
  backward(dx, dp, dout, x, p, s, N, C) {
    const R = p.radius[0], gain = p.gain, dgain = dp.gain;
    let dR = 0;
    for (let n = 0; n < N; n++) {
      const o = n * C, rn = s.rnorm[n];
      let S = 0;
      for (let c = 0; c < C; c++) {
        const g = gain ? gain[c] : 1;
        S += dout[o + c] * g * x[o + c];
        if (dgain) dgain[c] += dout[o + c] * x[o + c] * rn * R;
        dx[o + c] += dout[o + c] * g * rn * R;
      }
      const coef = -R * S * rn * rn * rn;
      for (let c = 0; c < C; c++) dx[o + c] += coef * x[o + c];
      dR += S * rn;
    }
    if (dp.radius) dp.radius[0] += dR;
  },
};
