#!/usr/bin/env node
// Figures for sweeps over several machines (docs/queue.md), all on this machine, against a local
// sweep of the same file measured in the same run:
//   - a 4-run and a 12-run sweep of tiny models through 3 workers, one SIGKILLed mid-run: each
//     run exactly once in results.csv; wall time against the local sweep;
//   - queue overhead: jobs per second with 1-iteration runs and 4 workers, and the added seconds
//     per run with 1 worker against the local sweep.
// Needs redis-server on PATH and a built package (npm run build). Usage: node tools/queue_bench.mjs
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const BIN = join(ROOT, 'bin', 'normlab.js');
const dir = mkdtempSync(join(tmpdir(), 'normlab-qbench-'));
const data = join(dir, 'data');
const port = await new Promise((r) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
const url = `redis://127.0.0.1:${port}`;
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''], { stdio: 'ignore' });
redis.unref();
process.on('exit', () => redis.kill('SIGTERM'));
const env = { ...process.env, NORMLAB_QUEUE_LOCK_MS: '2000' };

function run(args) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`normlab ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
function bg(args) {
  const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  p.out = '';
  p.stdout.setEncoding('utf8').on('data', (s) => { p.out += s; });
  p.stderr.setEncoding('utf8').on('data', (s) => { p.out += s; });
  p.done = new Promise((r) => p.on('close', r));
  return p;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function rows(sweepDir) {
  const [head, ...lines] = readFileSync(join(sweepDir, 'results.csv'), 'utf8').trim().split('\n');
  const keys = head.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [keys[i], v])));
}
const tiny = { n_layer: 1, n_head: 2, n_embd: 16, block_size: 16, batch_size: 4, eval_iters: 2, log_interval: 10, tensorboard_log: false, progress: false };

function local(file, name) {
  const t0 = Date.now();
  run(['sweep', file, '--sweep_dir', join(dir, name), '--quiet', '--data_dir', data]);
  return (Date.now() - t0) / 1000;
}

/** Queue sweep with `n` workers; kill: SIGKILL one worker once a run of it has a checkpoint. */
async function queued(file, name, n, kill) {
  const work = join(dir, `work-${name}`);
  const workers = Array.from({ length: n }, () => bg(['worker', '--queue', url, '--work_dir', work, '--data_dir', data]));
  await sleep(3000); // let the workers start (Node, BullMQ), as they would be on a cluster waiting for work
  const t0 = Date.now();
  const follower = bg(['sweep', file, '--sweep_dir', join(dir, name), '--queue', url, '--quiet']);
  let killed = null;
  if (kill) {
    while (!killed && follower.exitCode === null) {
      for (const w of workers) {
        for (const m of w.out.matchAll(/training in (\S+)/g)) {
          if (existsSync(join(m[1], 'ckpt.safetensors')) && !existsSync(join(m[1], 'final.safetensors'))) { w.kill('SIGKILL'); killed = m[1]; break; }
        }
        if (killed) break;
      }
      await sleep(20);
    }
  }
  const code = await follower.done;
  const wall = (Date.now() - t0) / 1000;
  for (const w of workers) w.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.done));
  if (code !== 0) throw new Error(`follower exited ${code}:\n${follower.out}`);
  const r = rows(join(dir, name));
  return { wall, rows: r.length, unique: new Set(r.map((x) => x.name)).size, ok: r.filter((x) => x.status === 'ok').length, killed };
}

run(['prepare', 'shakespeare_char', '--data_dir', data]);
for (const [name, body] of [
  ['s4', { ...tiny, max_iters: 1500, eval_interval: 250, always_save_checkpoint: true, activation_variant: ['gelu', 'relu'], norm_variant_attn: ['rmsnorm', 'layernorm'] }],
  ['s12', { ...tiny, max_iters: 1500, eval_interval: 250, always_save_checkpoint: true, activation_variant: ['gelu', 'relu', 'silu'], norm_variant_attn: ['rmsnorm', 'layernorm'], n_embd: [16, 32] }],
]) {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(body));
  const l = local(file, `${name}-local`);
  const q = await queued(file, `${name}-queue`, 3, true);
  const runs = name === 's4' ? 4 : 12;
  console.log(`${runs}-run sweep: local ${l.toFixed(1)} s; queue, 3 workers, one SIGKILLed mid-run (${q.killed ? 'killed' : 'NOT killed'}): ` +
    `${q.wall.toFixed(1)} s (${(l / q.wall).toFixed(2)}x); results.csv ${q.rows} rows, ${q.unique} distinct, ${q.ok} ok`);
}

// Overhead: 1-iteration runs.
const N = 24;
const file1 = join(dir, 'one.json');
writeFileSync(file1, JSON.stringify({ ...tiny, max_iters: 1, eval_interval: 1, eval_iters: 1, seed: { range: { start: 1, end: N, step: 1 } } }));
const l1 = local(file1, 'one-local');
const q1 = await queued(file1, 'one-q1', 1, false);
const q4 = await queued(file1, 'one-q4', 4, false);
console.log(`${N} runs of 1 iteration: local ${l1.toFixed(1)} s (${(l1 / N).toFixed(2)} s/run); queue, 1 worker ${q1.wall.toFixed(1)} s ` +
  `(+${((q1.wall - l1) / N).toFixed(2)} s/run over local); queue, 4 workers ${q4.wall.toFixed(1)} s = ${(N / q4.wall).toFixed(2)} jobs/s ` +
  `(local: ${(N / l1).toFixed(2)} runs/s); rows ${q1.rows}/${q4.rows}`);
process.exit(0);
