// Registry of normalization variants: the key is the CLI value and the file name.
import type { Variant } from '../variant.js';
import { layernorm } from './layernorm.js';
import { rmsnorm } from './rmsnorm.js';
import { identity } from './identity.js';

export const norms: Record<string, Variant> = {
  layernorm,
  rmsnorm,
  identity,
};
