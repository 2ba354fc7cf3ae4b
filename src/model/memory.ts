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
import { numel, type Variant } from '../nn/variant.js';
import { blockActivation, blockNorm, blockRecomputes, mlpHidden, normSlotNames } from './block.js';
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
  let all = 0, learned = 0;
  for (const spec of Object.values(v.params(C, cfg))) {
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

export function estimateMemory(cfg: ModelConfig, opts: { batch: number; block: number; training: boolean; threads?: number }): MemoryEstimate {
  const C = cfg.n_embd, V = cfg.vocab_size, L = cfg.n_layer, NH = cfg.n_head, H = mlpHidden(cfg);
  const slots = normSlotNames(cfg);
  // Parameters: the linears (weights and biases), embeddings, every norm slot, the activations, ln_f.
  let all = V * C * (cfg.wte_weight_tying ? 1 : 2) + cfg.block_size * C, learned = all;
  const add = (p: { all: number; learned: number }) => { all += p.all; learned += p.learned; };
  const lin = (i: number, o: number) => add({ all: i * o + (cfg.bias ? o : 0), learned: i * o + (cfg.bias ? o : 0) });
  for (let l = 0; l < L; l++) {
    const act = activations[blockActivation(cfg, l)], Hin = act.gated ? 2 * H : H;
    for (let j = 0; j < 4; j++) lin(C, C);
    lin(C, Hin); lin(H, C);
    for (let j = 0; j < slots.length; j++) add(paramCount(norms[blockNorm(cfg, l)], C, cfg));
    add(paramCount(act, H, cfg));
  }
  add(paramCount(norms[cfg.norm_variant_output], C, cfg));
  const params = learned;
  const parts: MemoryPart[] = [];
  const part = (name: string, floats: number) => { if (floats > 0) parts.push({ name, bytes: 4 * floats }); };
  let largest: number;
  if (opts.training) {
    const B = opts.batch, T = opts.block, N = B * T, drop = cfg.dropout > 0;
    const pre = cfg.use_pre_ln, post = cfg.use_post_ln, peri = cfg.use_peri_ln;
    part('parameters and optimizer (values, gradients, AdamW moments)', 2 * all + 2 * learned);
    let attn = 0, mlp = 0, resid = 0, stats = 0, anyRecompute = false, Hin0 = H;
    for (let l = 0; l < L; l++) {
      const act = activations[blockActivation(cfg, l)], Hin = act.gated ? 2 * H : H, rec = blockRecomputes(cfg, l);
      if (l === 0) Hin0 = Hin;
      anyRecompute ||= rec;
      attn += 4 * N * C + 2 * B * NH * T; // q, k, v, y; the row statistics (m, Z)
      mlp += N * Hin + (rec ? 0 : N * H); // the activation's input (fc), its output when not recomputed
      resid += N * C * (2 + (pre ? 2 : 0) + (post ? 2 : 0) + (peri ? 4 : 0) + (drop ? 2 : 0)); // s1, s2, hA, hM, x1, out, a, aOut, m, mOut, masks
      stats += slots.length * savedFloats(norms[blockNorm(cfg, l)], N, C, cfg) + savedFloats(act, N, H, cfg);
    }
    stats += savedFloats(norms[cfg.norm_variant_output], N, C, cfg);
    part('activations: attention (q, k, v, output, row statistics)', attn);
    part('activations: MLP hidden layer', mlp + (anyRecompute ? N * H : 0));
    part('activations: residual stream, norm outputs, shared projections, embeddings', resid + 2 * N * C + (drop ? 2 : 1) * N * C + N * C);
    part('activations: norm and activation statistics', stats);
    const R = Math.max(1, Math.min(N, headRows(N, V)));
    part('LM head (one block of logits rows, losses)', R * V + N);
    part('gradient scratch (shared by the blocks)', 10 * N * C + N * Hin0 + N * H);
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
  return { params, bytes: parts.reduce((s, p) => s + p.bytes, 0), largestArray: 4 * largest, parts };
}

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
