// CELU with alpha = 1 (Barron 2017; matches torch.nn.CELU()):
// y = max(0, x) + min(0, alpha (exp(x / alpha) - 1)). With alpha = 1 this is x for x > 0, else
// expm1(x): the same function as ELU; dy/dx = 1 for x > 0, else exp(x).
// Nothing saved: backward recomputes from x.
import type { Variant } from '../variant.js';

export const celu: Variant = {
  name: 'celu',
  params: () => ({}),
  saved: () => ({}),
  forward(out, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) out[i] = x[i] > 0 ? x[i] : Math.expm1(x[i]);
  },
  backward(dx, _dp, dout, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) dx[i] += x[i] > 0 ? dout[i] : dout[i] * Math.exp(x[i]);
  },
  curve: (x) => Math.max(0, x) + Math.min(0, Math.expm1(x)),
};
