// TEMPORARY stand-in written by the sweep helper so its tests build: the CLI helper owns this file and
// its version replaces this one at merge. Only the contract signature is implemented here:
// parseFlags(argv, table, base) -> { config, given, positional }, throwing UserError on a bad flag.
import type { FlagSpec } from './flags.js';
import { UserError } from '../engine/types.js';

export function parseFlags(
  argv: string[],
  table: readonly FlagSpec[],
  base: Record<string, unknown>,
): { config: Record<string, unknown>; given: Set<string>; positional: string[] } {
  const byName = new Map(table.map((f) => [f.name as string, f]));
  const config: Record<string, unknown> = { ...base };
  const given = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i];
    if (!tok.startsWith('--')) { positional.push(tok); continue; }
    let name = tok.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) { value = name.slice(eq + 1); name = name.slice(0, eq); }
    let spec = byName.get(name);
    if (!spec && name.startsWith('no-') && byName.get(name.slice(3))?.type === 'bool' && value === undefined) {
      spec = byName.get(name.slice(3))!;
      config[spec.name] = false; given.add(spec.name);
      continue;
    }
    if (!spec) throw new UserError(`unknown flag --${name}`);
    if (spec.type === 'bool') {
      if (value === undefined && (argv[i + 1] === 'true' || argv[i + 1] === 'false')) value = argv[++i];
      if (value === undefined) value = 'true';
      if (value !== 'true' && value !== 'false') throw new UserError(`--${name}: '${value}' is not true or false`);
      config[spec.name] = value === 'true'; given.add(spec.name);
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UserError(`--${name} needs a value`);
      value = argv[++i];
    }
    config[spec.name] = convert(spec, value); given.add(spec.name);
  }
  return { config, given, positional };
}

function convert(spec: FlagSpec, value: string): unknown {
  if (spec.nullable && (value === 'None' || value === 'null')) return null;
  if (spec.type === 'int') {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n)) throw new UserError(`--${spec.name}: '${value}' is not an integer`);
    return n;
  }
  if (spec.type === 'float') {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new UserError(`--${spec.name}: '${value}' is not a number`);
    return n;
  }
  if (spec.choices && !spec.choices.includes(value)) {
    throw new UserError(`--${spec.name}: '${value}' is not one of ${spec.choices.join(', ')}`);
  }
  return value;
}
