// SELU (Klambauer et al. 2017; matches torch.nn.SELU): y = scale * x for x > 0, else
// scale * alpha * (exp(x) - 1), with the constants of docs/variants.md (torch's, to double precision).
// dy/dx = scale for x > 0, else scale * alpha * exp(x). Nothing saved: backward recomputes from x.
import { pointwise, type Variant } from '../variant.js';
import { elementwise } from '../op-cost.js';

export const SELU_SCALE = 1.0507009873554805;
export const SELU_ALPHA = 1.6732632423543772;

export function seluScalar(x: number): number {
  return x > 0 ? SELU_SCALE * x : SELU_SCALE * SELU_ALPHA * Math.expm1(x);
}

export const selu: Variant = {
  name: 'selu',
  params: () => ({}),
  saved: () => ({}),
  // Per element (docs/cost.md): both branches (scale x, scale alpha expm1(x)) and a select.
  cost: (C) => elementwise(C, { cmp: 1, exp: 1, mul: 2 }, { cmp: 1, exp: 1, mul: 3 }),
  forward(out, x, _p, _s, N, C) {
    for (let i = 0; i < N * C; i++) out[i] = seluScalar(x[i]);
  },
  backward(dx, _dp, dout, x, _p, _s, N, C) {
    const k = SELU_SCALE * SELU_ALPHA;
    for (let i = 0; i < N * C; i++) dx[i] += x[i] > 0 ? SELU_SCALE * dout[i] : k * Math.exp(x[i]) * dout[i];
  },
  fused: (be) => pointwise(be.native ?? be.wasm, 'selu'),
  curve: (x) => seluScalar(x),
};
