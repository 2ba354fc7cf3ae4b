// squareplus (arXiv 2112.11687): P = (S + sqrt(S^2 + B)) / 2 / d, / T with --div_by_seq_len;
// B = 4 ln^2 2 (fixed). Elementwise; d = --squareplus_divisor (100). CORRECTED (docs/softmax.md,
// defect 1): masked entries are 0 (the framework's -inf + sqrt(inf) is NaN there, from the first step).
// dS = dP (1 + S / sqrt(S^2 + B)) / 2 / d.
import type { ConfigOf } from '../variant.js';
import { DIV_BY_SEQ_LEN, divisorFlag, SCORE_KIND, pointwise } from './score.js';

const FLAGS = [divisorFlag('squareplus_divisor', 100.0, 'squareplus'), DIV_BY_SEQ_LEN] as const;
export const SQUAREPLUS_B = 4 * Math.LN2 * Math.LN2;

export const squareplus = pointwise<ConfigOf<typeof FLAGS>>({
  name: 'squareplus', flags: FLAGS,
  f: (x) => 0.5 * (x + Math.sqrt(x * x + SQUAREPLUS_B)),
  df: (x) => 0.5 * (1 + x / Math.sqrt(x * x + SQUAREPLUS_B)),
  kernel: () => ({ kind: SCORE_KIND.squareplus, c: [SQUAREPLUS_B] }),
  divisor: (a) => a.squareplus_divisor,
  ops: () => ({ forward: { mul: 2, add: 2, sqrt: 1 }, backward: { mul: 3, add: 2, sqrt: 1, div: 1 } }),
});
