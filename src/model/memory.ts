// Memory a model needs, estimated from its config before anything is allocated, so that sizes that
// cannot fit are refused with the figure instead of a RangeError or an out-of-memory kill minutes
// later (docs/memory.md, "The estimate"). float32 throughout (4 bytes). The arrays are counted as
// src/model/gpt.ts and src/model/block.ts allocate them (test/memory.test.ts holds the two equal),
// by part:
//   parameters and optimizer  values and gradients of every parameter, AdamW's two moments
//   activations               what forward keeps per block (attention: q, k, v, y and the row
//                             statistics; MLP: its input and hidden layer; the residual stream and
//                             norm outputs; norm and activation statistics), the shared buffers,
//                             embeddings, dropout masks
//   LM head                   one block of rows of logits (headRows) and the losses
//   gradient scratch          backward's buffers, shared by all blocks
//   workspace                 per thread: attention's strips, the GEMM's packing buffers
//   runtime                   Node, V8 and the addon with nothing allocated (measured: docs/memory.md)
// Sampling: the parameters, the KV cache 2*n_layer*T*C, and one row of each buffer.
import * as os from 'node:os';
import { formatBytes } from '../util/files.js';
import { UserError } from '../util/errors.js';
import { activations } from '../nn/activations/activation-registry.js';
import { norms } from '../nn/norms/norm-registry.js';
import { numel, type ParamSpec, type Variant } from '../nn/variant.js';
import { softmaxes } from '../nn/softmax/softmax-registry.js';
import { ATTN_POINTS, LINEAR_LAYERS, MLP_POINTS, quantPlan, type AttnPoint, type LinearKey, type MlpPoint, type QSpec, type QuantPlan } from '../nn/quant.js';
import { STOCHASTIC } from '../engine/quantize.js';
import { blockActivation, blockMlpInput, blockNorm, blockRecomputes, blockRecomputesNorm, maxMlpInput, mlpHidden, normSlotNames, scratchFloats } from './block.js';
import type { ModelConfig } from '../config/config-types.js';

export interface MemoryPart { name: string; bytes: number }

export interface MemoryEstimate {
  params: number;
  bytes: number;
  largestArray: number;
  /** The bytes by part, largest first. */
  parts: MemoryPart[];
}

/** RSS of `node bin/normlab.js` with the addon loaded and no model (measured, docs/memory.md). */
export const RUNTIME_BYTES = 64 * 2 ** 20;
/** The GEMM's packing buffers per thread (native/src/gemm.c: kc x nc of B plus mc x kc of A, floats). */
const GEMM_PACK_FLOATS = 384 * 3072 + 192 * 384;

function paramCount(v: Variant<any>, C: number, cfg: ModelConfig): { all: number; learned: number } {
  return specCount(v.params(C, cfg));
}

function specCount(specs: Record<string, ParamSpec>): { all: number; learned: number } {
  let all = 0, learned = 0;
  for (const spec of Object.values(specs)) {
    const n = numel(spec.shape);
    all += n;
    if (spec.learned !== false) learned += n;
  }
  return { all, learned };
}

function savedFloats(v: Variant<any>, N: number, C: number, cfg: ModelConfig): number {
  return Object.values(v.saved(N, C, cfg)).reduce((s, n) => s + n, 0);
}

/** Rows of the LM head at once: all N when N x V is at most 2^24 floats (64 MB), else the fewest
 * equal blocks that fit (docs/memory.md, "LM head"). */
export function headRows(N: number, V: number): number {
  const BUDGET = 1 << 24;
  if (N * V <= BUDGET) return Math.max(1, N);
  const blocks = Math.ceil((N * V) / BUDGET);
  return Math.max(1, Math.ceil(N / blocks));
}

/** Rows per attention strip (native/src/attention.c strip_rows): 64, halved while a strip of T keys exceeds 2^16 floats. */
export function stripRows(T: number): number {
  let rb = 64;
  while (rb > 8 && rb * T > 65536) rb /= 2;
  return rb;
}

/** What a block keeps for backward, in floats by kind, for B x T rows (src/model/block.ts
 * Block.buffers and constructor; docs/memory.md, "What a block keeps"). */
function blockFloats(cfg: ModelConfig, qp: QuantPlan, l: number, B: number, T: number, slots: number) {
  const C = cfg.n_embd, N = B * T, NC = N * C, NH = cfg.n_head, H = mlpHidden(cfg);
  const act = activations[blockActivation(cfg, l)], Hin = blockMlpInput(cfg, l), norm = norms[blockNorm(cfg, l)];
  const pre = cfg.use_pre_ln, post = cfg.use_post_ln, peri = cfg.use_peri_ln, drop = cfg.dropout > 0;
  const recNorm = blockRecomputesNorm(cfg, l), keptNorm = (q: unknown) => (pre && !recNorm && !q ? NC : 0);
  return {
    attn: 4 * NC + 2 * B * NH * T, // q, k, v, y; the row statistics (m, Z)
    mlp: N * Hin + (blockRecomputes(cfg, l, qp) ? 0 : N * H), // the activation's input (fc), its output when not recomputed
    // s1, s2; hA, hM when kept; x1, out (post); a, aOut, m, mOut (peri); the dropout masks
    resid: NC * (2 + (post ? 2 : 0) + (peri ? 4 : 0) + (drop ? 2 : 0)) + keptNorm(qp.attn.input) + keptNorm(qp.mlp.input),
    stats: slots * savedFloats(norm, N, C, cfg) + savedFloats(act, N, H, cfg),
    quant: quantBlockFloats(cfg, qp, B, T, Hin),
  };
}

/** Weights of each linear layer of a block whose MLP input is Hin wide. */
function linearFloats(cfg: ModelConfig, Hin: number): Record<LinearKey, number> {
  const C = cfg.n_embd, H = mlpHidden(cfg);
  return { attn_q: C * C, attn_k: C * C, attn_v: C * C, attn_proj: C * C, mlp_up: C * Hin, mlp_down: H * C };
}

/** The attention points quantized inside the attention kernel's strips (scores, weights). */
const IN_KERNEL: readonly AttnPoint[] = ['softmax_input', 'pv_mult_p_input'];

/** Fake quantization's copies in one block (docs/quantization.md): the quantized weights of every
 * quantized_linear layer, the quantized attention and MLP inputs and p v. The in-attention points
 * (scores, weights) quantize inside the attention kernel's strips and keep a few scalars per call. */
function quantBlockFloats(cfg: ModelConfig, qp: QuantPlan, B: number, T: number, Hin: number): number {
  const NC = B * T * cfg.n_embd, w = linearFloats(cfg, Hin);
  const weights = LINEAR_LAYERS.reduce((s, { key }) => s + (qp.linear[key] ? w[key] : 0), 0);
  return weights + NC * ((qp.attn.input ? 1 : 0) + (qp.mlp.input ? 1 : 0) + (qp.attn.pv_mult_output ? 1 : 0));
}

/** The uniforms of stochastic rounding (Quantizer: one array per block and one for the embedding
 * tables, as long as the largest stochastic point it quantizes; ordinary memory, not the store's):
 * every point of MLP_POINTS, LINEAR_LAYERS and ATTN_POINTS but the in-kernel ones, which draw theirs
 * from a hash inside the kernel: no array. */
function stochasticFloats(cfg: ModelConfig, qp: QuantPlan, B: number, T: number): number {
  const C = cfg.n_embd, H = mlpHidden(cfg), N = B * T;
  const st = (q: QSpec | null, n: number) => (q && q.method === STOCHASTIC ? n : 0);
  let total = Math.max(st(qp.wte, cfg.vocab_size * C), st(qp.wpe, cfg.block_size * C));
  for (let i = 0; i < cfg.n_layer; i++) {
    const Hin = blockMlpInput(cfg, i), w = linearFloats(cfg, Hin);
    const mlp: Record<MlpPoint, number> = { input: N * C, activation_input: N * Hin, activation_output: N * H, output: N * C };
    total += Math.max(
      ...ATTN_POINTS.filter((p) => !IN_KERNEL.includes(p)).map((p) => st(qp.attn[p], N * C)),
      ...MLP_POINTS.map((p) => st(qp.mlp[p], mlp[p])),
      ...LINEAR_LAYERS.map(({ key }) => st(qp.linear[key], w[key])));
  }
  return total;
}

/** Parameters (all, and learned ones) of every linear, embedding, norm slot, activation and softmax variant. */
function paramTotals(cfg: ModelConfig): { all: number; learned: number } {
  const C = cfg.n_embd, V = cfg.vocab_size, H = mlpHidden(cfg), slots = normSlotNames(cfg).length;
  let all = V * C * (cfg.wte_weight_tying ? 1 : 2) + cfg.block_size * C, learned = all;
  const add = (p: { all: number; learned: number }) => { all += p.all; learned += p.learned; };
  const lin = (i: number, o: number) => add({ all: i * o + (cfg.bias ? o : 0), learned: i * o + (cfg.bias ? o : 0) });
  const sm = cfg.softmax_variant_attn === 'softmax' ? null : softmaxes[cfg.softmax_variant_attn];
  for (let l = 0; l < cfg.n_layer; l++) {
    const act = activations[blockActivation(cfg, l)], Hin = blockMlpInput(cfg, l);
    for (let j = 0; j < 4; j++) lin(C, C);
    lin(C, Hin); lin(H, C);
    for (let j = 0; j < slots; j++) add(paramCount(norms[blockNorm(cfg, l)], C, cfg));
    add(paramCount(act, H, cfg));
    if (sm) add(specCount(sm.params(cfg.n_head, cfg)));
  }
  add(paramCount(norms[cfg.norm_variant_output], C, cfg));
  return { all, learned };
}

export function estimateMemory(cfg: ModelConfig, opts: { batch: number; block: number; training: boolean; threads?: number }): MemoryEstimate {
  const C = cfg.n_embd, V = cfg.vocab_size, L = cfg.n_layer, H = mlpHidden(cfg);
  const { all, learned } = paramTotals(cfg);
  const parts: MemoryPart[] = [];
  const part = (name: string, floats: number) => { if (floats > 0) parts.push({ name, bytes: 4 * floats }); };
  let largest: number;
  if (opts.training) {
    const B = opts.batch, T = opts.block, N = B * T, drop = cfg.dropout > 0, slots = normSlotNames(cfg).length, qp = quantPlan(cfg);
    part('parameters and optimizer (values, gradients, AdamW moments)', 2 * all + 2 * learned);
    const sum = { attn: 0, mlp: 0, resid: 0, stats: 0, quant: 0 };
    for (let l = 0; l < L; l++) for (const [k, v] of Object.entries(blockFloats(cfg, qp, l, B, T, slots))) sum[k as keyof typeof sum] += v;
    const stats = sum.stats + savedFloats(norms[cfg.norm_variant_output], N, C, cfg);
    part('activations: attention (q, k, v, output, row statistics)', sum.attn);
    // + the shared buffer: the recomputed activation's output, backward's gfc
    part('activations: MLP hidden layer', sum.mlp + N * maxMlpInput(cfg));
    // + the shared h, emb (and its dropout mask), xf
    part('activations: residual stream, norm outputs, shared projections, embeddings', sum.resid + N * C + (drop ? 2 : 1) * N * C + N * C);
    part('activations: norm and activation statistics', stats);
    part('quantization: quantized weights and inputs', sum.quant +
      (qp.wte ? V * C : 0) + (qp.wpe ? cfg.block_size * C : 0));
    part(STOCHASTIC_PART, stochasticFloats(cfg, qp, B, T));
    const R = Math.max(1, Math.min(N, headRows(N, V)));
    part('LM head (one block of logits rows, losses)', R * V + N);
    part('gradient scratch (shared by the blocks)', 3 * N * C + scratchFloats(cfg, N));
    const threads = opts.threads ?? Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
    part('workspace (attention strips, GEMM packing; per thread)', threads * (4 * stripRows(T) * T + GEMM_PACK_FLOATS));
    largest = Math.max(all, R * V, N * H * 2);
  } else {
    part('parameters', all);
    part('KV cache and one row of every buffer', 2 * L * cfg.block_size * C + 12 * C + 2 * H + 3 * V + cfg.block_size);
    largest = Math.max(all, V);
  }
  parts.push({ name: 'runtime (Node, V8, addon)', bytes: RUNTIME_BYTES });
  parts.sort((a, b) => b.bytes - a.bytes);
  return { params: learned, bytes: parts.reduce((s, p) => s + p.bytes, 0), largestArray: 4 * largest, parts };
}

/** The part holding stochastic rounding's uniforms (allocated outside the model's store). */
export const STOCHASTIC_PART = 'quantization: uniforms for stochastic rounding';

/** The estimate as lines: total, then each part with its share. */
export function memoryLines(est: MemoryEstimate): string[] {
  return est.parts.map((p) => `  ${formatBytes(p.bytes).padStart(9)}  ${((100 * p.bytes) / est.bytes).toFixed(0).padStart(3)}%  ${p.name}`);
}

/** Largest single array V8 allocates (bytes). */
const MAX_ARRAY = 2 ** 32 * 4;

/**
 * Refuses (a UserError with the figures) a model that cannot fit in this machine's memory, before
 * any allocation, naming the largest part. `what` says which sizes were asked for (flags or a
 * checkpoint's metadata). NORMLAB_MEMORY_LIMIT (bytes) replaces the machine's total memory as the limit.
 */
export function checkMemory(cfg: ModelConfig, opts: { batch: number; block: number; training: boolean }, what: string): MemoryEstimate {
  const est = estimateMemory(cfg, opts);
  const limit = Number(process.env.NORMLAB_MEMORY_LIMIT) || os.totalmem();
  const sizes = `n_layer ${cfg.n_layer}, n_embd ${cfg.n_embd}, block_size ${cfg.block_size}, vocab_size ${cfg.vocab_size}` +
    (opts.training ? `, batch_size ${opts.batch}` : '');
  const params = `${(est.params / 1e6).toFixed(est.params < 1e7 ? 2 : 0)}M parameters`;
  if (!Number.isFinite(est.bytes) || est.bytes > limit) {
    const big = est.parts[0];
    throw new UserError(`${what} needs about ${formatBytes(est.bytes)} of memory to ${opts.training ? 'train' : 'sample'} ` +
      `(${sizes}: ${params}), more than this machine's ${formatBytes(limit)}; the largest part is ${big.name}, ` +
      `${formatBytes(big.bytes)}: choose smaller sizes` +
      (opts.training ? ' (--batch_size and --block_size set the activations, --n_embd and --n_layer the parameters)' : ''));
  }
  if (est.largestArray > MAX_ARRAY) {
    throw new UserError(`${what} needs one array of ${formatBytes(est.largestArray)} (${sizes}: ${params}); ` +
      `the largest this runtime allocates is ${formatBytes(MAX_ARRAY)}: choose smaller sizes`);
  }
  return est;
}
