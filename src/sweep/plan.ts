// From expanded combinations to the list of runs, validated before anything starts.
//
// Each combination becomes a train argv (booleans as --flag / --no-flag, null as `None`), followed by
// the overrides given after the sweep file on the command line, and goes through the very parser the
// train command uses (parseFlags) plus checkTrainConfig when the build has one. Every problem of every
// combination is collected, so one error lists them all and no run starts. Flags that normlab does not
// have, and values of its flags that it refuses (the framework's `dtype: float16`), are reported once;
// `ignoreUnknown` drops them instead (docs/sweep.md).
import { FLAGS, defaultConfig, parseFlags } from '../config/config.js';
import { UserError } from '../util/errors.js';
import { refusedWhy } from '../util/schema.js';
import { canon, flagSpec, type Combo, type Scalar } from './grammar.js';
import { runNames, variedFlags } from './naming.js';

export interface PlannedRun {
  name: string;
  /** The combination's flags, typed (canon()), in file order; unknown flags dropped. */
  flags: Combo;
  /** Train argv: the combination, then the overrides (no --out_dir: the runner adds it). */
  argv: string[];
  /** The full effective train config of this run (defaults + flags + overrides). */
  config: Record<string, unknown>;
}

export interface Plan {
  runs: PlannedRun[];
  /** Flags that differ between runs (the name and result columns). */
  varied: string[];
  /** Unknown flags that were dropped (only with ignoreUnknown). */
  dropped: string[];
  /** Refused values that were dropped, each as `flag value` (only with ignoreUnknown): those runs take the flag's default. */
  droppedValues: string[];
  /** The same values, each with its flag and the default that replaced it. */
  replacedValues: ReplacedValue[];
  /** Combinations removed because another one had exactly the same flags. */
  duplicates: number;
}

export interface ReplacedValue { flag: string; value: string; default: Scalar }

export interface PlanOptions {
  /** Train flags given after the sweep file: applied to every run, after the combination's own. */
  overrides?: string[];
  ignoreUnknown?: boolean;
  /** Extra whole-config check (e.g. checkTrainConfig: n_head divides n_embd); throws UserError. */
  check?: (config: Record<string, unknown>) => void;
}

/** Flags the sweep sets itself. */
const RESERVED = new Set(['out_dir']);
/** Most bad combinations listed one by one in the error. */
const MAX_LISTED = 100;

export function comboArgv(c: Combo): string[] {
  const argv: string[] = [];
  for (const [k, v] of Object.entries(c)) {
    if (typeof v === 'boolean') argv.push(v ? `--${k}` : `--no-${k}`);
    else {
      const s = v === null ? 'None' : String(v);
      // A value that starts with '-' could read as a flag: glue it with '='.
      if (s.startsWith('-')) argv.push(`--${k}=${s}`);
      else argv.push(`--${k}`, s);
    }
  }
  return argv;
}

export function planSweep(combos: Combo[], opts: PlanOptions = {}): Plan {
  const overrides = opts.overrides ?? [];
  const problems: string[] = [];
  const unknown = unknownFlags(combos, opts, problems);
  const overrideGiven = parseOverrides(overrides);
  const { kept, refused } = refusedValues(combos, overrideGiven, opts, problems);
  const { typed, duplicates } = typedCombos(kept);
  const varied = variedFlags(typed);
  const clash = varied.filter((k) => overrideGiven.has(k));
  if (clash.length > 0) {
    throw new UserError(`the flags after the sweep file override ${clash.map((k) => `--${k}`).join(', ')}, which the sweep varies; ` +
      'drop them there or make them fixed in the file');
  }
  const runs = buildRuns(typed, runNames(typed, varied), overrides, overrideGiven, opts, problems);
  if (problems.length > 0) throw new UserError(`sweep not started, nothing ran:\n${problems.join('\n')}`);
  const replaced = opts.ignoreUnknown ? refused : [];
  return { runs, varied, dropped: opts.ignoreUnknown ? unknown : [], droppedValues: replaced.map((r) => `${r.flag} ${r.value}`), replacedValues: replaced, duplicates };
}

/** Values of normlab's flags that it refuses (FlagSpec.refused), unless the command line sets the flag: each named
 * once (a problem unless ignoreUnknown, which drops them so that those runs take the flag's default). */
function refusedValues(combos: Combo[], overrideGiven: Set<string>, opts: PlanOptions, problems: string[]): { kept: Combo[]; refused: ReplacedValue[] } {
  const found = new Map<string, { n: number; why: string; r: ReplacedValue }>(); // by `flag value`
  // the default in place of a refused value, so that combinations that now agree run once
  const kept = combos.map((c) => Object.fromEntries(Object.entries(c).map(([k, v]) => {
    const f = flagSpec(k), value = String(v), why = f && !overrideGiven.has(k) ? refusedWhy(f, value) : undefined;
    if (!f || why === undefined) return [k, v];
    const kv = `${k} ${value}`, r = { flag: k, value, default: f.default as Scalar };
    found.set(kv, { n: (found.get(kv)?.n ?? 0) + 1, why, r });
    return [k, r.default];
  })) as Combo);
  if (found.size > 0 && !opts.ignoreUnknown) {
    const lines = [...found].map(([kv, { n, why }]) => `  ${kv}: in ${n} of ${combos.length} combinations: ${why}`);
    problems.push(`normlab refuses ${[...found.keys()].join(', ')}:\n${lines.join('\n')}\n` +
      '  drop them from every run with --ignore_unknown (those runs then take the flag\'s default), set the flag after the sweep file, or edit the file');
  }
  return { kept, refused: [...found.values()].map((e) => e.r) };
}

/** Flags of the file that normlab train does not have, each named once (a problem unless ignoreUnknown); a reserved flag is refused. */
function unknownFlags(combos: Combo[], opts: PlanOptions, problems: string[]): string[] {
  const unknown: string[] = [];
  for (const c of combos) for (const k of Object.keys(c)) {
    if (RESERVED.has(k)) throw new UserError(`the sweep sets ${k}; remove it from the file (choose the sweep's folder with --sweep_dir)`);
    if (!flagSpec(k) && !unknown.includes(k)) unknown.push(k);
  }
  if (unknown.length > 0 && !opts.ignoreUnknown) {
    const lines = unknown.map((k) => {
      const affected = combos.filter((c) => k in c).length;
      let hint = '';
      try { parseFlags([`--${k}`, '1'], FLAGS, defaultConfig() as unknown as Record<string, unknown>); } catch (e) { hint = ` (${(e as Error).message})`; }
      return `  ${k}: in ${affected} of ${combos.length} combinations${hint}`;
    });
    problems.push(`normlab train has no flag ${unknown.join(', ')}:\n${lines.join('\n')}\n` +
      '  drop them from every run with --ignore_unknown, or edit the file');
  }
  return unknown;
}

/** The flags after the sweep file, parsed once: the names they set. */
function parseOverrides(overrides: string[]): Set<string> {
  let given: Set<string>;
  try {
    // A "--" would turn the --out_dir the sweep appends into an argument of the run.
    if (overrides.includes('--')) throw new UserError('"--" ends the flags, and the sweep adds --out_dir after them: remove it');
    const parsed = parseFlags(overrides, FLAGS, defaultConfig() as unknown as Record<string, unknown>);
    if (parsed.positional.length > 0) throw new UserError(`unexpected argument '${parsed.positional[0]}' (one sweep file per command)`);
    given = parsed.given;
  } catch (e) {
    if (e instanceof UserError) throw new UserError(`in the flags after the sweep file: ${e.message}`);
    throw e;
  }
  for (const k of given) if (RESERVED.has(k)) throw new UserError(`--${k} is set per run by the sweep; use --sweep_dir to choose the sweep's folder`);
  return given;
}

/** Typed, known-only, de-duplicated combinations. */
function typedCombos(combos: Combo[]): { typed: Combo[]; duplicates: number } {
  const seen = new Set<string>();
  const typed: Combo[] = [];
  let duplicates = 0;
  for (const c of combos) {
    const t: Combo = {};
    for (const [k, v] of Object.entries(c)) if (flagSpec(k)) t[k] = canon(k, v as Scalar);
    const key = JSON.stringify(Object.keys(t).sort().map((k) => [k, t[k]]));
    if (seen.has(key)) { duplicates++; continue; }
    seen.add(key);
    typed.push(t);
  }
  return { typed, duplicates };
}

/** Each combination's argv (then the overrides) through the train parser and the check; the bad ones listed as one problem. */
function buildRuns(typed: Combo[], names: string[], overrides: string[], overrideGiven: Set<string>, opts: PlanOptions,
  problems: string[]): PlannedRun[] {
  const runs: PlannedRun[] = [];
  const bad: string[] = [];
  typed.forEach((t, i) => {
    // A fixed flag of the file that the command line overrides is left out of the argv, not repeated.
    const own: Combo = Object.fromEntries(Object.entries(t).filter(([k]) => !overrideGiven.has(k)));
    const argv = [...comboArgv(own), ...overrides];
    try {
      const { config } = parseFlags(argv, FLAGS, defaultConfig() as unknown as Record<string, unknown>);
      opts.check?.(config);
      runs.push({ name: names[i], flags: t, argv, config });
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      bad.push(`  ${names[i]}: ${e.message}`);
    }
  });
  if (bad.length > 0) {
    const listed = bad.slice(0, MAX_LISTED);
    if (bad.length > MAX_LISTED) listed.push(`  ... and ${bad.length - MAX_LISTED} more`);
    problems.push(`${bad.length} of ${typed.length} combinations are invalid:\n${listed.join('\n')}`);
  }
  return runs;
}
