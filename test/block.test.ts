// Per-layer variants (src/model/block.ts: blockNorm, blockActivation): the gradient check of a model
// with a different activation and norm in each block, and the whole life of such a run from the
// command line: layout line, training, checkpoint metadata, resume, sample, activations --layer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng } from '../src/engine/rng.js';
import { tsBackend } from '../src/engine/kernels/ts/ts-backend.js';
import { GPT } from '../src/model/gpt.js';
import { blockActivation, blockLayout, blockNorm } from '../src/model/block.js';
import { MetricCtx } from '../src/nn/params.js';
import { loadTensors } from '../src/train/checkpoint.js';
import { expandSweeps } from '../src/sweep/grammar.js';
import { planSweep } from '../src/sweep/plan.js';
import { compare, type GradcheckResult } from './gradcheck.js';
import { cli, readLog, tinyConfig, tinyData, tmpDir, TINY_MODEL } from './helpers.js';

test('a shorter per-layer list repeats over the layers; None means the every-layer flag', () => {
  const cfg = tinyConfig({ n_layer: 5, activation_variant_layerlist: ['relu', 'gelu'], norm_variant_attn: 'layernorm' });
  assert.deepEqual([0, 1, 2, 3, 4].map((i) => blockActivation(cfg, i)), ['relu', 'gelu', 'relu', 'gelu', 'relu']);
  assert.deepEqual([0, 4].map((i) => blockNorm(cfg, i)), ['layernorm', 'layernorm']);
  assert.equal(blockLayout(tinyConfig()), 'block: x = x + attn(pre_ln[rmsnorm](x)); x = x + mlp(pre_ln[rmsnorm](x)); final: ln_f[rmsnorm]');
  assert.match(blockLayout(cfg), /^block 0: .*mlp\[relu\].* \| block 1: .*mlp\[gelu\]/);
});

test('per-layer model (relu, gelu, learned_spline; rmsnorm, layernorm, prmsnorm) passes the float64 gradient check', () => {
  const cfg = tinyConfig({
    n_layer: 3, activation_variant_layerlist: ['relu', 'gelu', 'learned_spline'], lsa_num_knots: 6,
    norm_variant_attn_layerlist: ['rmsnorm', 'layernorm', 'prmsnorm'], prmsnorm_pct: 0.5,
  });
  const B = 2, T = 4, rng = new Rng(3);
  const model = new GPT(cfg, tsBackend, { dtype: 'float64', maxB: B, maxT: T, seed: 1 });
  for (const p of model.store.params) if (!p.decay) for (let i = 0; i < p.data.length; i++) p.data[i] += 0.1 * rng.normal();
  for (const p of model.store.params) if (p.decay) for (let i = 0; i < p.data.length; i++) p.data[i] *= 10;
  const names = model.store.params.map((p) => p.name);
  assert.ok(names.includes('transformer.h.2.mlp.activation_variant.x_vals'));
  assert.ok(!names.some((n) => n.startsWith('transformer.h.0.mlp.activation_variant.')), 'relu has no parameters');
  assert.ok(names.includes('transformer.h.1.pre_ln_attn.weight'), 'layernorm names its gain weight');
  const idx = new Int32Array(B * T), tg = new Int32Array(B * T);
  for (let i = 0; i < B * T; i++) { idx[i] = rng.int(cfg.vocab_size); tg[i] = rng.int(cfg.vocab_size); }
  const loss = () => model.forward(idx, tg, B, T, new MetricCtx(true, new Rng(9)));
  loss();
  model.store.zeroGrad();
  model.backward(1, new MetricCtx(true, new Rng(9)));
  const res: GradcheckResult = { maxErr: 0, worst: '' };
  for (const p of model.store.params) if (p.learned) compare(res, p.name, p.data, p.grad, loss, 1e-5);
  assert.ok(res.maxErr < 1e-6, res.worst);
});

test('per-layer run from the command line: layout, checkpoint metadata, resume, sample, activations --layer', () => {
  const data = tinyData();
  const args = [...TINY_MODEL, '--data_dir', data, '--n_layer', '3', '--activation_variant_layerlist', 'relu', 'gelu', 'learned_spline',
    '--eval_interval', '5', '--always_save_checkpoint'];
  const full = tmpDir(), cut = tmpDir();
  const r = cli(['train', ...args, '--out_dir', full, '--max_iters', '10']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /block 0: .*mlp\[relu\].*block 2: .*mlp\[learned_spline\]/);
  const { metadata } = loadTensors(path.join(full, 'ckpt.safetensors'));
  assert.deepEqual(JSON.parse(metadata.config!).activation_variant_layerlist, ['relu', 'gelu', 'learned_spline']);

  // A run stopped at 5 and resumed to 10 matches the uninterrupted one.
  assert.equal(cli(['train', ...args, '--out_dir', cut, '--max_iters', '5']).code, 0);
  const resumed = cli(['train', '--out_dir', cut, '--init_from', 'resume', '--data_dir', data, '--max_iters', '10', '--no-progress']);
  assert.equal(resumed.code, 0, resumed.stderr);
  const noMs = (rows: Record<string, number>[]) => rows.map(({ ms, ...rest }) => rest);
  assert.deepEqual(noMs(readLog(cut)), noMs(readLog(full)));

  const s = cli(['sample', '--out_dir', full, '--num_samples', '1', '--max_new_tokens', '20', '--start', 'ROMEO']);
  assert.equal(s.code, 0, s.stderr);
  assert.ok(s.stdout.startsWith('ROMEO'));
  assert.match(s.stderr, /ckpt\.safetensors: block 0: .*mlp\[relu\].*block 2: .*mlp\[learned_spline\]/, 'sample names the per-layer wiring');

  const ckpt = path.join(full, 'ckpt.safetensors');
  const spline = cli(['activations', '--checkpoint', ckpt, '--layer', '2', '--points', '5']);
  assert.equal(spline.code, 0, spline.stderr);
  assert.equal(spline.stdout.split('\n')[0], 'x,initial,learned');
  const relu = cli(['activations', '--checkpoint', ckpt, '--layer', '0', '--points', '3']);
  assert.equal(relu.code, 0, relu.stderr);
  assert.deepEqual(relu.stdout.trim().split('\n').slice(1).map((l) => l.split(',').map(Number)), [[-5, 0, 0], [0, 0, 0], [5, 5, 5]]);
  const cost = cli(['cost', '--data_dir', data, ...TINY_MODEL.slice(2), '--n_layer', '3', '--activation_variant_layerlist', 'relu', 'gelu', 'learned_spline']);
  assert.equal(cost.code, 0, cost.stderr);
  assert.match(cost.stdout, /^2 +activation +learned_spline/m);
  assert.ok(fs.existsSync(ckpt));
});

test('sweeps take per-layer lists as values: a string or a list is one value, a list of them one run each', () => {
  const p = planSweep(expandSweeps([{ n_layer: 2, activation_variant_layerlist: ['relu gelu', ['gelu', 'relu']], norm_variant_attn_layerlist: 'layernorm,rmsnorm' }]));
  assert.deepEqual(p.runs.map((r) => r.config.activation_variant_layerlist), [['relu', 'gelu'], ['gelu', 'relu']]);
  assert.deepEqual(p.runs.map((r) => r.config.norm_variant_attn_layerlist), [['layernorm', 'rmsnorm'], ['layernorm', 'rmsnorm']]);
  assert.deepEqual(p.varied, ['activation_variant_layerlist']);
  assert.deepEqual(p.runs.map((r) => r.name), ['activation_variant_layerlist-relu_gelu', 'activation_variant_layerlist-gelu_relu']);
  assert.throws(() => planSweep(expandSweeps([{ activation_variant_layerlist: [['relu', 'nope']] }])), /nope/);
});
