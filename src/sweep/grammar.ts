// The exploration grammar of the Python reference, so its files run unchanged.
//
// A file is a list of sweep objects (JSON: an array, or one object; YAML: one object per document,
// or a list). In a sweep object every key is a train flag and its value is
//   - a scalar: fixed for every run                          "n_layer": 2
//   - a list: one run per entry (Cartesian product of lists)  "n_layer": [2, 4]
//   - a list flag (one value per layer): "relu gelu" is one value; a list of such strings (or of
//     lists) is one run per entry                           "activation_variant_layerlist": ["relu gelu", "gelu relu"]
//   - a range: start..end by step, end included               {"range": {"start": 1, "end": 5, "step": 2}}
//     (float ranges include the end when it lies within 1e-9 steps of the grid)
//   - a conditional flag: varies only in combinations where every [flag, value] pair holds; elsewhere
//     the flag is left out (so the train default applies)   {"conditions": [["norm_variant_attn", "krmsnorm"]],
//                                                            "options": [8, 16]}
// "parameter_groups": [{...}, ...] makes one sweep per group; a group's keys override the outer keys.
// Values may be strings ("25"): they are compared and converted by the flag's type (see canon()).
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { FLAGS, type FlagSpec } from '../config/config.js';
import { UserError } from '../util/errors.js';

export type Scalar = string | number | boolean | null;
/** One combination: flag name -> raw value, in the order the flags appear in the file. */
export type Combo = Record<string, Scalar>;

const FLAG_BY_NAME: ReadonlyMap<string, FlagSpec> = new Map(FLAGS.map((f) => [f.name as string, f]));
export function flagSpec(name: string): FlagSpec | undefined {
  return FLAG_BY_NAME.get(name);
}

/** Most combinations one file may expand to; beyond this it is surely a mistake. */
export const MAX_COMBOS = 100_000;

/** Reads a .json, .yaml or .yml exploration file into its list of sweep objects. */
export function loadSweepFile(path: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new UserError(`cannot read sweep file '${path}': check the path`);
  }
  return parseSweepText(text, /\.ya?ml$/i.test(path) ? 'yaml' : 'json', path);
}

export function parseSweepText(text: string, format: 'json' | 'yaml', where = 'sweep file'): Record<string, unknown>[] {
  const items: unknown[] = [];
  if (format === 'json') {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new UserError(`${where} is not valid JSON: ${(e as Error).message}`);
    }
    items.push(...(Array.isArray(data) ? data : [data]));
  } else {
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length > 0) throw new UserError(`${where} is not valid YAML: ${doc.errors[0].message}`);
      const data: unknown = doc.toJS();
      if (data === null || data === undefined) continue; // empty document (e.g. a trailing ---)
      items.push(...(Array.isArray(data) ? data : [data]));
    }
  }
  if (items.length === 0) throw new UserError(`${where} holds no sweep: expected a list of {flag: values} objects`);
  items.forEach((it, i) => {
    if (!isPlainObject(it)) throw new UserError(`${where}: sweep #${i + 1} must be an object of flag: values, got ${JSON.stringify(it)}`);
  });
  return items as Record<string, unknown>[];
}

/** Every combination of every sweep object of a file, in file order (first key varies slowest). */
export function expandSweeps(sweeps: Record<string, unknown>[]): Combo[] {
  const out: Combo[] = [];
  sweeps.forEach((s, i) => {
    for (const c of expandSweep(s, `sweep #${i + 1}`)) {
      out.push(c);
      if (out.length > MAX_COMBOS) throw new UserError(`the sweep expands to more than ${MAX_COMBOS} runs: narrow it`);
    }
  });
  return out;
}

export function expandSweep(sweep: Record<string, unknown>, where = 'sweep'): Combo[] {
  const { parameter_groups: groups, ...outer } = sweep;
  let groupList: Record<string, unknown>[] = [{}];
  if (groups !== undefined) {
    if (!Array.isArray(groups) || groups.length === 0 || !groups.every(isPlainObject)) {
      throw new UserError(`${where}: parameter_groups must be a non-empty list of {flag: values} objects`);
    }
    groupList = groups as Record<string, unknown>[];
  }
  const out: Combo[] = [];
  groupList.forEach((group, g) => {
    if ('parameter_groups' in group) throw new UserError(`${where}: parameter_groups cannot be nested inside a group`);
    const at = groups === undefined ? where : `${where}, group #${g + 1}`;
    out.push(...expandGroup({ ...outer, ...group }, at));
  });
  return out;
}

interface Conditional { name: string; conditions: [string, unknown][]; options: Scalar[] }

function expandGroup(merged: Record<string, unknown>, where: string): Combo[] {
  // Plain keys form a Cartesian product; conditional keys are then applied one after the other,
  // so a condition may refer to a plain flag or to an earlier conditional one.
  let combos: Combo[] = [{}];
  const conditionals: Conditional[] = [];
  for (const [name, value] of Object.entries(merged)) {
    if (isPlainObject(value) && 'conditions' in value) {
      conditionals.push(parseConditional(name, value, where));
      continue;
    }
    const values = valuesOf(name, value, where);
    const next: Combo[] = [];
    for (const c of combos) for (const v of values) next.push({ ...c, [name]: v });
    combos = next;
    if (combos.length > MAX_COMBOS) throw new UserError(`${where} expands to more than ${MAX_COMBOS} runs: narrow it`);
  }
  for (const cond of conditionals) {
    const next: Combo[] = [];
    for (const c of combos) {
      if (cond.conditions.every(([flag, want]) => sameValue(flag, flag in c ? c[flag] : defaultOf(flag), want))) {
        for (const v of cond.options) next.push({ ...c, [cond.name]: v });
      } else {
        next.push(c);
      }
    }
    combos = next;
  }
  return combos;
}

function parseConditional(name: string, spec: Record<string, unknown>, where: string): Conditional {
  const raw = spec.conditions;
  let conditions: [string, unknown][];
  if (Array.isArray(raw) && raw.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string')) {
    conditions = raw as [string, unknown][];
  } else if (isPlainObject(raw)) {
    conditions = Object.entries(raw);
  } else {
    throw new UserError(`${where}: ${name}.conditions must be a list of [flag, value] pairs, e.g. [["norm_variant_attn", "krmsnorm"]]`);
  }
  if (!('options' in spec)) throw new UserError(`${where}: conditional flag ${name} needs "options": [...]`);
  return { name, conditions, options: valuesOf(name, spec.options, where) };
}

/** The values a key takes: a list (ranges inside it are flattened), a range, or one scalar. A list
 * flag (one value per layer) takes each entry as one whole value: ["relu gelu", "gelu gelu"] or
 * [["relu", "gelu"], ["gelu", "gelu"]] are two runs; "relu gelu" or [["relu", "gelu"]] one. */
function valuesOf(name: string, value: unknown, where: string): Scalar[] {
  if (FLAG_BY_NAME.get(name)?.list) {
    const one = (v: unknown): Scalar => {
      if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number')) return v.join(' ');
      if (typeof v === 'string' || v === null) return v;
      throw new UserError(`${where}: ${name} takes one value per layer: a string such as "relu gelu", a list of them, or a list of lists; got ${JSON.stringify(v)}`);
    };
    if (!Array.isArray(value)) return [one(value)];
    if (value.length === 0) throw new UserError(`${where}: ${name} has an empty list of values`);
    return value.map(one);
  }
  if (Array.isArray(value)) {
    if (value.length === 0) throw new UserError(`${where}: ${name} has an empty list of values`);
    return value.flatMap((v) => valuesOf(name, v, where));
  }
  if (isPlainObject(value)) {
    if ('range' in value) return expandRange(name, value.range, where);
    throw new UserError(`${where}: ${name} has an object value ${JSON.stringify(value)}; ` +
      'allowed: a value, a list, {"range": {...}} or {"conditions": [...], "options": [...]}');
  }
  if (value === undefined) throw new UserError(`${where}: ${name} has no value`);
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null) return [value];
  throw new UserError(`${where}: ${name} has an unsupported value ${String(value)}`);
}

/**
 * start, start+step, ... up to and including end. Integer ranges are exact; float ranges
 * include the end when it is within 1e-9 steps of the grid, and each value is rounded to 12
 * significant digits so that 0.1 + 2*0.1 prints as 0.3, not 0.30000000000000004.
 */
export function expandRange(name: string, range: unknown, where = 'sweep'): number[] {
  const usage = `${where}: ${name}.range must be {"start": a, "end": b, "step": s} with numbers and s != 0`;
  if (!isPlainObject(range)) throw new UserError(usage);
  const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN);
  const start = num(range.start), end = num(range.end);
  const step = range.step === undefined ? 1 : num(range.step);
  if (![start, end, step].every(Number.isFinite) || step === 0) throw new UserError(usage);
  const steps = (end - start) / step;
  if (steps < -1e-9) throw new UserError(`${where}: ${name}.range from ${start} to ${end} by ${step} is empty (check the sign of step)`);
  const n = Math.floor(steps + 1e-9);
  if (n + 1 > MAX_COMBOS) throw new UserError(`${where}: ${name}.range has more than ${MAX_COMBOS} values`);
  const ints = Number.isInteger(start) && Number.isInteger(step);
  const out: number[] = [];
  for (let i = 0; i <= n; i++) out.push(ints ? start + i * step : Number((start + i * step).toPrecision(12)));
  return out;
}

/**
 * The typed value of a raw value for a known flag: "25" -> 25 for int/float flags, "True"/"false"
 * -> boolean for bool flags, "None" -> null for nullable ones. A value that does not convert is
 * returned unchanged so validation can report it. Unknown flags keep their raw value.
 */
export function canon(name: string, raw: Scalar): Scalar {
  const spec = FLAG_BY_NAME.get(name);
  if (!spec) return raw;
  if (raw === null || (spec.nullable && (raw === 'None' || raw === 'null'))) return null;
  switch (spec.type) {
    case 'int':
    case 'float': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      return Number.isFinite(n) ? n : raw;
    }
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (typeof raw === 'string' && /^(true|false)$/i.test(raw)) return raw.toLowerCase() === 'true';
      return raw;
    case 'str':
      // A list flag's value is kept as its text, one space between values ("relu gelu").
      return spec.list ? String(raw).split(/[\s,]+/).filter((t) => t !== '').join(' ') : String(raw);
  }
}

function defaultOf(name: string): Scalar {
  return (FLAG_BY_NAME.get(name)?.default ?? null) as Scalar;
}

function sameValue(flag: string, have: unknown, want: unknown): boolean {
  const a = canon(flag, have as Scalar), b = canon(flag, want as Scalar);
  return a === b || String(a) === String(b);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Every combination `n` times with seed = s, s + 1, ..., s + n - 1, seed last (so run names end in
 * `_seed-S`): s is the combination's own fixed seed, else `base`. A file that already varies the
 * seed is refused (give the seeds once: a list in the file, or --seeds).
 */
export function repeatSeeds(combos: Combo[], n: number, base: number): Combo[] {
  if (!Number.isInteger(n) || n < 1) throw new UserError(`--seeds must be a whole number >= 1, got ${n}`);
  const seeds = new Set(combos.filter((c) => 'seed' in c).map((c) => String(canon('seed', c.seed))));
  if (seeds.size > 1) throw new UserError(`the sweep file already lists seeds (${[...seeds].join(', ')}): drop --seeds or the file's seed list`);
  const out: Combo[] = [];
  for (const c of combos) {
    const { seed, ...rest } = c;
    const s = seed === undefined ? base : canon('seed', seed);
    if (typeof s !== 'number' || !Number.isInteger(s)) throw new UserError(`seed must be a whole number, got ${JSON.stringify(seed)}`);
    for (let i = 0; i < n; i++) out.push({ ...rest, seed: s + i });
  }
  if (out.length > MAX_COMBOS) throw new UserError(`the sweep expands to more than ${MAX_COMBOS} runs: narrow it`);
  return out;
}
