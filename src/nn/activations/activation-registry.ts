// Registry of activation variants: the key is the CLI value (--activation_variant) and the file name.
// A variant's own flags come with it (see ../variant.ts); the CLI's choices and types are these keys.
import type { Registry } from '../variant.js';
import { celu } from './celu.js';
import { elu } from './elu.js';
import { gelu } from './gelu.js';
import { gelu_shifted } from './gelu_shifted.js';
import { glu } from './glu.js';
import { identity } from './identity-activation.js';
import { leaky_relu } from './leaky_relu.js';
import { learned_spline } from './learned_spline.js';
import { mish } from './mish.js';
import { pfla } from './pfla.js';
import { pfla_le } from './pfla_le.js';
import { piecewise } from './piecewise.js';
import { prelu } from './prelu.js';
import { relu } from './relu.js';
import { relu6 } from './relu6.js';
import { rrelu } from './rrelu.js';
import { selu } from './selu.js';
import { sigmoid } from './sigmoid.js';
import { silu } from './silu.js';
import { softplus } from './softplus.js';
import { softsign } from './softsign.js';
import { squared_relu } from './squared_relu.js';
import { tanh } from './tanh.js';

const registry = {
  celu,
  elu,
  gelu,
  gelu_shifted,
  glu,
  leaky_relu,
  learned_spline,
  mish,
  piecewise,
  pfla,
  pfla_le,
  prelu,
  relu,
  relu6,
  rrelu,
  selu,
  sigmoid,
  silu,
  softplus,
  softsign,
  squared_relu,
  tanh,
  identity,
} satisfies Registry;

/** The registry's own type: its keys are ActivationName, its variants' flags typed (src/config/config-types.ts). */
export type ActivationRegistry = typeof registry;
export const activations: Registry & ActivationRegistry = registry;
