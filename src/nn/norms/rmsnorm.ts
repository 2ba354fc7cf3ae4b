// RMSNorm (Zhang & Sennrich 2019): y = x / sqrt(mean(x^2) + eps) * gain, eps = 1e-6 inside the
// square root (the reference divides by a bare RMS, which is NaN on a zero vector; spec corrects it).
// Saved: rrms (N) = 1 / sqrt(mean(x^2) + eps).
import type { Variant } from '../variant.js';
import { dot, pass } from '../op-cost.js';

export const EPS_RMS = 1e-6;

export const rmsnorm: Variant = {
  name: 'rmsnorm',
  params: (C) => ({ gain: { shape: [C], init: 'ones' } }),
  saved: (N) => ({ rrms: N }),
  // Forward: sum of squares, mean, + eps, one reciprocal root, y = x r gain. Backward: xhat = x r,
  // dgain, dg = dout gain, the mean of dg xhat, dx = r (dg - xhat m).
  cost: (C) => ({
    forward: pass(dot(C), { mul: 1 + 2 * C, add: 1, sqrt: 1 }),
    backward: pass(dot(C), { mul: C + 2 * C + 1 + 2 * C, add: C + C }),
  }),
  forward(out, x, p, s, N, C) {
    const gain = p.gain, rrms = s.rrms;
    for (let n = 0; n < N; n++) {
      const o = n * C;
      let ss = 0;
      for (let c = 0; c < C; c++) ss += x[o + c] * x[o + c];
      const r = 1 / Math.sqrt(ss / C + EPS_RMS);
      rrms[n] = r;
      for (let c = 0; c < C; c++) out[o + c] = x[o + c] * r * gain[c];
    }
  },
  // Native and wasm: the same params and saved buffers (gain; rrms).
  fused(be) {
    const k = be.native ?? be.wasm;
    return k && {
      forward: (out, x, p, s, N, C) => k.rmsnormForward(out, s.rrms, x, p.gain, N, C),
      backward: (dx, dp, dout, x, p, s, N, C) => k.rmsnormBackward(dx, dp.gain, dout, x, p.gain, s.rrms, N, C),
    };
  },
  // With xhat = x * r: dgain += dout * xhat; dxhat = dout * gain;
  // dx = r * (dxhat - xhat * mean(dxhat * xhat)).
  backward(dx, dp, dout, x, p, s, N, C) {
    const gain = p.gain, dgain = dp.gain, rrms = s.rrms;
    for (let n = 0; n < N; n++) {
      const o = n * C, r = rrms[n];
      let dot = 0;
      for (let c = 0; c < C; c++) {
        const xhat = x[o + c] * r;
        dgain[c] += dout[o + c] * xhat;
        dot += dout[o + c] * gain[c] * xhat;
      }
      dot /= C;
      for (let c = 0; c < C; c++) {
        const xhat = x[o + c] * r;
        dx[o + c] += r * (dout[o + c] * gain[c] - xhat * dot);
      }
    }
  },
};
