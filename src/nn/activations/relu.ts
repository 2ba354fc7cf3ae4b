// ReLU: y = max(0, x); dy/dx = 1 for x > 0, else 0 (torch's convention at 0).
import { pointwise, type Variant } from '../variant.js';
import { elementwise } from '../op-cost.js';

export const relu: Variant = {
  name: 'relu',
  params: () => ({}),
  saved: () => ({}),
  // Per element (docs/cost.md): max(0, x); backward selects dout or 0.
  cost: (C) => elementwise(C, { cmp: 1 }, { cmp: 1 }),
  forward(out, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) out[i] = x[i] > 0 ? x[i] : 0;
  },
  backward(dx, _dp, dout, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) if (x[i] > 0) dx[i] += dout[i];
  },
  fused: (be) => pointwise(be.native ?? be.wasm, 'relu'),
  curve: (x) => Math.max(0, x),
};
