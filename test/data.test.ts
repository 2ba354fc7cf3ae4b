// Char vocabulary, dataset files (nanoGPT layout, byte for byte), batches and the prepare command.
// Everything is written under a fresh temporary folder.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildVocab, charCodec } from '../src/data/chars.js';
import { checkSplitLengths, getBatch, loadDataset, readTokens, writeTokens, type TokenFile } from '../src/data/dataset.js';
import { prepareChar } from '../src/data/make-dataset.js';
import { packageRoot, prepareCommand } from '../src/cli/prepare.js';
import { Rng } from '../src/engine/rng.js';
import { UserError } from '../src/util/errors.js';
import { throwsUser } from './helpers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'normlab-data-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let nextDir = 0;
const freshDir = () => path.join(tmp, `d${nextDir++}`);
const all = (f: TokenFile) => f.read(0, f.length);


async function rejectsUser(p: Promise<unknown>, ...fragments: string[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected UserError, got ${e}`);
    for (const s of fragments) assert.ok(e.message.includes(s), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(s)}`);
    return true;
  });
}

test('vocabulary: sorted set of code points, as Python sorted(set(text))', () => {
  assert.deepEqual(buildVocab('hello world\n'), ['\n', ' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w']);
  // U+FF01 sorts before U+1F600 by code point (JavaScript's default UTF-16 order would reverse them).
  assert.deepEqual(buildVocab('\u{1F600}\uFF01a\u{1F600}'), ['a', '\uFF01', '\u{1F600}']);
  assert.deepEqual(buildVocab(''), []);
});

test('encode/decode round trip and errors naming the character or id', () => {
  const text = 'To be, or not to be: \u{1F600}\n';
  const codec = charCodec(buildVocab(text));
  const ids = codec.encode(text);
  assert.equal(ids.length, [...text].length);
  assert.equal(codec.decode(ids), text);
  assert.equal(codec.decode(Array.from(ids)), text);
  assert.deepEqual(Array.from(charCodec(['a', 'b', 'c']).encode('cab')), [2, 0, 1]);
  throwsUser(() => codec.encode('To bZ'), '"Z" (U+005A)', 'position 4', 'not in the vocabulary');
  throwsUser(() => charCodec(['a'], 'the vocabulary of tiny').encode('a\u00e9'), '"é" (U+00E9)', 'tiny');
  throwsUser(() => codec.decode([0, 99]), 'token id 99 at position 1', 'ids 0..');
});

test('prepareChar writes nanoGPT bins (uint16 LE, 90/10 split) and meta.json', () => {
  const dir = freshDir();
  const text = 'abcabcabcabcabcabcaz'; // 20 chars: train 18, val 2; vocab a b c z
  const r = prepareChar(text, dir);
  assert.equal(r.vocabSize, 4);
  assert.deepEqual(r.chars, ['a', 'b', 'c', 'z']);
  assert.equal(r.trainTokens, 18);
  assert.equal(r.valTokens, 2);
  const train = fs.readFileSync(path.join(dir, 'train.bin'));
  const val = fs.readFileSync(path.join(dir, 'val.bin'));
  // Byte for byte: each id as two bytes, low byte first.
  assert.deepEqual([...train], [0, 0, 1, 0, 2, 0, 0, 0, 1, 0, 2, 0, 0, 0, 1, 0, 2, 0, 0, 0, 1, 0, 2, 0, 0, 0, 1, 0, 2, 0, 0, 0, 1, 0, 2, 0]);
  assert.deepEqual([...val], [0, 0, 3, 0]);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')), { vocab_size: 4, tokenizer: 'char', chars: ['a', 'b', 'c', 'z'], train_tokens: 18, val_tokens: 2 });
  assert.deepEqual(r.files.map((f) => [path.basename(f.path), f.bytes, fs.statSync(f.path).size]),
    [['train.bin', 36, 36], ['val.bin', 4, 4], ['meta.json', r.files[2].bytes, r.files[2].bytes]]);
  // Idempotent: the same bytes again, no temporary files left.
  prepareChar(text, dir);
  assert.deepEqual(fs.readFileSync(path.join(dir, 'train.bin')), train);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['meta.json', 'train.bin', 'val.bin']);
  // Split as Python's int(n * 0.9): n = 11 gives 9 (11 * 0.9 = 9.9), n = 10 gives 9.
  assert.equal(prepareChar('abcdefghijk', freshDir()).trainTokens, 9);
  assert.equal(prepareChar('abcdefghij', freshDir()).trainTokens, 9);
  // Ids above 255 use the high byte.
  const big = Array.from({ length: 300 }, (_, i) => String.fromCodePoint(0x100 + i)).join('');
  const d2 = freshDir();
  prepareChar(big, d2);
  const b = fs.readFileSync(path.join(d2, 'val.bin'));
  assert.deepEqual([...b.subarray(0, 2)], [270 & 0xff, 270 >> 8]);
});

test('prepareChar refuses texts too short to split', () => {
  throwsUser(() => prepareChar('', freshDir()), 'empty');
  throwsUser(() => prepareChar('a', freshDir()), 'only 1 character');
});

test('writeTokens/readTokens round trip', () => {
  const file = path.join(tmp, 'rt.bin');
  const t = Uint16Array.from([0, 1, 255, 256, 65535]);
  writeTokens(file, t);
  assert.deepEqual([...fs.readFileSync(file)], [0, 0, 1, 0, 255, 0, 0, 1, 255, 255]);
  assert.deepEqual(readTokens(file), t);
});

test('loadDataset reads what prepareChar wrote', () => {
  const dataDir = freshDir();
  const text = 'the quick brown fox jumps over the lazy dog\n'.repeat(5);
  prepareChar(text, path.join(dataDir, 'fox'));
  const ds = loadDataset(dataDir, 'fox', { blockSize: 8 });
  assert.equal(ds.name, 'fox');
  assert.equal(ds.meta.vocab_size, 28);
  const codec = charCodec(ds.meta.chars!);
  assert.equal(codec.decode(all(ds.train)) + codec.decode(all(ds.val)), text);
  assert.equal(ds.train.length, Math.floor(text.length * 0.9));
});

test('loadDataset errors say what is wrong and what to do', () => {
  const dataDir = freshDir();
  throwsUser(() => loadDataset(dataDir, 'shakespeare_char'), 'dataset "shakespeare_char" not found', 'run `normlab prepare shakespeare_char --data_dir');
  throwsUser(() => loadDataset(dataDir, 'mine'), 'run `normlab prepare mine --input FILE');
  const dir = path.join(dataDir, 'set');
  prepareChar('abcdefghijklmnopqrstuvwxyz'.repeat(4), dir);
  const good = loadDataset(dataDir, 'set');

  // meta.json's token counts must match the files.
  const metaPath0 = path.join(dir, 'meta.json');
  const m0 = JSON.parse(fs.readFileSync(metaPath0, 'utf8'));
  fs.writeFileSync(metaPath0, JSON.stringify({ ...m0, val_tokens: 12 }));
  throwsUser(() => loadDataset(dataDir, 'set'), 'says val.bin holds 12 tokens', 'holds 11', 'do not belong together');
  // Without the counts (a set made before they were recorded) the checks below apply.
  delete m0.train_tokens;
  delete m0.val_tokens;
  fs.writeFileSync(metaPath0, JSON.stringify(m0));

  // Too short for the block size: names the split and the fix.
  throwsUser(() => loadDataset(dataDir, 'set', { blockSize: 20 }), 'val.bin has 11 tokens', '--block_size 20 needs at least 21', '--block_size 10 or less');
  loadDataset(dataDir, 'set', { blockSize: 10 }); // 11 = block_size + 1: enough
  throwsUser(() => checkSplitLengths(good, 93), 'train.bin has 93 tokens');

  // Odd length: corrupt.
  const val = fs.readFileSync(path.join(dir, 'val.bin'));
  fs.writeFileSync(path.join(dir, 'val.bin'), Buffer.concat([val, Buffer.from([1])]));
  throwsUser(() => loadDataset(dataDir, 'set'), 'val.bin is corrupt', '23 bytes');
  // Token id >= vocab_size.
  fs.writeFileSync(path.join(dir, 'val.bin'), Buffer.from([0, 0, 26, 0]));
  throwsUser(() => loadDataset(dataDir, 'set'), 'val.bin: token id 26 at position 1 is not below vocab_size 26');
  // Empty split, missing split.
  fs.writeFileSync(path.join(dir, 'val.bin'), Buffer.alloc(0));
  throwsUser(() => loadDataset(dataDir, 'set'), 'val.bin is empty');
  fs.rmSync(path.join(dir, 'val.bin'));
  throwsUser(() => loadDataset(dataDir, 'set'), 'val.bin is missing', 'normlab prepare set');
  fs.writeFileSync(path.join(dir, 'val.bin'), val);

  // meta.json problems.
  const metaPath = path.join(dir, 'meta.json');
  const meta = fs.readFileSync(metaPath);
  fs.writeFileSync(metaPath, '{"vocab_size": 26');
  throwsUser(() => loadDataset(dataDir, 'set'), 'meta.json is not valid JSON');
  fs.writeFileSync(metaPath, '{"vocab_size": 0}');
  throwsUser(() => loadDataset(dataDir, 'set'), '"vocab_size" must be an integer in [1, 65536], got 0');
  fs.writeFileSync(metaPath, '{"vocab_size": 3, "chars": ["a", "b"]}');
  throwsUser(() => loadDataset(dataDir, 'set'), '"chars" has 2 entries but vocab_size is 3');
  fs.writeFileSync(metaPath, '{"vocab_size": 2, "chars": ["a", "bc"]}');
  throwsUser(() => loadDataset(dataDir, 'set'), 'one-character strings');
  // Without chars (a token-level set) it loads.
  fs.writeFileSync(metaPath, '{"vocab_size": 50304}');
  assert.equal(loadDataset(dataDir, 'set').meta.chars, undefined);
  // Only a Python meta.pkl: say so.
  fs.rmSync(metaPath);
  fs.writeFileSync(path.join(dir, 'meta.pkl'), Buffer.from([0x80, 4]));
  throwsUser(() => loadDataset(dataDir, 'set'), 'meta.pkl (a Python pickle', 'normlab prepare set --input FILE');
  fs.rmSync(path.join(dir, 'meta.pkl'));
  throwsUser(() => loadDataset(dataDir, 'set'), 'meta.json is missing');
  fs.writeFileSync(metaPath, meta);
  assert.deepEqual(all(loadDataset(dataDir, 'set').train), all(good.train));
});

test('getBatch: shapes, x/y shift, offsets from the seeded generator, determinism', () => {
  const split = Uint16Array.from({ length: 1000 }, (_, i) => i % 997);
  const B = 4, T = 8;
  const x = new Int32Array(B * T), y = new Int32Array(B * T); // (B, T)
  getBatch(split, B, T, new Rng(1337), x, y);
  const rng = new Rng(1337);
  for (let b = 0; b < B; b++) {
    const o = rng.int(split.length - T); // the same draws in the same order
    assert.ok(o >= 0 && o <= split.length - T - 1);
    for (let t = 0; t < T; t++) {
      assert.equal(x[b * T + t], split[o + t]);
      assert.equal(y[b * T + t], split[o + t + 1]);
    }
  }
  // Same seed, same batch; the generator moves on between calls.
  const x2 = new Int32Array(B * T), y2 = new Int32Array(B * T);
  const r2 = new Rng(1337);
  getBatch(split, B, T, r2, x2, y2);
  assert.deepEqual(x2, x);
  assert.deepEqual(y2, y);
  getBatch(split, B, T, r2, x2, y2);
  assert.notDeepEqual(x2, x);
  // Offsets cover [0, len - T - 1] and nothing else, over many draws of a short split.
  const short = Uint16Array.from({ length: 12 }, (_, i) => i);
  const seen = new Set<number>();
  const r3 = new Rng(7);
  const x1 = new Int32Array(2), y1 = new Int32Array(2);
  for (let k = 0; k < 500; k++) { getBatch(short, 1, 2, r3, x1, y1); seen.add(x1[0]); }
  assert.deepEqual([...seen].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('getBatch: a split of exactly T + 1 tokens starts every row at 0', () => {
  const T = 5;
  const split = Uint16Array.from([9, 8, 7, 6, 5, 4]);
  const x = new Int32Array(3 * T), y = new Int32Array(3 * T);
  getBatch(split, 3, T, new Rng(42), x, y);
  for (let b = 0; b < 3; b++) {
    assert.deepEqual([...x.subarray(b * T, b * T + T)], [9, 8, 7, 6, 5]);
    assert.deepEqual([...y.subarray(b * T, b * T + T)], [8, 7, 6, 5, 4]);
  }
  throwsUser(() => getBatch(split, 1, 6, new Rng(1), new Int32Array(6), new Int32Array(6)), '6 tokens', 'at least 7');
});

test('prepare command: --input, errors, idempotence, help', async () => {
  const dataDir = freshDir();
  const input = path.join(tmp, 'poem.txt');
  fs.writeFileSync(input, 'roses are red\r\nviolets are blue\rsugar is sweet\n'); // CRLF and CR become LF, as Python reads text
  const lines: string[] = [];
  assert.equal(await prepareCommand(['poem', '--input', input, '--data_dir', dataDir], (l) => lines.push(l)), 0);
  const ds = loadDataset(dataDir, 'poem');
  assert.equal(charCodec(ds.meta.chars!).decode([...all(ds.train), ...all(ds.val)]), 'roses are red\nviolets are blue\nsugar is sweet\n');
  const out = lines.join('\n');
  assert.ok(out.includes('vocab_size 16'), out);
  assert.ok(out.includes(path.join(dataDir, 'poem', 'train.bin')) && out.includes('tokens'), out);
  const before = fs.readFileSync(path.join(dataDir, 'poem', 'train.bin'));
  assert.equal(await prepareCommand([`--data_dir=${dataDir}`, 'poem', `--input=${input}`], () => {}), 0);
  assert.deepEqual(fs.readFileSync(path.join(dataDir, 'poem', 'train.bin')), before);
  // <data_dir>/<name>/input.txt is used when --input is absent.
  fs.mkdirSync(path.join(dataDir, 'own'));
  fs.writeFileSync(path.join(dataDir, 'own', 'input.txt'), 'hello hello hello');
  assert.equal(await prepareCommand(['own', '--data_dir', dataDir], () => {}), 0);
  assert.equal(loadDataset(dataDir, 'own').meta.vocab_size, 5);

  await rejectsUser(prepareCommand(['x', '--input', path.join(tmp, 'nope.txt'), '--data_dir', dataDir], () => {}), 'nope.txt not found');
  fs.writeFileSync(path.join(tmp, 'empty.txt'), '');
  await rejectsUser(prepareCommand(['x', '--input', path.join(tmp, 'empty.txt'), '--data_dir', dataDir], () => {}), 'empty.txt is empty');
  fs.writeFileSync(path.join(tmp, 'latin1.txt'), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x20, 0x61]));
  await rejectsUser(prepareCommand(['x', '--input', path.join(tmp, 'latin1.txt'), '--data_dir', dataDir], () => {}), 'not valid UTF-8');
  await rejectsUser(prepareCommand(['x', '--input', tmp, '--data_dir', dataDir], () => {}), 'is not a file');
  await rejectsUser(prepareCommand(['--data_dir', dataDir], () => {}), 'which dataset?', 'shakespeare_char');
  await rejectsUser(prepareCommand(['mystery', '--data_dir', dataDir], () => {}), 'no text for dataset "mystery"', '--input FILE');
  await rejectsUser(prepareCommand(['../up', '--input', input], () => {}), 'plain folder name');
  await rejectsUser(prepareCommand(['a', 'b'], () => {}), 'unexpected argument "b"');
  await rejectsUser(prepareCommand(['a', '--inptu', input], () => {}), 'did you mean --input?');
  const help: string[] = [];
  assert.equal(await prepareCommand(['--help'], (l) => help.push(l)), 0);
  assert.ok(help.join('\n').includes('usage: normlab prepare <dataset>'));
  assert.ok(!fs.existsSync(path.join(dataDir, 'x')), 'nothing written on error');
});

test('prepare shakespeare_char from the shipped text: nanoGPT sizes', async () => {
  assert.ok(fs.existsSync(path.join(packageRoot(), 'data', 'shakespeare_char', 'input.txt')));
  const dataDir = freshDir();
  const lines: string[] = [];
  assert.equal(await prepareCommand(['shakespeare_char', '--data_dir', dataDir], (l) => lines.push(l)), 0);
  const ds = loadDataset(dataDir, 'shakespeare_char', { blockSize: 256 });
  // nanoGPT's data/shakespeare_char/prepare.py prints: vocab 65, train 1,003,854 tokens, val 111,540.
  assert.equal(ds.meta.vocab_size, 65);
  assert.equal(ds.train.length, 1003854);
  assert.equal(ds.val.length, 111540);
  assert.equal(ds.meta.chars!.join(''), "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
  assert.equal(charCodec(ds.meta.chars!).decode(ds.train.read(0, 14)), 'First Citizen:');
  assert.ok(lines.join('\n').includes('1,003,854 tokens'));
});
