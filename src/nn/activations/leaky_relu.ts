// Leaky ReLU (matches torch.nn.LeakyReLU(0.01)): y = x for x >= 0, else 0.01 x;
// dy/dx = 1 for x > 0, else 0.01 (torch's convention at 0). Nothing saved.
import { pointwise, type Variant } from '../variant.js';
import { elementwise } from '../op-cost.js';

export const LEAKY_SLOPE = 0.01;

export const leaky_relu: Variant = {
  name: 'leaky_relu',
  params: () => ({}),
  saved: () => ({}),
  // Per element (docs/cost.md): 0.01 x (or 0.01 dout), selected by the sign.
  cost: (C) => elementwise(C, { cmp: 1, mul: 1 }, { cmp: 1, mul: 1 }),
  forward(out, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) out[i] = x[i] >= 0 ? x[i] : LEAKY_SLOPE * x[i];
  },
  backward(dx, _dp, dout, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) dx[i] += x[i] > 0 ? dout[i] : LEAKY_SLOPE * dout[i];
  },
  fused: (be) => pointwise(be.native, 'leakyRelu'),
  curve: (x) => (x >= 0 ? x : LEAKY_SLOPE * x),
};
