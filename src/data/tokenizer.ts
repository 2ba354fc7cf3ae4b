// Tokenizers a dataset can be made with, named in its meta.json ("tokenizer"):
//   char  the dataset's own alphabet (meta.json "chars", index = token id), see chars.ts
//   gpt2  OpenAI's GPT-2 byte-level BPE, 50257 ids (50256 = <|endoftext|>); ids equal tiktoken's
//         `get_encoding("gpt2").encode_ordinary(text)`: special-token text is encoded as ordinary text.
// The GPT-2 merge ranks come from the js-tiktoken package (shipped in it: nothing is downloaded).
// Its split pattern is tiktoken's, with one correction: tiktoken's regex engine (Rust) reads \s as
// Unicode White_Space, which includes U+0085 and excludes U+FEFF, while JavaScript's \s is the
// other way round; the pattern below spells the White_Space set out so the pieces, and so the
// ids, are tiktoken's. docs/datasets.md lists how the ids were checked.
import { Tiktoken } from 'js-tiktoken/lite';
import gpt2Ranks from 'js-tiktoken/ranks/gpt2';
import { UserError } from '../util/errors.js';
import { charCodec } from './chars.js';

export const TOKENIZERS = ['char', 'gpt2'] as const;
export type TokenizerName = (typeof TOKENIZERS)[number];

export const GPT2_VOCAB_SIZE = 50257;

export interface Tokenizer {
  name: TokenizerName;
  vocabSize: number;
  /** Token ids of `text`. */
  encode(text: string): number[];
  /** Text of token ids (ids at or above vocabSize, e.g. padding rows, become U+FFFD). */
  decode(ids: ArrayLike<number>): string;
}

/** A UserError unless `name` is a known tokenizer; `where` says where the name came from. */
export function checkTokenizerName(name: unknown, where: string): TokenizerName {
  if (typeof name === 'string' && (TOKENIZERS as readonly string[]).includes(name)) return name as TokenizerName;
  throw new UserError(`${where}: unknown tokenizer ${JSON.stringify(name)}; known tokenizers: ${TOKENIZERS.join(', ')}`);
}

// Unicode White_Space (what \s means to tiktoken's regex engine), and its complement.
const WS = '\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** tiktoken's gpt2 split pattern: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
export const GPT2_PATTERN = `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|[${WS}]+(?![^${WS}])|[${WS}]+`;

const PIECE_CACHE_MAX = 1 << 18;

/** Pieces longer than this (UTF-16 units) are merged by bpeHeap. */
const LONG_PIECE = 64;

/**
 * Byte-pair encoding of one piece's bytes with the merge ranks `ranks` (keys: bytes joined by ","),
 * in O(n log n): the same merges as tiktoken's, in the same order (the adjacent pair whose merged
 * bytes have the lowest rank; of equal ranks the leftmost), kept in a binary heap of candidate pairs
 * over a linked list of parts. A candidate is stale once either of its parts has changed.
 */
export function bpeHeap(bytes: Uint8Array, ranks: Map<string, number>): number[] {
  const n = bytes.length;
  const key = (a: number, b: number) => Array.prototype.join.call(bytes.subarray(a, b), ',');
  if (n === 0) return [];
  // Part i spans [start[i], end[i]); next/prev link live parts; a part merged away has end -1.
  const end = new Int32Array(n), next = new Int32Array(n), prev = new Int32Array(n);
  for (let i = 0; i < n; i++) { end[i] = i + 1; next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; }
  // Heap of [rank, left part start, right part end at push time].
  const heap: [number, number, number][] = [];
  const less = (x: [number, number, number], y: [number, number, number]) => x[0] < y[0] || (x[0] === y[0] && x[1] < y[1]);
  const push = (e: [number, number, number]) => {
    heap.push(e);
    for (let i = heap.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!less(heap[i], heap[p])) break;
      [heap[i], heap[p]] = [heap[p], heap[i]]; i = p;
    }
  };
  const pop = (): [number, number, number] => {
    const top = heap[0], last = heap.pop()!;
    if (heap.length) {
      heap[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < heap.length && less(heap[l], heap[m])) m = l;
        if (r < heap.length && less(heap[r], heap[m])) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m], heap[i]]; i = m;
      }
    }
    return top;
  };
  const candidate = (i: number) => {
    const j = next[i];
    if (j < 0) return;
    const r = ranks.get(key(i, end[j]));
    if (r !== undefined) push([r, i, end[j]]);
  };
  for (let i = 0; i < n - 1; i++) candidate(i);
  while (heap.length) {
    const [, i, e] = pop();
    const j = next[i];
    if (end[i] < 0 || j < 0 || end[j] !== e) continue; // stale: a part changed since
    end[i] = e; end[j] = -1;
    next[i] = next[j];
    if (next[j] >= 0) prev[next[j]] = i;
    if (prev[i] >= 0) candidate(prev[i]);
    candidate(i);
  }
  const ids: number[] = [];
  for (let i = 0; i >= 0; i = next[i]) {
    const id = ranks.get(key(i, end[i]));
    if (id !== undefined) ids.push(id);
  }
  return ids;
}

class Gpt2 implements Tokenizer {
  readonly name = 'gpt2';
  readonly vocabSize = GPT2_VOCAB_SIZE;
  private readonly bpe = new Tiktoken({ ...gpt2Ranks, pat_str: GPT2_PATTERN });
  /** piece -> ids: most pieces of a text are repeated words, and BPE of one piece is the slow part. */
  private readonly cache = new Map<string, number[]>();

  encode(text: string): number[] {
    const out: number[] = [];
    for (const m of text.matchAll(new RegExp(GPT2_PATTERN, 'gu'))) this.encodePiece(m[0], out);
    return out;
  }

  /** Appends the ids of one piece of the split pattern to `out`. */
  encodePiece(piece: string, out: number[]): void {
    let ids = this.cache.get(piece);
    if (ids === undefined) {
      // A long piece (a run of letters with no space) merges with a heap: js-tiktoken rescans every
      // pair after each merge, quadratic in the piece's length. Both give the same ids (docs/datasets.md).
      const ranks = (this.bpe as unknown as { rankMap?: unknown }).rankMap;
      ids = piece.length > LONG_PIECE && ranks instanceof Map ? bpeHeap(new TextEncoder().encode(piece), ranks as Map<string, number>)
        : this.bpe.encode(piece, [], []); // allowed and disallowed special tokens: none (encode_ordinary)
      if (this.cache.size >= PIECE_CACHE_MAX) this.cache.clear();
      this.cache.set(piece, ids);
    }
    for (const id of ids) out.push(id);
  }

  decode(ids: ArrayLike<number>): string {
    // Consecutive valid ids decode together (a character may span tokens); others become U+FFFD.
    let text = '';
    let run: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (Number.isInteger(id) && id >= 0 && id < GPT2_VOCAB_SIZE) { run.push(id); continue; }
      if (run.length) { text += this.bpe.decode(run); run = []; }
      text += '\uFFFD';
    }
    return run.length ? text + this.bpe.decode(run) : text;
  }
}

let gpt2: Gpt2 | null = null;

/** The GPT-2 tokenizer (its ranks are parsed once, on first use: about 0.2 s). */
export function gpt2Tokenizer(): Gpt2 {
  gpt2 ??= new Gpt2();
  return gpt2;
}

export function charTokenizer(chars: readonly string[], what?: string): Tokenizer {
  const codec = charCodec(chars, what);
  return {
    name: 'char', vocabSize: codec.vocabSize,
    encode: (text) => Array.from(codec.encode(text)),
    decode: (ids) => codec.decode(ids),
  };
}

/**
 * Token-by-token decoding for streamed output: GPT-2 tokens may end inside a UTF-8 character, so
 * text is held back while it ends in an incomplete character (at most 3 tokens' worth).
 */
export function streamDecoder(tok: Tokenizer, onText: (s: string) => void): (id: number) => void {
  let pending: number[] = [];
  return (id: number) => {
    pending.push(id);
    const text = tok.decode(pending);
    if (text.endsWith('\uFFFD') && pending.length < 4) return;
    pending = [];
    onText(text);
  };
}

/** Encodes a text given in consecutive chunks, with the ids that encoding it whole would give. */
export interface StreamEncoder {
  /** Ids of the text up to a point where later text cannot change them; the rest is held back. */
  push(text: string): number[];
  /** Ids of what is held back (the end of the text). */
  end(): number[];
}

// A piece of the split pattern that ends at least this many UTF-16 units before the end of the text
// seen so far is final: deciding it looks at most 3 code points past its start (the contractions)
// or one code point past its end (greedy runs and the (?!\S) look-ahead).
const FINAL_MARGIN = 8;

export function streamEncoder(tok: Tokenizer): StreamEncoder {
  if (tok.name === 'char') return { push: (text) => tok.encode(text), end: () => [] };
  const bpe = tok as Gpt2;
  let carry = '';
  return {
    push(text: string): number[] {
      const s = carry + text;
      const out: number[] = [];
      const re = new RegExp(GPT2_PATTERN, 'gu');
      let cut = 0;
      for (let m = re.exec(s); m !== null; m = re.exec(s)) {
        if (m.index + m[0].length > s.length - FINAL_MARGIN) break;
        bpe.encodePiece(m[0], out);
        cut = m.index + m[0].length;
      }
      carry = s.slice(cut);
      return out;
    },
    end(): number[] {
      const out = bpe.encode(carry);
      carry = '';
      return out;
    },
  };
}
