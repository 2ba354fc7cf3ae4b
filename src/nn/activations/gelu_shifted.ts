// Shifted GELU: y = gelu(x - shift), gelu exact (gelu.ts). `shift` is one scalar (shape []), init
// --shifted_gelu_initial_shift; learned with --shifted_gelu_learnable_shift, else a constant that is
// still written to checkpoints (the reference registers it as a buffer).
// dy/dx = gelu'(x - shift); dy/dshift = -gelu'(x - shift). Nothing saved: backward recomputes.
import type { ConfigOf, Variant, VariantFlag } from '../variant.js';
import { GELU_BACKWARD, GELU_FORWARD, geluGrad, geluScalar } from './gelu.js';
import { addOps, elementwise } from '../op-cost.js';

const flags = [
  { name: 'shifted_gelu_learnable_shift', type: 'bool', default: true, help: 'gelu_shifted: learnable shift' },
  { name: 'shifted_gelu_initial_shift', type: 'float', default: 0.0, help: 'gelu_shifted: initial shift' },
] as const satisfies readonly VariantFlag[];

export const gelu_shifted: Variant<ConfigOf<typeof flags>> = {
  name: 'gelu_shifted',
  flags,
  params: (_C, a) => ({
    shift: { shape: [], init: { fill: a.shifted_gelu_initial_shift }, learned: a.shifted_gelu_learnable_shift },
  }),
  saved: () => ({}),
  // Per element: gelu's counts plus x - shift; backward also adds each term into dshift.
  cost: (C) => elementwise(C, addOps(GELU_FORWARD, { add: 1 }), addOps(GELU_BACKWARD, { add: 2 })),
  forward(out, x, p, _s, N, C) {
    const shift = p.shift[0];
    for (let i = 0; i < N * C; i++) out[i] = geluScalar(x[i] - shift);
  },
  backward(dx, dp, dout, x, p, _s, N, C) {
    const shift = p.shift[0];
    let dshift = 0; // summed in a double: one scalar collects N*C terms
    for (let i = 0; i < N * C; i++) {
      const g = dout[i] * geluGrad(x[i] - shift);
      dx[i] += g;
      dshift -= g;
    }
    dp.shift[0] += dshift;
  },
  // Native: the scalar shift as a number (its gradient is accumulated even when the shift is not
  // learned, as above: the optimizer ignores it).
  fused(be) {
    const k = be.native;
    return k && {
      forward: (out, x, p, _s, N, C) => k.geluShiftedForward(out, x, p.shift[0], N, C),
      backward: (dx, dp, dout, x, p, _s, N, C) => k.geluShiftedBackward(dx, dp.shift ?? null, dout, x, p.shift[0], N, C),
    };
  },
  curve: (x, p) => geluScalar(x - p.shift[0]),
};
