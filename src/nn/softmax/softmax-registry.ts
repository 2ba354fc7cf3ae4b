// Registry of attention softmax variants (--softmax_variant_attn): the key is the CLI value and the
// file name. A variant's own flags come with it (./score.ts); the CLI's choices are these keys.
// The framework's 17 (docs/softmax.md), with the framework's names.
import type { SoftmaxRegistry } from './score.js';
import { softmax } from './softmax.js';
import { consmax } from './consmax.js';
import { consmax_v2 } from './consmax_v2.js';
import { consmax_quan } from './consmax_quan.js';
import { saturatingconsmax } from './saturatingconsmax.js';
import { polymax } from './polymax.js';
import { vpolymax } from './vpolymax.js';
import { exppolymax } from './exppolymax.js';
import { softermax } from './softermax.js';
import { strongermax } from './strongermax.js';
import { sigsoftmax } from './sigsoftmax.js';
import { relumax } from './relumax.js';
import { relu2max } from './relu2max.js';
import { sigmoidmax } from './sigmoidmax.js';
import { softplus } from './softplusmax.js';
import { squareplus } from './squareplus.js';
import { pfla_softmax } from './pfla_softmax.js';

const registry = {
  softmax,
  consmax,
  consmax_v2,
  consmax_quan,
  saturatingconsmax,
  polymax,
  vpolymax,
  exppolymax,
  softermax,
  strongermax,
  sigsoftmax,
  relumax,
  relu2max,
  sigmoidmax,
  softplus,
  squareplus,
  pfla_softmax,
} satisfies SoftmaxRegistry;

/** The registry's own type: its keys are SoftmaxName, its variants' flags typed (src/config/config-types.ts). */
export type SoftmaxVariantRegistry = typeof registry;
export const softmaxes: SoftmaxRegistry & SoftmaxVariantRegistry = registry;
