// LayerNorm, matches torch.nn.LayerNorm (biased variance, eps = 1e-5 inside the square root):
// y = (x - mean) / sqrt(var + eps) * weight + bias. `bias` exists only with --bias.
// Saved: mean (N), rstd (N).
import type { Variant } from '../variant.js';
import { dot, pass, sum } from '../op-cost.js';

export const EPS_LN = 1e-5;

export const layernorm: Variant = {
  name: 'layernorm',
  params: (C, a) => ({
    weight: { shape: [C], init: 'ones' },
    ...(a.bias ? { bias: { shape: [C], init: 'zeros' as const } } : {}),
  }),
  saved: (N) => ({ mean: N, rstd: N }),
  // Forward: mean (a sum and 1/C), d = x - mean, variance (sum of squares of d, 1/C), + eps, one
  // reciprocal root, y = d rstd weight (+ bias). Backward: xhat, dweight (dbias), dg = dout weight,
  // the means of dg and of dg xhat, dx = rstd (dg - mean(dg) - xhat mean(dg xhat)).
  cost: (C, a) => {
    const b = a.bias ? C : 0;
    return {
      forward: pass(sum(C), dot(C), { mul: 2 + 2 * C, add: C + 1 + b, sqrt: 1 }),
      backward: pass(sum(C), dot(C), { mul: C + 2 * C + 2 + 2 * C, add: C + C + b + 2 * C }),
    };
  },
  forward(out, x, p, s, N, C) {
    const w = p.weight, b = p.bias;
    for (let n = 0; n < N; n++) {
      const o = n * C;
      let sum = 0;
      for (let c = 0; c < C; c++) sum += x[o + c];
      const m = sum / C;
      let v = 0;
      for (let c = 0; c < C; c++) { const d = x[o + c] - m; v += d * d; }
      const rstd = 1 / Math.sqrt(v / C + EPS_LN);
      s.mean[n] = m; s.rstd[n] = rstd;
      for (let c = 0; c < C; c++) out[o + c] = (x[o + c] - m) * rstd * w[c] + (b ? b[c] : 0);
    }
  },
  // Native and wasm: the same params (bias only with --bias) and saved buffers (mean, rstd).
  fused(be) {
    const k = be.native ?? be.wasm;
    return k && {
      forward: (out, x, p, s, N, C) => k.layernormForward(out, s.mean, s.rstd, x, p.weight, p.bias ?? null, N, C),
      backward: (dx, dp, dout, x, p, s, N, C) =>
        k.layernormBackward(dx, dp.weight, dp.bias ?? null, dout, x, p.weight, s.mean, s.rstd, N, C),
    };
  },
  // xhat = (x - mean) * rstd; dxhat = dout * weight;
  // dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)).
  backward(dx, dp, dout, x, p, s, N, C) {
    const w = p.weight, dw = dp.weight, db = dp.bias;
    for (let n = 0; n < N; n++) {
      const o = n * C, m = s.mean[n], rstd = s.rstd[n];
      let mdx = 0, mdxx = 0;
      for (let c = 0; c < C; c++) {
        const xhat = (x[o + c] - m) * rstd, g = dout[o + c];
        dw[c] += g * xhat;
        if (db) db[c] += g;
        mdx += g * w[c];
        mdxx += g * w[c] * xhat;
      }
      mdx /= C; mdxx /= C;
      for (let c = 0; c < C; c++) {
        const xhat = (x[o + c] - m) * rstd;
        dx[o + c] += rstd * (dout[o + c] * w[c] - mdx - xhat * mdxx);
      }
    }
  },
};
