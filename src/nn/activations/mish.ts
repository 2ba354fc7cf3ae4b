// Mish (Misra 2019; matches torch.nn.Mish): y = x * tanh(softplus(x)), softplus with torch's
// threshold (x > 20: softplus = x; tanh(x) is then 1 to double precision anyway).
// dy/dx = t + x (1 - t^2) sigmoid(x), t = tanh(softplus(x)) (d softplus/dx = sigmoid).
// Nothing saved: backward recomputes from x.
import { pointwise, type Variant } from '../variant.js';
import { sigmoidScalar } from './sigmoid.js';
import { softplusScalar } from './softplus.js';
import { elementwise } from '../op-cost.js';

export function mishScalar(x: number): number {
  return x * Math.tanh(softplusScalar(x));
}

export const mish: Variant = {
  name: 'mish',
  params: () => ({}),
  saved: () => ({}),
  // Per element (docs/cost.md): x tanh(softplus(x)); backward recomputes t and sigmoid(x): dout (t + x (1 - t^2) s).
  cost: (C) => elementwise(C, { cmp: 1, exp: 2, tanh: 1, mul: 1 }, { cmp: 1, exp: 2, tanh: 2, mul: 4, add: 2 }),
  forward(out, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) out[i] = mishScalar(x[i]);
  },
  backward(dx, _dp, dout, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) {
      const v = x[i], t = Math.tanh(softplusScalar(v));
      dx[i] += dout[i] * (t + v * (1 - t * t) * sigmoidScalar(v));
    }
  },
  fused: (be) => pointwise(be.native ?? be.wasm, 'mish'),
  curve: (x) => mishScalar(x),
};
