// Registry of activation variants: the key is the CLI value and the file name.
import type { Variant } from '../variant.js';
import { gelu } from './gelu.js';
import { relu } from './relu.js';
import { tanh } from './tanh.js';

export const activations: Record<string, Variant> = {
  gelu,
  relu,
  tanh,
};
