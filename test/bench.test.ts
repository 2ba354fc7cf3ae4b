// `normlab bench` in process: each timed run opens the dataset's two token files and closes them
// again (--variants makes about 30 runs in one process; --gemm one per preset).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { benchOnce } from '../src/cli/bench.js';
import { recordShapes } from '../src/cli/bench_gemm.js';
import { defaultConfig } from '../src/config/config.js';
import type { TrainConfig } from '../src/config/config-types.js';
import { loadNativeBackend } from '../src/engine/kernels/native/native-backend.js';
import { tinyData } from './helpers.js';

const openFds = () => fs.readdirSync('/proc/self/fd').length;
const skip = !fs.existsSync('/proc/self/fd') && 'needs /proc/self/fd (Linux)';

function tinyConfig(dataDir: string): TrainConfig {
  return { ...defaultConfig(), data_dir: dataDir, dataset: 'tiny', n_layer: 1, n_head: 2, n_embd: 16, block_size: 16, batch_size: 2 } as TrainConfig;
}

test('benchOnce leaves no file descriptor open: the same count after three runs as before', { skip }, () => {
  const data = tinyData(), cfg = tinyConfig(data);
  try {
    benchOnce(cfg, 'ts', 1, 0, 0, 'warm-up'); // loads modules once
    const before = openFds();
    for (let i = 0; i < 3; i++) benchOnce(cfg, 'ts', 1, 0, 4, `run ${i}`);
    assert.equal(openFds(), before);
  } finally {
    fs.rmSync(data, { recursive: true, force: true });
  }
});

test('bench --gemm records the product shapes and leaves no file descriptor open', { skip: skip || (!loadNativeBackend() && 'native backend not built') }, () => {
  const data = tinyData(), cfg = tinyConfig(data), native = loadNativeBackend()!;
  try {
    recordShapes(cfg, native);
    const before = openFds();
    for (let i = 0; i < 3; i++) assert.ok(recordShapes(cfg, native).length > 0);
    assert.equal(openFds(), before);
  } finally {
    fs.rmSync(data, { recursive: true, force: true });
  }
});
