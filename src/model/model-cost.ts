// The hardware cost of a configured model, per token: every norm slot, the activation and ln_f, each
// from its variant's declared counts (src/nn/op-cost.ts; rules in docs/cost.md), per layer and in total,
// with the matrix products alongside for scale. Placement comes from block.ts (normSlotNames), the
// per-layer variants from blockNorm / blockActivation, the widths from mlpHidden: nothing restated.
import { activations } from '../nn/activations/activation-registry.js';
import { norms } from '../nn/norms/norm-registry.js';
import { softmaxes } from '../nn/softmax/softmax-registry.js';
import { addOps, derivedCost, pass, totalOps, type Ops, type Reduction, type VariantCost } from '../nn/op-cost.js';
import type { Variant } from '../nn/variant.js';
import { blockActivation, blockMlpInput, blockNorm, mlpHidden, normSlotNames } from './block.js';
import type { ModelConfig } from '../config/config-types.js';
import { quantPlan, type QSpec } from '../nn/quant.js';

export interface SlotCost {
  /** -1 for ln_f (after the blocks). */
  layer: number;
  /** Checkpoint name of the slot: pre_ln_attn, ..., activation, ln_f. */
  slot: string;
  variant: string;
  kind: 'norm' | 'activation' | 'softmax';
  /** Output width C of the slot (the MLP's H for the activation; its input is 2H when gated). */
  width: number;
  params: number;
  /** Forward in evaluation. */
  inference: Ops;
  /** Forward in training plus backward. */
  training: Ops;
  reductions: { inference: Reduction[]; training: Reduction[] };
  setup: { inference: Ops; training: Ops };
  bytes: VariantCost['bytes'];
}

/** Matrix products per token, as multiply-accumulates (one multiply and one add each). */
export interface MatmulCost {
  layer: number;
  name: string;
  /** Forward MACs per token; training is 3x (forward, input gradient, weight gradient). */
  macs: number;
  params: number;
}

export interface ModelCost {
  slots: SlotCost[];
  matmuls: MatmulCost[];
  /** Sums over the slots of each layer (layer -1: ln_f), and of the whole model. */
  layers: { layer: number; inference: Ops; training: Ops; params: number; matmulMacs: number }[];
  total: { inference: Ops; training: Ops; params: number; matmulMacs: number; matmulParams: number };
}

/** The cost of variant v at output width C under config a (inWidth: 2C for a gated activation). */
export function variantCost(v: Variant<any>, C: number, a: ModelConfig): { inference: VariantCost; training: VariantCost } {
  const inWidth = v.gated ? 2 * C : C;
  const perRow = (r: Record<string, number>) => Object.values(r).reduce((s, n) => s + n, 0);
  const savedPerRow = perRow(v.saved(2, C, a)) - perRow(v.saved(1, C, a));
  const declared = (training: boolean) => {
    const d = v.cost?.(C, a, training);
    if (!d) throw new Error(`variant ${v.name} declares no cost (docs/cost.md)`);
    return d;
  };
  const params = v.params(C, a);
  return {
    inference: derivedCost(declared(false), params, savedPerRow, inWidth, C),
    training: derivedCost(declared(true), params, savedPerRow, inWidth, C),
  };
}

function slotCost(layer: number, slot: string, kind: 'norm' | 'activation', name: string, C: number, a: ModelConfig): SlotCost {
  const v = (kind === 'norm' ? norms : activations)[name];
  const { inference: inf, training: tr } = variantCost(v, C, a);
  const train = pass(tr.forward, tr.backward);
  return {
    layer, slot, variant: name, kind, width: C, params: tr.params,
    inference: inf.forward.ops,
    training: train.ops,
    reductions: { inference: inf.forward.reductions ?? [], training: train.reductions ?? [] },
    setup: {
      inference: inf.setup?.forward ?? {},
      training: addOps(tr.setup?.forward ?? {}, tr.setup?.backward ?? {}),
    },
    bytes: tr.bytes,
  };
}

/** Scores one token has on average in a causal block_size context: (T + 1) / 2 keys per head. */
export function scoresPerToken(cfg: ModelConfig): number {
  return cfg.n_head * (cfg.block_size + 1) / 2;
}

/** The attention softmax variant of a layer (docs/softmax.md, docs/cost.md): its per-score counts
 * times the scores a token has, and per head its row reductions (none for the elementwise ones),
 * each over the (T + 1) / 2 keys of an average row. Bytes: the scores read and the weights written
 * (and the saved scores in training). */
function softmaxSlotCost(layer: number, cfg: ModelConfig): SlotCost {
  const v = softmaxes[cfg.softmax_variant_attn], c = v.cost(cfg), W = scoresPerToken(cfg), row = (cfg.block_size + 1) / 2;
  const red = (n: number): Reduction[] => Array.from({ length: n * cfg.n_head }, () => ({ length: row, bits: 32 }));
  const per = (o: Ops) => { const out: Ops = {}; for (const [k, n] of Object.entries(o)) out[k as keyof Ops] = (n ?? 0) * W; return out; };
  const declared = { forward: { ops: per(c.forward), reductions: red(c.reductions.forward) }, backward: { ops: per(c.backward), reductions: red(c.reductions.backward) } };
  const d = derivedCost(declared, v.params(cfg.n_head, cfg), W, W, W);
  const train = pass(d.forward, d.backward);
  return {
    layer, slot: 'attn.softmax_layer_attn', variant: cfg.softmax_variant_attn, kind: 'softmax', width: W, params: d.params,
    inference: d.forward.ops, training: train.ops,
    reductions: { inference: d.forward.reductions ?? [], training: train.reductions ?? [] },
    setup: { inference: {}, training: {} }, bytes: d.bytes,
  };
}

/**
 * Per token of a block_size context: q, k, v and the attention projection (C x C each), the
 * attention scores and the weighted sum (each C MACs per key; a causal token sees (T + 1) / 2 keys on
 * average over a full context of T), the MLP (C x Hin and H x C; Hin = 2H for a gated activation), and
 * the LM head (C x V) once after the blocks.
 */
function matmuls(cfg: ModelConfig): MatmulCost[] {
  const C = cfg.n_embd, H = mlpHidden(cfg), T = cfg.block_size, b = cfg.bias ? 1 : 0;
  const out: MatmulCost[] = [];
  for (let i = 0; i < cfg.n_layer; i++) {
    const Hin = blockMlpInput(cfg, i);
    out.push(
      { layer: i, name: 'attn.c_attn_q/k/v', macs: 3 * C * C, params: 3 * (C * C + b * C) },
      { layer: i, name: 'attn.scores+values', macs: C * (T + 1), params: 0 },
      { layer: i, name: 'attn.c_proj', macs: C * C, params: C * C + b * C },
      { layer: i, name: 'mlp.c_fc', macs: C * Hin, params: C * Hin + b * Hin },
      { layer: i, name: 'mlp.c_proj', macs: H * C, params: H * C + b * C },
    );
  }
  out.push({ layer: -1, name: 'lm_head', macs: C * cfg.vocab_size, params: cfg.wte_weight_tying ? 0 : C * cfg.vocab_size });
  return out;
}

/** The cost table of a configured model. */
export function modelCost(cfg: ModelConfig): ModelCost {
  const C = cfg.n_embd, H = mlpHidden(cfg);
  const slots: SlotCost[] = [];
  for (let i = 0; i < cfg.n_layer; i++) {
    for (const s of normSlotNames(cfg)) slots.push(slotCost(i, s, 'norm', blockNorm(cfg, i), C, cfg));
    slots.push(slotCost(i, 'activation', 'activation', blockActivation(cfg, i), H, cfg));
    slots.push(softmaxSlotCost(i, cfg));
  }
  slots.push(slotCost(-1, 'ln_f', 'norm', cfg.norm_variant_output, C, cfg));
  const mm = matmuls(cfg);
  const layerIds = [...Array.from({ length: cfg.n_layer }, (_, i) => i), -1];
  const sumOps = (ss: SlotCost[], k: 'inference' | 'training') => ss.reduce((o, s) => addOps(o, s[k]), {} as Ops);
  const layers = layerIds.map((layer) => {
    const ss = slots.filter((s) => s.layer === layer);
    return {
      layer, inference: sumOps(ss, 'inference'), training: sumOps(ss, 'training'),
      params: ss.reduce((n, s) => n + s.params, 0),
      matmulMacs: mm.filter((m) => m.layer === layer).reduce((n, m) => n + m.macs, 0),
    };
  });
  return {
    slots, matmuls: mm, layers,
    total: {
      inference: sumOps(slots, 'inference'), training: sumOps(slots, 'training'),
      params: slots.reduce((n, s) => n + s.params, 0),
      matmulMacs: mm.reduce((n, m) => n + m.macs, 0),
      matmulParams: mm.reduce((n, m) => n + m.params, 0),
    },
  };
}

/** The stored width of a quantizer's integers: b bits (symmetric, affine), b + 1 (stochastic: 2^b - 1
 * magnitudes and a sign), 2 (ternary); 32 for float32 (no quantizer). */
export function operandBits(q: QSpec | null): number {
  if (!q) return 32;
  return q.name === 'ternary_quant' ? 2 : q.name === 'stochastic_quant' ? q.bits + 1 : q.bits;
}

/**
 * The matrix products at their operand widths (docs/cost.md, "Bit widths"): each product's forward
 * MACs per token with the bits of its activation operand and of its weight (or second activation),
 * as the quantization flags set them. A b_a x b_w-bit MAC counts (b_a b_w) / 32^2 of a float32 one.
 */
export function bitMatmuls(cfg: ModelConfig): { name: string; macs: number; aBits: number; wBits: number; params: number }[] {
  const C = cfg.n_embd, H = mlpHidden(cfg), T = cfg.block_size, qp = quantPlan(cfg), a = qp.attn, m = qp.mlp, l = qp.linear;
  const ob = operandBits, keys = C * (T + 1) / 2;
  const out = [];
  for (let i = 0; i < cfg.n_layer; i++) {
    const Hin = blockMlpInput(cfg, i);
    out.push(
      { name: `h.${i}.attn.c_attn_q`, macs: C * C, aBits: ob(a.input), wBits: ob(l.attn_q), params: C * C },
      { name: `h.${i}.attn.c_attn_k`, macs: C * C, aBits: ob(a.input), wBits: ob(l.attn_k), params: C * C },
      { name: `h.${i}.attn.c_attn_v`, macs: C * C, aBits: ob(a.input), wBits: ob(l.attn_v), params: C * C },
      { name: `h.${i}.attn.scores`, macs: keys, aBits: ob(a.qk_mult_q_input), wBits: ob(a.qk_mult_k_input), params: 0 },
      { name: `h.${i}.attn.values`, macs: keys, aBits: ob(a.pv_mult_p_input), wBits: ob(a.pv_mult_v_input), params: 0 },
      { name: `h.${i}.attn.c_proj`, macs: C * C, aBits: ob(a.pv_mult_output), wBits: ob(l.attn_proj), params: C * C },
      { name: `h.${i}.mlp.c_fc`, macs: C * Hin, aBits: ob(m.input), wBits: ob(l.mlp_up), params: C * Hin },
      { name: `h.${i}.mlp.c_proj`, macs: H * C, aBits: ob(m.activation_output), wBits: ob(l.mlp_down), params: H * C },
    );
  }
  // The LM head reads ln_f's float output and the float wte (tied) or lm_head.
  out.push({ name: 'lm_head', macs: C * cfg.vocab_size, aBits: 32, wBits: 32, params: cfg.wte_weight_tying ? 0 : C * cfg.vocab_size });
  out.push({ name: 'wte', macs: 0, aBits: 32, wBits: cfg.wte_weight_tying ? 32 : ob(qp.wte), params: C * cfg.vocab_size });
  out.push({ name: 'wpe', macs: 0, aBits: 32, wBits: ob(qp.wpe), params: C * T });
  return out;
}

/** The per-run cost columns of sweep results (docs/cost.md, "Summary columns in sweeps"). */
export const COST_COLUMNS = ['cost_inference_ops', 'cost_training_ops', 'cost_reduction_len', 'cost_reduction_bits', 'cost_variant_params', 'cost_matmul_macs',
  'cost_bit_macs', 'cost_weight_bits'] as const;
export type CostColumn = (typeof COST_COLUMNS)[number];

/** A few figures per run for sweeps and pictures: the variants' operations per token (all classes). */
export function costSummary(cfg: ModelConfig): Record<CostColumn, number> {
  const c = modelCost(cfg);
  const red = (k: 'inference' | 'training', w: (r: Reduction) => number) => c.slots.reduce((n, s) => n + s.reductions[k].reduce((m, r) => m + w(r), 0), 0);
  const bm = bitMatmuls(cfg), wp = bm.reduce((n, x) => n + x.params, 0);
  return {
    cost_inference_ops: totalOps(c.total.inference),
    cost_training_ops: totalOps(c.total.training),
    cost_reduction_len: red('inference', (r) => r.length),
    // Bit-weighted: length x operand width, so an int8 reduction of 16 (128) is cheaper than a float32 one (512).
    cost_reduction_bits: red('inference', (r) => r.length * r.bits),
    cost_variant_params: c.total.params,
    cost_matmul_macs: c.total.matmulMacs,
    cost_bit_macs: bm.reduce((n, x) => n + x.macs * x.aBits * x.wBits / 1024, 0),
    cost_weight_bits: wp > 0 ? bm.reduce((n, x) => n + x.params * x.wBits, 0) / wp : 32,
  };
}

