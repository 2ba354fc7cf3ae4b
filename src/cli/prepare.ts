// `normlab prepare <dataset> [--input FILE] [--data_dir DIR]`: builds <data_dir>/<dataset>/
// {train.bin, val.bin, meta.json}, a char-level set (see src/data/dataset.ts). The text comes from,
// in order: --input FILE; <data_dir>/<dataset>/input.txt (nanoGPT's habit); for shakespeare_char,
// the copy shipped in the package (data/shakespeare_char/input.txt). Never downloads anything.
// The file is read as Python's text mode reads it (UTF-8, "\r\n" and "\r" become "\n", a BOM is
// kept as a character), so the token ids equal those of nanoGPT's prepare.py. Running it again
// rewrites the same bytes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../engine/types.js';
import { prepareChar } from '../data/dataset.js';
import { HelpRequested, parseFlags, tableDefaults, PREPARE_FLAGS } from '../config/index.js';
import { formatHelp } from './help.js';

const USAGE = 'normlab prepare <dataset> [--input FILE] [--data_dir DIR]';
const DESCRIPTION = 'Builds <data_dir>/<dataset>/{train.bin, val.bin, meta.json}: a character-level dataset ' +
  '(90% train, 10% val, token ids as little-endian uint16, as nanoGPT). shakespeare_char works offline from ' +
  'the text shipped with normlab; --input FILE makes a set from any UTF-8 text file.';
export const BUILTIN_DATASETS = ['shakespeare_char'];

/** The folder holding normlab's package.json (this file is at <root>/dist/src/cli/ or <root>/src/cli/). */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj)) {
      try {
        if (JSON.parse(fs.readFileSync(pj, 'utf8')).name === 'normlab') return dir;
      } catch { /* not ours: keep looking */ }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('normlab: cannot find the package root (package.json) above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** Reads a UTF-8 text file as Python's open(path).read() does (universal newlines). */
export function readText(file: string): string {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new UserError(`input file ${file} not found`);
  }
  if (!st.isFile()) throw new UserError(`input ${file} is not a file`);
  const bytes = fs.readFileSync(file);
  if (bytes.length === 0) throw new UserError(`input file ${file} is empty: give a text file with some text in it`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new UserError(`input file ${file} is not valid UTF-8 text: convert it to UTF-8 first`);
  }
  return text.replace(/\r\n?/g, '\n');
}

function thousands(n: number): string {
  return n.toLocaleString('en-US');
}

function humanBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  return `${(n / 1e6).toFixed(1)} MB`;
}

export async function prepareCommand(argv: string[], log: (line: string) => void = console.log): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(argv, PREPARE_FLAGS, tableDefaults(PREPARE_FLAGS), { maxPositional: 1 });
  } catch (e) {
    if (e instanceof HelpRequested) { log(formatHelp('prepare', PREPARE_FLAGS, USAGE, DESCRIPTION)); return 0; }
    throw e;
  }
  const name = parsed.positional[0];
  if (name === undefined) {
    throw new UserError(`which dataset? usage: ${USAGE} (built in: ${BUILTIN_DATASETS.join(', ')})`);
  }
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name === '.' || name === '..') {
    throw new UserError(`dataset name ${JSON.stringify(name)}: use a plain folder name (letters, digits, . _ -); ` +
      'the text file goes in --input');
  }
  const dataDir = parsed.config.data_dir as string;
  const outDir = path.join(dataDir, name);
  const input = parsed.config.input as string | null;

  let source: string;
  if (input !== null) source = input;
  else if (fs.existsSync(path.join(outDir, 'input.txt'))) source = path.join(outDir, 'input.txt');
  else if (name === 'shakespeare_char') source = path.join(packageRoot(), 'data', 'shakespeare_char', 'input.txt');
  else {
    throw new UserError(`no text for dataset "${name}": give one with --input FILE (a UTF-8 text file), ` +
      `or put it at ${path.join(outDir, 'input.txt')}; built in: ${BUILTIN_DATASETS.join(', ')}`);
  }
  const text = readText(source);
  const r = prepareChar(text, outDir);

  const nChars = r.trainTokens + r.valTokens;
  const alphabet = JSON.stringify(r.chars.join(''));
  log(`prepared ${name} from ${source} (${thousands(nChars)} characters)`);
  log(`  vocab_size ${r.vocabSize}: ${alphabet.length > 120 ? alphabet.slice(0, 117) + '..."' : alphabet}`);
  const [train, val, meta] = r.files;
  const w = Math.max(train.path.length, val.path.length, meta.path.length);
  const tw = thousands(r.trainTokens).length;
  log(`  ${train.path.padEnd(w)}  ${thousands(r.trainTokens).padStart(tw)} tokens (${humanBytes(train.bytes)})`);
  log(`  ${val.path.padEnd(w)}  ${thousands(r.valTokens).padStart(tw)} tokens (${humanBytes(val.bytes)})`);
  log(`  ${meta.path.padEnd(w)}  vocab_size and chars (${humanBytes(meta.bytes)})`);
  return 0;
}
