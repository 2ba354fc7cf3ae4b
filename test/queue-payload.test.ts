// What a worker makes of a job from Redis (docs/safety.md, "A hostile Redis client"): folder names no
// other job id can give, flags the worker's own additions cannot change, payloads parsed with bounds
// (a seeded fuzz of thousands of mutations), and texts printed without terminal escapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { argvHash, checkJobData, checkQueueArgv, folderName, isQueueName, jobIdOf, MAX_FOLDER_NAME, parseJobPayload } from '../src/sweep/jobs.js';
import { plainText } from '../src/sweep/terminal.js';
import { UserError } from '../src/util/errors.js';
import { throwsUser } from './helpers.js';

/** The inverse of folderName on names it did not hash. */
function unescape(name: string): string {
  if (name === '%') return '';
  return Buffer.from(name.replace(/%([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
}

/** A small seeded generator (xorshift32): the same cases on every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 2 ** 32; };
}

test('a run folder name is a function of the job id that no other id gives: readable ids kept, others escaped, long ones hashed', () => {
  const real = 'activation_variant-relu-e77548219d';
  assert.equal(folderName(real), real, 'a readable id is its own folder name');
  assert.notEqual(folderName('activation variant-relu-e77548219d'), folderName(real));
  assert.equal(folderName('activation variant-relu-e77548219d'), 'activation%20variant-relu-e77548219d');
  assert.equal(folderName('a/b:c'), 'a%2Fb%3Ac');
  for (const [a, b] of [['..', '%2E.'], ['.', '%2E'], ['', '%'], ['%', '%25'], ['a%20b', 'a%2520b']]) assert.equal(folderName(a), b);
  // No two of these give one name: an escaped name decodes to its id; a hashed one holds '~', which no other name does.
  const r = rng(7);
  const alphabet = ['a', 'b', '_', ' ', '%', '.', '/', ':', '~', 'é', '\u0000', '\x1b', '😀', '-', 'Z'];
  const ids = new Set<string>(['.', '..', '', '%', '%2E', '~', 'a'.repeat(MAX_FOLDER_NAME), 'a'.repeat(MAX_FOLDER_NAME + 1)]);
  while (ids.size < 5000) {
    let s = '';
    const n = Math.floor(r() * (r() < 0.05 ? 400 : 12));
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)];
    ids.add(s);
  }
  const seen = new Map<string, string>();
  for (const id of ids) {
    const name = folderName(id);
    assert.ok(name.length <= MAX_FOLDER_NAME && /^[A-Za-z0-9._+=%~-]+$/.test(name) && !name.startsWith('.'), `${JSON.stringify(id)} -> ${name}`);
    if (!name.includes('~')) assert.equal(unescape(name), id);
    assert.equal(seen.get(name) ?? id, id, `${JSON.stringify(id)} and ${JSON.stringify(seen.get(name))} share the folder ${name}`);
    seen.set(name, id);
  }
  // A job id is made of the run's name and a hash of its flags.
  assert.equal(jobIdOf({ name: 'n', argv: ['--a', '1'] }), `n-${argvHash(['--a', '1'])}`);
});

test('a job whose flags end in "--", or whose flags would read the worker\'s --out_dir otherwise, is refused at the check', () => {
  throwsUser(() => checkQueueArgv(['--max_iters', '5', '--']), '"--"', 'remove it');
  throwsUser(() => checkQueueArgv(['--', '--max_iters', '5']), '"--"');
  throwsUser(() => checkQueueArgv(['--max_iters']), 'max_iters');
  assert.equal(checkQueueArgv(['--max_iters', '5', '--init_from', 'scratch']).config.max_iters, 5);
});

test('job data: only {name, argv, weights} with train flags that pass the checks', () => {
  assert.deepEqual(checkJobData({ name: 'n', argv: ['--n_layer', '2'], weights: true }), { name: 'n', argv: ['--n_layer', '2'], weights: true });
  assert.equal(checkJobData({ name: 'n', argv: [] }).weights, false);
  throwsUser(() => checkJobData(null), 'null');
  throwsUser(() => checkJobData([1]), 'a list');
  throwsUser(() => checkJobData({ name: 'n', argv: [], __proto__x: 1 }), 'fields a sweep job does not have');
  throwsUser(() => checkJobData({ name: 5, argv: [] }), 'name');
  throwsUser(() => checkJobData({ name: 'n', argv: [], weights: 'yes' }), 'weights');
  throwsUser(() => parseJobPayload('{"name":'), 'not JSON');
  throwsUser(() => parseJobPayload(' '.repeat((1 << 20) + 1)), 'more than');
});

/** One mutation of a payload text: a byte changed, a slice dropped or repeated, a token spliced in. */
function mutate(text: string, r: () => number): string {
  const tokens = ['--', '"--"', '"--out_dir"', '"/etc"', '"..\u0000"', 'null', '[]', '{}', '1e309', '-0', '"__proto__"', '"constructor"',
    '"\\u001b]0;x\\u0007"', '"--max_iters"', '"--learning_rate"', '"NaN"', '"--dataset"', '"../x"', '[[[[[[[[[[', '"' + 'x'.repeat(20000) + '"',
    '"--n_layer","1000000"', '"--batch_size","1e12"', 'true', '"--no-bias"', '"--eval_only"', '"--init_from","resume"'];
  const at = Math.floor(r() * (text.length + 1));
  switch (Math.floor(r() * 6)) {
    case 0: return text.slice(0, at) + String.fromCharCode(Math.floor(r() * 128)) + text.slice(at + 1);
    case 1: return text.slice(0, at) + text.slice(at + 1 + Math.floor(r() * 8));
    case 2: return text.slice(0, at) + tokens[Math.floor(r() * tokens.length)] + text.slice(at);
    case 3: { const b = Math.floor(r() * text.length); return text.slice(0, at) + text.slice(Math.min(at, b), Math.max(at, b)) + text.slice(at); }
    case 4: return text.replace(/"(--[a-z_]+)"/, () => `"--${['out_dir', 'data_dir', 'init_from', 'dataset', 'n_head', 'help', 'seed', 'max_iters'][Math.floor(r() * 8)]}"`);
    default: return text.slice(0, at) + ',' + tokens[Math.floor(r() * tokens.length)] + text.slice(at);
  }
}

test('fuzz: 4,000 mutated job payloads (seeded) are each refused in one line or accepted and consistent', () => {
  const seeds = [
    { name: 'activation_variant-relu', argv: ['--activation_variant', 'relu', '--max_iters', '20', '--n_layer', '1'], weights: false },
    { name: 'n_head-2', argv: ['--n_head=2', '--n_embd', '16', '--dataset', 'tiny', '--no-bias'], weights: true },
  ].map((d) => JSON.stringify(d));
  const r = rng(22);
  let accepted = 0, refused = 0;
  const heap0 = process.memoryUsage().heapUsed;
  for (let i = 0; i < 4000; i++) {
    let text = seeds[i % seeds.length];
    for (let k = 1 + Math.floor(r() * 3); k > 0; k--) text = mutate(text, r);
    let data;
    try {
      data = parseJobPayload(text);
    } catch (e) {
      assert.ok(e instanceof UserError, `case ${i}: ${JSON.stringify(text.slice(0, 200))} threw ${(e as Error)?.stack}`);
      assert.ok(!e.message.includes('\n') && e.message.length > 0 && e.message.length <= 2000, `case ${i}: not one line: ${e.message.slice(0, 300)}`);
      refused++;
      continue;
    }
    // Accepted: what the worker trains is exactly what the payload says, and checks again the same way.
    accepted++;
    assert.equal(typeof data.name, 'string');
    assert.equal(typeof data.weights, 'boolean');
    assert.ok(data.argv.every((a) => typeof a === 'string') && !data.argv.includes('--'));
    assert.deepEqual(parseJobPayload(JSON.stringify(data)), data);
    const id = jobIdOf(data);
    assert.ok(id.length <= MAX_FOLDER_NAME && isQueueName(id), 'a job id from a payload is a name folderName makes');
  }
  assert.ok(accepted > 100 && refused > 1000, `accepted ${accepted}, refused ${refused}: the mutations reach both sides`);
  assert.ok(process.memoryUsage().heapUsed - heap0 < 200e6, 'memory stays bounded');
});

test('texts from Redis reach the terminal without escape sequences or control characters', () => {
  assert.equal(plainText('evil\x1b]0;TITLE\x07\x1b[2J'), 'evil');
  assert.equal(plainText('step 5 \x1b]52;c;ZXZpbA==\x07loss 2.0'), 'step 5 loss 2.0');
  assert.equal(plainText('a\x1bPq#0;2;0;0;0\x1b\\b\u009b31mc\rd\ne\u202eg'), 'ab31mc d eg');
  assert.equal(plainText('x'.repeat(100), 10), 'xxxxxxx...');
  for (let c = 0; c < 0xa0; c++) assert.ok(!/[\x00-\x1f\x7f-\x9f]/.test(plainText(`a${String.fromCharCode(c)}b`)), `char ${c}`);
});
