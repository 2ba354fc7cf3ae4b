// ELU with alpha = 1 (Clevert et al. 2015; matches torch.nn.ELU()): y = x for x > 0, else
// exp(x) - 1 (computed as expm1(x), exact for small |x|); dy/dx = 1 for x > 0, else exp(x).
// Nothing saved: backward recomputes from x.
import { pointwise, type Variant } from '../variant.js';
import { elementwise } from '../op-cost.js';

export const elu: Variant = {
  name: 'elu',
  params: () => ({}),
  saved: () => ({}),
  // Per element (docs/cost.md): expm1(x) where x <= 0; backward dout exp(x).
  cost: (C) => elementwise(C, { cmp: 1, exp: 1 }, { cmp: 1, exp: 1, mul: 1 }),
  forward(out, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) out[i] = x[i] > 0 ? x[i] : Math.expm1(x[i]);
  },
  backward(dx, _dp, dout, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) dx[i] += x[i] > 0 ? dout[i] : dout[i] * Math.exp(x[i]);
  },
  fused: (be) => pointwise(be.native ?? be.wasm, 'elu'),
  curve: (x) => (x > 0 ? x : Math.expm1(x)),
};
