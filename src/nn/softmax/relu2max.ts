// relu2max: P = relu(S)^2 / d, / T with --div_by_seq_len. Elementwise; d = --relu2max_divisor (256).
// dS = dP 2 relu(S) / d.
import type { ConfigOf } from '../variant.js';
import { DIV_BY_SEQ_LEN, divisorFlag, SCORE_KIND, pointwise } from './score.js';

const FLAGS = [divisorFlag('relu2max_divisor', 256.0, 'relu2max'), DIV_BY_SEQ_LEN] as const;

export const relu2max = pointwise<ConfigOf<typeof FLAGS>>({
  name: 'relu2max', flags: FLAGS,
  f: (x) => (x > 0 ? x * x : 0),
  df: (x) => (x > 0 ? 2 * x : 0),
  kernel: () => ({ kind: SCORE_KIND.relu2, c: [] }),
  divisor: (a) => a.relu2max_divisor,
  ops: () => ({ forward: { cmp: 1, mul: 1 }, backward: { cmp: 1, mul: 2 } }),
});
