// The memory estimate (src/model/memory.ts) counts exactly the arrays the model and its optimizer
// allocate, for every placement of the norms, dropout, gated and random activations and untied heads,
// and refuses sizes that cannot fit before allocating, naming the largest part.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tsBackend } from '../src/engine/kernels/ts/ts-backend.js';
import type { Backend } from '../src/engine/backend.js';
import { GPT } from '../src/model/gpt.js';
import { AdamW } from '../src/train/optimizer.js';
import { checkMemory, estimateMemory, RUNTIME_BYTES, STOCHASTIC_PART } from '../src/model/memory.js';
import { MetricCtx } from '../src/nn/params.js';
import { Rng } from '../src/engine/rng.js';
import type { ModelConfig } from '../src/config/config-types.js';
import { tinyConfig } from './helpers.js';

/** Floats the model and AdamW allocate, counted through the backend's alloc hook. */
function allocated(cfg: ModelConfig, B: number, T: number): number {
  let floats = 0;
  const be: Backend = { ...tsBackend, alloc: (n: number) => { floats += n; return new Float32Array(n); }, free: () => {} };
  const model = new GPT(cfg, be, { maxB: B, maxT: T, seed: 1 });
  new AdamW(model.store);
  return floats;
}

const CASES: [string, Partial<ModelConfig>][] = [
  ['pre-LN, gelu (the defaults)', {}],
  ['post-LN and peri-LN, layernorm with bias', { use_pre_ln: false, use_post_ln: true, use_peri_ln: true, norm_variant_attn: 'layernorm', bias: true }],
  ['dropout, untied head', { dropout: 0.1, wte_weight_tying: false }],
  ['glu (gated) and rrelu (kept, not recomputed) per layer', { n_layer: 2, activation_variant_layerlist: ['glu', 'rrelu'] }],
  ['krmsnorm and learned_spline (saved statistics)', { norm_variant_attn: 'krmsnorm', activation_variant: 'learned_spline' }],
  ['krmsnorm with random selection (norm outputs kept, not recomputed)', { norm_variant_attn: 'krmsnorm', krmsnorm_selection_type: 'random' }],
  ['a gated activation after a plain one (the widest MLP input sizes the shared buffer)', { n_layer: 2, activation_variant_layerlist: ['gelu', 'glu'] }],
  ['a softmax variant (its parameters; no T x T buffer)', { softmax_variant_attn: 'consmax_v2', dropout: 0.1 }],
  ['every MLP and attention activation point quantized', { quantize_mlp_act: true, quantize_attn_act: true }],
  ['quantized linears, embeddings and in-attention points, stochastic, with dropout',
    { linear_variant_attn: 'quantized_linear', linear_variant_mlp: 'quantized_linear', quantize_wte: true, quantize_wpe: true,
      quantize_attn_act_softmax_input: true, quantize_attn_act_pv_mult_p_input: true, activations_quant_method: 'stochastic_quant', dropout: 0.1 }],
  ['quantized attention input with post-LN only (no pre-LN outputs)', { use_pre_ln: false, use_post_ln: true, quantize_attn_act_input: true, quantize_mlp_act_input: true }],
];

test('memory estimate: the arrays it counts are exactly those the model and AdamW allocate', () => {
  for (const [label, over] of CASES) {
    const B = 3, T = 5, cfg = tinyConfig({ block_size: T, ...over });
    const est = estimateMemory(cfg, { batch: B, block: T, training: true, threads: 2 });
    const counted = est.parts.filter((p) => !/^workspace|^runtime/.test(p.name) && p.name !== STOCHASTIC_PART).reduce((s, p) => s + p.bytes, 0);
    assert.equal(counted, 4 * allocated(cfg, B, T), label);
    assert.ok(est.parts.some((p) => p.name.startsWith('runtime') && p.bytes === RUNTIME_BYTES));
  }
});

test('memory estimate: stochastic rounding\'s uniforms are those its quantizers hold after a training step', () => {
  const over: Partial<ModelConfig> = { linear_variant_mlp: 'quantized_linear', quantize_wte: true, quantize_mlp_act: true, quantize_attn_act_input: true,
    activations_quant_method: 'stochastic_quant', quantize_linear_method: 'stochastic_quant', quantize_wte_method: 'stochastic_quant', quantization_warmup_iters: 0 };
  const B = 3, T = 5, cfg = tinyConfig({ block_size: T, ...over });
  const model = new GPT(cfg, tsBackend, { maxB: B, maxT: T, seed: 1 });
  const idx = Int32Array.from({ length: B * T }, (_, i) => i % cfg.vocab_size);
  const ctx = new MetricCtx(true, new Rng(1));
  model.prepare(ctx);
  model.forward(idx, idx, B, T, ctx, 1);
  model.backward(1, ctx);
  const held = model.quantizer.floats + model.blocks.reduce((s, b) => s + b.quantizer.floats, 0);
  const part = estimateMemory(cfg, { batch: B, block: T, training: true, threads: 2 }).parts.find((p) => p.name === STOCHASTIC_PART);
  assert.ok(held > 0);
  assert.equal(part?.bytes, 4 * held);
});

test('memory estimate: activations grow linearly with the context at a fixed batch x block', () => {
  const cfg = (T: number) => tinyConfig({ n_layer: 12, n_head: 12, n_embd: 768, vocab_size: 50304, block_size: T });
  const act = (T: number) => estimateMemory(cfg(T), { batch: 4096 / T, block: T, training: true, threads: 2 }).parts
    .filter((p) => p.name.startsWith('activations')).reduce((s, p) => s + p.bytes, 0);
  // Only wpe (block_size x C, a parameter) and the row statistics' (B NH T = constant) share change: the
  // activations are the same at every context length.
  for (const T of [512, 1024, 2048, 4096]) assert.equal(act(T), act(256));
});

test('memory estimate: a size that cannot fit is refused before allocating, naming the largest part', () => {
  const cfg = tinyConfig({ n_layer: 12, n_head: 12, n_embd: 768, vocab_size: 50304, block_size: 4096 });
  const before = process.env.NORMLAB_MEMORY_LIMIT;
  process.env.NORMLAB_MEMORY_LIMIT = String(4e9);
  try {
    assert.throws(() => checkMemory(cfg, { batch: 8, block: 4096, training: true }, 'this model'),
      /this model needs about [\d.]+ GB of memory to train .*more than this machine's [\d.]+ GB; the largest part is activations: MLP hidden layer, [\d.]+ GB: choose smaller sizes/);
    // 124M at 4096 tokens fits in 24 GB.
    process.env.NORMLAB_MEMORY_LIMIT = String(24e9);
    assert.ok(checkMemory(cfg, { batch: 1, block: 4096, training: true }, 'this model').bytes < 8e9);
  } finally {
    if (before === undefined) delete process.env.NORMLAB_MEMORY_LIMIT; else process.env.NORMLAB_MEMORY_LIMIT = before;
  }
});
