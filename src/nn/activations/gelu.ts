// GELU, exact form (matches torch.nn.GELU(approximate='none')): y = 0.5 x (1 + erf(x / sqrt(2))).
// dy/dx = Phi(x) + x phi(x). Nothing saved: backward recomputes from x.
import { pointwise, type Variant } from '../variant.js';
import { erf } from '../../engine/math.js';
import { elementwise, type Ops } from '../op-cost.js';

const INV_SQRT2 = 0.7071067811865476;
const INV_SQRT_2PI = 0.3989422804014327;

/** Per element (docs/cost.md). Forward: x / sqrt(2), erf, 1 +, 0.5 x, the product. Backward (recomputes
 * from x): Phi = 0.5 (1 + erf(x / sqrt 2)); x phi = x / sqrt(2 pi) exp(-x^2 / 2) (x^2, -1/2, exp, two
 * products); their sum; times dout. gelu_shifted adds its shift to these. */
export const GELU_FORWARD: Ops = { mul: 3, add: 1, erf: 1 };
export const GELU_BACKWARD: Ops = { mul: 7, add: 2, erf: 1, exp: 1 };

export function geluScalar(x: number): number {
  return 0.5 * x * (1 + erf(x * INV_SQRT2));
}

export function geluGrad(x: number): number {
  return 0.5 * (1 + erf(x * INV_SQRT2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

export const gelu: Variant = {
  name: 'gelu',
  params: () => ({}),
  saved: () => ({}),
  cost: (C) => elementwise(C, GELU_FORWARD, GELU_BACKWARD),
  forward(out, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) out[i] = geluScalar(x[i]);
  },
  backward(dx, _dp, dout, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) dx[i] += dout[i] * geluGrad(x[i]);
  },
  fused: (be) => pointwise(be.native ?? be.wasm, 'gelu'),
  curve: (x) => geluScalar(x),
};
