// GLU (Dauphin et al. 2017; matches torch.nn.GLU(dim=-1)): each input row of 2C values is split
// into a = the first C and b = the last C; y = a * sigmoid(b). Gated: c_fc emits 2H so that c_proj
// still takes H (the reference halves H and crashes; docs/variants.md corrects it).
// dy/da = sigmoid(b); dy/db = a s (1 - s). Nothing saved: backward recomputes.
// curve(x): GLU is a function of two inputs; the plotted curve is its gate, sigmoid(b) with a = 1.
import type { Variant } from '../variant.js';
import { sigmoidScalar } from './sigmoid.js';
import { elementwise } from '../op-cost.js';

export const glu: Variant = {
  name: 'glu',
  gated: true,
  params: () => ({}),
  saved: () => ({}),
  // Per element (docs/cost.md): per output: a sigmoid(b); backward recomputes s, g s and g a s (1 - s).
  cost: (C) => elementwise(C, { tanh: 1, mul: 1 }, { tanh: 1, mul: 4, add: 1 }),
  forward(out, x, _p, _s, N, C) { // x: (N, 2C), out: (N, C)
    for (let n = 0; n < N; n++) {
      const o = n * C, oi = 2 * n * C;
      for (let c = 0; c < C; c++) out[o + c] = x[oi + c] * sigmoidScalar(x[oi + C + c]);
    }
  },
  backward(dx, _dp, dout, x, _p, _s, N, C) { // dx: (N, 2C), dout: (N, C)
    for (let n = 0; n < N; n++) {
      const o = n * C, oi = 2 * n * C;
      for (let c = 0; c < C; c++) {
        const g = dout[o + c], a = x[oi + c], s = sigmoidScalar(x[oi + C + c]);
        dx[oi + c] += g * s;
        dx[oi + C + c] += g * a * s * (1 - s);
      }
    }
  },
  // Native: the same layout (x and dx (N, 2C)).
  fused(be) {
    const k = be.native;
    return k && {
      forward: (out, x, _p, _s, N, C) => k.gluForward(out, x, N, C),
      backward: (dx, _dp, dout, x, _p, _s, N, C) => k.gluBackward(dx, dout, x, N, C),
    };
  },
  curve: (x) => sigmoidScalar(x),
};
