// The softmax variant cases the backend tests share (test/softmax-backends.test.ts,
// test/attention-variants.test.ts).
import type { TrainConfig } from '../src/config/config-types.js';

/** The sweep's settings (explorations/softmax_variants.json) and a few flags that change the kernels. */
export const VARIANT_CASES: [string, Partial<TrainConfig>][] = [
  ['softermax', {}], ['sigsoftmax', {}], ['pfla_softmax', {}],
  ['strongermax', { strongermax_use_learned_obo: true, strongermax_obo: 1 }],
  ['strongermax', { strongermax_div_by_sum_of_terms: false, strongermax_xmax_guess: 1, strongermax_clamping: true, strongermax_clamp_value: 1.2, strongermax_divisor: 20 }],
  ['consmax', { consmax_initial_gamma: 2.5 }], ['consmax', { consmax_use_euler_base: false }],
  ['consmax_v2', { consmax_initial_gamma: 2.5 }], ['consmax_v2', { consmax_v2_clamping: true, consmax_v2_clamp_value: -2.45 }],
  ['consmax_quan', { consmax_initial_gamma: 2.5 }],
  ['saturatingconsmax', { consmax_initial_gamma: 2.5, consmax_saturation: -2.45, div_by_seq_len: true }],
  ['polymax', { div_by_seq_len: true, polymax_divisor: 0.5, polymax_x_intercept: -0.05 }], ['vpolymax', { polymax_divisor: 0.5, polymax_power: 1.5 }],
  ['exppolymax', { div_by_seq_len: true, exppolymax_divisor: 0.625 }],
  ['relumax', { relumax_divisor: 0.1 }], ['relu2max', { relu2max_divisor: 0.01, div_by_seq_len: true }],
  ['sigmoidmax', { sigmoidmax_divisor: 0.25 }], ['softplus', { softplus_divisor: 0.35 }], ['squareplus', { squareplus_divisor: 0.35, div_by_seq_len: true }],
];
