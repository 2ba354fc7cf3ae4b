// Nothing lost, nothing stalled (docs/safety.md): each test comes from a finding of a hostile or careless
// use, is named after the behaviour that holds now, and fails on the code that had the finding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { request } from 'node:http';
import { readSafetensors, writeSafetensors, type LoadedTensor } from '../src/engine/safetensors.js';
import { DASHBOARD_MAX_NEW_TOKENS, sampleInWorker, startDashboard } from '../src/dashboard/server.js';
import { diskOf } from '../src/util/files.js';
import { expandSweeps } from '../src/sweep/grammar.js';
import { planSweep } from '../src/sweep/plan.js';
import { runSweep } from '../src/sweep/runner.js';
import { RUN_MARKER } from '../src/sweep/folders.js';
import { findRunDirs } from '../src/sweep/runs.js';
import { BIN, cli, cliAsync, readLog, ROOT, TINY_MODEL, tinyData, tmpDir } from './helpers.js';

const data = tinyData();
const base = [...TINY_MODEL, '--data_dir', data];
const noMs = (rows: Record<string, number>[]) => rows.map(({ ms: _ms, ...r }) => r);
const noStack = (s: string) => assert.doesNotMatch(s, /\n\s+at /, 'no stack trace');

function cliEnv(args: string[], env: Record<string, string>): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, ...env } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('a run killed during a checkpoint write resumes to the same losses and the same final weights', { timeout: 180_000 }, () => {
  // tools/kill_checkpoints.mjs: SIGKILL while checkpoint files are being written, resume, repeat;
  // 3 kills here (the 20-kill run is in docs/safety.md).
  const r = spawnSync(process.execPath, [path.join(ROOT, 'tools', 'kill_checkpoints.mjs'), '--kills', '3', '--json', '--data_dir', data,
    '--', '--dataset', 'tiny', '--n_layer', '2', '--n_head', '2', '--n_embd', '256', '--block_size', '16'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
  assert.equal(res.kills, 3);
  assert.equal(res.during_write, 3, 'every kill landed during a checkpoint write');
  assert.ok(res.same_log, 'the resumed run logs the same losses as the uninterrupted one');
  assert.ok(res.same_final_weights, 'and ends with the same weights');
  fs.rmSync(res.folder, { recursive: true, force: true });
});

/** Trains 10 iterations into out, then fails a resume to 30 on a full disk; checks what is left. */
function fullDiskCase(out: string, env: Record<string, string>, disk: string, fill?: () => void): void {
  const args = [...base, '--n_embd', '64', '--n_head', '2', '--eval_interval', '10', '--always_save_checkpoint'];
  assert.equal(cli(['train', ...args, '--out_dir', out, '--max_iters', '10']).code, 0);
  const ckpt = fs.readFileSync(path.join(out, 'ckpt.safetensors'));
  fill?.();
  const r = cliEnv(['train', '--out_dir', out, '--init_from', 'resume', '--data_dir', data, '--max_iters', '30'], env);
  assert.notEqual(r.code, 0, 'a full disk is an error');
  assert.match(r.stderr, /full/);
  assert.ok(r.stderr.includes(disk), `the message names the disk ${disk}: ${r.stderr}`);
  assert.match(r.stderr, /previous checkpoint \(iter 10\) is kept/);
  noStack(r.stderr);
  assert.ok(fs.readFileSync(path.join(out, 'ckpt.safetensors')).equals(ckpt), 'the previous checkpoint is untouched');
  assert.deepEqual(fs.readdirSync(out).filter((f) => /\.next$|\.tmp-|commit/.test(f)), [], 'no partial files left');
  const s = cli(['sample', '--out_dir', out, '--num_samples', '1', '--max_new_tokens', '20']);
  assert.equal(s.code, 0, s.stderr);
}

test('a full disk fails the run naming the disk, keeps the previous checkpoint, and a resume continues (injected write error)', () => {
  const out = tmpDir();
  // Writes fail with ENOSPC after 20 kB: the logs fit, the checkpoint (about 400 kB) does not.
  fullDiskCase(out, { NORMLAB_FAIL_WRITES: '20000' }, `disk ${diskOf(out)} is full`);
  const r = cli(['train', '--out_dir', out, '--init_from', 'resume', '--data_dir', data, '--max_iters', '20']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'state.json'), 'utf8')).iter, 20);
});

test('a full disk fails the run naming the disk, keeps the previous checkpoint, and a resume continues (small tmpfs)', (t) => {
  const mnt = tmpDir('normlab-tmpfs-');
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt], { encoding: 'utf8' });
  if (m.status !== 0) { t.skip('cannot mount a tmpfs here (needs root); the injected write error covers it'); return; }
  try {
    const out = path.join(mnt, 'run');
    fullDiskCase(out, {}, `disk ${mnt} is full`, () => {
      // Leave 150 kB: less than one checkpoint.
      const free = fs.statfsSync(mnt).bavail * fs.statfsSync(mnt).bsize;
      fs.writeFileSync(path.join(mnt, 'filler'), Buffer.alloc(Math.max(0, free - 150_000)));
    });
    fs.rmSync(path.join(mnt, 'filler'));
    const r = cli(['train', '--out_dir', out, '--init_from', 'resume', '--data_dir', data, '--max_iters', '20']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(noMs(readLog(out)).some((row) => row.iter === 20 && 'val_loss' in row), 'resumed and evaluated at 20');
  } finally {
    spawnSync('umount', [mnt]);
    fs.rmSync(mnt, { recursive: true, force: true });
  }
});

test('a sweep refuses, changing nothing, a folder in its way that it did not create; it clears only its own', async () => {
  const dir = tmpDir();
  const FAKE = [process.execPath, path.join(ROOT, 'test', 'fixtures', 'sweep', 'fake-train.mjs')];
  // No varied flag: the run is named `default`; a project folder of that name is in the way.
  fs.mkdirSync(path.join(dir, 'default', 'src'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'default', 'src', 'important.txt'), 'keep me');
  const single = planSweep(expandSweeps([{ n_layer: 2 }]), {});
  await assert.rejects(runSweep(single, { sweepDir: dir, trainCmd: FAKE, print: () => {} }), /default exists but was not created by a normlab sweep.*Nothing was changed/s);
  assert.equal(fs.readFileSync(path.join(dir, 'default', 'src', 'important.txt'), 'utf8'), 'keep me');
  // A folder named like a run (n_layer-1), likewise.
  fs.mkdirSync(path.join(dir, 'n_layer-1'));
  fs.writeFileSync(path.join(dir, 'n_layer-1', 'notes.txt'), 'mine');
  const two = planSweep(expandSweeps([{ n_layer: [1, 2] }]), {});
  await assert.rejects(runSweep(two, { sweepDir: dir, trainCmd: FAKE, print: () => {} }), /n_layer-1 exists but was not created/);
  assert.ok(fs.existsSync(path.join(dir, 'n_layer-1', 'notes.txt')));
  assert.ok(!fs.existsSync(path.join(dir, 'n_layer-2')), 'nothing ran');
  // Runs the sweep created itself are cleared and rerun as before.
  fs.rmSync(path.join(dir, 'n_layer-1'), { recursive: true });
  const env = { ...process.env, FAKE_FAIL: 'n_layer-1' };
  assert.deepEqual((await runSweep(two, { sweepDir: dir, trainCmd: FAKE, env, print: () => {} })).counts, { ok: 1, failed: 1, interrupted: 0, skipped: 0 });
  assert.deepEqual((await runSweep(two, { sweepDir: dir, trainCmd: FAKE, print: () => {} })).counts, { ok: 1, failed: 0, interrupted: 0, skipped: 1 });
  assert.ok(fs.existsSync(path.join(dir, 'n_layer-1', RUN_MARKER)));
});

test('a second training in a busy out_dir is refused naming the holder; a killed one\'s lock is taken over', async () => {
  const out = tmpDir();
  const child = cliAsync(['train', ...base, '--out_dir', out, '--max_iters', '100000', '--eval_interval', '1000']);
  await new Promise<void>((resolve) => { child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('normlab train:')) resolve(); }); });
  const other = cli(['train', ...base, '--out_dir', out, '--max_iters', '5', '--overwrite']);
  assert.equal(other.code, 1);
  assert.match(other.stderr, /in use by another normlab train \(process \d+/);
  noStack(other.stderr);
  assert.ok(fs.existsSync(path.join(out, 'log.jsonl')), "the running training's files are untouched");
  child.kill('SIGKILL');
  await new Promise((r) => child.on('close', r));
  // The killed run's lock is stale: the next training takes it over.
  assert.ok(fs.existsSync(path.join(out, '.normlab.lock')));
  const again = cli(['train', ...base, '--out_dir', out, '--max_iters', '5', '--eval_interval', '5', '--overwrite']);
  assert.equal(again.code, 0, again.stderr);
  assert.ok(!fs.existsSync(path.join(out, '.normlab.lock')), 'released at exit');
});

/** A small trained run (the checkpoint the sample and dashboard tests read). */
function trainedRun(extra: string[] = []): string {
  const out = tmpDir();
  const r = cli(['train', ...base, '--out_dir', out, '--max_iters', '4', '--eval_interval', '4', ...extra]);
  assert.equal(r.code, 0, r.stderr);
  return out;
}

function post(port: number, body: unknown, signal?: AbortSignal): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/sample', method: 'POST', headers: { 'content-type': 'application/json' }, signal }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { b += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

test('the dashboard answers while a sample runs, refuses huge ones, and cancels one whose client left', async () => {
  const root = tmpDir();
  fs.cpSync(trainedRun(['--block_size', '64', '--n_embd', '64']), path.join(root, 'r'), { recursive: true });
  let aborted = false, settled = false;
  const dash = await startDashboard({
    root, port: 0,
    sample: (dir, o, signal) => {
      signal?.addEventListener('abort', () => { aborted = true; });
      const p = sampleInWorker(dir, o, signal);
      p.then(() => { settled = true; }, () => { settled = true; });
      return p;
    },
  });
  const port = Number(new URL(dash.url).port);
  try {
    const huge = await post(port, { run: 'r', max_new_tokens: 1e308 });
    assert.equal(huge.status, 400);
    assert.match(huge.body, /max_new_tokens/);
    assert.equal((await post(port, { run: 'r', max_new_tokens: 10_000_000 })).status, 400);
    // The longest sample the dashboard allows runs in a worker: the page still answers meanwhile.
    const stop = new AbortController();
    const long = post(port, { run: 'r', max_new_tokens: DASHBOARD_MAX_NEW_TOKENS }, stop.signal).catch(() => null);
    await new Promise((r) => setTimeout(r, 200));
    const page = await fetch(dash.url);
    assert.equal(page.status, 200);
    assert.equal(settled, false, 'the page answered while the sample was still being generated');
    assert.equal((await post(port, { run: 'r', max_new_tokens: 5 })).status, 409);
    // The client goes away: the generation is cancelled and the next sample can start.
    stop.abort();
    await long;
    for (let i = 0; i < 200 && !settled; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(aborted, 'the disconnect cancelled the generation');
    const next = await post(port, { run: 'r', max_new_tokens: 5 });
    assert.equal(next.status, 200, next.body);
  } finally {
    await dash.close();
  }
});

test("sample refuses --temperature -1, --top_k 0/-5, --max_new_tokens -1 or 1e8, --num_samples -1, naming the bound", () => {
  const out = trainedRun();
  for (const [flag, value, re] of [['temperature', '-1', /--temperature is -1; it must be > 0/], ['top_k', '0', /--top_k is 0; it must be >= 1/],
    ['top_k', '-5', /--top_k is -5/], ['max_new_tokens', '-1', /--max_new_tokens is -1; it must be from 0/],
    ['max_new_tokens', '100000000', /--max_new_tokens is 100000000; it must be from 0 to 1000000/], ['num_samples', '-1', /--num_samples is -1; it must be >= 1/]] as const) {
    const r = cli(['sample', '--out_dir', out, `--${flag}`, value]);
    assert.equal(r.code, 1, `${flag} ${value}`);
    assert.match(r.stderr, re);
    assert.equal(r.stdout, '', 'nothing generated');
  }
});

test("sample reads nanoGPT's --start FILE:..., and names a file it cannot read", () => {
  const out = trainedRun();
  const prompt = path.join(out, 'prompt.txt');
  fs.writeFileSync(prompt, 'ROMEO:\n');
  const r = cli(['sample', '--out_dir', out, '--start', `FILE:${prompt}`, '--num_samples', '1', '--max_new_tokens', '3']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.startsWith('ROMEO:\n'), r.stdout);
  const missing = cli(['sample', '--out_dir', out, '--start', 'FILE:/no/such/file']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read \/no\/such\/file/);
});

/** A copy of run `out` whose ckpt.safetensors metadata config is changed by `edit` (weights kept unless given). */
function forged(out: string, edit: (cfg: Record<string, unknown>) => void, weights?: (t: Map<string, LoadedTensor>) => void): string {
  const dir = tmpDir();
  const { tensors, metadata } = readSafetensors(path.join(out, 'ckpt.safetensors'));
  const cfg = JSON.parse(metadata.config);
  edit(cfg);
  weights?.(tensors);
  writeSafetensors(path.join(dir, 'ckpt.safetensors'), [...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data })),
    { ...metadata, config: JSON.stringify(cfg) });
  return dir;
}

test("a checkpoint's config is checked before it is used; an older one lacking a key still samples", () => {
  const out = trainedRun();
  const cases: [(c: Record<string, unknown>) => void, RegExp][] = [
    [(c) => { c.n_embd = 2048; c.n_layer = 8; }, /metadata describes a model of about \d+\.\d+M parameters but the file holds 0\.\d+M values/],
    [(c) => { c.n_embd = 65536; c.n_layer = 48; }, /needs about [\d.]+ (GB|TB) of memory to sample/],
    [(c) => { c.block_size = -5; }, /--block_size is -5; it must be >= 1/],
    [(c) => { c.n_head = 3; c.n_embd = 32; }, /--n_embd 32 is not divisible by --n_head 3/],
    [(c) => { c.vocab_size = 1e9; }, /vocab_size 1000000000/],
  ];
  // A checkpoint written before a flag existed lacks its key: still sampled (the flag's default).
  const older = cli(['sample', '--out_dir', forged(out, (c) => { delete c[Object.keys(c).filter((k) => k !== 'vocab_size').pop()!]; }), '--num_samples', '1', '--max_new_tokens', '3']);
  assert.equal(older.code, 0, older.stderr);
  for (const [edit, re] of cases) {
    const r = cli(['sample', '--out_dir', forged(out, edit), '--num_samples', '1', '--max_new_tokens', '3']);
    assert.equal(r.code, 1, `${re}: ${r.stderr}`);
    assert.match(r.stderr, re);
    noStack(r.stderr);
  }
});

test('sampling NaN weights fails naming the tensor and the divergence', () => {
  const out = trainedRun();
  const dir = forged(out, () => {}, (t) => { t.get('transformer.wte.weight')!.data[3] = NaN; });
  const r = cli(['sample', '--out_dir', dir, '--num_samples', '1', '--max_new_tokens', '3']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /transformer\.wte\.weight holds NaN values: the run diverged/);
});

test('sizes that cannot fit in memory are refused with the memory they need', () => {
  for (const args of [['--n_embd', '65536', '--n_layer', '48', '--n_head', '8'], ['--batch_size', '1000000000'], ['--block_size', '1999', '--n_layer', '48']]) {
    const r = cli(['train', '--data_dir', data, '--dataset', 'tiny', '--out_dir', tmpDir(), '--no-progress', ...args]);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, /needs (about [\d.]+ [GTP]B of memory to train|one array of)/, r.stderr);
    noStack(r.stderr);
  }
});

test('an --out_dir that is a file, or on a read-only disk, is refused in one line', (t) => {
  const file = path.join(tmpDir(), 'afile');
  fs.writeFileSync(file, 'x');
  for (const out of [file, path.join(file, 'sub')]) {
    const r = cli(['train', ...base, '--out_dir', out, '--max_iters', '2']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot use .* as the --out_dir: (it is a file|a part of the path is a file)/);
    noStack(r.stderr);
  }
  const mnt = tmpDir('normlab-ro-');
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,ro', 'tmpfs', mnt]).status !== 0) { t.skip('cannot mount a read-only tmpfs here'); return; }
  try {
    const r = cli(['train', ...base, '--out_dir', path.join(mnt, 'run'), '--max_iters', '2']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`the disk ${mnt} is read-only`));
    noStack(r.stderr);
  } finally {
    spawnSync('umount', [mnt]);
  }
});

test('the dashboard and inspect stay inside the run folders: no symlink out, no loop through ln -s . x', async () => {
  const root = tmpDir();
  const run = path.join(root, 'r');
  fs.cpSync(trainedRun(), run, { recursive: true });
  const secret = path.join(tmpDir(), 'secret.json');
  fs.writeFileSync(secret, JSON.stringify({ status: 'ok', password: 'hunter2' }));
  fs.rmSync(path.join(run, 'summary.json'));
  fs.symlinkSync(secret, path.join(run, 'summary.json'));
  fs.symlinkSync('.', path.join(root, 'x')); // a loop
  fs.symlinkSync(path.dirname(secret), path.join(root, 'elsewhere')); // a folder outside
  const dash = await startDashboard({ root, port: 0, sample: async () => 'unused' });
  try {
    const text = await (await fetch(new URL('/api/data', dash.url))).text();
    assert.ok(!text.includes('hunter2'), 'the linked file is not served');
    assert.ok(JSON.parse(text).runs.some((r: { id: string }) => r.id === 'r'), 'the run itself is listed');
  } finally {
    await dash.close();
  }
  const ins = cli(['inspect', root, '--json']);
  assert.equal(ins.code, 0, ins.stderr);
  assert.ok(!ins.stdout.includes('hunter2'));
  assert.deepEqual(findRunDirs(root), [run], 'neither x (a loop) nor elsewhere (outside) is walked');
});

test('activations --points 1e8 is refused naming the bound', () => {
  const r = cli(['activations', '--activation_variant', 'gelu', '--points', '100000000']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--points is 100000000; it must be from 2 to 100000/);
  assert.equal(r.stdout, '');
});

test('dashboard --port 80 as non-root says it needs privileges and suggests a port', (t) => {
  // As root, run the command as the unprivileged user nobody (uid 65534); otherwise as ourselves.
  const asRoot = process.getuid?.() === 0;
  const dir = tmpDir();
  fs.chmodSync(dir, 0o755);
  const r = spawnSync(process.execPath, [BIN, 'dashboard', dir, '--port', '80'], {
    encoding: 'utf8', timeout: 20_000, ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
  });
  if (asRoot && /EACCES.*(normlab\.js|dist)|Cannot find module/.test(r.stderr)) { t.skip('the package is not readable by nobody here'); return; }
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /port 80 needs more privileges than this user has.*--port 8765/);
  noStack(r.stderr);
});

test('temporary files left by a killed process are removed on resume, and said so', () => {
  const out = trainedRun(['--always_save_checkpoint']);
  // What a kill leaves: temporary files of a dead process, an uncommitted checkpoint generation.
  const dead = 999_999_0;
  for (const f of [`summary.json.tmp-${dead}`, `log.csv.tmp-${dead}`, 'ckpt.safetensors.next', 'optim.safetensors.next']) fs.writeFileSync(path.join(out, f), 'partial');
  const r = cli(['train', '--out_dir', out, '--init_from', 'resume', '--data_dir', data, '--max_iters', '6']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /removed an unfinished checkpoint write/);
  assert.match(r.stdout, /removed temporary files left by a killed process/);
  assert.deepEqual(fs.readdirSync(out).filter((f) => /\.tmp-|\.next$|commit/.test(f)), []);
});

test('SIGTERM leaves summary.json "interrupted" with exit 130; resuming a finished run keeps its final losses', async () => {
  const out = tmpDir();
  const child = cliAsync(['train', ...base, '--out_dir', out, '--max_iters', '100000', '--eval_interval', '5']);
  let seen = '';
  await new Promise<void>((resolve) => { child.stdout!.on('data', (d: Buffer) => { seen += d; if (seen.includes('iter 5:')) resolve(); }); });
  child.kill('SIGTERM');
  const code = await new Promise((r) => child.on('close', (c) => r(c)));
  assert.equal(code, 130);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8')).status, 'interrupted');

  const done = trainedRun(['--always_save_checkpoint']); // checkpointed at its last iteration (4)
  const before = JSON.parse(fs.readFileSync(path.join(done, 'summary.json'), 'utf8'));
  const r = cli(['train', '--out_dir', done, '--init_from', 'resume', '--data_dir', data]);
  assert.equal(r.code, 0, r.stderr);
  const after = JSON.parse(fs.readFileSync(path.join(done, 'summary.json'), 'utf8'));
  assert.equal(after.status, 'ok');
  for (const k of ['final_train_loss', 'final_val_loss', 'best_val_loss']) assert.equal(after[k], before[k], k);
});

test('a run that diverges before its first checkpoint says none had been saved', () => {
  const out = tmpDir();
  const r = cli(['train', ...base, '--out_dir', out, '--max_iters', '30', '--eval_interval', '100', '--learning_rate', '1e30']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /diverged/);
  assert.doesNotMatch(r.stderr, /iter 0\)/);
  assert.match(r.stderr, /no checkpoint had been saved/);
  assert.ok(!fs.existsSync(path.join(out, 'ckpt.safetensors')));
});

test('a stale lock taken over by eight processes at once: exactly one wins, every round', async () => {
  const lockJs = path.join(ROOT, 'dist', 'src', 'util', 'lock.js');
  // A winner holds the lock until every contender has answered (its stdin is closed then), so
  // every loser meets a live holder however slowly the processes start on a loaded machine.
  const script = `import(${JSON.stringify(lockJs)}).then((m) => {
    try { m.acquireLock(process.argv[1], 'test'); console.log('won'); process.stdin.resume(); process.stdin.on('end', () => process.exit(0)); }
    catch (e) { console.log(/in use by/.test(e.message) ? 'lost' : 'error: ' + e.message); }
  });`;
  for (let round = 0; round < 6; round++) {
    const dir = tmpDir();
    // A lock left by a process that is gone (pid 2^22 + round is beyond Linux's pid_max default).
    fs.writeFileSync(path.join(dir, '.normlab.lock'), JSON.stringify({ pid: 4194304 + round, host: hostname(), command: 'train', started: 'x' }));
    const children = Array.from({ length: 8 }, () => spawn(process.execPath, ['--input-type=module', '-e', script, dir], { stdio: ['pipe', 'pipe', 'inherit'] }));
    const outs = await Promise.all(children.map((c) => new Promise<string>((resolve) => {
      let out = '';
      c.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('\n')) resolve(out.trim()); });
      c.on('close', () => resolve(out.trim()));
    })));
    for (const c of children) c.stdin.end();
    await Promise.all(children.map((c) => (c.exitCode !== null ? null : new Promise((r) => c.on('close', r)))));
    assert.equal(outs.filter((o) => o === 'won').length, 1, `round ${round}: ${outs.join(', ')}`);
    assert.equal(outs.filter((o) => o === 'lost').length, 7, `round ${round}: ${outs.join(', ')}`);
    assert.ok(!fs.existsSync(path.join(dir, '.normlab.lock.takeover')), 'no takeover file left');
  }
});
