// Sigmoid (matches torch.nn.Sigmoid): y = 1 / (1 + exp(-x)); dy/dx = y (1 - y).
// Evaluated as exp(x) / (1 + exp(x)) for x < 0 so that exp never overflows for large |x|.
// Nothing saved: backward recomputes from x.
import { pointwise, type Variant } from '../variant.js';
import { elementwise } from '../op-cost.js';

export function sigmoidScalar(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

export const sigmoid: Variant = {
  name: 'sigmoid',
  params: () => ({}),
  saved: () => ({}),
  // Per element (docs/cost.md): backward recomputes y, dout y (1 - y).
  cost: (C) => elementwise(C, { tanh: 1 }, { tanh: 1, mul: 2, add: 1 }),
  forward(out, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) out[i] = sigmoidScalar(x[i]);
  },
  backward(dx, _dp, dout, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) {
      const y = sigmoidScalar(x[i]);
      dx[i] += dout[i] * y * (1 - y);
    }
  },
  fused: (be) => pointwise(be.native ?? be.wasm, 'sigmoid'),
  curve: (x) => sigmoidScalar(x),
};
