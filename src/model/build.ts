// Building a model from flags: refuses variants that are not implemented and flag combinations a
// variant refuses, before any memory is allocated.
import type { Backend } from '../engine/backend.js';
import { UserError, type DType } from '../engine/types.js';
import { activations } from '../nn/activations/index.js';
import { norms } from '../nn/norms/index.js';
import type { ModelConfig } from './config.js';
import { GPT } from './gpt.js';

export function checkVariants(cfg: ModelConfig): void {
  const need: [string, string, Record<string, unknown>][] = [
    ['--norm_variant_attn', cfg.norm_variant_attn, norms],
    ['--norm_variant_output', cfg.norm_variant_output, norms],
    ['--activation_variant', cfg.activation_variant, activations],
  ];
  if (cfg.norm_variant_attn === 'dact' || cfg.norm_variant_output === 'dact') {
    need.push(['--dact_activation', cfg.dact_activation, activations]);
  }
  for (const [flag, value, registry] of need) {
    if (!(value in registry)) throw new UserError(`${flag} ${value} is not implemented yet in this version of normlab`);
  }
  const used = new Set([cfg.norm_variant_attn, cfg.norm_variant_output]);
  for (const n of used) {
    const msg = norms[n].check?.(cfg);
    if (msg) throw new UserError(msg);
  }
  const msg = activations[cfg.activation_variant].check?.(cfg);
  if (msg) throw new UserError(msg);
}

export function buildModel(cfg: ModelConfig, be: Backend, opts: { maxB: number; maxT: number; seed: number; dtype?: DType }): GPT {
  checkVariants(cfg);
  return new GPT(cfg, be, opts);
}
