// The WebAssembly backend: the kernels of wasm/assembly (AssemblyScript, 128-bit SIMD) behind the
// Backend interface. This file runs anywhere (Node and browsers): it only needs the compiled
// WebAssembly.Module; index.ts loads it from disk in Node, the playground fetches it.
//
// The module works on its own linear memory. On shared memory (always in Node; in browsers when the
// page is cross-origin isolated) the backend offers alloc(): the model's parameters, gradients,
// AdamW moments and activations (ParamStore.alloc) are then views on that memory, and a call passes
// their addresses: no copies. Any other array (an ordinary Float32Array, e.g. on a backend without
// shared memory) is copied into a per-call area above the resident blocks, and outputs are copied
// back. The norm and activation kernels it has (WasmKernels) are adapted by the variants' own files
// (Backend.wasm, Variant.fused); a variant without one runs its TypeScript code.
// Float32Array only.
//
// With threads > 1 (a module built for shared memory, and a way to start workers), products,
// attention and gelu are split over worker threads (pool.ts); results do not change.
import type { AttnDropout, Backend, MatmulOptions } from '../../backend.js';
import {
  attentionBackward as tsAttentionBackward, attentionForward as tsAttentionForward, ATTN_DECISION, ATTN_QP, ATTN_QS, ATTN_STATE,
  attnExtended, needsCallState, SCORE_KIND, SCORE_NC, scoreSums, softmaxSpec, writeQuantHeaders, type AttnOpts,
} from '../ts/attention.js';
import type { F } from '../../types.js';
import type { NativeKernels } from '../native/native-backend.js';
import { Pool } from './thread-pool.js';

const ARENA = 65536; // bytes below this belong to the module's static data
const PAGE = 65536;
const ALIGN = 64; // resident blocks start on cache lines
const RESIDENT_MAX = 1536 * 1024 * 1024; // resident blocks end below 1.5 GiB: the rest of the 2 GiB is for calls' scratch

/** The functions wasm/assembly/index.ts exports: addresses (bytes) and sizes. */
interface Exports {
  matmulPack(b: number, N: number, K: number, flags: number, work: number): number;
  matmulWork(N: number, K: number): number;
  matmulChunkWork(K: number): number;
  attentionWork(T: number, C: number, NH: number): number;
  attentionScoreWork(T: number, C: number, NH: number): number;
  attentionQuantParams(state: number, o: number, aux: number, pairs: number, rsum: number, rows: number, count: number): void;
  add(out: number, a: number, b: number, n: number): void;
  mul(out: number, x: number, m: number, n: number): void;
  scale(x: number, s: number, n: number): void;
  sumSquares(x: number, n: number): number;
  fakeQuant(out: number, x: number, u: number, n: number, T: number, method: number, bits: number, level: number): void;
  addBias(out: number, bias: number, N: number, C: number): void;
  biasBackward(dbias: number, dout: number, N: number, C: number): void;
  embeddingForward(out: number, idx: number, wte: number, wpe: number, B: number, T: number, C: number): void;
  embeddingBackward(dwte: number, dwpe: number, dout: number, idx: number, B: number, T: number, C: number): void;
  crossEntropyForward(losses: number, probs: number, logits: number, targets: number, N: number, V: number): number;
  crossEntropyBackward(dlogits: number, probs: number, targets: number, scale: number, N: number, V: number): void;
  rmsnormForward(out: number, rrms: number, x: number, gain: number, N: number, C: number): void;
  rmsnormBackward(dx: number, dgain: number, dout: number, x: number, gain: number, rrms: number, N: number, C: number): void;
  layernormForward(out: number, mean: number, rstd: number, x: number, w: number, b: number, N: number, C: number): void;
  layernormBackward(dx: number, dw: number, db: number, dout: number, x: number, w: number, mean: number, rstd: number, N: number, C: number): void;
}

/** The norm kernels of wasm/assembly/variants.ts and the elementwise rows of wasm/assembly/elementwise.ts,
 * with the native addon's signatures (src/engine/kernels/native/native-backend.ts); a variant's own
 * file adapts them (Backend.wasm). */
export type WasmKernels = Pick<NativeKernels, 'rmsnormForward' | 'rmsnormBackward' | 'layernormForward' | 'layernormBackward' |
  'elementwise'>;

/**
 * How a call uses an array: 'in' is copied in, 'out' copied back, 'io' both; n elements from the
 * view's start. null stands for an absent optional array (address 0).
 */
type Arg = [mode: 'in' | 'out' | 'io', arr: F | Int32Array, n: number, name: string] | null;

/**
 * The module's memory from ARENA up: resident blocks (Backend.alloc) from ARENA to `top`, reused
 * first-fit after free(); above `top`, each call's copies and scratch. An array on this memory (any
 * view of a resident block) is passed by its address; any other is copied in and out.
 */
class Arena {
  private f32!: Float32Array;
  private i32!: Int32Array;
  /** The buffers this memory has had (a shared memory gets a new one at each growth; older ones stay valid). */
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  private top = ARENA;
  private readonly live = new Map<number, number>(); // resident block address -> bytes
  private gaps: [start: number, end: number][] = []; // freed blocks below top, sorted, merged

  /** resident: whether alloc() may hand out views (only on shared memory, whose views survive growth). */
  constructor(readonly memory: WebAssembly.Memory, private readonly resident: boolean) {
    this.views();
  }

  private views(): void {
    this.f32 = new Float32Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
    this.buffers.add(this.memory.buffer);
  }

  private reserve(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      this.memory.grow(Math.ceil((end - have) / PAGE));
      this.views();
    }
  }

  /** Whether arr lies in this memory (then its address is its byteOffset). */
  holds(arr: ArrayBufferView): boolean {
    return this.buffers.has(arr.buffer);
  }

  /** A zeroed resident Float32Array of n elements, or null (not shared memory, or past RESIDENT_MAX). */
  alloc(n: number): Float32Array | null {
    if (!this.resident || !(n >= 0)) return null;
    const bytes = Math.max(ALIGN, Math.ceil((n * 4) / ALIGN) * ALIGN);
    let at = -1;
    for (let i = 0; i < this.gaps.length; i++) {
      const [s, e] = this.gaps[i];
      if (e - s < bytes) continue;
      at = s;
      if (e - s === bytes) this.gaps.splice(i, 1); else this.gaps[i] = [s + bytes, e];
      break;
    }
    if (at < 0) {
      if (this.top + bytes > RESIDENT_MAX) return null;
      at = this.top;
      this.reserve(at + bytes);
      this.top += bytes;
    }
    this.live.set(at, bytes);
    const a = new Float32Array(this.memory.buffer, at, n);
    a.fill(0); // a reused block holds old values
    return a;
  }

  /** Returns a block alloc() gave (ignored for anything else). */
  free(a: Float32Array): void {
    const bytes = this.holds(a) ? this.live.get(a.byteOffset) : undefined;
    if (bytes === undefined) return;
    this.live.delete(a.byteOffset);
    let s = a.byteOffset, e = s + bytes;
    const gaps = this.gaps.filter(([gs, ge]) => {
      if (ge === s) { s = gs; return false; }
      if (gs === e) { e = ge; return false; }
      return true;
    });
    if (e === this.top) this.top = s;
    else gaps.push([s, e]);
    this.gaps = gaps.sort((x, y) => x[0] - y[0]);
  }

  /**
   * Lays out the args that are not in this memory (and `work` floats of scratch) from `top` up,
   * grows the memory when needed, copies those inputs in, runs f on the addresses (work last),
   * copies those outputs back.
   */
  call<R>(kernel: string, args: Arg[], work: number, f: (p: number[]) => R): R {
    const ptrs: number[] = [];
    let top = this.top;
    for (const a of args) {
      if (!a) { ptrs.push(0); continue; }
      const [, arr, n, name] = a;
      if (!(arr instanceof Float32Array) && !(arr instanceof Int32Array)) {
        throw new TypeError(`wasm backend ${kernel}: ${name} must be a Float32Array`);
      }
      if (!(n >= 0) || arr.length < n) throw new RangeError(`wasm backend ${kernel}: ${name} has ${arr.length} elements, the sizes need ${n}`);
      if (this.holds(arr)) { ptrs.push(arr.byteOffset); continue; }
      ptrs.push(top);
      top += Math.ceil(n / 4) * 16;
    }
    ptrs.push(top);
    top += Math.ceil(Math.max(work, 0) / 4) * 16;
    this.reserve(top);
    args.forEach((a, i) => {
      if (!a || a[0] === 'out' || this.holds(a[1])) return;
      const [, arr, n] = a, at = ptrs[i] >> 2;
      if (arr instanceof Int32Array) this.i32.set(arr.subarray(0, n), at);
      else this.f32.set(arr.subarray(0, n), at);
    });
    const r = f(ptrs);
    args.forEach((a, i) => {
      if (!a || a[0] === 'in' || this.holds(a[1])) return;
      const [, arr, n] = a, at = ptrs[i] >> 2;
      (arr as Float32Array).set(this.f32.subarray(at, at + n));
    });
    return r;
  }
}

export interface WasmOptions {
  /** Threads including the caller (default 1). More than 1 needs the shared-memory build of the
   * module (wasm/build/normlab-threads.wasm) and `spawn`. */
  threads?: number;
  /** Shared memory even with one thread (needs the shared-memory build); threads > 1 implies it.
   * Only on shared memory does the backend offer alloc(): arrays the kernels use in place. */
  shared?: boolean;
  /** Starts one worker thread that calls pool.ts's threadMain(module, memory). */
  spawn?: (module: WebAssembly.Module, memory: WebAssembly.Memory) => void;
}

const pools = new WeakMap<Backend, Pool>();

/** Chunks of kernel calls that worker threads ran for this backend (tests check that threads work). */
export function wasmWorkerChunks(be: Backend): number {
  return pools.get(be)?.workerChunks() ?? 0;
}

/** Instantiates the compiled module (wasm/build/normlab.wasm, or normlab-threads.wasm with threads) and wraps it as a Backend. */
export function createWasmBackend(module: WebAssembly.Module, opts: WasmOptions = {}): Backend {
  const threads = Math.max(1, Math.floor(opts.threads ?? 1));
  const shared = threads > 1 || opts.shared === true;
  // 2 GiB maximum, as the shared build declares (address space reserved, not allocated).
  const memory = shared ? new WebAssembly.Memory({ initial: 16, maximum: 32768, shared: true }) : new WebAssembly.Memory({ initial: 16 });
  const instance = new WebAssembly.Instance(module, { env: { memory, abort: () => { throw new Error('wasm kernel aborted'); } } });
  const w = instance.exports as unknown as Exports;
  const pool = new Pool(memory, instance.exports as unknown as Record<string, (...a: number[]) => unknown>, threads);
  if (threads > 1) {
    if (!opts.spawn) throw new Error('createWasmBackend: threads > 1 needs opts.spawn');
    for (let t = 1; t < threads; t++) opts.spawn(module, memory);
  }
  const mem = new Arena(memory, shared);
  const be: Backend = {
    name: 'wasm',
    ...denseKernels(mem, w, pool),
    ...attentionKernels(mem, w, pool),
    wasm: wasmKernels(mem, w, pool),
    alloc: (n) => mem.alloc(n),
    free: (a) => mem.free(a),
  };
  pools.set(be, pool);
  return be;
}

/** The Backend's products, embeddings, cross-entropy, elementwise arithmetic and AdamW on the module. */
function denseKernels(mem: Arena, w: Exports, pool: Pool): Omit<Backend, 'name' | 'attentionForward' | 'attentionBackward'> {
  const elementChunks = (n: number) => pool.chunks(Math.ceil(n / 8192));
  return {
    matmul(o: F, a: F, b: F, M: number, N: number, K: number, opts?: MatmulOptions) {
      // bfloat16 (docs/dtype.md): the packed copies of both operands are rounded (flag 8), so the
      // product is the float32 one of rounded operands.
      const flags = (opts?.transA ? 1 : 0) | (opts?.transB ? 2 : 0) | (opts?.accumulate ? 4 : 0) | (opts?.bf16 ? 8 : 0);
      if (!(M > 0 && N > 0)) return;
      const nChunks = pool.chunks(Math.ceil(M / 4));
      // work: B's packed panels, then each chunk's packed rows of A and spill.
      const panel = K > 0 ? w.matmulWork(N, K) : 0;
      mem.call('matmul', [[opts?.accumulate ? 'io' : 'out', o, M * N, 'out'], inp(a, M * K, 'a'), inp(b, K * N, 'b')], panel + w.matmulChunkWork(K) * nChunks,
        ([po, pa, pb, work]) => {
          const bp = K > 0 ? w.matmulPack(pb, N, K, flags, work) : pb;
          pool.run('matmulRows', [po, pa, bp, M, N, K, flags, work + 4 * panel], nChunks);
        });
    },
    addBias: (o, bias, N, C) => mem.call('addBias', [io(o, N * C, 'out'), inp(bias, C, 'bias')], 0, ([a, b]) => w.addBias(a, b, N, C)),
    biasBackward: (db, dout, N, C) => mem.call('biasBackward', [io(db, C, 'dbias'), inp(dout, N * C, 'dout')], 0, ([a, b]) => w.biasBackward(a, b, N, C)),
    embeddingForward(o, idx, wte, wpe, B, T, C) {
      let V = 0;
      for (let i = 0; i < B * T; i++) V = Math.max(V, idx[i] + 1);
      checkIdx(idx, B * T, wte.length / C);
      mem.call('embeddingForward', [out(o, B * T * C, 'out'), inp(idx, B * T, 'idx'), inp(wte, V * C, 'wte'), inp(wpe, T * C, 'wpe')], 0,
        ([a, b, c, d]) => w.embeddingForward(a, b, c, d, B, T, C));
    },
    embeddingBackward(dwte, dwpe, dout, idx, B, T, C) {
      checkIdx(idx, B * T, dwte.length / C);
      const V = Math.floor(dwte.length / C);
      mem.call('embeddingBackward', [io(dwte, V * C, 'dwte'), io(dwpe, T * C, 'dwpe'), inp(dout, B * T * C, 'dout'), inp(idx, B * T, 'idx')], 0,
        ([a, b, c, d]) => w.embeddingBackward(a, b, c, d, B, T, C));
    },
    crossEntropyForward(losses, probs, logits, targets, N, V) {
      checkIdx(targets, N, V, 'targets');
      return mem.call('crossEntropyForward', [out(losses, N, 'losses'), out(probs, N * V, 'probs'), inp(logits, N * V, 'logits'),
        inp(targets, N, 'targets')], 0, ([a, b, c, d]) => w.crossEntropyForward(a, b, c, d, N, V));
    },
    crossEntropyBackward(dlogits, probs, targets, scale, N, V) {
      checkIdx(targets, N, V, 'targets');
      mem.call('crossEntropyBackward', [out(dlogits, N * V, 'dlogits'), inp(probs, N * V, 'probs'), inp(targets, N, 'targets')], 0,
        ([a, b, c]) => w.crossEntropyBackward(a, b, c, scale, N, V));
    },
    add: (o, a, b, n) => mem.call('add', [out(o, n, 'out'), inp(a, n, 'a'), inp(b, n, 'b')], 0, ([x, y, z]) => w.add(x, y, z, n)),
    addInto: (dst, src, n) => mem.call('addInto', [io(dst, n, 'dst'), inp(src, n, 'src')], 0, ([x, y]) => w.add(x, x, y, n)),
    mul: (o, x, m, n) => mem.call('mul', [out(o, n, 'out'), inp(x, n, 'x'), inp(m, n, 'mask')], 0, ([a, b, c]) => w.mul(a, b, c, n)),
    scale: (x, s, n) => mem.call('scale', [io(x, n, 'x')], 0, ([a]) => w.scale(a, s, n)),
    sumSquares: (x, n) => mem.call('sumSquares', [inp(x, n, 'x')], 0, ([a]) => w.sumSquares(a, n)),
    fakeQuant(o, x, u, n, T, method, bits, level) {
      if (!(method >= 0 && method <= 3 && bits >= 1 && bits <= 16)) throw new RangeError(`wasm backend fakeQuant: method ${method}, bits ${bits} out of range`);
      if (method === 2 && !u) throw new TypeError('wasm backend fakeQuant: stochastic_quant needs n uniforms');
      if (T > 0 && n % (T * T) !== 0) throw new RangeError('wasm backend fakeQuant: n must be a multiple of T*T');
      mem.call('fakeQuant', [out(o, n, 'out'), inp(x, n, 'x'), u ? inp(u, n, 'u') : null], 0,
        ([a, b, c]) => w.fakeQuant(a, b, c, n, T, method, bits, level));
    },
    adamw: (param, grad, m, v, n, lr, b1, b2, eps, wd, step) => mem.call('adamw',
      [io(param, n, 'param'), inp(grad, n, 'grad'), io(m, n, 'm'), io(v, n, 'v')], 0,
      ([a, b, c, d]) => pool.run('adamw', [a, b, c, d, n, lr, b1, b2, eps, wd, step], elementChunks(n))),
  };
}

/** Attention on the module, split over the threads by (batch, head); a score transform runs the TypeScript kernels.
 * bfloat16 (docs/dtype.md): rounded copies of q, k, v (and backward's dout for its products) are made
 * in the call's scratch (roundBf16, threaded), and the kernels round the weights they multiply by (flag 1). */
function attentionKernels(mem: Arena, w: Exports, pool: Pool): Pick<Backend, 'attentionForward' | 'attentionBackward'> {
  const round = (n: number, pairs: [dst: number, src: number][]) => {
    for (const [dst, src] of pairs) pool.run('roundBf16', [dst, src, n], pool.chunks(Math.ceil(n / 8192)));
  };
  const score = scoreKernels(mem, w, pool, round);
  return {
    attentionForward(o, stats, q, k, v, drop, B, T, C, NH, opts) {
      if (opts?.transform && !opts.kernel) { tsAttentionForward(o, stats, q, k, v, drop, B, T, C, NH, opts); return; }
      if (attnExtended(opts)) { score.forward(o, stats, q, k, v, drop, B, T, C, NH, opts!); return; }
      checkHeads(C, NH); checkDrop(drop);
      const n = B * T * C, nS = 2 * B * NH * T, nChunks = pool.chunks(B * NH), bf = opts?.bf16 === true;
      const p = drop?.p ?? 0, seed = drop?.seed ?? 0, n4 = Math.ceil(n / 4) * 4, aw = Math.ceil(nChunks * w.attentionWork(T, C, NH) / 4) * 4;
      mem.call('attentionForward', [out(o, n, 'out'), out(stats, nS, 'stats'), inp(q, n, 'q'), inp(k, n, 'k'), inp(v, n, 'v')],
        aw + (bf ? 3 * n4 : 0), ([a, b, c, d, e, work]) => {
          if (bf) { // rounded q, k, v above the kernel's work
            const r = work + 4 * aw;
            round(n, [[r, c], [r + 4 * n4, d], [r + 8 * n4, e]]);
            [c, d, e] = [r, r + 4 * n4, r + 8 * n4];
          }
          pool.run('attentionForward', [a, b, c, d, e, p, seed, B, T, C, NH, bf ? 1 : 0, work], nChunks);
        });
    },
    attentionBackward(dq, dk, dv, dout, o, stats, q, k, v, drop, B, T, C, NH, opts) {
      if (opts?.transform && !opts.kernel) { tsAttentionBackward(dq, dk, dv, dout, o, stats, q, k, v, drop, B, T, C, NH, opts); return; }
      if (attnExtended(opts)) { score.backward(dq, dk, dv, dout, stats, q, k, v, drop, B, T, C, NH, opts!); return; }
      checkHeads(C, NH); checkDrop(drop);
      const n = B * T * C, nS = 2 * B * NH * T, nChunks = pool.chunks(B * NH), bf = opts?.bf16 === true;
      const p = drop?.p ?? 0, seed = drop?.seed ?? 0, n4 = Math.ceil(n / 4) * 4, aw = Math.ceil(nChunks * w.attentionWork(T, C, NH) / 4) * 4;
      mem.call('attentionBackward', [io(dq, n, 'dq'), io(dk, n, 'dk'), io(dv, n, 'dv'), inp(dout, n, 'dout'), inp(o, n, 'out'),
        inp(stats, nS, 'stats'), inp(q, n, 'q'), inp(k, n, 'k'), inp(v, n, 'v')], aw + (bf ? 4 * n4 : 0),
      ([a, b, c, d, e, f, g, h, i, work]) => {
        let dor = d;
        if (bf) { // rounded q, k, v and the products' dout above the kernel's work
          const r = work + 4 * aw;
          round(n, [[r, g], [r + 4 * n4, h], [r + 8 * n4, i], [r + 12 * n4, d]]);
          [g, h, i, dor] = [r, r + 4 * n4, r + 8 * n4, r + 12 * n4];
        }
        pool.run('attentionBackward', [a, b, c, d, dor, e, f, g, h, i, p, seed, B, T, C, NH, bf ? 1 : 0, work], nChunks);
      });
    },
  };
}

/** One score-kernel call's kind, spec and sizes, checked (the kernel contract of docs/softmax.md). */
function scoreCall(w: Exports, pool: Pool, opts: AttnOpts, drop: AttnDropout | null, B: number, T: number, C: number, NH: number) {
  checkHeads(C, NH); checkDrop(drop);
  const K = opts.kernel, kind = K?.kind ?? 0, nk = K?.nk ?? 0, specLen = SCORE_NC + 4 * NH + 2 * nk;
  const spec = K?.spec ?? softmaxSpec(NH);
  if (!(Number.isInteger(kind) && kind >= 0 && kind <= SCORE_KIND.pfla)) throw new RangeError(`wasm backend attention: score kind ${kind} unknown`);
  if (spec.length < specLen) throw new RangeError(`wasm backend attention: spec has ${spec.length} values, kind ${kind} with ${NH} heads and ${nk} knots needs ${specLen}`);
  if (kind === SCORE_KIND.pfla && nk < 2) throw new RangeError(`wasm backend attention: pfla needs at least 2 knots, got ${nk}`);
  const G = scoreSums(kind, nk), pairs = B * NH, n = B * T * C;
  if (K && (K.G !== G || K.sums.length < pairs * G)) throw new RangeError(`wasm backend attention: kind ${kind} writes ${G} sums per pair (${pairs * G} in all), the kernel has G = ${K.G}, ${K.sums.length}`);
  if (needsCallState(opts) && !(opts.state && opts.state.length >= ATTN_STATE)) throw new RangeError(`wasm backend attention: quantizers and per-call decisions need opts.state (${ATTN_STATE} doubles)`);
  const nChunks = pool.chunks(pairs), aw = ceil4(nChunks * w.attentionScoreWork(T, C, NH));
  return { K, kind, nk, spec, specLen, G, pairs, n, n4: ceil4(n), nChunks, aw, bf: opts.bf16 === true, p: drop?.p ?? 0, seed: drop?.seed ?? 0 };
}

const ceil4 = (x: number) => Math.ceil(x / 4) * 4;

/** Softmax variants (opts.kernel) and the in-attention quantizers (opts.quantS, quantP) inside the
 * rows of the wasm attention (wasm/assembly/attention.ts, softmax.ts; docs/softmax.md "Inside the
 * attention kernel"). Forward runs the pre-passes the call needs (the scores' statistics, the call's
 * decision, the weights' statistics) before the main pass and leaves the state in opts.state; backward
 * reads it and writes the variant's per-pair gradient sums into opts.kernel.sums. */
function scoreKernels(mem: Arena, w: Exports, pool: Pool, round: (n: number, pairs: [number, number][]) => void) {
  const f64 = (at: number, n: number) => new Float64Array(mem.memory.buffer, at, n);
  return {
    forward(o: F, stats: F, q: F, k: F, v: F, drop: AttnDropout | null, B: number, T: number, C: number, NH: number, opts: AttnOpts): void {
      const c = scoreCall(w, pool, opts, drop, B, T, C, NH), rows = c.pairs * T, auxF = ceil4(3 * c.pairs);
      // scratch: the kernel's work | state (f64) | per-pair statistics | per-row sums (f64) | rounded q, k, v
      mem.call('attentionScoreForward', [out(o, c.n, 'out'), out(stats, 2 * rows, 'stats'), inp(q, c.n, 'q'), inp(k, c.n, 'k'),
        inp(v, c.n, 'v'), inp(c.spec, c.specLen, 'spec')], c.aw + 2 * ATTN_STATE + auxF + 2 * rows + (c.bf ? 3 * c.n4 : 0),
      ([a, b, pq, pk, pv, sp, work]) => {
        const stA = work + 4 * c.aw, auxA = stA + 8 * ATTN_STATE, rsA = auxA + 4 * auxF, bfA = rsA + 8 * rows;
        const st = f64(stA, ATTN_STATE);
        st.fill(0);
        writeQuantHeaders(st, opts);
        if (c.bf) {
          round(c.n, [[bfA, pq], [bfA + 4 * c.n4, pk], [bfA + 8 * c.n4, pv]]);
          [pq, pk, pv] = [bfA, bfA + 4 * c.n4, bfA + 8 * c.n4];
        }
        const run = (pass: number) => pool.run('attentionScoreForward', [a, b, pq, pk, pv, c.p, c.seed, B, T, C, NH, (c.bf ? 1 : 0) | (pass << 1),
          c.kind, sp, c.nk, stA, auxA, rsA, work], c.nChunks);
        const count = c.pairs * T * (T + 1) / 2;
        if (opts.quantS) { run(1); w.attentionQuantParams(stA, ATTN_QS, auxA, c.pairs, rsA, rows, count); }
        if (c.kind === SCORE_KIND.exprow && c.spec[3] === 3) {
          run(2);
          const aux = new Float32Array(mem.memory.buffer, auxA, 3 * c.pairs);
          let mx = -Infinity;
          for (let i = 0; i < c.pairs; i++) mx = Math.max(mx, aux[3 * i + 1]);
          st[ATTN_DECISION] = mx > c.spec[6] ? 1 : 0;
        }
        if (opts.quantP) { run(3); w.attentionQuantParams(stA, ATTN_QP, auxA, c.pairs, rsA, rows, count); }
        run(0);
        opts.state?.set(st);
      });
    },
    backward(dq: F, dk: F, dv: F, dout: F, stats: F, q: F, k: F, v: F, drop: AttnDropout | null, B: number, T: number, C: number, NH: number, opts: AttnOpts): void {
      const c = scoreCall(w, pool, opts, drop, B, T, C, NH), nG = c.pairs * c.G;
      // scratch: the kernel's work | state (f64) | gradient sums (f64) | rounded q, k, v, dout
      mem.call('attentionScoreBackward', [io(dq, c.n, 'dq'), io(dk, c.n, 'dk'), io(dv, c.n, 'dv'), inp(dout, c.n, 'dout'),
        inp(stats, 2 * c.pairs * T, 'stats'), inp(q, c.n, 'q'), inp(k, c.n, 'k'), inp(v, c.n, 'v'), inp(c.spec, c.specLen, 'spec')],
      c.aw + 2 * ATTN_STATE + ceil4(2 * nG) + (c.bf ? 4 * c.n4 : 0),
      ([a, b, d, pdo, e, pq, pk, pv, sp, work]) => {
        const stA = work + 4 * c.aw, sA = stA + 8 * ATTN_STATE, bfA = sA + 4 * ceil4(2 * nG);
        const st = f64(stA, ATTN_STATE);
        if (opts.state) st.set(opts.state.subarray(0, ATTN_STATE));
        else { st.fill(0); writeQuantHeaders(st, opts); }
        if (c.bf) {
          round(c.n, [[bfA, pq], [bfA + 4 * c.n4, pk], [bfA + 8 * c.n4, pv], [bfA + 12 * c.n4, pdo]]);
          [pq, pk, pv, pdo] = [bfA, bfA + 4 * c.n4, bfA + 8 * c.n4, bfA + 12 * c.n4];
        }
        pool.run('attentionScoreBackward', [a, b, d, pdo, e, pq, pk, pv, c.p, c.seed, B, T, C, NH, c.bf ? 1 : 0, c.kind, sp, c.nk, stA, sA, work], c.nChunks);
        if (c.K && nG > 0) c.K.sums.set(f64(sA, nG));
      });
    },
  };
}

const io = (arr: F, n: number, name: string): Arg => ['io', arr, n, name];
const inp = (arr: F | Int32Array, n: number, name: string): Arg => ['in', arr, n, name];
const out = (arr: F, n: number, name: string): Arg => ['out', arr, n, name];
const opt = (arr: F | null, mode: 'in' | 'io', n: number, name: string): Arg => (arr ? [mode, arr, n, name] : null);

/** The WasmKernels table: each call lays its arrays out in the module's memory (Arena.call). The
 * elementwise rows are split over the threads (thread-pool.ts); the norms run on the calling thread. */
function wasmKernels(mem: Arena, w: Exports, pool: Pool): WasmKernels {
  const elementChunks = (n: number) => pool.chunks(Math.ceil(n / 8192));
  const entries = w as unknown as Record<string, unknown>;
  return {
    rmsnormForward: (o, rrms, x, gain, N, C) => mem.call('rmsnorm', [out(o, N * C, 'out'), out(rrms, N, 'rrms'), inp(x, N * C, 'x'),
      inp(gain, C, 'gain')], 0, ([a, b, c, d]) => w.rmsnormForward(a, b, c, d, N, C)),
    rmsnormBackward: (dx, dgain, dout, x, gain, rrms, N, C) => mem.call('rmsnorm', [io(dx, N * C, 'dx'), io(dgain, C, 'dgain'),
      inp(dout, N * C, 'dout'), inp(x, N * C, 'x'), inp(gain, C, 'gain'), inp(rrms, N, 'rrms')], 0,
    ([a, b, c, d, e, f]) => w.rmsnormBackward(a, b, c, d, e, f, N, C)),
    layernormForward: (o, mean, rstd, x, weight, bias, N, C) => mem.call('layernorm', [out(o, N * C, 'out'), out(mean, N, 'mean'),
      out(rstd, N, 'rstd'), inp(x, N * C, 'x'), inp(weight, C, 'weight'), opt(bias, 'in', C, 'bias')], 0,
    ([a, b, c, d, e, f]) => w.layernormForward(a, b, c, d, e, f, N, C)),
    layernormBackward: (dx, dweight, dbias, dout, x, weight, mean, rstd, N, C) => mem.call('layernorm', [io(dx, N * C, 'dx'),
      io(dweight, C, 'dweight'), opt(dbias, 'io', C, 'dbias'), inp(dout, N * C, 'dout'), inp(x, N * C, 'x'), inp(weight, C, 'weight'),
      inp(mean, N, 'mean'), inp(rstd, N, 'rstd')], 0, ([a, b, c, d, e, f, g, h]) => w.layernormBackward(a, b, c, d, e, f, g, h, N, C)),
    // wasm/assembly/elementwise.ts: <name>Forward(out, x, n, chunk, nChunks) and
    // <name>Backward(dx, dout, x, n, chunk, nChunks), found by name (5 and 6 parameters).
    elementwise(name) {
      const f = `${name}Forward`, b = `${name}Backward`, fn = entries[f], bn = entries[b];
      if (!(typeof fn === 'function' && fn.length === 5 && typeof bn === 'function' && bn.length === 6)) return undefined;
      return {
        forward: (o, x, n) => mem.call(f, [out(o, n, 'out'), inp(x, n, 'x')], 0, ([a, c]) => pool.run(f, [a, c, n], elementChunks(n))),
        backward: (dx, dout, x, n) => mem.call(b, [io(dx, n, 'dx'), inp(dout, n, 'dout'), inp(x, n, 'x')], 0,
          ([a, c, d]) => pool.run(b, [a, c, d, n], elementChunks(n))),
      };
    },
  };
}

function checkDrop(drop: AttnDropout | null): void {
  if (drop && !(drop.p >= 0 && drop.p < 1)) throw new RangeError(`wasm backend attention: dropout p must be in [0, 1), got ${drop.p}`);
  if (drop && !(Number.isInteger(drop.seed) && drop.seed >= 0 && drop.seed <= 0xffffffff)) throw new RangeError(`wasm backend attention: seed must be a uint32, got ${drop.seed}`);
}

function checkHeads(C: number, NH: number): void {
  if (!(NH > 0) || C % NH !== 0) throw new RangeError(`wasm backend attention: C = ${C} is not a multiple of NH = ${NH}`);
}

/** Token ids (and targets) index rows: out-of-range ones would read outside the arrays. */
function checkIdx(idx: Int32Array, n: number, V: number, name = 'idx'): void {
  for (let i = 0; i < n; i++) {
    if (!(idx[i] >= 0 && idx[i] < V)) throw new RangeError(`wasm backend: ${name}[${i}] = ${idx[i]} is outside [0, ${V})`);
  }
}
