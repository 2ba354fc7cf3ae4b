// Command-line flags: parsing argv against a flag table (any command's; the sweep planner uses it too).
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
//   --name a b c  --name=a,b,c                 list flags (one value per layer)
// Every mistake is a UserError naming the flag, the value and what is allowed, before any work starts.
import { UserError } from '../util/errors.js';
import {
  allowedText, isBoolWord, looksLikeOption, nearest, NONE_WORDS, parseValue, showValue, type FlagSpec,
} from '../util/schema.js';

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
    const [f, value, next] = readFlag(argv, i, dashdash, byName, table);
    i = next;
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

/** The flag at argv[i] (`--name`, `--name=value`, `--no-name`) and its value: [flag, value, index of
 * the last token it used]. Values follow the flag's type (a list takes every token up to the next option). */
function readFlag(argv: string[], i: number, dashdash: number, byName: Map<string, FlagSpec>, table: readonly FlagSpec[]): [FlagSpec, unknown, number] {
  const tok = argv[i];
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
    if (text === undefined && f.list) {
      // A list takes every following token up to the next option: --name a b c.
      const items: string[] = [];
      while (i + 1 < argv.length && i + 1 !== dashdash && !looksLikeOption(argv[i + 1])) items.push(argv[++i]);
      if (items.length === 0) throw new UserError(`--${f.name} needs a value: ${allowedText(f)}`);
      text = items.join(' ');
    }
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
  return [f, value, i];
}

/** Defaults of a table, as a config object. */
export function tableDefaults(table: readonly FlagSpec[]): Record<string, unknown> {
  const cfg: Record<string, unknown> = {};
  for (const f of table) cfg[f.name] = f.default;
  return cfg;
}

function suggest(name: string, table: readonly FlagSpec[]): string {
  const names = table.flatMap((f) => (f.type === 'bool' ? [f.name, `no-${f.name}`] : [f.name]));
  const near = nearest(name, names);
  return near ? ` (did you mean --${near}?)` : ' (--help lists the flags)';
}

