// SiLU / swish (matches torch.nn.SiLU): y = x * sigmoid(x);
// dy/dx = s + x s (1 - s) = s (1 + x (1 - s)), s = sigmoid(x) (the stable form of sigmoid.ts).
// Nothing saved: backward recomputes from x.
import { pointwise, type Variant } from '../variant.js';
import { sigmoidScalar } from './sigmoid.js';
import { elementwise } from '../op-cost.js';

export const silu: Variant = {
  name: 'silu',
  params: () => ({}),
  saved: () => ({}),
  // Per element (docs/cost.md): x s; backward dout s (1 + x (1 - s)).
  cost: (C) => elementwise(C, { tanh: 1, mul: 1 }, { tanh: 1, mul: 3, add: 2 }),
  forward(out, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) out[i] = x[i] * sigmoidScalar(x[i]);
  },
  backward(dx, _dp, dout, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) {
      const s = sigmoidScalar(x[i]);
      dx[i] += dout[i] * s * (1 + x[i] * (1 - s));
    }
  },
  fused: (be) => pointwise(be.native ?? be.wasm, 'silu'),
  curve: (x) => x * sigmoidScalar(x),
};
