// Quantization in the model (docs/quantization.md): the warm-up boundary of quantized_linear, the
// scheduler's level, the refusals of the flag checks, and generation through the KV cache
// (same quantized weights as the full forward; per-tensor activation statistics over what one step sees).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/engine/rng.js';
import { tsBackend } from '../src/engine/kernels/ts/ts-backend.js';
import { Generator } from '../src/model/generate.js';
import { GPT } from '../src/model/gpt.js';
import { MetricCtx } from '../src/nn/params.js';
import { quantLevel, quantPlan } from '../src/nn/quant.js';
import { checkTrainConfig, defaultConfig, MODEL_KEYS } from '../src/config/config.js';
import type { ModelConfig } from '../src/config/config-types.js';
import { throwsUser, tinyConfig } from './helpers.js';

function lossAt(cfg: ModelConfig, ctx: MetricCtx): number {
  const model = new GPT(cfg, tsBackend, { dtype: 'float64', maxB: 2, maxT: 5, seed: 3 });
  const idx = Int32Array.from([1, 2, 3, 4, 5, 6, 0, 1, 2, 3]), tg = Int32Array.from([2, 3, 4, 5, 6, 0, 1, 2, 3, 4]);
  return model.forward(idx, tg, 2, 5, ctx);
}
const ctxAt = (training: boolean, iter: number) => Object.assign(new MetricCtx(training, new Rng(1)), { iter });

test('quantized_linear: updates 0..N-1 use float weights, update N on and evaluation quantized ones', () => {
  const float = tinyConfig(), q = tinyConfig({ linear_variant_mlp: 'quantized_linear', quantize_linear_bits: 3, quantization_warmup_iters: 2 });
  const base = lossAt(float, ctxAt(true, 0));
  assert.equal(lossAt(q, ctxAt(true, 0)), base);
  assert.equal(lossAt(q, ctxAt(true, 1)), base, 'update N-1 = 1: still float');
  const quant = lossAt(q, ctxAt(true, 2));
  assert.notEqual(quant, base, 'update N = 2: quantized');
  assert.equal(lossAt(q, ctxAt(false, 0)), quant, 'evaluation: quantized whatever the iteration');
});

test('scheduler level: static keeps the start, linear grows start + (1 - start) iter / full capped at 1, evaluation 1', () => {
  const plan = (o: Partial<ModelConfig>) => quantPlan(tinyConfig({ quantize_mlp_act: true, ...o }));
  assert.equal(quantLevel(plan({}), ctxAt(true, 5)), -1, 'no scheduler: x\' itself');
  const st = plan({ quant_scheduler: 'static', start_quant_level: 0.3, full_quant_iteration: 10 });
  assert.equal(quantLevel(st, ctxAt(true, 0)), 0.3);
  assert.equal(quantLevel(st, ctxAt(true, 99)), 0.3);
  assert.equal(quantLevel(st, ctxAt(false, 0)), 1);
  const lin = plan({ quant_scheduler: 'linear', start_quant_level: 0.2, full_quant_iteration: 8 });
  assert.equal(quantLevel(lin, ctxAt(true, 0)), 0.2);
  assert.ok(Math.abs(quantLevel(lin, ctxAt(true, 4)) - 0.6) < 1e-15);
  assert.equal(quantLevel(lin, ctxAt(true, 8)), 1);
  assert.equal(quantLevel(lin, ctxAt(true, 20)), 1, 'capped (the reference reaches 1.6 + 20/8 here)');
});

test('a scheduler at level 0 trains as float; the quantized forward differs', () => {
  const base = lossAt(tinyConfig(), ctxAt(true, 0));
  assert.equal(lossAt(tinyConfig({ quantize_mlp_act: true, quant_scheduler: 'static', start_quant_level: 0, full_quant_iteration: 5 }), ctxAt(true, 0)), base);
  assert.notEqual(lossAt(tinyConfig({ quantize_mlp_act: true, quantize_mlp_act_bits: 3 }), ctxAt(true, 0)), base);
});

test('refused before any work, naming the flag: bits out of range, bits or methods without their quantizer, scheduler without full_quant_iteration', () => {
  const check = (o: Record<string, unknown>) => checkTrainConfig({ ...defaultConfig(), vocab_size: 7, ...o });
  throwsUser(() => check({ quantize_mlp_act: true, quantize_mlp_act_bits: 17 }), '--quantize_mlp_act_bits is 17', '1 to 16');
  throwsUser(() => check({ quantize_attn_act: true, quantize_attn_act_bits: 0 }), '--quantize_attn_act_bits is 0');
  throwsUser(() => check({ quantize_mlp_act: true, quantize_mlp_act_bits: 1 }), '--quantize_mlp_act_bits is 1 with affine_quant', '2 to 16');
  check({ quantize_mlp_act: true, quantize_mlp_act_bits: 1, activations_quant_method: 'ternary_quant' });
  throwsUser(() => check({ quantize_mlp_act_output_bits: 4 }), '--quantize_mlp_act_output_bits is given but --quantize_mlp_act_output is off');
  check({ quantize_mlp_act: true, quantize_mlp_act_output_bits: 4 });
  throwsUser(() => check({ quantize_mlp_act_bits: 4 }), '--quantize_mlp_act_bits is given but no mlp activation point');
  throwsUser(() => check({ quantize_linear_bits: 4 }), '--quantize_linear_bits is given but no linear layer is quantized_linear');
  throwsUser(() => check({ linear_variant_attn: 'quantized_linear', quantize_linear_mlp_up_bits: 4 }), '--quantize_linear_mlp_up_bits is given but this layer is not quantized_linear');
  check({ linear_variant_mlp_up: 'quantized_linear', quantize_linear_mlp_up_bits: 4 });
  throwsUser(() => check({ quantize_wte_bits: 4 }), '--quantize_wte_bits is given but --quantize_wte is off');
  throwsUser(() => check({ quantize_mlp_act: true, quant_scheduler: 'linear' }), '--quant_scheduler linear needs --full_quant_iteration');
  throwsUser(() => check({ quantize_mlp_act: true, start_quant_level: 0.5 }), 'need --quant_scheduler');
});

test('checkpoint metadata carries the quantization flags', () => {
  for (const k of ['quantize_mlp_act', 'quantize_attn_act_softmax_input_bits', 'linear_variant_q', 'quantization_warmup_iters', 'quantize_wte', 'quant_scheduler']) {
    assert.ok((MODEL_KEYS as readonly string[]).includes(k), k);
  }
});

test('KV cache: quantized weights and tables give the full forward\'s logits at every position; activation points at the first', () => {
  const T = 5, rng = new Rng(4);
  const tokens = Array.from({ length: T }, () => rng.int(7));
  const run = (o: Partial<ModelConfig>, every: boolean) => {
    const cfg = tinyConfig({ block_size: T, ...o });
    const model = new GPT(cfg, tsBackend, { dtype: 'float64', maxB: 1, maxT: T, seed: 3 });
    const gen = new Generator(model), V = cfg.vocab_size;
    for (let L = 1; L <= (every ? T : 1); L++) {
      const cached = Array.from(gen.cachedLogits(tokens.slice(0, L), new MetricCtx(false, new Rng(1))));
      model.forward(Int32Array.from(tokens.slice(0, L)), null, 1, L, new MetricCtx(false, new Rng(1)));
      const full = Array.from(model.logitsAt(new Float64Array(V), L - 1));
      for (let i = 0; i < V; i++) assert.ok(Math.abs(cached[i] - full[i]) <= 1e-9 * (1 + Math.abs(full[i])), `${JSON.stringify(o)} position ${L - 1}: ${cached[i]} vs ${full[i]}`);
    }
  };
  run({ linear_variant_attn: 'quantized_linear', linear_variant_mlp: 'quantized_linear', quantize_linear_bits: 4, quantize_wte: true, quantize_wpe: true }, true);
  run({ quantize_mlp_act: true, quantize_attn_act: true, quantize_attn_act_bits: 4 }, false);
});
