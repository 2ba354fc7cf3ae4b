// Nothing lost, nothing stalled (docs/safety.md): each test is named after a finding of a hostile or
// careless use, and fails on the code that had it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { diskOf } from '../src/engine/files.js';
import { BIN, cli, readLog, ROOT, TINY_MODEL, tinyData, tmpDir } from './helpers.js';

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
