// The fused LM head and cross-entropy (docs/memory.md, "LM head"): the loss and gradients do not
// depend on how many rows of logits are held at once, nor on whether the training forward computed
// the head's gradient (fused) or backward recomputed the logits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/engine/rng.js';
import { tsBackend } from '../src/engine/kernels/ts/ts-backend.js';
import { GPT, headRows } from '../src/model/gpt.js';
import { MetricCtx } from '../src/nn/params.js';
import { tinyConfig } from './helpers.js';

function run(rows: number | undefined, fused: boolean, dtype: 'float32' | 'float64') {
  const B = 2, T = 5, cfg = tinyConfig({ block_size: T });
  const model = new GPT(cfg, tsBackend, { dtype, maxB: B, maxT: T, seed: 4, headRows: rows });
  const rng = new Rng(8), idx = new Int32Array(B * T), tg = new Int32Array(B * T);
  for (let i = 0; i < B * T; i++) { idx[i] = rng.int(cfg.vocab_size); tg[i] = rng.int(cfg.vocab_size); }
  model.store.zeroGrad();
  const loss = model.forward(idx, tg, B, T, new MetricCtx(true, new Rng(1)), fused ? 0.5 : undefined);
  model.backward(0.5, new MetricCtx(true, new Rng(2)));
  return { loss, grads: model.store.params.map((p) => Array.from(p.grad)), rows: model.headRows };
}

test('LM head: fused (gradient in forward) and recomputed (in backward) give the same bits', () => {
  for (const rows of [undefined, 3]) {
    const a = run(rows, true, 'float32'), b = run(rows, false, 'float32');
    assert.equal(a.loss, b.loss);
    assert.deepEqual(a.grads, b.grads);
  }
});

test('LM head: blocks of 1, 3 or all 10 rows give the same loss and gradients (float64)', () => {
  const all = run(undefined, true, 'float64');
  assert.equal(all.rows, 10);
  for (const rows of [1, 3]) {
    const r = run(rows, true, 'float64');
    assert.equal(r.rows, rows);
    assert.ok(Math.abs(r.loss - all.loss) < 1e-12);
    r.grads.forEach((g, i) => g.forEach((x, j) => assert.ok(Math.abs(x - all.grads[i][j]) < 1e-12, `param ${i}[${j}]`)));
  }
});

test('LM head: headRows keeps all rows up to 2^24 logits, else the fewest equal blocks under it', () => {
  assert.equal(headRows(16384, 65), 16384); // the default preset: one block
  assert.equal(headRows(1024, 50304), 256); // GPT-2 at block 1024, batch 1: 4 blocks of 256 rows
  assert.ok(headRows(4096, 50304) * 50304 <= 1 << 24);
  assert.equal(headRows(1, 1e9), 1);
});

test('LM head: backward with another loss scale than the fused forward is refused', () => {
  const B = 1, T = 3, cfg = tinyConfig({ block_size: T });
  const model = new GPT(cfg, tsBackend, { maxB: B, maxT: T, seed: 1 });
  const idx = Int32Array.from([1, 2, 3]);
  model.forward(idx, idx, B, T, new MetricCtx(true, new Rng(1)), 0.25);
  assert.throws(() => model.backward(1, new MetricCtx(true, new Rng(1))), /computed the head's gradient for lossScale 0.25/);
});
