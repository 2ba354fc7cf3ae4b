// Squared ReLU (So et al. 2021, "Primer"; matches torch.pow(torch.relu(x), 2)):
// y = max(0, x)^2; dy/dx = 2 max(0, x). Nothing saved: backward recomputes from x.
import { pointwise, type Variant } from '../variant.js';
import { elementwise } from '../op-cost.js';

export const squared_relu: Variant = {
  name: 'squared_relu',
  params: () => ({}),
  saved: () => ({}),
  // Per element (docs/cost.md): x x where x > 0; backward 2 x dout.
  cost: (C) => elementwise(C, { cmp: 1, mul: 1 }, { cmp: 1, mul: 2 }),
  forward(out, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) out[i] = x[i] > 0 ? x[i] * x[i] : 0;
  },
  backward(dx, _dp, dout, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) if (x[i] > 0) dx[i] += 2 * x[i] * dout[i];
  },
  fused: (be) => pointwise(be.native, 'squaredRelu'),
  curve: (x) => (x > 0 ? x * x : 0),
};
