// Whole-model gradient checks (float64) and parameter names for a 2-layer GPT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/engine/rng.js';
import { tsBackend } from '../src/engine/kernels/ts/ts-backend.js';
import { defaultConfig } from '../src/config/config.js';
import type { ModelConfig } from '../src/config/config-types.js';
import { GPT } from '../src/model/gpt.js';
import { blockLayout } from '../src/model/block.js';
import { MetricCtx } from '../src/nn/params.js';
import { compare, type GradcheckResult } from './gradcheck.js';
import { tinyConfig } from './helpers.js';


function gradcheckModel(cfg: ModelConfig, seed = 1): GradcheckResult {
  const B = 2, T = 4;
  const model = new GPT(cfg, tsBackend, { dtype: 'float64', maxB: B, maxT: T, seed });
  // perturb the norm gains etc. so their gradients are exercised
  const rng = new Rng(seed + 7);
  for (const p of model.store.params) if (!p.decay) for (let i = 0; i < p.data.length; i++) p.data[i] += 0.1 * rng.normal();
  // scale up weights so the check is not dominated by near-zero products
  for (const p of model.store.params) if (p.decay) for (let i = 0; i < p.data.length; i++) p.data[i] *= 10;
  const idx = new Int32Array(B * T), tg = new Int32Array(B * T);
  for (let i = 0; i < B * T; i++) { idx[i] = rng.int(cfg.vocab_size); tg[i] = rng.int(cfg.vocab_size); }
  const ctx = () => new MetricCtx(true, new Rng(99));
  const loss = () => model.forward(idx, tg, B, T, ctx());
  loss();
  model.store.zeroGrad();
  model.backward(1, ctx());
  const res: GradcheckResult = { maxErr: 0, worst: '' };
  for (const p of model.store.params) {
    if (!p.learned) continue;
    compare(res, p.name, p.data, p.grad, loss, 1e-5);
  }
  return res;
}

const placements: [string, Partial<ModelConfig>][] = [
  ['pre', {}],
  ['post', { use_pre_ln: false, use_post_ln: true }],
  ['peri', { use_pre_ln: false, use_peri_ln: true }],
  ['pre+post+peri', { use_post_ln: true, use_peri_ln: true }],
  ['none', { use_pre_ln: false }],
];

for (const [name, over] of placements) {
  test(`2-layer GPT gradient check, placement ${name}`, () => {
    const res = gradcheckModel(tinyConfig(over));
    assert.ok(res.maxErr < 1e-6, res.worst);
  });
}

test('2-layer GPT gradient check: layernorm with bias, relu, untied head, dropout', () => {
  const res = gradcheckModel(tinyConfig({
    norm_variant_attn: 'layernorm', norm_variant_output: 'layernorm', bias: true, activation_variant: 'relu',
    wte_weight_tying: false, dropout: 0.2, mlp_size: 12,
  }));
  assert.ok(res.maxErr < 1e-6, res.worst);
});

test('parameter names and shapes follow the reference state dict', () => {
  const cfg = tinyConfig({ use_post_ln: true, use_peri_ln: true, bias: true, norm_variant_attn: 'layernorm' });
  const model = new GPT(cfg, tsBackend, { maxB: 1, maxT: 5, seed: 1 });
  const shapes = Object.fromEntries(model.store.params.map((p) => [p.name, p.shape.join('x')]));
  const expect: Record<string, string> = {
    'transformer.wte.weight': '7x8', 'transformer.wpe.weight': '5x8',
    'transformer.h.0.pre_ln_attn.weight': '8', 'transformer.h.0.pre_ln_attn.bias': '8',
    'transformer.h.0.pre_ln_mlp.weight': '8', 'transformer.h.1.post_ln_attn.weight': '8',
    'transformer.h.1.post_ln_mlp.weight': '8', 'transformer.h.1.out_ln_attn.weight': '8',
    'transformer.h.1.out_ln_mlp.weight': '8',
    'transformer.h.0.attn.c_attn_q.weight': '8x8', 'transformer.h.0.attn.c_attn_q.bias': '8',
    'transformer.h.0.attn.c_attn_k.weight': '8x8', 'transformer.h.0.attn.c_attn_v.weight': '8x8',
    'transformer.h.0.attn.c_proj.weight': '8x8', 'transformer.h.0.attn.c_proj.bias': '8',
    'transformer.h.1.mlp.c_fc.weight': '32x8', 'transformer.h.1.mlp.c_fc.bias': '32',
    'transformer.h.1.mlp.c_proj.weight': '8x32', 'transformer.ln_f.gain': '8',
  };
  for (const [k, v] of Object.entries(expect)) assert.equal(shapes[k], v, k);
  assert.equal(shapes['lm_head.weight'], undefined, 'tied lm_head is not a separate parameter');
  // every weight of 2+ dims decays, nothing else does
  for (const p of model.store.params) assert.equal(p.decay, p.shape.length >= 2, p.name);
});

test('init: linear weights std 0.02, c_proj std 0.02/sqrt(2 n_layer), biases 0, gains 1', () => {
  const cfg = { ...defaultConfig(), vocab_size: 65, n_layer: 4, n_head: 4, n_embd: 128, block_size: 64, bias: true };
  const model = new GPT(cfg, tsBackend, { maxB: 1, maxT: 1, seed: 3 });
  const std = (name: string) => {
    const d = model.store.get(name)!.data;
    let s = 0;
    for (const v of d) s += v * v;
    return Math.sqrt(s / d.length);
  };
  assert.ok(Math.abs(std('transformer.h.0.mlp.c_fc.weight') - 0.02) < 0.001);
  assert.ok(Math.abs(std('transformer.h.0.attn.c_proj.weight') - 0.02 / Math.sqrt(8)) < 0.0005);
  assert.equal(std('transformer.h.0.attn.c_proj.bias'), 0);
  assert.ok(model.store.get('transformer.ln_f.gain')!.data.every((v) => v === 1));
});

test('block layout line names every norm that is present', () => {
  const line = blockLayout(tinyConfig({ use_post_ln: true }));
  assert.match(line, /pre_ln\[rmsnorm\]\(x\)/);
  assert.match(line, /post_ln\[rmsnorm\]/);
  assert.doesNotMatch(blockLayout(tinyConfig()), /post_ln/);
});
