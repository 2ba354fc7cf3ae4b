// softplus: P = log(1 + e^S) / d (S itself where S > 20, torch.nn.Softplus's threshold), / T with
// --div_by_seq_len. Elementwise; d = --softplus_divisor (100; the CLI's default, docs/softmax.md
// defect 14). dS = dP σ(S) / d (1 past the threshold).
import type { ConfigOf } from '../variant.js';
import { DIV_BY_SEQ_LEN, divisorFlag, SCORE_KIND, pointwise, SIGMOID } from './score.js';

const FLAGS = [divisorFlag('softplus_divisor', 100.0, 'softplus'), DIV_BY_SEQ_LEN] as const;

export const softplus = pointwise<ConfigOf<typeof FLAGS>>({
  name: 'softplus', flags: FLAGS,
  f: (x) => (x > 20 ? x : Math.log1p(Math.exp(x))),
  df: (x) => (x > 20 ? 1 : SIGMOID(x)),
  kernel: () => ({ kind: SCORE_KIND.softplus, c: [] }),
  divisor: (a) => a.softplus_divisor,
  ops: () => ({ forward: { cmp: 1, exp: 2 }, backward: { cmp: 1, tanh: 1, mul: 1 } }),
});
