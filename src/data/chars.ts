// Character-level vocabulary, as nanoGPT's shakespeare_char/prepare.py builds it:
//   chars = sorted(list(set(text)));  stoi = {ch: i};  itos = {i: ch}
// A "character" is a Unicode code point (what Python iterates over), and the sort is by code
// point (Python's string order), not JavaScript's default UTF-16 order, so a text outside the
// Basic Multilingual Plane gets the same ids here as in Python.
import { UserError } from '../util/errors.js';

/** Largest vocabulary a uint16 token file can hold. */
export const MAX_VOCAB = 65536;

/** The sorted set of the code points of `text` (index = token id). */
export function buildVocab(text: string): string[] {
  const set = new Set<string>();
  for (const ch of text) set.add(ch); // for..of walks code points
  return [...set].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
}

export interface CharCodec {
  chars: readonly string[];
  vocabSize: number;
  /** Token ids of `text`; a UserError names the first character not in the vocabulary. */
  encode(text: string): Uint16Array;
  /** Text of token ids; a UserError names the first id outside the vocabulary. */
  decode(ids: ArrayLike<number>): string;
}

function describe(ch: string): string {
  const cp = ch.codePointAt(0)!;
  return `${JSON.stringify(ch)} (U+${cp.toString(16).toUpperCase().padStart(4, '0')})`;
}

export function charCodec(chars: readonly string[], what = 'the vocabulary'): CharCodec {
  if (chars.length > MAX_VOCAB) {
    throw new UserError(`${what} has ${chars.length} distinct characters; token files are uint16, so at most ${MAX_VOCAB}`);
  }
  const stoi = new Map<string, number>();
  chars.forEach((ch, i) => stoi.set(ch, i));
  return {
    chars,
    vocabSize: chars.length,
    encode(text: string): Uint16Array {
      const ids: number[] = [];
      let pos = 0;
      for (const ch of text) {
        const id = stoi.get(ch);
        if (id === undefined) {
          throw new UserError(`character ${describe(ch)} at position ${pos} is not in ${what} ` +
            `(${chars.length} characters); use only characters of the training text`);
        }
        ids.push(id);
        pos++;
      }
      return Uint16Array.from(ids);
    },
    decode(ids: ArrayLike<number>): string {
      let out = '';
      for (let i = 0; i < ids.length; i++) {
        const ch = chars[ids[i]];
        if (ch === undefined || !Number.isInteger(ids[i])) {
          throw new UserError(`token id ${ids[i]} at position ${i} is outside ${what} (ids 0..${chars.length - 1})`);
        }
        out += ch;
      }
      return out;
    },
  };
}
