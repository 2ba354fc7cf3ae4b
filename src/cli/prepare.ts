// `normlab prepare <dataset> [--input FILE] [--tokenizer char|gpt2] [--data_dir DIR]`: builds
// <data_dir>/<dataset>/{train.bin, val.bin, meta.json} (see src/data/make-dataset.ts; streaming, so the
// text may be larger than memory). The text comes from, in order: --input FILE;
// <data_dir>/<dataset>/input.txt (nanoGPT's habit); for shakespeare and shakespeare_char, the copy
// shipped in the package (data/shakespeare_char/input.txt: nanoGPT's tiny Shakespeare). Never
// downloads anything. The tokenizer: --tokenizer, else gpt2 for shakespeare (nanoGPT's
// data/shakespeare) and char for everything else. Running it again rewrites the same bytes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../util/errors.js';
import { fileSource, prepareDataset } from '../data/make-dataset.js';
import type { TokenizerName } from '../data/tokenizer.js';
import { HelpRequested, parseFlags, tableDefaults, PREPARE_FLAGS } from '../config/config.js';
import { formatHelp } from './help.js';

const USAGE = 'normlab prepare <dataset> [--input FILE] [--tokenizer char|gpt2] [--data_dir DIR]';
const DESCRIPTION = 'Builds <data_dir>/<dataset>/{train.bin, val.bin, meta.json}: the first 90% of the text\'s characters ' +
  'train, the rest validate, token ids as little-endian uint16, as nanoGPT. shakespeare (GPT-2 tokens) and ' +
  'shakespeare_char (characters) work offline from the text shipped with normlab; --input FILE makes a set from ' +
  'any UTF-8 text file, read in chunks (it may be larger than memory).';
/** Built-in sets: the tokenizer each uses unless --tokenizer says otherwise. */
export const BUILTIN_DATASETS: Record<string, TokenizerName> = { shakespeare: 'gpt2', shakespeare_char: 'char' };
const builtins = () => Object.keys(BUILTIN_DATASETS).join(', ');

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

function thousands(n: number): string {
  return n.toLocaleString('en-US');
}

function humanBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
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
    throw new UserError(`which dataset? usage: ${USAGE} (built in: ${builtins()})`);
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
  else if (name in BUILTIN_DATASETS) source = path.join(packageRoot(), 'data', 'shakespeare_char', 'input.txt');
  else {
    throw new UserError(`no text for dataset "${name}": give one with --input FILE (a UTF-8 text file), ` +
      `or put it at ${path.join(outDir, 'input.txt')}; built in: ${builtins()}`);
  }
  const tokenizer = (parsed.config.tokenizer as TokenizerName | null) ?? BUILTIN_DATASETS[name] ?? 'char';
  const text = fileSource(source);
  const big = (text.bytes ?? 0) > 64e6;
  // Progress: every 256 MB of a big file, and every 5 s of any long work (a slow pass says where it is).
  let lastShown = 0, lastTime = Date.now();
  const r = prepareDataset(text, outDir, tokenizer, {
    onProgress: (pass, bytes) => {
      const slow = Date.now() - lastTime >= 5000;
      if (!slow && (!big || (bytes - lastShown < 256e6 && bytes !== text.bytes))) return;
      lastShown = bytes === text.bytes ? 0 : bytes;
      lastTime = Date.now();
      log(`  ${pass === 'count' ? 'reading' : 'encoding'}: ${humanBytes(bytes)} of ${humanBytes(text.bytes!)}`);
    },
  });

  log(`prepared ${name} from ${source} (${thousands(r.nChars)} characters), tokenizer ${tokenizer}`);
  if (tokenizer === 'char') {
    const alphabet = JSON.stringify(r.chars.join(''));
    log(`  vocab_size ${r.vocabSize}: ${alphabet.length > 120 ? alphabet.slice(0, 117) + '..."' : alphabet}`);
  } else {
    log(`  vocab_size ${r.vocabSize} (GPT-2 BPE)`);
  }
  const [train, val, meta] = r.files;
  const w = Math.max(train.path.length, val.path.length, meta.path.length);
  const tw = thousands(r.trainTokens).length;
  log(`  ${train.path.padEnd(w)}  ${thousands(r.trainTokens).padStart(tw)} tokens (${humanBytes(train.bytes)})`);
  log(`  ${val.path.padEnd(w)}  ${thousands(r.valTokens).padStart(tw)} tokens (${humanBytes(val.bytes)})`);
  log(`  ${meta.path.padEnd(w)}  vocab_size, tokenizer${tokenizer === 'char' ? ', chars' : ''} and token counts (${humanBytes(meta.bytes)})`);
  return 0;
}
