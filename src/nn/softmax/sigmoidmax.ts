// sigmoidmax: P = σ(S) / d, / T with --div_by_seq_len. Elementwise; d = --sigmoidmax_divisor (256).
// dS = dP σ(S) (1 - σ(S)) / d.
import type { ConfigOf } from '../variant.js';
import { DIV_BY_SEQ_LEN, divisorFlag, SCORE_KIND, pointwise, SIGMOID } from './score.js';

const FLAGS = [divisorFlag('sigmoidmax_divisor', 256.0, 'sigmoidmax'), DIV_BY_SEQ_LEN] as const;

export const sigmoidmax = pointwise<ConfigOf<typeof FLAGS>>({
  name: 'sigmoidmax', flags: FLAGS,
  f: SIGMOID,
  df: (x) => { const s = SIGMOID(x); return s * (1 - s); },
  kernel: () => ({ kind: SCORE_KIND.sigmoid, c: [] }),
  divisor: (a) => a.sigmoidmax_divisor,
  ops: () => ({ forward: { tanh: 1 }, backward: { tanh: 1, mul: 2, add: 1 } }),
});
