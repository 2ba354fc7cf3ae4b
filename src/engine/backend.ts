// The Backend interface: the short list of kernels everything above the engine calls.
//
// The TypeScript backend (kernels/ts) is the definition of every operation. A faster backend
// (kernels/native) implements the same signatures and is never trusted until tests check it
// against the TypeScript one. Conventions for every kernel:
//   - arguments go outputs first, then inputs, then sizes;
//   - arrays are row-major, and may be subarray views (an offset into a larger block);
//   - a backward kernel ACCUMULATES into parameter and input gradients (the caller zeroes them
//     once per step) unless its comment says it writes;
//   - the TypeScript backend accepts Float32Array or Float64Array; native and wasm Float32Array only.
import type { F } from './types.js';
import type { NativeKernels } from './kernels/native/native-backend.js';
import type { WasmKernels } from './kernels/wasm/wasm-backend.js';
import type { AttnDropout, AttnOpts } from './kernels/ts/attention.js';

export type { AttnDropout, AttnOpts, AttnQuant, ScoreKernel, ScoreTransform } from './kernels/ts/attention.js';

export interface MatmulOptions {
  transA?: boolean; // use A^T: A is stored (K, M) instead of (M, K)
  transB?: boolean; // use B^T: B is stored (N, K) instead of (K, N)
  accumulate?: boolean; // out += op(A) op(B) instead of out = op(A) op(B)
  /** Every value of op(A) and op(B) read rounded to bfloat16 (src/engine/bf16.ts), sums as without
   * it (float32 natively, float64 in ts): --dtype bfloat16, docs/dtype.md. */
  bf16?: boolean;
}

export interface Backend {
  readonly name: 'ts' | 'native' | 'wasm';

  /** out (M, N) = op(A) (M, K) * op(B) (K, N), optionally added to out. Maps onto cblas_sgemm. */
  matmul(out: F, a: F, b: F, M: number, N: number, K: number, opts?: MatmulOptions): void;

  /** out (N, C) += bias (C) on every row. */
  addBias(out: F, bias: F, N: number, C: number): void;
  /** dbias (C) += column sums of dout (N, C). */
  biasBackward(dbias: F, dout: F, N: number, C: number): void;

  /** out (B, T, C) = wte[idx[b, t]] + wpe[t]. */
  embeddingForward(out: F, idx: Int32Array, wte: F, wpe: F, B: number, T: number, C: number): void;
  /** dwte[idx] += dout rows, dwpe[t] += dout rows. */
  embeddingBackward(dwte: F, dwpe: F, dout: F, idx: Int32Array, B: number, T: number, C: number): void;

  /**
   * Causal multi-head self-attention on separate q, k, v (each (B, T, C), head h owning channels
   * h*D..h*D+D-1, D = C / NH), scale = 1 / sqrt(D), without T x T storage (docs/memory.md,
   * "Attention"). out (B, T, C) is written; stats (B, NH, T, 2) receives each row's max m and sum Z
   * (the softmax is exp(S - m) / Z), which backward needs. With drop, the probabilities are
   * multiplied by 0 or 1/(1-p) from a counter-based hash of (seed, pair, row, column) (attnKept in
   * kernels/ts/attention.ts), which backward evaluates again: no mask is stored. opts: bfloat16
   * products, a softmax variant (transform: its TypeScript form; kernel: the same in the kernels'
   * terms) and the two in-attention quantizers, all inside the strips (AttnOpts; docs/softmax.md
   * "Inside the attention kernel"); a backend without such a kernel runs the TypeScript definition.
   */
  attentionForward(out: F, stats: F, q: F, k: F, v: F, drop: AttnDropout | null, B: number, T: number, C: number, NH: number,
    opts?: AttnOpts): void;
  /** Accumulates into dq, dk, dv, given dout and the forward's out and stats (same q, k, v, drop). */
  attentionBackward(dq: F, dk: F, dv: F, dout: F, out: F, stats: F, q: F, k: F, v: F, drop: AttnDropout | null,
    B: number, T: number, C: number, NH: number, opts?: AttnOpts): void;

  /**
   * Softmax cross-entropy over rows of logits (N, V) with integer targets (N).
   * losses (N) and probs (N, V) are written; returns the mean loss over the N rows. probs may alias
   * logits (and crossEntropyBackward's dlogits may alias probs): the fused LM head (docs/memory.md).
   */
  crossEntropyForward(losses: F, probs: F, logits: F, targets: Int32Array, N: number, V: number): number;
  /** dlogits (N, V) is WRITTEN: (probs - onehot(target)) * scale. */
  crossEntropyBackward(dlogits: F, probs: F, targets: Int32Array, scale: number, N: number, V: number): void;

  /** out = a + b, elementwise over n. out may alias a or b. */
  add(out: F, a: F, b: F, n: number): void;
  /** dst += src over n. */
  addInto(dst: F, src: F, n: number): void;
  /** out = x * mask over n (dropout with a precomputed mask of 0 and 1/(1-p)). out may alias x. */
  mul(out: F, x: F, mask: F, n: number): void;
  /** x *= s over n. */
  scale(x: F, s: number, n: number): void;
  /** sum of x^2 over n, in float64. */
  sumSquares(x: F, n: number): number;

  /**
   * Per-tensor fake quantization (definition: fakeQuant in src/engine/quantize.ts; docs/quantization.md):
   * out = (q - zp) * scale over x[0..n), one scale for the whole tensor. method 0 symmetric, 1 affine,
   * 2 stochastic (u: n uniforms in [0, 1), else null), 3 ternary; bits 1..16. T = 0: all n entries;
   * T > 0: n / (T*T) causal T x T blocks, statistics and changes over the entries j <= i only (the
   * others copied). level < 0: out = x' (no scheduler); else out = x + level * (x' - x). A tensor whose
   * scale is 0 passes unchanged. out may alias x.
   */
  fakeQuant(out: F, x: F, u: F | null, n: number, T: number, method: number, bits: number, level: number): void;

  /**
   * One AdamW step over n contiguous elements (PyTorch's torch.optim.AdamW):
   *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
   *   p -= lr * wd * p     (decoupled decay, before the moment update is applied)
   *   p -= lr * (m / (1-b1^step)) / (sqrt(v / (1-b2^step)) + eps)
   * step counts from 1.
   */
  adamw(param: F, grad: F, m: F, v: F, n: number, lr: number, beta1: number, beta2: number, eps: number,
    weightDecay: number, step: number): void;

  /**
   * Optional: a zeroed Float32Array of n elements in the backend's own memory, which its kernels
   * then use in place (the wasm backend: no copy in and out of its linear memory), or null when it
   * has no room. The array stays valid until passed to free(); ParamStore allocates the model's
   * parameters, gradients, optimizer moments and activations this way. Any backend accepts such an
   * array, and this backend any other Float32Array.
   */
  alloc?(n: number): Float32Array | null;
  /** Returns an array from alloc() (not a view into one); other arrays are ignored. */
  free?(a: Float32Array): void;

  /**
   * The raw kernels of norms and activations, one typed table per backend (arrays and numbers, no
   * variant parameter names): the native addon's entry points, or the wasm module's. A variant with a
   * fast path adapts them in its own file (Variant.fused in src/nn/variant.ts), so the engine knows
   * kernels, not variants. Both tables take Float32Array only; a kernel both have has one signature.
   */
  readonly native?: NativeKernels;
  readonly wasm?: WasmKernels;
}
