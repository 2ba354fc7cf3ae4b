// Identity "norm": y = x. No parameters, nothing saved.
import { pointwise, type Variant } from '../variant.js';

export const identity: Variant = {
  name: 'identity',
  params: () => ({}),
  saved: () => ({}),
  cost: () => ({ forward: { ops: {} }, backward: { ops: {} } }), // wiring only
  forward(out, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) out[i] = x[i];
  },
  backward(dx, _dp, dout, _x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) dx[i] += dout[i];
  },
  fused: (be) => pointwise(be.native, 'identity'),
};
