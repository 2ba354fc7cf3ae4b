// Registry of normalization variants: the key is the CLI value and the file name.
import type { Variant } from '../variant.js';
import { layernorm } from './layernorm.js';
import { rmsnorm } from './rmsnorm.js';
import { prmsnorm } from './prmsnorm.js';
import { krmsnorm } from './krmsnorm.js';
import { hyperspherenorm } from './hyperspherenorm.js';
import { dact } from './dact.js';
import { identity } from './identity.js';

export const norms: Record<string, Variant> = {
  layernorm,
  rmsnorm,
  prmsnorm,
  krmsnorm,
  hyperspherenorm,
  dact,
  identity,
};
