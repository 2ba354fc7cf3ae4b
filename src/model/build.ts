// Building a model from flags: refuses variants that are not implemented and flag combinations a
// variant refuses (src/nn/problems.ts), before any memory is allocated.
import type { Backend } from '../engine/backend.js';
import type { DType } from '../engine/types.js';
import { checkVariants } from '../nn/problems.js';
import type { ModelConfig } from '../config/config-types.js';
import { GPT } from './gpt.js';

export function buildModel(cfg: ModelConfig, be: Backend, opts: { maxB: number; maxT: number; seed: number; dtype?: DType }): GPT {
  checkVariants(cfg);
  return new GPT(cfg, be, opts);
}
