// A hostile local user against `train` (docs/safety.md): odd files at the lock's and the resume
// state's names, locks naming unrelated processes, a second signal, another dataset under a resumed
// run, damaged resume weights. Each ends with a one-line message, never a hang or a stack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { readSafetensors, writeSafetensors } from '../src/engine/safetensors.js';
import { prepareChar } from '../src/data/make-dataset.js';
import { BIN, cli, cliAsync, ROOT, TINY_MODEL, tinyData, tmpDir } from './helpers.js';

const HANG = { timeout: 120_000 };
const data = tinyData();
const base = [...TINY_MODEL, '--data_dir', data];
const noStack = (s: string) => assert.doesNotMatch(s, /\n\s+at /, 'no stack trace');

/** A run stopped at iter 6 (resume state) with a checkpoint at iter 4. */
function stoppedRun(): string {
  const out = tmpDir();
  const r = cli(['train', ...base, '--out_dir', out, '--max_iters', '6', '--eval_interval', '4', '--always_save_checkpoint']);
  assert.equal(r.code, 0, r.stderr);
  return out;
}

test('a FIFO, folder or dangling link at .normlab.lock or .normlab.lock.takeover is named, never waited on', HANG, () => {
  const cases: [string, (f: string) => void, RegExp][] = [
    ['.normlab.lock', (f) => execFileSync('mkfifo', [f]), /\.normlab\.lock is a FIFO \(named pipe\), not a lock file normlab wrote: remove it/],
    ['.normlab.lock', (f) => fs.mkdirSync(f), /\.normlab\.lock is a folder, not a lock file normlab wrote: remove it \(rm -r /],
    ['.normlab.lock', (f) => fs.symlinkSync('/nonexistent/x', f), /\.normlab\.lock is a symbolic link \(to \/nonexistent\/x, which does not exist\)/],
  ];
  for (const [name, make, pattern] of cases) {
    const out = tmpDir();
    make(path.join(out, name));
    const r = cli(['train', ...base, '--out_dir', out, '--max_iters', '2']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, pattern);
    noStack(r.stderr);
  }
  // The takeover guard is only looked at when the lock is stale: a lock of a process that is gone.
  const out = tmpDir();
  fs.writeFileSync(path.join(out, '.normlab.lock'), JSON.stringify({ pid: 4194000, host: hostname(), command: 'train', started: 'x' }));
  execFileSync('mkfifo', [path.join(out, '.normlab.lock.takeover')]);
  const r = cli(['train', ...base, '--out_dir', out, '--max_iters', '2']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /\.normlab\.lock\.takeover is a FIFO \(named pipe\), not a lock file normlab wrote/);
});

test('a FIFO as resume.ckpt.safetensors or resume.state.json is refused, never waited on', HANG, () => {
  for (const name of ['resume.ckpt.safetensors', 'resume.state.json']) {
    const out = stoppedRun();
    // Make a resume state newer than the checkpoint, then replace one of its files with a FIFO.
    const st = JSON.parse(fs.readFileSync(path.join(out, 'state.json'), 'utf8'));
    fs.writeFileSync(path.join(out, 'resume.state.json'), JSON.stringify({ ...st, iter: st.iter + 1 }));
    fs.copyFileSync(path.join(out, 'ckpt.safetensors'), path.join(out, 'resume.ckpt.safetensors'));
    fs.copyFileSync(path.join(out, 'optim.safetensors'), path.join(out, 'resume.optim.safetensors'));
    fs.rmSync(path.join(out, name));
    execFileSync('mkfifo', [path.join(out, name)]);
    const r = cli(['train', '--out_dir', out, '--init_from', 'resume', '--data_dir', data]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`${name.replace(/\./g, '\\.')}.*(FIFO|not a regular file)`));
    noStack(r.stderr);
  }
});

test('a lock naming a live process that is not normlab says which process and how to proceed', HANG, async () => {
  const out = tmpDir();
  const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    fs.writeFileSync(path.join(out, '.normlab.lock'), JSON.stringify({ pid: sleeper.pid, host: hostname(), command: 'train', started: '2026-01-01T00:00:00Z' }));
    const r = cli(['train', ...base, '--out_dir', out, '--max_iters', '2']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`process ${sleeper.pid} .*its command: sleep 60\\).*does not look like normlab.*remove .*\\.normlab\\.lock and start again`));
  } finally { sleeper.kill(); }
});

test('a second SIGTERM right after the first exits 130 with a message, and summary.json says interrupted, not running', HANG, async () => {
  const out = tmpDir();
  const child = cliAsync(['train', ...base, '--out_dir', out, '--max_iters', '100000', '--eval_interval', '5']);
  let seen = '', err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d; });
  await new Promise<void>((resolve) => { child.stdout!.on('data', (d: Buffer) => { seen += d; if (seen.includes('iter 5:')) resolve(); }); });
  child.kill('SIGTERM');
  setTimeout(() => child.kill('SIGTERM'), 10);
  const [code, signal] = await new Promise<[number | null, string | null]>((r) => child.on('close', (c, s) => r([c, s])));
  // A second signal that lands inside Node's own teardown, after the state is saved, the message printed
  // and the 'exit' event run (a few ms in which no JavaScript handler can run), is reported by the OS as
  // the signal; at any earlier moment the run exits 130 itself.
  const savedThenTornDown = signal === 'SIGTERM' && /interrupted at iter \d+; its state is saved/.test(seen);
  assert.ok(code === 130 || savedThenTornDown, `exit ${code} ${signal}\n${seen}\n${err}`);
  const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
  assert.equal(summary.status, 'interrupted');
  // Either the second signal came before the state was saved (it says so), or after (the first one's message).
  assert.ok(/stopped at once by a second signal at iter \d+, before its state was saved/.test(err + summary.error) ||
    /interrupted at iter \d+; its state is saved/.test(seen), `${seen}\n${err}`);
});

test('resuming on a dataset with another vocabulary of the same size is refused, naming both', HANG, () => {
  const out = stoppedRun();
  const tiny = JSON.parse(fs.readFileSync(path.join(data, 'tiny', 'meta.json'), 'utf8')) as { chars: string[] };
  // The same number of characters, another alphabet: Cyrillic letters from U+0410 on.
  const other = Array.from({ length: tiny.chars.length }, (_, i) => String.fromCodePoint(0x410 + i));
  let text = '';
  for (let i = 0; i < 3000; i++) text += other[(i * 7) % other.length];
  prepareChar(text, path.join(data, 'tiny'));
  try {
    const r = cli(['train', '--out_dir', out, '--init_from', 'resume', '--data_dir', data, '--max_iters', '8']);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /was trained on dataset tiny with the vocabulary "\\n .*\(\d+ characters\), but dataset tiny has "АБВ.*token ids mean other characters/);
    noStack(r.stderr);
  } finally {
    const orig = fs.readFileSync(path.join(ROOT, 'data', 'shakespeare_char', 'input.txt'), 'utf8').slice(0, 20000);
    prepareChar(orig, path.join(data, 'tiny'));
  }
});

test('NaN in the resume weights is reported as a damaged file when loaded, not as divergence', HANG, () => {
  const out = stoppedRun();
  const file = path.join(out, 'ckpt.safetensors');
  const { tensors, metadata } = readSafetensors(file);
  tensors.get('transformer.h.1.attn.c_proj.weight')!.data[0] = NaN;
  writeSafetensors(file, [...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data })), metadata);
  const r = cli(['train', '--out_dir', out, '--init_from', 'resume', '--data_dir', data, '--max_iters', '10']);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /ckpt\.safetensors is corrupt: tensor transformer\.h\.1\.attn\.c_proj\.weight holds NaN values/);
  assert.doesNotMatch(r.stderr, /diverged/);
});

void BIN;
