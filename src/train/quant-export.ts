// `normlab export --quantized`: a checkpoint's quantized weights as the integers a chip stores
// (docs/quantization.md, "Export for hardware"). Every quantized_linear weight and quantized
// embedding table is quantized as one tensor exactly as the forward does (quantParams/quantInt, in
// float32) and written under its parameter name as integers, with `<name>.scale` and
// `<name>.zero_point` (F32 scalars): W' = (q - zero_point) * scale. Widths: up to 4 bits two's-
// complement nibbles packed two per byte (U8, element 2i in the low nibble), up to 8 bits I8, up to
// 16 bits I16, more I32; ternary I8 holding -1, 0, 1; stochastic needs one bit more than its bits (a
// sign and 2^b - 1 magnitudes) and draws its rounding from a generator seeded with --seed. Every
// other parameter is written as F32. The metadata `quantization` (JSON) lists, per quantized tensor,
// method, bits, storage and shape.
import { Rng } from '../engine/rng.js';
import { quantInt, quantParams } from '../engine/quantize.js';
import type { NamedTensor } from '../engine/safetensors.js';
import type { ModelConfig } from '../config/config-types.js';
import type { LoadedTensor } from '../engine/safetensors.js';
import { LINEAR_LAYERS, quantPlan, type QSpec } from '../nn/quant.js';
import { operandBits } from '../model/model-cost.js';

export interface ExportedQuant { method: string; bits: number; storage: 'int4_packed' | 'int8' | 'int16' | 'int32'; shape: number[] }

const LAYER_PARAM: Record<string, string> = {
  attn_q: 'attn.c_attn_q', attn_k: 'attn.c_attn_k', attn_v: 'attn.c_attn_v', attn_proj: 'attn.c_proj', mlp_up: 'mlp.c_fc', mlp_down: 'mlp.c_proj',
};

/** Which parameters are quantized, and with what: the quantized_linear weights and the quantized tables. */
export function quantizedParams(cfg: ModelConfig): Map<string, QSpec> {
  const plan = quantPlan(cfg), out = new Map<string, QSpec>();
  for (let i = 0; i < cfg.n_layer; i++) {
    for (const l of LINEAR_LAYERS) {
      const q = plan.linear[l.key];
      if (q) out.set(`transformer.h.${i}.${LAYER_PARAM[l.key]}.weight`, q);
    }
  }
  if (plan.wte) out.set('transformer.wte.weight', plan.wte);
  if (plan.wpe) out.set('transformer.wpe.weight', plan.wpe);
  return out;
}

/** Packs integers in [-8, 7] two per byte: element 2i in the low nibble of byte i, 2i+1 in the high one. */
export function packInt4(q: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(q.length / 2));
  for (let i = 0; i < q.length; i++) out[i >> 1] |= (q[i] & 0xf) << ((i & 1) * 4);
  return out;
}

/** The tensors of the export file and its `quantization` metadata. */
export function exportQuantized(cfg: ModelConfig, tensors: Map<string, LoadedTensor>, seed: number): { out: NamedTensor[]; meta: Record<string, ExportedQuant> } {
  const specs = quantizedParams(cfg), rng = new Rng(seed);
  const out: NamedTensor[] = [], meta: Record<string, ExportedQuant> = {};
  for (const [name, t] of tensors) {
    const q = specs.get(name);
    if (!q) { out.push({ name, shape: t.shape, data: t.data }); continue; }
    const n = t.data.length, p = quantParams(t.data, n, 0, q.method, q.bits, Math.fround);
    const ints = new Int32Array(n);
    let scale = 0, zp = 0;
    if (p) {
      for (let i = 0; i < n; i++) ints[i] = quantInt(t.data[i], p, q.method === 2 ? rng.uniform() : 0, Math.fround);
      scale = p.scale; zp = p.zp;
    } else {
      // A constant tensor is not quantized by the forward (docs/quantization.md): stored exactly, as
      // one integer level of scale = the value (or all zeros).
      const v = t.data[0];
      scale = v === 0 ? 1 : Math.abs(v);
      ints.fill(v === 0 ? 0 : Math.sign(v));
    }
    const w = operandBits(q);
    const storage: ExportedQuant['storage'] = q.name === 'ternary_quant' ? 'int8' : w <= 4 ? 'int4_packed' : w <= 8 ? 'int8' : w <= 16 ? 'int16' : 'int32';
    const data = storage === 'int4_packed' ? packInt4(ints) : storage === 'int8' ? Int8Array.from(ints) : storage === 'int16' ? Int16Array.from(ints) : ints;
    out.push({ name, shape: storage === 'int4_packed' ? [data.length] : t.shape, data,
      dtype: storage === 'int4_packed' ? 'U8' : storage === 'int8' ? 'I8' : storage === 'int16' ? 'I16' : 'I32' });
    out.push({ name: `${name}.scale`, shape: [], data: Float32Array.of(scale) });
    out.push({ name: `${name}.zero_point`, shape: [], data: Float32Array.of(zp) });
    meta[name] = { method: q.name, bits: q.bits, storage, shape: t.shape };
  }
  return { out, meta };
}
