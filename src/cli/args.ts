// Command-line flags: parsing, --help text, and the sanity check of a train config.
//
// Syntax follows the Python reference (argparse, booleans with BooleanOptionalAction), so its
// commands and scripts carry over unchanged:
//   --name value   --name=value              every type
//   --flag  --no-flag  --flag true|false  --flag=false   booleans (true/false/yes/no/1/0, any case)
//   --name None    (also none, null)          nullable flags only: unset
//   --             everything after it is positional
// A flag given twice: the last one wins (as in argparse). A value that looks like an option
// ("--x", "-h") is not taken as a value, except negative numbers ("--pla_left_bound -2"); write
// "--start=-x" for a string that starts with a dash.
// Every mistake is a UserError naming the flag, the value and what is allowed, before any work starts.
import { UserError } from '../engine/types.js';
import { FLAGS, type FlagGroup, type FlagSpec, type FlagType } from './flags.js';

export interface ParsedFlags {
  /** `base` with every given flag overwritten by its parsed value. */
  config: Record<string, unknown>;
  /** Names of the flags present on the command line (to tell "given" from "default", e.g. on resume). */
  given: Set<string>;
  /** Arguments that are not flags, in order. */
  positional: string[];
}

/** Thrown by parseFlags for -h/--help (before any other check): print formatHelp(...) and exit 0. */
export class HelpRequested extends Error {
  constructor(readonly table: readonly FlagSpec[]) {
    super('help requested');
    this.name = 'HelpRequested';
  }
}

const TRUE_WORDS = new Set(['true', 'yes', '1']);
const FALSE_WORDS = new Set(['false', 'no', '0']);
const NONE_WORDS = new Set(['None', 'none', 'null']);
// Python's int() and float() forms (no underscores, no hex): "6", "-2", "1e-3", ".5", "5.", "+1".
const INT_RE = /^[+-]?\d+$/;
const FLOAT_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function isBoolWord(s: string): boolean {
  const w = s.toLowerCase();
  return TRUE_WORDS.has(w) || FALSE_WORDS.has(w);
}

/** A token after a flag is its value unless it looks like an option; negative numbers are values. */
function looksLikeOption(tok: string): boolean {
  return tok.startsWith('-') && tok !== '-' && !FLOAT_RE.test(tok);
}

/** The default as a user would type it. */
export function showValue(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'string') return v === '' || /[\s"'\\]/.test(v) ? JSON.stringify(v) : v;
  return String(v);
}

function allowedText(f: FlagSpec): string {
  const none = f.nullable ? ', or None' : '';
  switch (f.type) {
    case 'int': return `an integer${none} (default ${showValue(f.default)})`;
    case 'float': return `a number such as 0.1, 1e-3, -2${none} (default ${showValue(f.default)})`;
    case 'bool': return `--${f.name}, --no-${f.name}, or --${f.name} true|false`;
    case 'str': return f.choices ? `one of ${f.choices.join(', ')}${none}` : `a string${none}`;
  }
}

/** Parses one flag value given as text. Throws a UserError naming the flag, value and what is allowed. */
export function parseValue(f: FlagSpec, text: string): number | boolean | string | null {
  if (f.nullable && NONE_WORDS.has(text)) return null;
  const bad = (what: string): UserError =>
    new UserError(`--${f.name}: ${JSON.stringify(text)} is ${what}; expected ${allowedText(f)}`);
  switch (f.type) {
    case 'int': {
      if (!INT_RE.test(text)) throw bad(FLOAT_RE.test(text) ? 'not an integer' : 'not a number');
      const v = Number(text);
      if (!Number.isSafeInteger(v)) throw bad('too large');
      return v;
    }
    case 'float': {
      if (!FLOAT_RE.test(text)) throw bad('not a number');
      const v = Number(text);
      if (!Number.isFinite(v)) throw bad('not a finite number');
      return v;
    }
    case 'bool': {
      const w = text.toLowerCase();
      if (TRUE_WORDS.has(w)) return true;
      if (FALSE_WORDS.has(w)) return false;
      throw bad('not a boolean');
    }
    case 'str': {
      if (f.choices && !f.choices.includes(text)) {
        const near = nearest(text, f.choices);
        throw new UserError(
          `--${f.name}: ${JSON.stringify(text)} is not a valid choice${near ? ` (did you mean ${near}?)` : ''}; ` +
          `allowed: ${f.choices.join(', ')}${f.nullable ? ', None' : ''}`);
      }
      return text;
    }
  }
}

/**
 * Parses argv (without the command name) against a flag table, on top of `base` (usually the
 * table's defaults, or a resumed run's config). Throws HelpRequested for -h/--help, UserError for
 * any mistake. `opts.maxPositional` refuses extra positional arguments (train: 0).
 */
export function parseFlags(
  argv: string[], table: readonly FlagSpec[], base: Record<string, unknown>,
  opts: { maxPositional?: number } = {},
): ParsedFlags {
  const dashdash = argv.indexOf('--');
  const options = dashdash < 0 ? argv : argv.slice(0, dashdash);
  if (options.includes('-h') || options.includes('--help')) throw new HelpRequested(table);

  const byName = new Map<string, FlagSpec>(table.map((f) => [f.name, f]));
  const config: Record<string, unknown> = { ...base };
  const given = new Set<string>();
  const positional: string[] = [];

  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i];
    if (i === dashdash) { positional.push(...argv.slice(i + 1)); break; }
    if (!looksLikeOption(tok)) { positional.push(tok); continue; }
    if (!tok.startsWith('--')) {
      throw new UserError(`unknown option ${tok}: flags are written --name value${suggest(tok.replace(/^-+/, ''), table)}`);
    }
    const body = tok.slice(2);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const inline = eq < 0 ? undefined : body.slice(eq + 1);
    let f = byName.get(name);
    let value: unknown;

    if (!f && name.startsWith('no-') && byName.has(name.slice(3))) {
      // --no-flag: the negative form of a boolean, takes no value.
      f = byName.get(name.slice(3))!;
      if (f.type !== 'bool') {
        throw new UserError(`--${name}: --${f.name} is not a boolean flag; give it a value: --${f.name} ${showValue(f.default)} (${allowedText(f)})`);
      }
      if (inline !== undefined || (i + 1 < argv.length && isBoolWord(argv[i + 1]))) {
        throw new UserError(`--${name} takes no value; write --no-${f.name} or --${f.name} false`);
      }
      value = false;
    } else if (!f) {
      throw new UserError(`unknown flag --${name}${suggest(name, table)}`);
    } else if (f.type === 'bool') {
      if (inline !== undefined) value = parseValue(f, inline);
      else if (i + 1 < argv.length && (isBoolWord(argv[i + 1]) || (f.nullable && NONE_WORDS.has(argv[i + 1])))) value = parseValue(f, argv[++i]);
      else value = true;
    } else {
      let text = inline;
      if (text === undefined) {
        const next = argv[i + 1];
        if (next === undefined || i + 1 === dashdash || looksLikeOption(next)) {
          throw new UserError(`--${f.name} needs a value: ${allowedText(f)}` +
            (next !== undefined && f.type === 'str' && i + 1 !== dashdash ? `; for a value starting with a dash write --${f.name}=${next}` : ''));
        }
        text = next;
        i++;
      }
      value = parseValue(f, text);
    }
    config[f.name] = value;
    given.add(f.name);
  }
  const max = opts.maxPositional ?? Infinity;
  if (positional.length > max) {
    const extra = positional[max];
    throw new UserError(`unexpected argument ${JSON.stringify(extra)}: this command takes ` +
      `${max === 0 ? 'no' : `at most ${max}`} positional argument${max === 1 ? '' : 's'}; flags start with -- ` +
      '(a boolean flag takes only true/false/yes/no/1/0 as its value)');
  }
  return { config, given, positional };
}

/** Defaults of a table, as a config object. */
export function tableDefaults(table: readonly FlagSpec[]): Record<string, unknown> {
  const cfg: Record<string, unknown> = {};
  for (const f of table) cfg[f.name] = f.default;
  return cfg;
}

/** Edit distance (insertions, deletions, substitutions). */
export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The closest candidate, if it is close enough to be a plausible typo (or differs only by - vs _ or case). */
export function nearest(word: string, candidates: readonly string[]): string | null {
  const norm = (s: string) => s.toLowerCase().replace(/-/g, '_');
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = norm(word) === norm(c) ? 0 : levenshtein(word, c);
    if (d < bestD) { bestD = d; best = c; }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : null;
}

function suggest(name: string, table: readonly FlagSpec[]): string {
  const names = table.flatMap((f) => (f.type === 'bool' ? [f.name, `no-${f.name}`] : [f.name]));
  const near = nearest(name, names);
  return near ? ` (did you mean --${near}?)` : ' (--help lists the flags)';
}

const GROUP_ORDER: FlagGroup[] = ['model', 'normalization', 'activation', 'training', 'data', 'logging', 'sampling'];
const WIDTH = 100;

/** Greedy word wrap to lines of at most `width` characters (a longer word gets its own line). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) { lines.push(line); line = ''; }
    line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** --help text: usage line, then the flags by group with type and default. */
export function formatHelp(command: string, table: readonly FlagSpec[], usage = `normlab ${command} [flags]`, description?: string): string {
  const out = [`usage: ${usage}`];
  if (description) out.push('', ...wrap(description, WIDTH));
  const groups = [...GROUP_ORDER, ...new Set(table.map((f) => f.group).filter((g) => !GROUP_ORDER.includes(g)))];
  const COL = 38;
  for (const g of groups) {
    const flags = table.filter((f) => f.group === g);
    if (flags.length === 0) continue;
    out.push('', `${g}:`);
    for (const f of flags) {
      const left = f.type === 'bool' ? `  --${f.name}, --no-${f.name}` : `  --${f.name} ${f.choices ? 'NAME' : f.type.toUpperCase()}`;
      const text = `${f.help} (default: ${showValue(f.default)})` + (f.choices ? `; one of: ${f.choices.join(', ')}` : '');
      const lines = wrap(text, WIDTH - COL);
      if (left.length + 2 <= COL) out.push(left.padEnd(COL) + lines[0]);
      else out.push(left, ' '.repeat(COL) + lines[0]);
      for (const l of lines.slice(1)) out.push(' '.repeat(COL) + l);
    }
  }
  out.push('', 'other:', '  -h, --help'.padEnd(COL) + 'show this help');
  const notes = [];
  if (table.some((f) => f.type === 'bool')) notes.push('Booleans: --flag, --no-flag, --flag true|false.');
  if (table.some((f) => f.nullable)) notes.push('Flags whose default is None accept None (unset).');
  if (notes.length) out.push('', notes.join(' '));
  return out.join('\n') + '\n';
}

/** Why `v` is not a valid value of flag `f` (for configs that come from JSON, e.g. sweeps); null if valid. */
export function checkValue(f: FlagSpec, v: unknown): string | null {
  if (v === null) return f.nullable ? null : `--${f.name} cannot be None: expected ${allowedText(f)}`;
  const bad = `--${f.name}: ${JSON.stringify(v)} is not valid; expected ${allowedText(f)}`;
  switch (f.type as FlagType) {
    case 'int': return Number.isSafeInteger(v) ? null : bad;
    case 'float': return typeof v === 'number' && Number.isFinite(v) ? null : bad;
    case 'bool': return typeof v === 'boolean' ? null : bad;
    case 'str': return typeof v === 'string' && (!f.choices || f.choices.includes(v)) ? null : bad;
  }
}

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
