// Post-training evaluation of a checkpoint under quantization flags (docs/quantization.md,
// "Post-training evaluation"): the same batches through the float32 model and through the model
// quantized as the flags say, at one or several bit widths; loss, its difference to float32, and the
// cost at that width (docs/cost.md, "Bit widths").
import { Rng } from '../engine/rng.js';
import type { Backend } from '../engine/backend.js';
import { checkTrainConfig } from '../config/config.js';
import { QUANT_FLAGS } from '../config/quantization.js';
import type { ModelConfig } from '../config/config-types.js';
import { getBatch, type Tokens } from '../data/dataset.js';
import type { LoadedTensor } from '../engine/safetensors.js';
import { buildModel } from '../model/build.js';
import { costSummary } from '../model/model-cost.js';
import { MetricCtx } from '../nn/params.js';
import { quantPlan, type QSpec } from '../nn/quant.js';
import { loadWeights } from './checkpoint.js';

export interface QuantEvalRow {
  /** The width applied to every quantized point, or null for the flags as given (and 'float32' for the baseline). */
  bits: number | 'float32' | null;
  val_loss: number; train_loss: number;
  /** val_loss minus the float32 model's (same batches). */
  val_diff: number;
  /** Matrix-product MACs per token weighted by operand widths (docs/cost.md), and the weights' bits per parameter. */
  cost_bit_macs: number; weight_bits: number;
}

/** The config with every quantization flag at its default (the float model). */
export function floatConfig(cfg: ModelConfig): ModelConfig {
  const c: Record<string, unknown> = { ...cfg };
  for (const f of QUANT_FLAGS) c[f.name] = f.default;
  return c as unknown as ModelConfig;
}

/** cfg with `bits` for every quantizer that is on (group widths set, per-point and per-layer widths cleared). */
export function atWidth(cfg: ModelConfig, bits: number): ModelConfig {
  const c: Record<string, unknown> = { ...cfg }, plan = quantPlan(cfg);
  const on = (q: Record<string, QSpec | null>) => Object.values(q).some((x) => x !== null);
  for (const f of QUANT_FLAGS) if (f.name.endsWith('_bits') && f.default === null) c[f.name] = null;
  if (on(plan.mlp)) c.quantize_mlp_act_bits = bits;
  if (on(plan.attn)) c.quantize_attn_act_bits = bits;
  if (on(plan.linear)) c.quantize_linear_bits = bits;
  if (plan.wte) c.quantize_wte_bits = bits;
  if (plan.wpe) c.quantize_wpe_bits = bits;
  return c as unknown as ModelConfig;
}

/** Mean loss over `iters` batches of a split, batches drawn from a generator seeded with `seed`. */
function splitLoss(cfg: ModelConfig, be: Backend, tensors: Map<string, LoadedTensor>, file: string, data: Tokens,
  B: number, T: number, iters: number, seed: number): number {
  const model = buildModel(cfg, be, { maxB: B, maxT: T, seed: 0 });
  loadWeights(model, tensors, file);
  const rng = new Rng(seed), ctx = new MetricCtx(false, new Rng(seed + 1));
  const x = new Int32Array(B * T), y = new Int32Array(B * T);
  let sum = 0;
  for (let k = 0; k < iters; k++) {
    getBatch(data, B, T, rng, x, y);
    sum += model.forward(x, y, B, T, ctx);
  }
  model.store.release();
  return sum / iters;
}

export interface QuantEvalOptions {
  be: Backend; tensors: Map<string, LoadedTensor>; file: string;
  val: Tokens; train: Tokens; batchSize: number; iters: number; seed: number;
}

/** One row for the float32 model, then one per width (or one for the flags as given when widths is null).
 * Each config is checked as `train` checks its flags first. */
export function quantEval(quantCfg: ModelConfig, widths: number[] | null, o: QuantEvalOptions): QuantEvalRow[] {
  const T = quantCfg.block_size, B = o.batchSize;
  const configs: [QuantEvalRow['bits'], ModelConfig][] = [['float32', floatConfig(quantCfg)],
    ...(widths ? widths.map((w): [number, ModelConfig] => [w, atWidth(quantCfg, w)]) : [[null, quantCfg] as [null, ModelConfig]])];
  for (const [, c] of configs) checkTrainConfig(c);
  const rows: QuantEvalRow[] = [];
  let base = NaN;
  for (const [bits, c] of configs) {
    const val = splitLoss(c, o.be, o.tensors, o.file, o.val, B, T, o.iters, o.seed);
    const train = splitLoss(c, o.be, o.tensors, o.file, o.train, B, T, o.iters, o.seed + 7);
    if (bits === 'float32') base = val;
    const cost = costSummary(c);
    rows.push({ bits, val_loss: val, train_loss: train, val_diff: val - base, cost_bit_macs: cost.cost_bit_macs, weight_bits: cost.cost_weight_bits });
  }
  return rows;
}
