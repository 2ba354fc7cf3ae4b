// Making a dataset from a text, streaming: the text is read twice in chunks and never held whole.
//   pass 1: count the characters (code points, as Python's len(text)); for `char`, collect the alphabet
//   pass 2: the first int(n * 0.9) characters go to train.bin, the rest to val.bin, each encoded on
//           its own (nanoGPT's data/shakespeare/prepare.py: data[:int(n*0.9)] and data[int(n*0.9):],
//           each with encode_ordinary; shakespeare_char splits the same way)
// A file is read as Python's open(path).read() reads it: UTF-8, "\r\n" and "\r" become "\n", a BOM
// is kept as a character. The outputs are written under temporary names (src/util/files.ts) and
// renamed at the end, meta.json last, so an interrupted prepare leaves the previous set or none; a
// set caught between two renames is refused at load (meta.json's token counts disagree).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { diskError, makeDir, syncDir, tempName, writeFileDurable } from '../util/files.js';
import { UserError } from '../util/errors.js';
import { buildVocab, MAX_VOCAB } from './chars.js';
import { charTokenizer, gpt2Tokenizer, streamEncoder, type Tokenizer, type TokenizerName } from './tokenizer.js';

/** A text that can be read more than once, in chunks. */
export interface TextSource {
  /** Shown in messages. */
  name: string;
  /** Size in bytes, for progress (null: unknown). */
  bytes: number | null;
  chunks(onBytes?: (done: number) => void): Iterable<string>;
}

export interface PrepareResult {
  dir: string;
  tokenizer: TokenizerName;
  vocabSize: number;
  /** Char-level sets: the alphabet (index = token id); empty for gpt2. */
  chars: string[];
  /** Characters (code points) of the text. */
  nChars: number;
  trainTokens: number;
  valTokens: number;
  /** Paths written, with their sizes in bytes. */
  files: { path: string; bytes: number }[];
}

export interface PrepareOptions {
  /** Called after each chunk: which pass, bytes read so far in it. */
  onProgress?: (pass: 'count' | 'encode', bytes: number) => void;
}

const LITTLE_ENDIAN = os.endianness() === 'LE';

/** A text already in memory. */
export function stringSource(text: string, name = 'the text'): TextSource {
  return { name, bytes: Buffer.byteLength(text), chunks: () => [text] };
}

/**
 * Where the first invalid UTF-8 sequence starts in `b` (read as WHATWG's decoder reads it), or -1.
 * atEnd: the bytes end the text, so a sequence cut short there is invalid too.
 */
export function firstInvalidUtf8(b: Uint8Array, atEnd: boolean): number {
  for (let i = 0; i < b.length;) {
    const c = b[i];
    let need = 0, lo = 0x80, hi = 0xbf;
    if (c < 0x80) { i++; continue; }
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) { need = 2; if (c === 0xe0) lo = 0xa0; if (c === 0xed) hi = 0x9f; } else if (c >= 0xf0 && c <= 0xf4) { need = 3; if (c === 0xf0) lo = 0x90; if (c === 0xf4) hi = 0x8f; } else return i;
    for (let k = 1; k <= need; k++) {
      if (i + k >= b.length) return atEnd ? i : -1;
      const d = b[i + k];
      if (d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) return i;
    }
    i += need + 1;
  }
  return -1;
}

/** Bytes at the end of `b` that begin a UTF-8 sequence not finished in `b` (0 to 3). */
function unfinishedTail(b: Uint8Array): number {
  for (let k = 1; k <= Math.min(3, b.length); k++) {
    const c = b[b.length - k];
    if (c >= 0x80 && c < 0xc0) continue; // a continuation byte: look further back
    const len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return len > k ? k : 0;
  }
  return 0;
}

/** A file's identity and state, to tell whether it changed between two looks. */
const sameFile = (a: fs.Stats, b: fs.Stats) => a.ino === b.ino && a.dev === b.dev && a.size === b.size && a.mtimeMs === b.mtimeMs;

/**
 * A UTF-8 text file, read in chunks of chunkBytes and decoded as Python's text mode does. The text is
 * read twice (survey, then encoding) and must not change meanwhile: its size, time and identity are
 * taken when the source is made and checked at the start and end of every pass, no byte past the
 * size it had is read, and a pass that reads fewer bytes fails; any change is a UserError saying so
 * (docs/datasets.md), never a half-made dataset or a wrong message about the text.
 */
export function fileSource(file: string, chunkBytes = 1 << 22): TextSource {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new UserError(`input file ${file} not found`);
  }
  if (!st.isFile()) throw new UserError(`input ${file} is not a file`);
  if (st.size === 0) throw new UserError(`input file ${file} is empty: give a text file with some text in it`);
  const changed = (how: string) => new UserError(`input file ${file} ${how} while prepare was reading it (it reads the text twice): ` +
    'nothing was written; let whatever writes it finish, or copy it somewhere stable, and run prepare again');
  const check = (fd: number) => {
    let now: fs.Stats;
    try { now = fs.statSync(file); } catch { throw changed('was deleted'); }
    const open = fs.fstatSync(fd);
    if (now.ino !== open.ino || now.dev !== open.dev) throw changed('was replaced');
    if (open.size !== st.size) throw changed(`${open.size < st.size ? 'shrank' : 'grew'} from ${st.size} to ${open.size} bytes`);
    if (!sameFile(open, st)) throw changed('was modified');
  };
  return {
    name: file,
    bytes: st.size,
    *chunks(onBytes?: (done: number) => void): Iterable<string> {
      let fd: number;
      try {
        fd = fs.openSync(file, 'r');
      } catch (e) {
        throw (e as NodeJS.ErrnoException).code === 'ENOENT' ? changed('was deleted') : new UserError(`cannot read input file ${file}: ${(e as Error).message}`);
      }
      try {
        check(fd);
        yield* decodeChunks(fd, file, st.size, chunkBytes, changed, onBytes);
        check(fd);
      } finally {
        fs.closeSync(fd);
      }
    },
  };
}

/** The text of the `size` bytes of fd as fileSource's chunks: UTF-8 decoded in chunks of chunkBytes
 * ("\r\n" and "\r" become "\n", also across chunk ends), onBytes told the bytes read so far. */
function* decodeChunks(fd: number, file: string, size: number, chunkBytes: number, changed: (how: string) => UserError,
  onBytes?: (done: number) => void): Iterable<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const buf = new Uint8Array(chunkBytes);
  let done = 0, heldCR = false, pending = new Uint8Array(0);
  for (;;) {
    const n = done < size ? fs.readSync(fd, buf, 0, Math.min(chunkBytes, size - done), null) : 0;
    if (n === 0 && done < size) throw changed(`was cut short (${done} of ${size} bytes could be read)`);
    const last = done + n >= size;
    const bytes = buf.subarray(0, n);
    let s: string;
    try {
      s = decoder.decode(bytes, { stream: !last });
    } catch {
      const at = firstInvalidUtf8(Buffer.concat([pending, bytes]), last);
      const where = at < 0 ? `near byte ${done + n}` : `at byte ${done - pending.length + at}`;
      throw new UserError(`input file ${file} is not valid UTF-8 text (${where}, counting from 0): convert it to UTF-8 first`);
    }
    const joined = pending.length ? Buffer.concat([pending, bytes]) : bytes;
    pending = Uint8Array.from(joined.subarray(joined.length - unfinishedTail(joined)));
    done += n;
    if (heldCR) s = '\r' + s;
    // A "\r" at the end of a chunk may be the first half of "\r\n": decide with the next chunk.
    heldCR = !last && s.endsWith('\r');
    if (heldCR) s = s.slice(0, -1);
    if (s.length) yield s.replace(/\r\n?/g, '\n');
    onBytes?.(done);
    if (last) return;
  }
}

/** Number of code points in s (a valid UTF-16 string: each surrogate pair counts once). */
function codePoints(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xdc00 && c <= 0xdfff) n--;
  }
  return n;
}

/** UTF-16 index of the k-th code point of s. */
function unitIndex(s: string, k: number): number {
  let i = 0;
  for (let cp = 0; cp < k; cp++) {
    const c = s.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff ? 2 : 1;
  }
  return i;
}

/** Appends token ids to a file as little-endian uint16, through a buffer. */
class TokenWriter {
  private readonly buf = new Uint16Array(1 << 20);
  private used = 0;
  private readonly fd: number;
  count = 0;

  constructor(readonly tmp: string, private readonly vocabSize: number) {
    try {
      this.fd = fs.openSync(tmp, 'w');
    } catch (e) {
      throw diskError(e, tmp);
    }
  }

  write(ids: number[]): void {
    for (const id of ids) {
      if (!(id >= 0 && id < this.vocabSize)) throw new Error(`token id ${id} outside the vocabulary of ${this.vocabSize}`);
      this.buf[this.used++] = id;
      if (this.used === this.buf.length) this.flush();
    }
    this.count += ids.length;
  }

  private flush(): void {
    const bytes = new Uint8Array(this.buf.buffer, 0, this.used * 2);
    if (!LITTLE_ENDIAN) {
      const dv = new DataView(bytes.buffer);
      for (let i = 0; i < this.used; i++) dv.setUint16(2 * i, this.buf[i], true);
    }
    try {
      for (let off = 0; off < bytes.length;) off += fs.writeSync(this.fd, bytes, off);
    } catch (e) {
      throw diskError(e, this.tmp, bytes.length);
    }
    this.used = 0;
  }

  private open = true;

  close(): void {
    this.flush();
    try {
      fs.fsyncSync(this.fd);
    } catch (e) {
      throw diskError(e, this.tmp);
    }
    fs.closeSync(this.fd);
    this.open = false;
  }

  /** Closes without writing what is buffered (on failure; the caller removes the file). */
  abort(): void {
    if (this.open) fs.closeSync(this.fd);
    this.open = false;
  }
}

/** Pass 1: the number of characters and, for char, the alphabet. */
function survey(source: TextSource, tokenizer: TokenizerName, opts: PrepareOptions): { n: number; chars: string[] } {
  let n = 0;
  const seen = new Set<string>();
  for (const s of source.chunks((b) => opts.onProgress?.('count', b))) {
    n += codePoints(s);
    if (tokenizer === 'char') for (const ch of s) seen.add(ch);
  }
  return { n, chars: tokenizer === 'char' ? buildVocab([...seen].join('')) : [] };
}

/** Builds <outDir>/{train.bin, val.bin, meta.json} from `source` (outDir created if missing; files replaced). */
export function prepareDataset(source: TextSource, outDir: string, tokenizer: TokenizerName, opts: PrepareOptions = {}): PrepareResult {
  const { n, chars } = survey(source, tokenizer, opts);
  if (n === 0) throw new UserError(`${source.name} is empty: a dataset needs at least two characters of text`);
  if (chars.length > MAX_VOCAB) {
    throw new UserError(`${source.name} has ${chars.length} distinct characters; uint16 token files hold at most ${MAX_VOCAB}: use --tokenizer gpt2`);
  }
  const nTrain = Math.floor(n * 0.9); // Python's int(n * 0.9): same double product, truncated
  if (nTrain === 0 || nTrain === n) {
    throw new UserError(`${source.name} has only ${n} character(s): the 90%/10% split needs at least 2 (and block_size + 1 tokens in each split to train)`);
  }
  const tok: Tokenizer = tokenizer === 'char' ? charTokenizer(chars) : gpt2Tokenizer();

  const created = !fs.existsSync(outDir);
  makeDir(outDir, 'dataset folder');
  try {
    return writeDataset(source, outDir, tok, tokenizer, { n, nTrain, chars }, opts);
  } catch (e) {
    // A folder this run made and could not fill is removed (only when empty: nothing else is touched).
    if (created) try { fs.rmdirSync(outDir); } catch { /* not empty, or gone */ }
    throw e;
  }
}

/** Pass 2: the token files and meta.json, under temporary names, renamed at the end. */
function writeDataset(source: TextSource, outDir: string, tok: Tokenizer, tokenizer: TokenizerName,
  sizes: { n: number; nTrain: number; chars: string[] }, opts: PrepareOptions): PrepareResult {
  const { n, nTrain, chars } = sizes;
  const final = { train: path.join(outDir, 'train.bin'), val: path.join(outDir, 'val.bin'), meta: path.join(outDir, 'meta.json') };
  const tmp = tempName;
  const writers = { train: new TokenWriter(tmp(final.train), tok.vocabSize), val: new TokenWriter(tmp(final.val), tok.vocabSize) };
  try {
    let enc = streamEncoder(tok), split: 'train' | 'val' = 'train', seen = 0;
    for (let s of source.chunks((b) => opts.onProgress?.('encode', b))) {
      const k = codePoints(s);
      if (split === 'train' && seen + k >= nTrain) {
        const at = unitIndex(s, nTrain - seen);
        writers.train.write(enc.push(s.slice(0, at)));
        writers.train.write(enc.end());
        enc = streamEncoder(tok); split = 'val'; s = s.slice(at);
      }
      seen += k;
      writers[split].write(enc.push(s));
    }
    writers[split].write(enc.end());
    writers.train.close();
    writers.val.close();
    const meta = {
      vocab_size: tok.vocabSize, tokenizer, ...(tokenizer === 'char' ? { chars } : {}),
      train_tokens: writers.train.count, val_tokens: writers.val.count,
    };
    const metaText = JSON.stringify(meta) + '\n';
    writeFileDurable(tmp(final.meta), metaText);
    for (const f of Object.values(final)) {
      try {
        fs.renameSync(tmp(f), f);
      } catch (e) {
        throw diskError(e, f);
      }
    }
    syncDir(outDir);
    return {
      dir: outDir, tokenizer, vocabSize: tok.vocabSize, chars, nChars: n,
      trainTokens: writers.train.count, valTokens: writers.val.count,
      files: [
        { path: final.train, bytes: writers.train.count * 2 },
        { path: final.val, bytes: writers.val.count * 2 },
        { path: final.meta, bytes: Buffer.byteLength(metaText) },
      ],
    };
  } finally {
    writers.train.abort();
    writers.val.abort();
    for (const f of Object.values(final)) fs.rmSync(tmp(f), { force: true });
  }
}

/** Builds a char-level dataset from `text` into `outDir`. */
export function prepareChar(text: string, outDir: string): PrepareResult {
  return prepareDataset(stringSource(text), outDir, 'char');
}
