// PReLU (He et al. 2015; matches torch.nn.PReLU() with one shared slope): y = x for x >= 0, else
// a x, a = `activation.weight` [1], init 0.25. The name is the reference's state-dict name: there
// nn.PReLU sits inside a wrapper as `.activation`, so the checkpoint holds
// `mlp.activation_variant.activation.weight`.
// dy/dx = 1 for x > 0, else a (torch's convention at 0); dy/da = x for x <= 0, else 0.
// Nothing saved: backward recomputes from x.
import type { Variant } from '../variant.js';
import { elementwise } from '../op-cost.js';

export const prelu: Variant = {
  name: 'prelu',
  params: () => ({ 'activation.weight': { shape: [1], init: { fill: 0.25 } } }),
  saved: () => ({}),
  // Per element (docs/cost.md): a x selected by the sign; backward a dout and da += x dout.
  cost: (C) => elementwise(C, { cmp: 1, mul: 1 }, { cmp: 1, mul: 2, add: 1 }),
  forward(out, x, p, _s, N, C) {
    const a = p['activation.weight'][0];
    for (let i = 0; i < N * C; i++) out[i] = x[i] >= 0 ? x[i] : a * x[i];
  },
  backward(dx, dp, dout, x, p, _s, N, C) {
    const a = p['activation.weight'][0];
    let da = 0; // summed in a double: one scalar collects N*C terms
    for (let i = 0; i < N * C; i++) {
      if (x[i] > 0) dx[i] += dout[i];
      else { dx[i] += a * dout[i]; da += x[i] * dout[i]; }
    }
    dp['activation.weight'][0] += da;
  },
  // Native: the slope `activation.weight` as a number; its gradient summed per row, rows in order.
  fused(be) {
    const k = be.native;
    return k && {
      forward: (out, x, p, _s, N, C) => k.preluForward(out, x, p['activation.weight'][0], N, C),
      backward: (dx, dp, dout, x, p, _s, N, C) =>
        k.preluBackward(dx, dp['activation.weight'] ?? null, dout, x, p['activation.weight'][0], N, C),
    };
  },
  curve: (x, p) => (x >= 0 ? x : p['activation.weight'][0] * x),
};
