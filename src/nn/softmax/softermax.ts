// softermax: base-2 softmax, P = 2^(S - rowmax) / Σ 2^(S - rowmax); with --no-softermax_use_xmax
// the unshifted 2^S / Σ 2^S (the framework's form: it overflows past S ~ 128 in float32).
// dS = ln 2 · P (dP - Σ P dP).
import type { ConfigOf, VariantFlag } from '../variant.js';
import type { SoftmaxVariant } from './score.js';
import { rowDot, rowMax, SCORE_KIND } from './score.js';

const FLAGS = [
  { name: 'softermax_use_xmax', type: 'bool', default: true, help: 'softermax: subtract the row max before 2^x' },
] as const satisfies readonly VariantFlag[];

export const softermax: SoftmaxVariant<ConfigOf<typeof FLAGS>> = {
  name: 'softermax',
  flags: FLAGS,
  kind: () => 'row',
  params: () => ({}),
  cost: (a) => ({
    forward: { cmp: a.softermax_use_xmax ? 1 : 0, add: a.softermax_use_xmax ? 2 : 1, exp: 1, mul: 2 },
    backward: { mul: 3, add: 2 },
    reductions: { forward: a.softermax_use_xmax ? 2 : 1, backward: 1 },
  }),
  forward(P, S, o, n, _T, _h, _p, a) {
    const m = a.softermax_use_xmax ? rowMax(S, o, n) : 0;
    let sum = 0;
    for (let i = o; i < o + n; i++) { const e = Math.pow(2, S[i] - m); P[i] = e; sum += e; }
    const inv = 1 / sum;
    for (let i = o; i < o + n; i++) P[i] *= inv;
  },
  // The kernels' exprow: r = 2^(S - m) = e^(ln 2 (S - m)), m the row max (or 0), P = r / Σ r.
  kernel: (a) => ({ kind: SCORE_KIND.exprow, c: [Math.LN2, Infinity, 0, a.softermax_use_xmax ? 2 : 0, 1, 1, 0, 0] }),
  backward(dS, dP, _S, P, o, n) {
    const dot = rowDot(P, dP, o, n);
    for (let i = o; i < o + n; i++) dS[i] = Math.LN2 * P[i] * (dP[i] - dot);
  },
};
