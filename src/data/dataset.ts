// Datasets on disk, in nanoGPT's layout, so sets prepared by Python tools load as they are:
//   <data_dir>/<name>/train.bin, val.bin   token ids, little-endian uint16, no header
//   <data_dir>/<name>/meta.json            {"vocab_size": V, "chars": [...]} (chars: index = token id;
//                                          only for char-level sets; nanoGPT writes meta.pkl instead)
// The char-level split is nanoGPT's: the first int(n * 0.9) tokens train, the rest validate.
// Batches: B offsets o drawn from the run's seeded generator, o = rng.int(len - T), so o is in
// [0, len - T - 1] and a split of exactly T + 1 tokens gives o = 0 for every row;
// x = tokens[o .. o+T), y = tokens[o+1 .. o+T+1) (the next token of each position).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeDir, writeFileAtomic } from '../engine/files.js';
import { UserError } from '../engine/types.js';
import type { Rng } from '../engine/rng.js';
import { buildVocab, charCodec, MAX_VOCAB } from './chars.js';

export interface DatasetMeta {
  vocab_size: number;
  /** Char-level sets: the alphabet, index = token id. */
  chars?: string[];
  [key: string]: unknown;
}

export interface Dataset {
  name: string;
  dir: string;
  train: Uint16Array;
  val: Uint16Array;
  meta: DatasetMeta;
}

export interface PrepareResult {
  dir: string;
  vocabSize: number;
  chars: string[];
  trainTokens: number;
  valTokens: number;
  /** Paths written, with their sizes in bytes. */
  files: { path: string; bytes: number }[];
}

const LITTLE_ENDIAN = os.endianness() === 'LE';

/** Writes token ids as little-endian uint16 (via a temporary file, so a crash leaves no half file). */
export function writeTokens(file: string, tokens: Uint16Array): void {
  const bytes = new Uint8Array(tokens.length * 2); // (n,) uint16 LE
  if (LITTLE_ENDIAN) bytes.set(new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.length * 2));
  else {
    const dv = new DataView(bytes.buffer);
    for (let i = 0; i < tokens.length; i++) dv.setUint16(2 * i, tokens[i], true);
  }
  writeFileAtomic(file, bytes);
}

/** Reads a little-endian uint16 token file. */
export function readTokens(file: string): Uint16Array {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new UserError(`cannot read ${file}: ${(e as Error).message}`);
  }
  if (buf.byteLength % 2 !== 0) {
    throw new UserError(`${file} is corrupt: ${buf.byteLength} bytes is not a whole number of uint16 tokens; prepare the dataset again`);
  }
  // Copy: a Buffer may sit at an odd offset of a shared pool, and a Uint16Array needs alignment.
  const out = new Uint16Array(buf.byteLength / 2); // (n,)
  if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(buf);
  else {
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = dv.getUint16(2 * i, true);
  }
  return out;
}

/** Builds a char-level dataset from `text` into `outDir` (created if missing; files overwritten). */
export function prepareChar(text: string, outDir: string): PrepareResult {
  const chars = buildVocab(text);
  if (chars.length === 0) throw new UserError('the text is empty: a dataset needs at least two characters of text');
  if (chars.length > MAX_VOCAB) {
    throw new UserError(`the text has ${chars.length} distinct characters; uint16 token files hold at most ${MAX_VOCAB}`);
  }
  const ids = charCodec(chars).encode(text); // (n,)
  const n = ids.length;
  const nTrain = Math.floor(n * 0.9); // Python's int(n * 0.9): same double product, truncated
  if (nTrain === 0 || nTrain === n) {
    throw new UserError(`the text has only ${n} character(s): the 90%/10% split needs at least 2 (and block_size + 1 in each split to train)`);
  }
  makeDir(outDir, 'dataset folder');
  const trainPath = path.join(outDir, 'train.bin');
  const valPath = path.join(outDir, 'val.bin');
  const metaPath = path.join(outDir, 'meta.json');
  writeTokens(trainPath, ids.subarray(0, nTrain));
  writeTokens(valPath, ids.subarray(nTrain));
  const meta = JSON.stringify({ vocab_size: chars.length, chars }) + '\n';
  writeFileAtomic(metaPath, meta);
  return {
    dir: outDir,
    vocabSize: chars.length,
    chars,
    trainTokens: nTrain,
    valTokens: n - nTrain,
    files: [
      { path: trainPath, bytes: nTrain * 2 },
      { path: valPath, bytes: (n - nTrain) * 2 },
      { path: metaPath, bytes: Buffer.byteLength(meta) },
    ],
  };
}

function prepareHint(dataDir: string, name: string): string {
  const dd = path.normalize(dataDir) === 'data' ? '' : ` --data_dir ${dataDir}`;
  return name === 'shakespeare_char'
    ? `run \`normlab prepare shakespeare_char${dd}\` first`
    : `run \`normlab prepare ${name} --input FILE${dd}\` first (FILE: a UTF-8 text file)`;
}

/** Reads and checks <dataDir>/<name>/meta.json. */
export function loadMeta(dataDir: string, name: string): DatasetMeta {
  const dir = path.join(dataDir, name);
  const metaPath = path.join(dir, 'meta.json');
  if (!fs.existsSync(metaPath)) {
    if (fs.existsSync(path.join(dir, 'meta.pkl'))) {
      throw new UserError(`${dir} has meta.pkl (a Python pickle, which normlab does not read) but no meta.json: ` +
        `rebuild the set from its text with \`normlab prepare ${name} --input FILE\`, or write ${metaPath} as ` +
        '{"vocab_size": V, "chars": [...]} (chars: the alphabet, index = token id)');
    }
    throw new UserError(`${metaPath} is missing: ${prepareHint(dataDir, name)}`);
  }
  let meta: unknown;
  try {
    meta = JSON.parse(fs.readFileSync(metaPath, 'utf8'));
  } catch (e) {
    throw new UserError(`${metaPath} is not valid JSON (${(e as Error).message}): prepare the dataset again`);
  }
  const m = meta as DatasetMeta;
  if (typeof meta !== 'object' || meta === null || !Number.isInteger(m.vocab_size) || m.vocab_size < 1 || m.vocab_size > MAX_VOCAB) {
    throw new UserError(`${metaPath}: "vocab_size" must be an integer in [1, ${MAX_VOCAB}], got ${JSON.stringify((m as { vocab_size?: unknown })?.vocab_size)}`);
  }
  if (m.chars !== undefined) {
    const ok = Array.isArray(m.chars) && m.chars.every((c) => typeof c === 'string' && [...c].length === 1);
    if (!ok) throw new UserError(`${metaPath}: "chars" must be an array of one-character strings`);
    if (m.chars.length !== m.vocab_size) {
      throw new UserError(`${metaPath}: "chars" has ${m.chars.length} entries but vocab_size is ${m.vocab_size}`);
    }
    if (new Set(m.chars).size !== m.chars.length) throw new UserError(`${metaPath}: "chars" has duplicates`);
  }
  return m;
}

/**
 * Loads <dataDir>/<name>/{train.bin, val.bin, meta.json} and checks them: every token id below
 * vocab_size and, when opts.blockSize is given, each split at least block_size + 1 tokens long.
 */
export function loadDataset(dataDir: string, name: string, opts: { blockSize?: number } = {}): Dataset {
  const dir = path.join(dataDir, name);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new UserError(`dataset "${name}" not found: ${dir} is not a folder; ${prepareHint(dataDir, name)}`);
  }
  const meta = loadMeta(dataDir, name);
  const splits: Record<'train' | 'val', Uint16Array> = { train: new Uint16Array(0), val: new Uint16Array(0) };
  for (const split of ['train', 'val'] as const) {
    const file = path.join(dir, `${split}.bin`);
    if (!fs.existsSync(file)) throw new UserError(`${file} is missing: ${prepareHint(dataDir, name)}`);
    const tokens = readTokens(file);
    if (tokens.length === 0) throw new UserError(`${file} is empty: prepare the dataset from a longer text`);
    for (let i = 0; i < tokens.length; i++) {
      if (tokens[i] >= meta.vocab_size) {
        throw new UserError(`${file}: token id ${tokens[i]} at position ${i} is not below vocab_size ${meta.vocab_size} ` +
          'of meta.json: the .bin files and meta.json do not belong together; prepare the dataset again');
      }
    }
    splits[split] = tokens;
  }
  const ds: Dataset = { name, dir, train: splits.train, val: splits.val, meta };
  if (opts.blockSize !== undefined) checkSplitLengths(ds, opts.blockSize);
  return ds;
}

/** Each split must hold at least block_size + 1 tokens (one input window plus its next token). */
export function checkSplitLengths(ds: Dataset, blockSize: number): void {
  for (const split of ['train', 'val'] as const) {
    const n = ds[split].length;
    if (n < blockSize + 1) {
      throw new UserError(`${path.join(ds.dir, `${split}.bin`)} has ${n} tokens, but --block_size ${blockSize} needs at least ` +
        `${blockSize + 1} (block_size + 1): use --block_size ${Math.max(1, n - 1)} or less, or a longer text`);
    }
  }
}

/**
 * Fills x and y, each (B, T) row-major, with B windows of `split` at offsets drawn in order from
 * `rng` (nanoGPT: ix = randint(len - T, (B,))).
 */
export function getBatch(split: Uint16Array, B: number, T: number, rng: Rng, x: Int32Array, y: Int32Array): void {
  const n = split.length;
  if (n < T + 1) {
    throw new UserError(`a split of ${n} tokens is too short for block_size ${T}: it needs at least ${T + 1}`);
  }
  if (x.length < B * T || y.length < B * T) throw new Error(`getBatch: x and y need B*T = ${B * T} entries`);
  for (let b = 0; b < B; b++) {
    const o = rng.int(n - T); // in [0, n - T - 1]
    const row = b * T;
    for (let t = 0; t < T; t++) {
      x[row + t] = split[o + t];
      y[row + t] = split[o + t + 1];
    }
  }
}
