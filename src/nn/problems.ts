// Which variants a config uses, and their problems: each one's flag checks and its own check(). The
// config layer (src/config/check.ts) and the model builder (src/model/build.ts) both ask it, before
// any memory is allocated.
import { UserError } from '../util/errors.js';
import { activations } from './activations/activation-registry.js';
import { norms } from './norms/norm-registry.js';
import { softmaxes } from './softmax/softmax-registry.js';
import { problemsOf, type Registry } from './variant.js';

/** The flags that choose variants (src/config/flags.ts declares them), plus each variant's own flags. */
export interface VariantChoices {
  norm_variant_attn: string;
  norm_variant_attn_layerlist: readonly string[] | null;
  norm_variant_output: string;
  activation_variant: string;
  activation_variant_layerlist: readonly string[] | null;
  softmax_variant_attn: string;
}

/**
 * Problems of the variants cfg uses (the two norms, the activation; dact checks its inner activation
 * itself): each one's flag checks and its own check(), each message once. Errors and warnings.
 */
export function variantProblems(cfg: VariantChoices): { errors: string[]; warnings: string[] } {
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

/** Throws a UserError listing every error variantProblems finds. */
export function checkVariants(cfg: VariantChoices): void {
  const { errors } = variantProblems(cfg);
  if (errors.length) throw new UserError(errors.join('; '));
}
