// Memory a model needs, estimated from its config before anything is allocated, so that sizes that
// cannot fit are refused with the figure instead of a RangeError or an out-of-memory kill minutes
// later. float32 throughout (4 bytes). The estimate counts the large arrays of src/model/gpt.ts and
// src/model/block.ts (norm parameters, biases and per-row statistics are small and left out):
//   parameters   P = V*C (x2 untied) + block_size*C + n_layer*(4*C*C + C*Hin + H*C)
//   training     values + gradients + AdamW's two moments = 4P, and per block for N = B*T rows
//                about 14 rows of C, Hin + H, and B*n_head*T*T attention probabilities (twice with
//                dropout), plus embeddings, ~12 rows of C of gradient scratch, logits and probabilities 2*N*V
//   sampling     P, the KV cache 2*n_layer*T*C, and one row of each buffer
import * as os from 'node:os';
import { formatBytes } from '../util/files.js';
import { UserError } from '../engine/types.js';
import { activations } from '../nn/activations/index.js';
import { mlpHidden } from './block.js';
import type { ModelConfig } from '../config/types.js';

export interface MemoryEstimate { params: number; bytes: number; largestArray: number }

export function estimateMemory(cfg: ModelConfig, opts: { batch: number; block: number; training: boolean }): MemoryEstimate {
  const C = cfg.n_embd, V = cfg.vocab_size, L = cfg.n_layer, NH = cfg.n_head;
  const H = mlpHidden(cfg), Hin = activations[cfg.activation_variant]?.gated ? 2 * H : H;
  const params = V * C * (cfg.wte_weight_tying ? 1 : 2) + cfg.block_size * C + L * (4 * C * C + C * Hin + H * C);
  let floats: number, largest: number;
  if (opts.training) {
    const N = opts.batch * opts.block, att = opts.batch * NH * opts.block * opts.block; // (B, n_head, T, T)
    const perBlock = 14 * N * C + N * (Hin + H) + att * (cfg.dropout > 0 ? 2 : 1);
    floats = 4 * params + L * perBlock + 15 * N * C + N * (Hin + H) + att + 2 * N * V;
    largest = Math.max(params, att, N * V);
  } else {
    floats = params + 2 * L * cfg.block_size * C + 12 * C + Hin + H + 3 * V + cfg.block_size;
    largest = Math.max(params, V);
  }
  return { params, bytes: 4 * floats, largestArray: 4 * largest };
}

/** Largest single array V8 allocates (bytes). */
const MAX_ARRAY = 2 ** 32 * 4;

/**
 * Refuses (a UserError with the figures) a model that cannot fit in this machine's memory, before
 * any allocation. `what` says which sizes were asked for (flags or a checkpoint's metadata).
 * NORMLAB_MEMORY_LIMIT (bytes) replaces the machine's total memory as the limit.
 */
export function checkMemory(cfg: ModelConfig, opts: { batch: number; block: number; training: boolean }, what: string): MemoryEstimate {
  const est = estimateMemory(cfg, opts);
  const limit = Number(process.env.NORMLAB_MEMORY_LIMIT) || os.totalmem();
  const sizes = `n_layer ${cfg.n_layer}, n_embd ${cfg.n_embd}, block_size ${cfg.block_size}, vocab_size ${cfg.vocab_size}` +
    (opts.training ? `, batch_size ${opts.batch}` : '');
  const params = `${(est.params / 1e6).toFixed(est.params < 1e7 ? 2 : 0)}M parameters`;
  if (!Number.isFinite(est.bytes) || est.bytes > limit) {
    throw new UserError(`${what} needs about ${formatBytes(est.bytes)} of memory to ${opts.training ? 'train' : 'sample'} ` +
      `(${sizes}: ${params}), more than this machine's ${formatBytes(limit)}: choose smaller sizes` +
      (opts.training ? ' (--batch_size and --block_size set the activations, --n_embd and --n_layer the parameters)' : ''));
  }
  if (est.largestArray > MAX_ARRAY) {
    throw new UserError(`${what} needs one array of ${formatBytes(est.largestArray)} (${sizes}: ${params}); ` +
      `the largest this runtime allocates is ${formatBytes(MAX_ARRAY)}: choose smaller sizes`);
  }
  return est;
}
