// Nothing lost, nothing stalled (docs/safety.md): each test is named after a finding of a hostile or
// careless use, and fails on the code that had it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { diskOf } from '../src/engine/files.js';
import { expandSweeps } from '../src/sweep/grammar.js';
import { planSweep } from '../src/sweep/plan.js';
import { runSweep } from '../src/sweep/runner.js';
import { RUN_MARKER } from '../src/sweep/folders.js';
import { BIN, cli, cliAsync, readLog, ROOT, TINY_MODEL, tinyData, tmpDir } from './helpers.js';

const data = tinyData();
const base = [...TINY_MODEL, '--data_dir', data];
const noMs = (rows: Record<string, number>[]) => rows.map(({ ms: _ms, ...r }) => r);
const noStack = (s: string) => assert.doesNotMatch(s, /\n\s+at /, 'no stack trace');

function cliEnv(args: string[], env: Record<string, string>): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', cwd: ROOT, env: { ...process.env, ...env } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('kill during a checkpoint write leaves a run that cannot be resumed', { timeout: 180_000 }, () => {
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

test('a full disk silently truncates the checkpoint and the run exits 0 (injected write error)', () => {
  const out = tmpDir();
  // Writes fail with ENOSPC after 20 kB: the logs fit, the checkpoint (about 400 kB) does not.
  fullDiskCase(out, { NORMLAB_FAIL_WRITES: '20000' }, `disk ${diskOf(out)} is full`);
  const r = cli(['train', '--out_dir', out, '--init_from', 'resume', '--data_dir', data, '--max_iters', '20']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(fs.readFileSync(path.join(out, 'state.json'), 'utf8')).iter, 20);
});

test('a full disk silently truncates the checkpoint and the run exits 0 (small tmpfs)', (t) => {
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

test('a sweep deletes folders it did not create', async () => {
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

test('two trainings in one out_dir are not locked out', async () => {
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
