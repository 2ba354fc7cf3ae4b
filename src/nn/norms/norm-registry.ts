// Registry of normalization variants: the key is the CLI value and the file name. A variant's own
// flags come with it (see ../variant.ts); the CLI's choices and types are these keys.
import type { Registry } from '../variant.js';
import { layernorm } from './layernorm.js';
import { rmsnorm } from './rmsnorm.js';
import { prmsnorm } from './prmsnorm.js';
import { krmsnorm } from './krmsnorm.js';
import { hyperspherenorm } from './hyperspherenorm.js';
import { dact } from './dact.js';
import { identity } from './identity-norm.js';

const registry = {
  layernorm,
  rmsnorm,
  prmsnorm,
  krmsnorm,
  hyperspherenorm,
  dact,
  identity,
} satisfies Registry;

/** The registry's own type: its keys are NormName, its variants' flags typed (src/config/config-types.ts). */
export type NormRegistry = typeof registry;
export const norms: Registry & NormRegistry = registry;
