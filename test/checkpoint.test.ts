// Loading weights written by other tools: name variants PyTorch writers produce.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tsBackend } from '../src/engine/kernels/ts/ts-backend.js';
import type { LoadedTensor } from '../src/engine/safetensors.js';
import { UserError } from '../src/util/errors.js';
import { GPT } from '../src/model/gpt.js';
import { loadWeights } from '../src/train/checkpoint.js';
import { tinyConfig } from './helpers.js';

function tensorsOf(model: GPT): Map<string, LoadedTensor> {
  return new Map(model.store.params.filter((p) => p.persistent).map((p) => [p.name, { shape: p.shape, data: Float32Array.from(p.data) }]));
}

test('a tied head may arrive as lm_head.weight alone; nanoGPT mask buffers are skipped', () => {
  const src = new GPT(tinyConfig(), tsBackend, { maxB: 1, maxT: 5, seed: 1 });
  const t = tensorsOf(src);
  t.set('lm_head.weight', t.get('transformer.wte.weight')!);
  t.delete('transformer.wte.weight');
  t.set('transformer.h.0.attn.bias', { shape: [1, 1, 5, 5], data: new Float32Array(25) });
  const dst = new GPT(tinyConfig(), tsBackend, { maxB: 1, maxT: 5, seed: 2 });
  loadWeights(dst, t, 'x.safetensors');
  assert.deepEqual(Array.from(dst.wte.data), Array.from(src.wte.data));
});

test('a mismatched file lists what is missing, unexpected and mis-shaped', () => {
  const src = new GPT(tinyConfig({ use_post_ln: true }), tsBackend, { maxB: 1, maxT: 5, seed: 1 });
  const dst = new GPT(tinyConfig({ n_embd: 12, bias: true }), tsBackend, { maxB: 1, maxT: 5, seed: 1 });
  assert.throws(() => loadWeights(dst, tensorsOf(src), 'x.safetensors'), (e: unknown) =>
    e instanceof UserError && /missing \(\d+\): .*c_attn_q\.bias/.test(e.message) &&
    /unexpected \(\d+\): .*post_ln_attn\.gain/.test(e.message) && /mis-shaped .*transformer\.wte\.weight: file \[7,8\] vs model \[7,12\]/.test(e.message));
});
