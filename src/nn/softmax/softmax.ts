// softmax (the default): P = exp(S - rowmax) / Σ exp(S - rowmax) over the row's unmasked keys.
// dS = P (dP - Σ P dP). Nothing learned. The attention kernels of every backend compute this one
// themselves (src/engine/backend.ts attentionForward); this file is its definition for the
// variants' tests and for generation.
import type { SoftmaxVariant } from './score.js';
import { rowDot, rowMax } from './score.js';

export const softmax: SoftmaxVariant = {
  name: 'softmax',
  kind: () => 'row',
  params: () => ({}),
  // Per score (docs/cost.md): compare for the max, subtract it, exp, add to the sum, one multiply by
  // the row's reciprocal. Backward: P dP into the row's dot, dP - dot, times P.
  cost: () => ({ forward: { cmp: 1, add: 2, exp: 1, mul: 1 }, backward: { mul: 2, add: 2 }, reductions: { forward: 2, backward: 1 } }),
  forward(P, S, o, n) {
    const m = rowMax(S, o, n);
    let sum = 0;
    for (let i = o; i < o + n; i++) { const e = Math.exp(S[i] - m); P[i] = e; sum += e; }
    const inv = 1 / sum;
    for (let i = o; i < o + n; i++) P[i] *= inv;
  },
  backward(dS, dP, _S, P, o, n) {
    const dot = rowDot(P, dP, o, n);
    for (let i = o; i < o + n; i++) dS[i] = P[i] * (dP[i] - dot);
  },
};
