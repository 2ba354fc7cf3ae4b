// Whole-config checks of a train config: every value of the right type, then each flag's own check
// (declared with the flag in the table, or in the variant's file), the used variants' checks, and the
// few checks that tie core flags together.
import { UserError } from '../util/errors.js';
import { variantProblems, type VariantChoices } from '../nn/problems.js';
import { FLAGS, MODEL_FLAGS, NORM_PLACEMENT_FLAGS, ACTIVATION_FLAGS, RUN_FLAGS } from './flags.js';
import { QUANT_FLAGS, quantProblems } from './quantization.js';
import { checkValue, type FlagSpec } from '../util/schema.js';

/** Core flags: checked on every config (a variant's flags only when the variant is used). */
const CORE: readonly FlagSpec[] = [...MODEL_FLAGS, ...NORM_PLACEMENT_FLAGS, ...ACTIVATION_FLAGS, ...QUANT_FLAGS, ...RUN_FLAGS];

/**
 * Refuses train configs that cannot work (a UserError listing every problem and what to do);
 * returns warnings for values that are defined but probably not what was meant.
 */
export function checkTrainConfig(cfg: Record<string, unknown> | object): string[] {
  const c = cfg as Record<string, unknown>;
  const errors: string[] = [];
  const warnings: string[] = [];
  for (const f of FLAGS) {
    if (!(f.name in c)) continue;
    const why = checkValue(f, c[f.name]);
    if (why) errors.push(why);
  }
  if (errors.length) throw new UserError(`invalid configuration:\n  ${errors.join('\n  ')}`);

  for (const f of CORE) {
    if (!(f.name in c)) continue;
    const e = f.check?.(c[f.name], c, f.name), w = f.warn?.(c[f.name], c, f.name);
    if (e) errors.push(e);
    if (w) warnings.push(w);
  }
  const num = (k: string) => c[k] as number;
  const has = (k: string) => typeof c[k] === 'number';
  if (has('n_embd') && has('n_head') && num('n_head') >= 1 && num('n_embd') % num('n_head') !== 0) {
    const C = num('n_embd');
    const divisors = [];
    for (let h = 1; h <= Math.min(C, 64); h++) if (C % h === 0) divisors.push(h);
    errors.push(`--n_embd ${C} is not divisible by --n_head ${num('n_head')}: choose n_head among ${divisors.join(', ')}, or change n_embd`);
  }
  if (c.decay_lr === true && has('lr_decay_iters') && has('warmup_iters') && num('lr_decay_iters') <= num('warmup_iters')) {
    warnings.push(`--lr_decay_iters ${num('lr_decay_iters')} <= --warmup_iters ${num('warmup_iters')}: the learning rate drops to min_lr right after warm-up`);
  }
  if (has('min_lr') && has('learning_rate') && c.decay_lr === true && num('min_lr') > num('learning_rate')) {
    warnings.push(`--min_lr ${num('min_lr')} is larger than --learning_rate ${num('learning_rate')}: the "decay" raises the learning rate`);
  }

  if (errors.length === 0) errors.push(...quantProblems(c));

  // The variants in use, with their own flags (the reference ignores the flags of unused variants).
  if (['norm_variant_attn', 'norm_variant_output', 'activation_variant'].every((k) => k in c)) {
    const v = variantProblems(c as unknown as VariantChoices);
    errors.push(...v.errors);
    warnings.push(...v.warnings);
  }
  if (errors.length) throw new UserError(`invalid configuration:\n  ${errors.join('\n  ')}`);
  return warnings;
}

/** Every problem of a config against a command's table (types, then each flag's own check): a UserError listing them. */
export function checkFlags(table: readonly FlagSpec[], c: Record<string, unknown>): void {
  const errors: string[] = [];
  for (const f of table) {
    if (!(f.name in c)) continue;
    const why = checkValue(f, c[f.name]) ?? f.check?.(c[f.name], c, f.name) ?? null;
    if (why) errors.push(why);
  }
  if (errors.length) throw new UserError(errors.length === 1 ? errors[0] : `invalid flags:\n  ${errors.join('\n  ')}`);
}
