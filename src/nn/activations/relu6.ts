// ReLU6 (matches torch.nn.ReLU6): y = min(max(0, x), 6); dy/dx = 1 for 0 < x < 6, else 0
// (torch's hardtanh convention: 0 at both kinks). Nothing saved: backward recomputes from x.
import { pointwise, type Variant } from '../variant.js';
import { elementwise } from '../op-cost.js';

export const relu6: Variant = {
  name: 'relu6',
  params: () => ({}),
  saved: () => ({}),
  // Per element (docs/cost.md): two compares (0 and 6) each way.
  cost: (C) => elementwise(C, { cmp: 2 }, { cmp: 2 }),
  forward(out, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) out[i] = x[i] > 0 ? (x[i] < 6 ? x[i] : 6) : 0;
  },
  backward(dx, _dp, dout, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) if (x[i] > 0 && x[i] < 6) dx[i] += dout[i];
  },
  fused: (be) => pointwise(be.native, 'relu6'),
  curve: (x) => Math.min(Math.max(0, x), 6),
};
