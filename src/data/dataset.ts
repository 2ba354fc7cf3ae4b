// Datasets on disk, in nanoGPT's layout, so sets prepared by nanoGPT's scripts load as they are:
//   <data_dir>/<name>/train.bin, val.bin   token ids, little-endian uint16, no header
//   <data_dir>/<name>/meta.json            {"vocab_size": V, "tokenizer": "char" | "gpt2",
//                                           "chars": [...] (char only: index = token id),
//                                           "train_tokens": N, "val_tokens": N (both optional)}
// A set with no meta.json (nanoGPT's shakespeare, openwebtext) loads when the tokenizer is named
// (--tokenizer gpt2). See docs/datasets.md.
// The token files are never read whole: a TokenFile reads the windows a batch needs at their
// offsets (positioned reads), so a file larger than memory trains with flat memory use.
// Batches: B offsets o drawn from the run's seeded generator, o = rng.int(len - T), so o is in
// [0, len - T - 1] and a split of exactly T + 1 tokens gives o = 0 for every row;
// x = tokens[o .. o+T), y = tokens[o+1 .. o+T+1) (the next token of each position).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../util/files.js';
import { UserError } from '../util/errors.js';
import type { Rng } from '../engine/rng.js';
import { MAX_VOCAB } from './chars.js';
import { charTokenizer, checkTokenizerName, GPT2_VOCAB_SIZE, gpt2Tokenizer, type Tokenizer, type TokenizerName } from './tokenizer.js';

export interface DatasetMeta {
  vocab_size: number;
  /** How the ids were made; absent in sets from before tokenizers were recorded (then: char when chars is given). */
  tokenizer?: TokenizerName;
  /** Char-level sets: the alphabet, index = token id. */
  chars?: string[];
  train_tokens?: number;
  val_tokens?: number;
  [key: string]: unknown;
}

export interface Dataset {
  name: string;
  dir: string;
  train: TokenFile;
  val: TokenFile;
  meta: DatasetMeta;
}

/** A split held in memory (tests, small sets) or read from its file. */
export type Tokens = Uint16Array | TokenFile;

const LITTLE_ENDIAN = os.endianness() === 'LE';

/** Files up to this size are checked whole when opened (ids below vocab_size); larger ones as they are read. */
const SCAN_BYTES = 1 << 30;

/** An open little-endian uint16 token file, read at offsets. */
export class TokenFile {
  readonly length: number;
  private fd: number | null;

  /** vocabSize: ids at or above it are refused wherever they are read. */
  constructor(readonly path: string, readonly vocabSize: number = MAX_VOCAB) {
    let size: number;
    try {
      this.fd = fs.openSync(path, 'r');
      size = fs.fstatSync(this.fd).size;
    } catch (e) {
      throw new UserError(`cannot read ${path}: ${(e as Error).message}`);
    }
    if (size % 2 !== 0) {
      this.close();
      throw new UserError(`${path} is corrupt: ${size} bytes is not a whole number of uint16 tokens; prepare the dataset again`);
    }
    this.length = size / 2;
  }

  /** Tokens [start, start + count) into out (a new array when not given). */
  read(start: number, count: number, out: Uint16Array = new Uint16Array(count)): Uint16Array {
    if (this.fd === null) throw new Error(`${this.path} is closed`);
    if (start < 0 || start + count > this.length) throw new Error(`read of [${start}, ${start + count}) outside ${this.path} (${this.length} tokens)`);
    const nBytes = count * 2; // readSync's offset and length count bytes, for a Uint16Array too
    for (let done = 0; done < nBytes;) {
      const n = fs.readSync(this.fd, out, done, nBytes - done, (start * 2) + done);
      if (n === 0) throw new UserError(`${this.path} became shorter while in use (${this.length} tokens when opened)`);
      done += n;
    }
    if (!LITTLE_ENDIAN) {
      const dv = new DataView(out.buffer, out.byteOffset, nBytes);
      for (let i = 0; i < count; i++) out[i] = dv.getUint16(2 * i, true);
    }
    for (let i = 0; i < count; i++) if (out[i] >= this.vocabSize) this.badId(out[i], start + i);
    return out.length === count ? out : out.subarray(0, count);
  }

  /** Reads the whole file in chunks (memory stays flat) to check every id. */
  scan(): void {
    const chunk = new Uint16Array(1 << 20);
    for (let s = 0; s < this.length; s += chunk.length) this.read(s, Math.min(chunk.length, this.length - s), chunk);
  }

  badId(id: number, pos: number): never {
    throw new UserError(`${this.path}: token id ${id} at position ${pos} is not below vocab_size ${this.vocabSize} ` +
      'of meta.json: the .bin files and meta.json do not belong together; prepare the dataset again');
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** Writes token ids as little-endian uint16 (via a temporary file, so a crash leaves no half file). */
export function writeTokens(file: string, tokens: Uint16Array): void {
  const bytes = Buffer.alloc(tokens.length * 2); // (n,) uint16 LE
  for (let i = 0; i < tokens.length; i++) bytes.writeUInt16LE(tokens[i], 2 * i);
  writeFileAtomic(file, bytes);
}

/** Reads a whole little-endian uint16 token file (for small files and tests). */
export function readTokens(file: string): Uint16Array {
  const f = new TokenFile(file);
  try {
    return f.read(0, f.length);
  } finally {
    f.close();
  }
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
    throw new UserError(`${metaPath} is missing: ${prepareHint(dataDir, name)}; for train.bin/val.bin of GPT-2 tokens ` +
      'made by nanoGPT (no meta.json), add --tokenizer gpt2');
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
  if (m.tokenizer !== undefined) checkTokenizerName(m.tokenizer, `${metaPath} "tokenizer"`);
  if (m.chars !== undefined) {
    const ok = Array.isArray(m.chars) && m.chars.every((c) => typeof c === 'string' && [...c].length === 1);
    if (!ok) throw new UserError(`${metaPath}: "chars" must be an array of one-character strings`);
    if (m.chars.length !== m.vocab_size) {
      throw new UserError(`${metaPath}: "chars" has ${m.chars.length} entries but vocab_size is ${m.vocab_size}`);
    }
    if (new Set(m.chars).size !== m.chars.length) throw new UserError(`${metaPath}: "chars" has duplicates`);
    if (m.tokenizer !== undefined && m.tokenizer !== 'char') {
      throw new UserError(`${metaPath}: "chars" is given but the tokenizer is ${m.tokenizer}; a char list belongs to tokenizer "char" only`);
    }
    m.tokenizer = 'char';
  } else if (m.tokenizer === 'char') {
    throw new UserError(`${metaPath}: tokenizer "char" needs "chars" (the alphabet, index = token id); prepare the dataset again`);
  }
  if (m.tokenizer === 'gpt2' && m.vocab_size !== GPT2_VOCAB_SIZE) {
    throw new UserError(`${metaPath}: tokenizer gpt2 has ${GPT2_VOCAB_SIZE} ids but vocab_size is ${m.vocab_size}; ` +
      `set "vocab_size": ${GPT2_VOCAB_SIZE} (pad the model's vocabulary with --vocab_multiple 64 instead)`);
  }
  for (const k of ['train_tokens', 'val_tokens'] as const) {
    if (m[k] !== undefined && !(Number.isInteger(m[k]) && m[k]! >= 0)) throw new UserError(`${metaPath}: "${k}" must be a whole number, got ${JSON.stringify(m[k])}`);
  }
  return m;
}

/** The tokenizer that decodes a dataset's ids (null: the set does not say, so its text cannot be shown). */
export function datasetTokenizer(meta: DatasetMeta): Tokenizer | null {
  if (meta.tokenizer === 'gpt2') return gpt2Tokenizer();
  if (meta.chars) return charTokenizer(meta.chars);
  return null;
}

export interface LoadOptions {
  /** Each split must hold at least block_size + 1 tokens. */
  blockSize?: number;
  /** The tokenizer named by the user (--tokenizer): must agree with meta.json, or stands in for a missing one. */
  tokenizer?: string | null;
}

/**
 * Opens <dataDir>/<name>/{train.bin, val.bin} with their meta.json (or, without one, the tokenizer
 * named in opts) and checks them: lengths against meta.json, every token id below vocab_size (whole
 * files up to 1 GiB now, larger ones as batches read them) and, when opts.blockSize is given, each
 * split at least block_size + 1 tokens long. Close the files with closeDataset.
 */
export function loadDataset(dataDir: string, name: string, opts: LoadOptions = {}): Dataset {
  const dir = path.join(dataDir, name);
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new UserError(`dataset "${name}" not found: ${dir} is not a folder; ${prepareHint(dataDir, name)}`);
  }
  const given = opts.tokenizer == null ? null : checkTokenizerName(opts.tokenizer, '--tokenizer');
  const metaPath = path.join(dir, 'meta.json');
  let meta: DatasetMeta;
  if (given !== null && !fs.existsSync(metaPath)) {
    if (given === 'char') {
      throw new UserError(`${metaPath} is missing, and tokenizer char needs its alphabet ("chars" in meta.json): ${prepareHint(dataDir, name)}`);
    }
    meta = { vocab_size: GPT2_VOCAB_SIZE, tokenizer: given };
  } else {
    meta = loadMeta(dataDir, name);
    if (given !== null && meta.tokenizer !== given) {
      throw new UserError(`--tokenizer ${given} disagrees with ${metaPath}, which says the set was made with ` +
        `${meta.tokenizer ?? 'an unnamed tokenizer'}: drop --tokenizer (meta.json decides) or prepare the dataset again`);
    }
  }
  const splits: Partial<Record<'train' | 'val', TokenFile>> = {};
  try {
    for (const split of ['train', 'val'] as const) {
      const file = path.join(dir, `${split}.bin`);
      if (!fs.existsSync(file)) throw new UserError(`${file} is missing: ${prepareHint(dataDir, name)}`);
      const tf = new TokenFile(file, meta.vocab_size);
      splits[split] = tf;
      if (tf.length === 0) throw new UserError(`${file} is empty: prepare the dataset from a longer text`);
      const expected = meta[`${split}_tokens`];
      if (expected !== undefined && expected !== tf.length) {
        throw new UserError(`${metaPath} says ${split}.bin holds ${expected} tokens, but ${file} holds ${tf.length}: ` +
          'the .bin files and meta.json do not belong together (an interrupted copy, or files of another set); prepare the dataset again');
      }
      if (tf.length * 2 <= SCAN_BYTES) tf.scan();
    }
  } catch (e) {
    splits.train?.close();
    splits.val?.close();
    throw e;
  }
  const ds: Dataset = { name, dir, train: splits.train!, val: splits.val!, meta };
  if (opts.blockSize !== undefined) {
    try {
      checkSplitLengths(ds, opts.blockSize);
    } catch (e) {
      closeDataset(ds);
      throw e;
    }
  }
  return ds;
}

export function closeDataset(ds: Dataset): void {
  ds.train.close();
  ds.val.close();
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

/** One row's window (T + 1 tokens) for reads from a TokenFile, reused across calls. */
let rowBuf = new Uint16Array(0);

/**
 * Fills x and y, each (B, T) row-major, with B windows of `split` at offsets drawn in order from
 * `rng` (nanoGPT: ix = randint(len - T, (B,))). A TokenFile is read one window per row.
 */
export function getBatch(split: Tokens, B: number, T: number, rng: Rng, x: Int32Array, y: Int32Array): void {
  const n = split.length;
  if (n < T + 1) {
    throw new UserError(`a split of ${n} tokens is too short for block_size ${T}: it needs at least ${T + 1}`);
  }
  if (x.length < B * T || y.length < B * T) throw new Error(`getBatch: x and y need B*T = ${B * T} entries`);
  const inMemory = split instanceof Uint16Array;
  if (!inMemory && rowBuf.length < T + 1) rowBuf = new Uint16Array(T + 1);
  for (let b = 0; b < B; b++) {
    const o = rng.int(n - T); // in [0, n - T - 1]
    const row = b * T;
    // The window is w[s .. s + T]: in place for a split in memory, else read into rowBuf (no new array per row).
    let w: Uint16Array, s: number;
    if (inMemory) { w = split; s = o; } else { split.read(o, T + 1, rowBuf); w = rowBuf; s = 0; }
    for (let t = 0; t < T; t++) {
      x[row + t] = w[s + t];
      y[row + t] = w[s + t + 1];
    }
  }
}
