// The learning-rate schedule (docs/variants.md, "Optimizer"): nanoGPT's warm-up lr * (it + 1) / (warmup + 1),
// so the first update learns (the framework's lr * it / warmup is 0 there), then the cosine down to min_lr.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { learningRate } from '../src/train/schedule.js';
import { cli, readLog, tinyData, tmpDir, TINY_MODEL } from './helpers.js';

const C = { learning_rate: 1e-2, min_lr: 1e-3, decay_lr: true, warmup_iters: 4, lr_decay_iters: 10 };
const close = (got: number, want: number, what: string) => assert.ok(Math.abs(got - want) <= 1e-15, `${what}: ${got} != ${want}`);

test('warm-up: the first update runs at lr / (warmup_iters + 1), not 0, rising by the same step to lr', () => {
  // 1e-2 * (it + 1) / 5 for it = 0..3, then the cosine starts at lr itself (ratio 0)
  [2e-3, 4e-3, 6e-3, 8e-3, 1e-2].forEach((want, it) => close(learningRate(it, C), want, `iteration ${it}`));
});

test('after warm-up: cosine to min_lr at lr_decay_iters, min_lr after; constant without --decay_lr', () => {
  close(learningRate(7, C), 1e-3 + 0.5 * (1e-2 - 1e-3), 'half way: (7 - 4) / (10 - 4) = 0.5');
  close(learningRate(10, C), 1e-3, 'lr_decay_iters');
  close(learningRate(11, C), 1e-3, 'after');
  close(learningRate(0, { ...C, decay_lr: false }), 1e-2, 'no decay');
  close(learningRate(0, { ...C, warmup_iters: 0 }), 1e-2, 'no warm-up: the cosine from lr at iteration 0');
});

test('a --decay_lr run logs a learning rate above 0 at iteration 0', () => {
  const out = tmpDir();
  const r = cli(['train', ...TINY_MODEL, '--data_dir', tinyData(), '--out_dir', out, '--max_iters', '2', '--eval_interval', '2',
    '--decay_lr', '--warmup_iters', '4', '--lr_decay_iters', '10', '--learning_rate', '1e-2', '--min_lr', '1e-3', '--backend', 'ts']);
  assert.equal(r.code, 0, r.stderr);
  const lrs = readLog(out).filter((row) => 'loss' in row).map((row) => row.lr);
  assert.equal(lrs.length, 2);
  close(lrs[0], 2e-3, 'iteration 0');
  close(lrs[1], 4e-3, 'iteration 1');
});
