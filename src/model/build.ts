// Building a model from flags: refuses variants that are not implemented and flag combinations a
// variant refuses, before any memory is allocated.
import type { Backend } from '../engine/backend.js';
import { UserError, type DType } from '../engine/types.js';
import { activations } from '../nn/activations/index.js';
import { norms } from '../nn/norms/index.js';
import { softmaxes } from '../nn/softmax/index.js';
import { problemsOf, type Registry } from '../nn/variant.js';
import type { ModelConfig } from './config.js';
import { GPT } from './gpt.js';

/**
 * Problems of the variants cfg uses (the two norms, the activation; dact checks its inner activation
 * itself): each one's flag checks and its own check(), each message once. Errors and warnings.
 */
export function variantProblems(cfg: ModelConfig): { errors: string[]; warnings: string[] } {
  // The blocks' variants: each value of a per-layer list (blockNorm, blockActivation), else the flag.
  type AnyRegistry = Record<string, Parameters<typeof problemsOf>[0]>;
  const each = (flag: string, list: readonly string[] | null, one: string, r: Registry): [string, string, AnyRegistry][] =>
    (list && list.length ? [...new Set(list)] : [one]).map((v) => [list && list.length ? `${flag}_layerlist` : flag, v, r]);
  const used: [string, string, AnyRegistry][] = [
    ...each('--norm_variant_attn', cfg.norm_variant_attn_layerlist, cfg.norm_variant_attn, norms),
    ['--norm_variant_output', cfg.norm_variant_output, norms],
    ...each('--activation_variant', cfg.activation_variant_layerlist, cfg.activation_variant, activations),
    ['--softmax_variant_attn', cfg.softmax_variant_attn, softmaxes],
  ];
  const errors = new Set<string>(), warnings = new Set<string>();
  for (const [flag, value, registry] of used) {
    const v = registry[value];
    if (!v) { errors.add(`${flag} ${value} is not implemented in this version of normlab; choose one of: ${Object.keys(registry).join(', ')}`); continue; }
    const p = problemsOf(v, cfg);
    p.errors.forEach((e) => errors.add(e));
    p.warnings.forEach((w) => warnings.add(w));
  }
  return { errors: [...errors], warnings: [...warnings] };
}

export function checkVariants(cfg: ModelConfig): void {
  const { errors } = variantProblems(cfg);
  if (errors.length) throw new UserError(errors.join('; '));
}

export function buildModel(cfg: ModelConfig, be: Backend, opts: { maxB: number; maxT: number; seed: number; dtype?: DType }): GPT {
  checkVariants(cfg);
  return new GPT(cfg, be, opts);
}
