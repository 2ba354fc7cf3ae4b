// Softplus (matches torch.nn.Softplus(beta=1, threshold=20)): y = log(1 + exp(x)), and y = x
// where x > 20 (there log(1 + exp(x)) equals x to double precision, and exp would overflow soon).
// dy/dx = sigmoid(x), and 1 where x > 20. log1p keeps y accurate where exp(x) is tiny.
// Nothing saved: backward recomputes from x.
import { pointwise, type Variant } from '../variant.js';
import { sigmoidScalar } from './sigmoid.js';
import { elementwise } from '../op-cost.js';

export const SOFTPLUS_THRESHOLD = 20;

export function softplusScalar(x: number): number {
  return x > SOFTPLUS_THRESHOLD ? x : Math.log1p(Math.exp(x));
}

export const softplus: Variant = {
  name: 'softplus',
  params: () => ({}),
  saved: () => ({}),
  // Per element (docs/cost.md): threshold test, exp, log1p; backward dout sigmoid(x).
  cost: (C) => elementwise(C, { cmp: 1, exp: 2 }, { cmp: 1, tanh: 1, mul: 1 }),
  forward(out, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) out[i] = softplusScalar(x[i]);
  },
  backward(dx, _dp, dout, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) {
      dx[i] += x[i] > SOFTPLUS_THRESHOLD ? dout[i] : dout[i] * sigmoidScalar(x[i]);
    }
  },
  fused: (be) => pointwise(be.native ?? be.wasm, 'softplus'),
  curve: (x) => softplusScalar(x),
};
