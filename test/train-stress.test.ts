// The whole program on an oversubscribed machine: more native trainings at once than cores, each
// with a 4-thread pool, plus a CPU hog. Every run must finish, and each run's log (losses, learning
// rates, evaluations) and final weights must equal bit for bit those of the same run alone: which thread runs which
// chunk may change with the load, the results may not (docs/native.md, "The thread pool"). With
// the pool this replaced, such runs froze at 100% CPU (a caller waiting forever in pool_run).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { loadNativeBackend, nativeBackendError } from '../src/engine/kernels/native/native-backend.js';
import { BIN, readLog, tinyData, tmpDir } from './helpers.js';

const skip = loadNativeBackend() ? false : `native backend not built (${nativeBackendError()}): run \`npm run build:native\``;
const HANG_S = 300; // far beyond a normal run (a few seconds); only a frozen run gets there
// Everything here runs at nice 10, so that the tests running beside this one keep their share of the cores.

// Sizes where the pool splits the work: attention pairs, gelu, the MLP's matrix products.
const ITERS = 150;
const MODEL = ['--dataset', 'tiny', '--n_layer', '2', '--n_head', '2', '--n_embd', '64', '--block_size', '32',
  '--batch_size', '8', '--max_iters', String(ITERS), '--eval_interval', '75', '--eval_iters', '2', '--log_interval', '1',
  '--dropout', '0.1', '--backend', 'native', '--no-progress', '--no-tensorboard_log'];

type Run = { log: Record<string, number>[]; weights: Buffer };

/** Runs one training; resolves with its log (without the timing field) and final weights, rejects when it fails or hangs. */
function train(data: string, seed: number): Promise<Run> {
  const out = tmpDir();
  const child = spawn('nice', ['-n', '10', process.execPath, BIN, 'train', ...MODEL, '--data_dir', data, '--seed', String(seed), '--out_dir', out],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NORMLAB_THREADS: '4' } });
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`seed ${seed}: no exit after ${HANG_S} s (hung)`)); }, HANG_S * 1000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`seed ${seed}: exit ${code ?? signal}\n${stderr}`));
      else resolve({ log: readLog(out).map(({ ms, ...row }) => row), weights: fs.readFileSync(path.join(out, 'final.safetensors')) });
    });
  });
}

test('trainings at once on an oversubscribed machine all finish, with the same bits as alone', { skip }, async () => {
  const data = tinyData();
  const seeds = [1, 2];
  const alone: Run[] = [];
  for (const seed of seeds) alone.push(await train(data, seed));
  const runs = os.availableParallelism() + 4;
  const hog = spawn('nice', ['-n', '10', process.execPath, '-e', 'for (;;) {}'], { stdio: 'ignore' });
  try {
    const loaded = await Promise.all(Array.from({ length: runs }, (_, i) => train(data, seeds[i % seeds.length])));
    loaded.forEach((run, i) => {
      const ref = alone[i % seeds.length], what = `run ${i} (seed ${seeds[i % seeds.length]})`;
      assert.deepEqual(run.log, ref.log, `${what}: the log differs from the same run alone`);
      assert.ok(run.weights.equals(ref.weights), `${what}: the final weights differ from the same run alone`);
    });
  } finally {
    hog.kill('SIGKILL');
  }
  assert.notDeepEqual(alone[0].log, alone[1].log);
  assert.equal(alone[0].log.filter((r) => 'loss' in r).length, ITERS);
});
