// Prepare against a text that changes while it is read, invalid UTF-8 located exactly, and GPT-2
// BPE on long runs of letters (the same ids as js-tiktoken's merge loop, in O(n log n)).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileSource, firstInvalidUtf8, prepareDataset, type TextSource } from '../src/data/make-dataset.js';
import { bpeHeap, gpt2Tokenizer } from '../src/data/tokenizer.js';
import { UserError } from '../src/util/errors.js';
import { Rng } from '../src/engine/rng.js';
import { tmpDir } from './helpers.js';

/** fileSource, with `act` run once after the `after`-th chunk of pass `pass` (1 or 2). */
function meddled(file: string, pass: number, after: number, act: () => void): TextSource {
  const src = fileSource(file, 64);
  let passes = 0;
  return {
    ...src,
    *chunks(onBytes) {
      passes++;
      let k = 0;
      for (const s of src.chunks(onBytes)) {
        yield s;
        if (passes === pass && ++k === after) act();
      }
    },
  };
}

function refused(f: () => unknown, pattern: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof UserError, `a UserError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

test('a text truncated, deleted, appended to or rewritten while prepare reads it is refused, and no dataset folder is left', () => {
  const dir = tmpDir();
  const text = 'the quick brown fox jumps over the lazy dog\n'.repeat(40);
  const cases: [string, number, (f: string) => void, RegExp][] = [
    ['truncated', 1, (f) => fs.truncateSync(f, 100), /was cut short \(\d+ of 1760 bytes could be read\)|shrank from 1760 to 100 bytes/],
    ['deleted', 1, (f) => fs.rmSync(f), /was deleted while prepare was reading it/],
    ['appended', 1, (f) => fs.appendFileSync(f, 'Ω'), /grew from 1760 to 1762 bytes while prepare was reading it/],
    ['appended between passes', 2, (f) => fs.appendFileSync(f, 'Ω'), /grew from 1760 to 1762 bytes/],
    ['deleted between passes', 2, (f) => fs.rmSync(f), /was deleted/],
    ['rewritten in place', 1, (f) => { const fd = fs.openSync(f, 'r+'); fs.writeSync(fd, 'X', 5); fs.closeSync(fd); fs.utimesSync(f, new Date(), new Date(Date.now() + 5000)); }, /was modified/],
  ];
  for (const [what, pass, act, pattern] of cases) {
    const file = path.join(dir, `${what}.txt`);
    fs.writeFileSync(file, text);
    const out = path.join(dir, 'out', what.replace(/ /g, '_'));
    refused(() => prepareDataset(meddled(file, pass, pass === 2 ? 1 : 3, () => act(file)), out, 'char'), pattern);
    assert.ok(!fs.existsSync(out), `${what}: no dataset folder left`);
    assert.doesNotMatch(String((() => { try { prepareDataset(fileSource(file), path.join(dir, 'again'), 'char'); return ''; } catch (e) { return (e as Error).message; } })()), /not in the vocabulary/);
  }
});

test('the UTF-8 error names the offset of the bad byte, across chunk borders too', () => {
  const dir = tmpDir();
  const cases: [Buffer, number][] = [
    [Buffer.concat([Buffer.from('0123456789'), Buffer.from([0xff]), Buffer.from('abc')]), 10],
    [Buffer.concat([Buffer.from('x'.repeat(37)), Buffer.from([0xe2, 0x28, 0xa1]), Buffer.from('tail')]), 37],
    [Buffer.concat([Buffer.from('é'.repeat(20)), Buffer.from([0xc3])]), 40], // cut short at the end
    [Buffer.concat([Buffer.from('y'.repeat(15)), Buffer.from([0xe2, 0x82]), Buffer.from('z')]), 15], // a sequence across the 16-byte border, broken
  ];
  for (const [bytes, at] of cases) {
    const file = path.join(dir, `t${at}.txt`);
    fs.writeFileSync(file, bytes);
    refused(() => prepareDataset(fileSource(file, 16), path.join(dir, `o${at}`), 'char'), new RegExp(`is not valid UTF-8 text \\(at byte ${at}, counting from 0\\)`));
    assert.equal(firstInvalidUtf8(bytes, true), at);
  }
  assert.equal(firstInvalidUtf8(Buffer.from('ok € 𝄞 ü'), true), -1);
});

test('GPT-2 BPE of long pieces gives js-tiktoken\'s ids, and a 50,000-letter line encodes without quadratic work', { timeout: 60_000 }, () => {
  const tok = gpt2Tokenizer();
  const lib = (tok as unknown as { bpe: { encode(s: string, a: string[], d: string[]): number[]; rankMap: Map<string, number> } }).bpe;
  const rng = new Rng(99);
  const alphabets = ['abcdefghijklmnopqrstuvwxyz', 'aab', 'éàüßç', 'абвгдеж', 'ABCabc', 'ﬁ漢字かな'];
  for (let k = 0; k < 600; k++) {
    const a = [...alphabets[k % alphabets.length]];
    let s = '';
    const len = 1 + rng.int(200);
    for (let i = 0; i < len; i++) s += a[rng.int(a.length)];
    assert.deepEqual(bpeHeap(new TextEncoder().encode(s), lib.rankMap), lib.encode(s, [], []), s);
  }
  let line = '';
  for (let i = 0; i < 50_000; i++) line += 'abcdefghijklmnopqrstuvwxyz'[rng.int(26)];
  const ids = tok.encode(line);
  assert.equal(tok.decode(ids), line);
});
