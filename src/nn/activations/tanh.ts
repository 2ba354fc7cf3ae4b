// Tanh (matches torch.nn.Tanh): y = tanh(x); dy/dx = 1 - y^2.
// Nothing saved: backward recomputes from x.
import type { Variant } from '../variant.js';

export const tanh: Variant = {
  name: 'tanh',
  params: () => ({}),
  saved: () => ({}),
  forward(out, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) out[i] = Math.tanh(x[i]);
  },
  backward(dx, _dp, dout, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) {
      const t = Math.tanh(x[i]);
      dx[i] += dout[i] * (1 - t * t);
    }
  },
  curve: (x) => Math.tanh(x),
};
