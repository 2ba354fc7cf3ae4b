// The flag schema: what a flag is (name, type, default, group, help, choices, checks), how one value
// is read from text or checked when it comes from JSON, and how a value is shown back to the user.
// The tables of flags live in flags.ts (variants declare theirs in their own files, see
// src/nn/variant.ts); the argv parser in parse.ts; whole-config checks in check.ts.
import { UserError } from './errors.js';

export type FlagType = 'int' | 'float' | 'bool' | 'str';
export type FlagGroup = 'model' | 'normalization' | 'activation' | 'softmax' | 'quantization' | 'training' | 'data' | 'logging' | 'sampling' | 'cost';

/** One flag. `N` narrows the name for a command's own table (the train table checks its names
 * against TrainConfig); the parser and --help take any table, so the default is a plain string. */
export interface FlagSpec<N extends string = string> {
  name: N;
  type: FlagType;
  default: number | boolean | string | null; // null: unset ("None" in the reference)
  group: FlagGroup;
  help: string;
  choices?: readonly string[];
  /** Values the flag knows but refuses, each with why and what to use instead (e.g. --dtype float16). */
  refused?: Readonly<Record<string, string>>;
  /** May be given as "None"/unset. */
  nullable?: boolean;
  /** A list of values of `type` (one per layer, say): `--name a b c`, `--name "a b c"` or `--name=a,b,c`
   * on the command line, an array in JSON, shown space-separated. At least one value. */
  list?: boolean;
  /** Refuses a well-typed value that cannot work: a message naming the flag, the value and what to
   * do, or null. `c` is the whole config. A variant's flags are checked when the variant is used. */
  check?(value: unknown, c: Record<string, unknown>, name: string): string | null;
  /** Like check, for a value that is defined but probably not what was meant (printed, not refused). */
  warn?(value: unknown, c: Record<string, unknown>, name: string): string | null;
}

/** The TypeScript type of a flag's value: number, boolean, string or one of its choices; | null if nullable. */
type ScalarValue<F> =
  F extends { type: 'bool' } ? boolean
    : F extends { type: 'str' } ? (F extends { choices: readonly (infer U extends string)[] } ? U : string)
    : number;
export type FlagValue<F> =
  | (F extends { list: true } ? ScalarValue<F>[] : ScalarValue<F>)
  | (F extends { nullable: true } ? null : never);

/** The config object a list of flags (declared `as const`) describes: { name: value type }. */
export type FlagValues<Fs extends readonly { name: string }[]> = { -readonly [F in Fs[number] as F['name']]: FlagValue<F> };

export const TRUE_WORDS = new Set(['true', 'yes', '1']);
export const FALSE_WORDS = new Set(['false', 'no', '0']);
export const NONE_WORDS = new Set(['None', 'none', 'null']);
// Python's int() and float() forms (no underscores, no hex): "6", "-2", "1e-3", ".5", "5.", "+1".
const INT_RE = /^[+-]?\d+$/;
export const FLOAT_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function isBoolWord(s: string): boolean {
  const w = s.toLowerCase();
  return TRUE_WORDS.has(w) || FALSE_WORDS.has(w);
}

/** A token after a flag is its value unless it looks like an option; negative numbers are values. */
export function looksLikeOption(tok: string): boolean {
  return tok.startsWith('-') && tok !== '-' && !FLOAT_RE.test(tok);
}

/** The default as a user would type it. */
export function showValue(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (Array.isArray(v)) return v.map(showValue).join(' ');
  if (typeof v === 'string') return v === '' || /[\s"'\\]/.test(v) ? JSON.stringify(v) : v;
  return String(v);
}

export function allowedText(f: FlagSpec): string {
  if (f.list) return `one or more of ${f.choices ? f.choices.join(', ') : `${f.type} values`}, separated by spaces${f.nullable ? ', or None' : ''}`;
  const none = f.nullable ? ', or None' : '';
  switch (f.type) {
    case 'int': return `an integer${none} (default ${showValue(f.default)})`;
    case 'float': return `a number such as 0.1, 1e-3, -2${none} (default ${showValue(f.default)})`;
    case 'bool': return `--${f.name}, --no-${f.name}, or --${f.name} true|false`;
    case 'str': return f.choices ? `one of ${f.choices.join(', ')}${none}` : `a string${none}`;
  }
}

/** Parses one flag value given as text. Throws a UserError naming the flag, value and what is allowed. */
export function parseValue(f: FlagSpec, text: string): number | boolean | string | null | unknown[] {
  if (f.nullable && NONE_WORDS.has(text)) return null;
  if (f.list) {
    const items = text.split(/[\s,]+/).filter((t) => t !== '');
    if (items.length === 0) throw new UserError(`--${f.name} needs at least one value: ${allowedText(f)}`);
    return items.map((t) => parseValue({ ...f, list: false, nullable: false }, t));
  }
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
      const why = refusedWhy(f, text);
      if (why !== undefined) throw new UserError(`--${f.name} ${text}: ${why}`);
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

/** Why flag f refuses `value` (FlagSpec.refused), or undefined when it does not. */
export function refusedWhy(f: FlagSpec, value: string): string | undefined {
  return f.refused && Object.hasOwn(f.refused, value) ? f.refused[value] : undefined;
}

/** Why `v` is not a valid value of flag `f` (for configs that come from JSON, e.g. sweeps); null if
 * valid. Only the type and choices: the flag's own check() is run by checkFlags (check.ts). */
export function checkValue(f: FlagSpec, v: unknown): string | null {
  if (v === null) return f.nullable ? null : `--${f.name} cannot be None: expected ${allowedText(f)}`;
  if (f.list) {
    if (!Array.isArray(v) || v.length === 0) return `--${f.name}: ${JSON.stringify(v)} is not valid; expected ${allowedText(f)}`;
    const item = { ...f, list: false, nullable: false };
    for (const x of v) { const why = checkValue(item, x); if (why) return why; }
    return null;
  }
  const why = typeof v === 'string' ? refusedWhy(f, v) : undefined;
  if (why !== undefined) return `--${f.name} ${v}: ${why}`;
  const bad = `--${f.name}: ${JSON.stringify(v)} is not valid; expected ${allowedText(f)}`;
  switch (f.type as FlagType) {
    case 'int': return Number.isSafeInteger(v) ? null : bad;
    case 'float': return typeof v === 'number' && Number.isFinite(v) ? null : bad;
    case 'bool': return typeof v === 'boolean' ? null : bad;
    case 'str': return typeof v === 'string' && (!f.choices || f.choices.includes(v)) ? null : bad;
  }
}

/** A check for probabilities and decay rates: refuses values outside [0, 1). */
export const inUnitInterval: FlagSpec['check'] = (v, _c, name) =>
  (typeof v === 'number' && !(v >= 0 && v < 1) ? `--${name} is ${v}; it must be in [0, 1)` : null);
