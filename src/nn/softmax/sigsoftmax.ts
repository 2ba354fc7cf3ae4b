// sigsoftmax (arXiv 1805.10829, with a base): n = b^S · σ(S ln b), P = n / Σ n. Computed as
// b^(S - rowmax) · σ(S ln b): the same ratio without the framework's overflow past S ~ 88
// (docs/softmax.md, defects 2 and 11: its custom base crashed; both corrected).
// ln n = k (S - m) + ln σ(k S), k = ln b, so d ln n / dS = k (2 - σ(k S)); the shift m cancels:
// dS = P (dP - Σ P dP) k (2 - σ(k S)).
import type { ConfigOf, VariantFlag } from '../variant.js';
import type { SoftmaxVariant } from './score.js';
import { positiveFlag, rowDot, rowMax, rowMin, SCORE_KIND, SIGMOID } from './score.js';

const FLAGS = [
  { name: 'sigsoftmax_use_euler_base', type: 'bool', default: true, help: 'sigsoftmax: base e (else --sigsoftmax_base)' },
  { name: 'sigsoftmax_base', type: 'float', default: 2.0, help: 'sigsoftmax: base b without --sigsoftmax_use_euler_base', check: positiveFlag() },
] as const satisfies readonly VariantFlag[];

type A = ConfigOf<typeof FLAGS>;
const lnBase = (a: A) => (a.sigsoftmax_use_euler_base ? 1 : Math.log(a.sigsoftmax_base));

export const sigsoftmax: SoftmaxVariant<A> = {
  name: 'sigsoftmax',
  flags: FLAGS,
  kind: () => 'row',
  params: () => ({}),
  check: (a) => (!a.sigsoftmax_use_euler_base && a.sigsoftmax_base === 1 ? '--sigsoftmax_base 1 makes every weight equal; choose a base other than 1' : null),
  cost: () => ({ forward: { cmp: 1, add: 3, exp: 1, mul: 3, tanh: 1 }, backward: { mul: 4, add: 3, tanh: 1 }, reductions: { forward: 2, backward: 1 } }),
  forward(P, S, o, n, _T, _h, _p, a) {
    // Shifted by the largest k S (k < 0 for a base below 1), so no term overflows.
    const k = lnBase(a), m = k * (k >= 0 ? rowMax(S, o, n) : rowMin(S, o, n));
    let sum = 0;
    for (let i = o; i < o + n; i++) { const e = Math.exp(k * S[i] - m) * SIGMOID(k * S[i]); P[i] = e; sum += e; }
    const inv = 1 / sum;
    for (let i = o; i < o + n; i++) P[i] *= inv;
  },
  kernel: (a) => ({ kind: SCORE_KIND.sigsoftmax, c: [lnBase(a)] }),
  backward(dS, dP, S, P, o, n, _T, _h, _p, _g, a) {
    const k = lnBase(a), dot = rowDot(P, dP, o, n);
    for (let i = o; i < o + n; i++) dS[i] = P[i] * (dP[i] - dot) * k * (2 - SIGMOID(k * S[i]));
  },
};
