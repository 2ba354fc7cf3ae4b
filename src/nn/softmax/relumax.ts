// relumax: P = relu(S) / d, / T with --div_by_seq_len. Elementwise; d = --relumax_divisor (256).
// dS = dP [S > 0] / d (torch's relu gradient is 0 at 0).
import type { ConfigOf } from '../variant.js';
import { DIV_BY_SEQ_LEN, divisorFlag, SCORE_KIND, pointwise } from './score.js';

const FLAGS = [divisorFlag('relumax_divisor', 256.0, 'relumax'), DIV_BY_SEQ_LEN] as const;

export const relumax = pointwise<ConfigOf<typeof FLAGS>>({
  name: 'relumax', flags: FLAGS,
  f: (x) => (x > 0 ? x : 0),
  df: (x) => (x > 0 ? 1 : 0),
  kernel: () => ({ kind: SCORE_KIND.relu, c: [] }),
  divisor: (a) => a.relumax_divisor,
  ops: () => ({ forward: { cmp: 1 }, backward: { cmp: 1, mul: 1 } }),
});
