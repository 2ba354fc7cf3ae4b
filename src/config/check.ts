// Whole-config checks of a train config: values of the right type, then combinations that cannot work.
import { UserError } from '../engine/types.js';
import { FLAGS } from './flags.js';
import { checkValue } from './schema.js';

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

  const num = (k: string) => c[k] as number;
  const need = (ok: boolean, msg: string) => { if (!ok) errors.push(msg); };
  const has = (k: string) => typeof c[k] === 'number';
  const atLeast = (k: string, min: number, why = '') => {
    if (has(k)) need(num(k) >= min, `--${k} is ${num(k)}; it must be >= ${min}${why}`);
  };

  // Model shape.
  for (const k of ['n_layer', 'n_head', 'n_embd', 'block_size', 'mlp_expansion_factor']) atLeast(k, 1);
  if (c.mlp_size !== null && c.mlp_size !== undefined) atLeast('mlp_size', 1, ' (or None to use --mlp_expansion_factor)');
  if (has('n_embd') && has('n_head') && num('n_head') >= 1 && num('n_embd') % num('n_head') !== 0) {
    const C = num('n_embd');
    const divisors = [];
    for (let h = 1; h <= Math.min(C, 64); h++) if (C % h === 0) divisors.push(h);
    errors.push(`--n_embd ${C} is not divisible by --n_head ${num('n_head')}: choose n_head among ${divisors.join(', ')}, or change n_embd`);
  }
  if (has('dropout')) need(num('dropout') >= 0 && num('dropout') < 1, `--dropout is ${num('dropout')}; it must be in [0, 1)`);

  // Normalization.
  atLeast('krmsnorm_num', 1, ' (the number of entries the partial RMS uses)');
  const p = c.krmsnorm_recompute_percentage;
  if (typeof p === 'number') need(p >= 0, `--krmsnorm_recompute_percentage is ${p}; it must be >= 0 (a fraction: 0.1 = 10%), or None to never recompute`);
  if (has('prmsnorm_pct') && !(num('prmsnorm_pct') > 0 && num('prmsnorm_pct') <= 1)) {
    // Defined (k is clamped to [1, C]) but almost surely a percentage typed as a percent.
    warnings.push(`--prmsnorm_pct is ${num('prmsnorm_pct')}; it is a fraction in (0, 1] (0.0625 = 6.25%); k is clamped to [1, n_embd]`);
  }
  if (c.dact_activation === 'glu') {
    errors.push('--dact_activation glu is not allowed: glu halves the width, a norm must keep it; choose another activation');
  }
  if (typeof c.hsnorm_radius === 'number' && c.hsnorm_radius <= 0) {
    warnings.push(`--hsnorm_radius is ${c.hsnorm_radius}; a radius is normally > 0 (None: sqrt(n_embd))`);
  }

  // Activations: checked only when used (directly or inside dact), since the reference ignores them otherwise.
  const uses = (name: string) => c.activation_variant === name ||
    ((c.norm_variant_attn === 'dact' || c.norm_variant_output === 'dact') && c.dact_activation === name);
  const pwl = (prefix: string, minPoints: number) => {
    atLeast(`${prefix}_num_points`, minPoints);
    const L = c[`${prefix}_left_bound`], R = c[`${prefix}_right_bound`];
    if (typeof L === 'number' && typeof R === 'number') {
      need(L < R, `--${prefix}_left_bound ${L} must be smaller than --${prefix}_right_bound ${R}`);
    }
  };
  if (uses('piecewise')) pwl('pla', 1);
  if (uses('pfla')) pwl('pfla', 1);
  if (uses('pfla_le')) {
    // Its ends extend the first and last segments, so it needs at least one segment (two points).
    atLeast('pfla_num_points', 2, ' for pfla_le (its ends extend the first and last segments)');
  }
  if (uses('learned_spline')) atLeast('lsa_num_knots', 2, ' (a spline needs at least two knots)');

  // Optimization.
  for (const k of ['learning_rate', 'min_lr', 'weight_decay', 'grad_clip', 'max_iters', 'warmup_iters', 'lr_decay_iters']) {
    atLeast(k, 0);
  }
  for (const k of ['beta1', 'beta2']) if (has(k)) need(num(k) >= 0 && num(k) < 1, `--${k} is ${num(k)}; it must be in [0, 1)`);
  for (const k of ['batch_size', 'gradient_accumulation_steps', 'eval_interval', 'eval_iters', 'log_interval']) atLeast(k, 1);
  if (c.max_sample_tokens !== null && c.max_sample_tokens !== undefined) atLeast('max_sample_tokens', 1, ' (or None for no samples)');
  if (c.decay_lr === true && has('lr_decay_iters') && has('warmup_iters') && num('lr_decay_iters') <= num('warmup_iters')) {
    warnings.push(`--lr_decay_iters ${num('lr_decay_iters')} <= --warmup_iters ${num('warmup_iters')}: the learning rate drops to min_lr right after warm-up`);
  }
  if (has('min_lr') && has('learning_rate') && c.decay_lr === true && num('min_lr') > num('learning_rate')) {
    warnings.push(`--min_lr ${num('min_lr')} is larger than --learning_rate ${num('learning_rate')}: the "decay" raises the learning rate`);
  }
  if (typeof c.init_from === 'string') {
    const s = c.init_from;
    need(s === 'scratch' || s === 'resume' || s.endsWith('.safetensors'),
      `--init_from ${JSON.stringify(s)}: expected scratch, resume, or a path to a .safetensors file`);
  }
  for (const k of ['dataset', 'out_dir', 'data_dir']) {
    if (typeof c[k] === 'string') need(c[k] !== '', `--${k} is empty; give a folder name`);
  }
  if (errors.length) throw new UserError(`invalid configuration:\n  ${errors.join('\n  ')}`);
  return warnings;
}
