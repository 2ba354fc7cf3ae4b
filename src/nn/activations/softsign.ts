// Softsign (matches torch.nn.Softsign): y = x / (1 + |x|); dy/dx = 1 / (1 + |x|)^2.
// Nothing saved: backward recomputes from x.
import { pointwise, type Variant } from '../variant.js';
import { elementwise } from '../op-cost.js';

export const softsign: Variant = {
  name: 'softsign',
  params: () => ({}),
  saved: () => ({}),
  // Per element (docs/cost.md): |x|, 1 + |x|, x / d; backward dout / d^2.
  cost: (C) => elementwise(C, { cmp: 1, add: 1, div: 1 }, { cmp: 1, add: 1, mul: 1, div: 1 }),
  forward(out, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) out[i] = x[i] / (1 + Math.abs(x[i]));
  },
  backward(dx, _dp, dout, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) {
      const d = 1 + Math.abs(x[i]);
      dx[i] += dout[i] / (d * d);
    }
  },
  fused: (be) => pointwise(be.native, 'softsign'),
  curve: (x) => x / (1 + Math.abs(x)),
};
