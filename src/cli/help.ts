// --help text of a command, from its flag table.
import { HelpRequested, parseFlags, showValue, tableDefaults, type FlagGroup, type FlagSpec, type ParsedFlags } from '../config/config.js';

const GROUP_ORDER: FlagGroup[] = ['model', 'normalization', 'activation', 'softmax', 'quantization', 'training', 'data', 'logging', 'sampling'];
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

/**
 * A command's flags parsed over `base` (default: the table's defaults; no positional arguments), or
 * null when --help was asked for: then the command's help (formatHelp) has been printed.
 */
export function parseOrHelp(argv: string[], table: readonly FlagSpec[], command: string, usage: string, description: string,
  base: Record<string, unknown> = tableDefaults(table)): ParsedFlags | null {
  try {
    return parseFlags(argv, table, base, { maxPositional: 0 });
  } catch (e) {
    if (!(e instanceof HelpRequested)) throw e;
    process.stdout.write(formatHelp(command, table, usage, description));
    return null;
  }
}
