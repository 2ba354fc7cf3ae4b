// pfla_le (the reference's PiecewiseFullyLearnableActivationLearnedEnds): pwl.ts, mode 'le', with
// the --pfla_* flags (n = --pfla_num_points, L, R only place the initial knots).
// x < x_vals[0]: y_vals[0] (with its gradient); between knots: linear; x >= x_vals[n-1]: the last
// segment's line extended. Needs n >= 2. Params x_vals [n], y_vals [n]. Saved: slope (n).
import { makePwl } from './pwl.js';
import { PFLA_FLAGS, pflaShape } from './pfla.js';

export const pfla_le = makePwl('pfla_le', 'le', 'pfla', PFLA_FLAGS, pflaShape);
