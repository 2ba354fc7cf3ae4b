// Tanh (matches torch.nn.Tanh): y = tanh(x); dy/dx = 1 - y^2.
// Nothing saved: backward recomputes from x.
import { pointwise, type Variant } from '../variant.js';
import { elementwise } from '../op-cost.js';

export const tanh: Variant = {
  name: 'tanh',
  params: () => ({}),
  saved: () => ({}),
  // Per element (docs/cost.md): backward recomputes t, dout (1 - t^2).
  cost: (C) => elementwise(C, { tanh: 1 }, { tanh: 1, mul: 2, add: 1 }),
  forward(out, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) out[i] = Math.tanh(x[i]);
  },
  backward(dx, _dp, dout, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) {
      const t = Math.tanh(x[i]);
      dx[i] += dout[i] * (1 - t * t);
    }
  },
  fused: (be) => pointwise(be.native ?? be.wasm, 'tanh'),
  curve: (x) => Math.tanh(x),
};
