// Which flags of a run are factors of it (docs/sweep.md, "Factors"): a flag that nothing in the run
// reads is not one. A variant's own flags (krmsnorm_num, prmsnorm_pct, pfla_*, ...) matter only
// when that variant sits in some slot of the model; a per-layer list replaces the every-layer flag;
// the decay schedule's flags matter only with --decay_lr. Labels, legends, baselines, CSV columns
// and the dashboard's selectors use runFactors, so `rmsnorm · gelu` is not labelled with kRMSNorm's k.
import { norms } from '../nn/norms/norm-registry.js';
import { activations } from '../nn/activations/activation-registry.js';
import { blockActivation, blockNorm, normSlotNames } from './block.js';
import type { ModelConfig } from '../config/config-types.js';
import { defaultConfig } from '../config/flags.js';

const NORM_OWNED = new Map<string, Set<string>>();
const ACT_OWNED = new Map<string, Set<string>>();
for (const [reg, owned] of [[norms, NORM_OWNED], [activations, ACT_OWNED]] as const) {
  for (const v of Object.values(reg) as { name: string; flags?: readonly { name: string }[] }[]) {
    for (const f of v.flags ?? []) {
      if (!owned.has(f.name)) owned.set(f.name, new Set());
      owned.get(f.name)!.add(v.name);
    }
  }
}

/** Flags the schedule reads only with --decay_lr (src/train/schedule.ts). */
const DECAY_FLAGS = ['warmup_iters', 'lr_decay_iters', 'min_lr'];

/**
 * The flags of `config` that do not change this run: variant flags of variants it does not use,
 * the every-layer variant flag when a per-layer list replaces it, the decay flags without
 * --decay_lr. A config this version cannot read (an unknown variant) gives what it can.
 */
export function unusedFlags(config: Record<string, unknown>): Set<string> {
  const cfg = { ...defaultConfig(), ...config } as unknown as ModelConfig & Record<string, unknown>;
  const out = new Set<string>();
  const usedNorms = new Set<string>([String(cfg.norm_variant_output)]);
  const usedActs = new Set<string>();
  const n = Number.isInteger(cfg.n_layer) && cfg.n_layer > 0 ? Math.min(cfg.n_layer, 4096) : 1;
  const blockNorms = normSlotNames(cfg).length > 0;
  for (let i = 0; i < n; i++) {
    if (blockNorms) usedNorms.add(String(blockNorm(cfg, i)));
    usedActs.add(String(blockActivation(cfg, i)));
  }
  for (const [flag, owners] of NORM_OWNED) if (![...owners].some((o) => usedNorms.has(o))) out.add(flag);
  for (const [flag, owners] of ACT_OWNED) if (![...owners].some((o) => usedActs.has(o))) out.add(flag);
  const listed = (v: unknown) => Array.isArray(v) && v.length > 0;
  if (listed(cfg.norm_variant_attn_layerlist) || !blockNorms) out.add('norm_variant_attn');
  if (listed(cfg.activation_variant_layerlist)) out.add('activation_variant');
  if (cfg.decay_lr !== true) for (const k of DECAY_FLAGS) out.add(k);
  return out;
}

/** The config with the flags that do not change the run set to undefined (absent: not a factor). */
export function runFactors(config: Record<string, unknown>): Record<string, unknown> {
  const unused = unusedFlags(config);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) if (!unused.has(k)) out[k] = v;
  return out;
}

/**
 * The flags that vary as factors across configs: a flag is a factor when the runs that use it
 * take at least two values, or when some use it with a value that others do not (a default
 * being absent counts only where the run uses the flag). Order of first appearance; `skip` out.
 */
export function factorFlags(configs: readonly Record<string, unknown>[], skip: ReadonlySet<string> = new Set()): string[] {
  const used = configs.map(runFactors);
  const keys: string[] = [];
  for (const c of used) for (const k of Object.keys(c)) if (!keys.includes(k) && !skip.has(k)) keys.push(k);
  return keys.filter((k) => new Set(used.filter((c) => k in c).map((c) => JSON.stringify(c[k]))).size > 1);
}
