// The native backend: the kernels of native/src (C, our own SGEMM, a thread pool) behind the
// Backend interface. It is optional: when the addon was not built (no C compiler),
// loadNativeBackend() returns null and nativeBackendError() says why. Float32Array only; every
// kernel here is checked against its TypeScript twin by test/backends.test.ts.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { AttnOpts, Backend, MatmulOptions } from '../../backend.js';
import type { F } from '../../types.js';
import { attentionBackward as tsAttentionBackward, attentionForward as tsAttentionForward, ATTN_STATE, attnExtended, softmaxSpec, writeQuantHeaders } from '../ts/attention.js';

/** The functions native/src/addon.c exports (argument order as in the Backend interface), and its
 * elementwise pairs by name: every variant with a native fast path adapts these in its own file
 * (Backend.native, Variant.fused). */
export type NativeKernels = AddonBase & ElementwiseTable;
type Addon = AddonBase;

/** A parameter-free elementwise function's kernels over n elements: out = f(x); dx += dout f'(x). */
export interface Elementwise {
  forward(out: F, x: F, n: number): void;
  backward(dx: F, dout: F, x: F, n: number): void;
}

/** A backend's elementwise kernels by name: native/src/elementwise.h's `addon` column (one row per
 * activation) on native, wasm/assembly/elementwise.ts's rows on wasm; undefined for a name the
 * table has no row for. Names are not listed in TypeScript: the table is the list. */
export interface ElementwiseTable {
  elementwise(name: string): Elementwise | undefined;
}

/** The Backend kernels, with the same signatures, except matmul's options packed into bit flags. */
type AddonKernels = Omit<Backend, 'name' | 'matmul' | 'native' | 'wasm' | 'attentionForward' | 'attentionBackward'>;

interface AddonBase extends AddonKernels {
  info(): NativeInfo;
  gemmSelect(name: string): string;
  simdSelect(name: string): string;
  fmaPeak(bits: number, threads: number, cpuTime: boolean): number;
  matmul(out: F, a: F, b: F, M: number, N: number, K: number, flags: number): void;
  /** Attention with the dropout as two numbers (p = 0: none) instead of an object. */
  attentionForward(out: F, stats: F, q: F, k: F, v: F, p: number, seed: number, B: number, T: number, C: number, NH: number, bf16: number): void;
  attentionBackward(dq: F, dk: F, dv: F, dout: F, out: F, stats: F, q: F, k: F, v: F, p: number, seed: number,
    B: number, T: number, C: number, NH: number, bf16: number): void;
  /** Attention with a softmax variant and/or quantizers inside the strips (AttnOpts in kernels/ts/attention.ts):
   * kind, spec = c[8] | hp[4 NH] | xs[nk] | ys[nk], state (ATTN_STATE doubles), backward's sums (B NH G). */
  attentionScoreForward(out: F, stats: F, q: F, k: F, v: F, p: number, seed: number, B: number, T: number, C: number, NH: number,
    bf16: number, kind: number, spec: F, nk: number, state: Float64Array): void;
  attentionScoreBackward(dq: F, dk: F, dv: F, dout: F, out: F, stats: F, q: F, k: F, v: F, p: number, seed: number,
    B: number, T: number, C: number, NH: number, bf16: number, kind: number, spec: F, nk: number, state: Float64Array,
    sums: Float64Array, G: number): void;
  rmsnormForward(out: F, rrms: F, x: F, gain: F, N: number, C: number): void;
  rmsnormBackward(dx: F, dgain: F, dout: F, x: F, gain: F, rrms: F, N: number, C: number): void;
  layernormForward(out: F, mean: F, rstd: F, x: F, weight: F, bias: F | null, N: number, C: number): void;
  layernormBackward(dx: F, dweight: F, dbias: F | null, dout: F, x: F, weight: F, mean: F, rstd: F, N: number, C: number): void;
  preluForward(out: F, x: F, a: number, N: number, C: number): void;
  preluBackward(dx: F, da: F | null, dout: F, x: F, a: number, N: number, C: number): void;
  geluShiftedForward(out: F, x: F, shift: number, N: number, C: number): void;
  geluShiftedBackward(dx: F, dshift: F | null, dout: F, x: F, shift: number, N: number, C: number): void;
  gluForward(out: F, x: F, N: number, C: number): void;
  gluBackward(dx: F, dout: F, x: F, N: number, C: number): void;
  prmsnormForward(out: F, rrms: F, x: F, gain: F, N: number, C: number, k: number): void;
  prmsnormBackward(dx: F, dgain: F, dout: F, x: F, gain: F, rrms: F, N: number, C: number, k: number): void;
  hyperspherenormForward(out: F, rnorm: F, x: F, gain: F | null, radius: number, N: number, C: number): void;
  hyperspherenormBackward(dx: F, dgain: F | null, dradius: F | null, dout: F, x: F, gain: F | null, radius: number,
    rnorm: F, N: number, C: number): void;
  krmsnormForward(out: F, vq: F, rrms: F, full: F, x: F, gain: F | null, sel: F, N: number, C: number, k: number,
    qtype: number, pct: number): number;
  krmsnormBackward(dx: F, dgain: F | null, dout: F, x: F, gain: F | null, sel: F, vq: F, rrms: F, full: F, N: number,
    C: number, k: number): void;
  dactScale(ax: F, x: F, alpha: number, n: number): void;
  dactAffineForward(out: F, act: F, gamma: F | null, beta: F | null, N: number, C: number): void;
  dactAffineBackward(gdout: F | null, dgamma: F | null, dbeta: F | null, dout: F, act: F, gamma: F | null, N: number, C: number): void;
  dactInputBackward(dx: F, dalpha: F | null, dax: F, x: F, alpha: number, N: number, C: number): void;
  rreluForward(out: F, slope: F, x: F, state: Uint32Array | null, n: number): void;
  rreluBackward(dx: F, dout: F, x: F, slope: F, n: number): void;
  pwlForward(out: F, x: F, xv: F, yv: F, slope: F, count: number, n: number, R: number, le: number, inc: number): void;
  pwlBackward(dx: F, acc: Float64Array, dout: F, x: F, xv: F, yv: F, slope: F, count: number, n: number, R: number,
    le: number, inc: number): void;
  splineForward(out: F, x: F, knots: F, coef: F, count: number, n: number): void;
  splineBackward(dx: F, acc: Float64Array, dout: F, x: F, knots: F, coef: F, count: number, n: number): void;
}

/** The addon's entry points with its pairs `<name>Forward(out, x, n)` / `<name>Backward(dx, dout, x, n)`
 * found by name (gelu, and each row of native/src/elementwise.h). */
function nativeKernels(a: Addon): NativeKernels {
  const fns = a as unknown as Record<string, unknown>;
  return Object.assign(Object.create(a) as Addon, {
    elementwise(name: string): Elementwise | undefined {
      const forward = fns[`${name}Forward`], backward = fns[`${name}Backward`];
      if (typeof forward !== 'function' || typeof backward !== 'function') return undefined;
      return { forward: forward as Elementwise['forward'], backward: backward as Elementwise['backward'] };
    },
  });
}

/** Where scripts/build-native.mjs leaves the addon (repo root/native/build/Release). */
export function nativeAddonPath(): string {
  // This file is dist/src/engine/kernels/native/native-backend.js once compiled: five levels below the root.
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '../../../../..', 'native/build/Release/normlab.node');
}

let addon: Addon | null | undefined; // undefined: not tried yet
let loadError: string | null = null;

function load(): Addon | null {
  if (addon !== undefined) return addon;
  const file = nativeAddonPath();
  if (!existsSync(file)) {
    loadError = 'native/build/Release/normlab.node is missing';
    addon = null;
    return null;
  }
  try {
    addon = createRequire(import.meta.url)(file) as Addon;
  } catch (e) {
    // Typically a missing shared library (libopenblas.so.0 of an --openblas build) on another machine.
    loadError = `loading ${path.relative(process.cwd(), file) || file} failed: ${(e as Error).message.split('\n')[0]}`;
    addon = null;
  }
  return addon;
}

/** Why the native backend is unavailable, or null when it loads. */
export function nativeBackendError(): string | null {
  load();
  return loadError;
}

/** Threads, GEMM and SIMD level of the other kernels (selected, and available ones, comma-separated). */
export interface NativeInfo {
  threads: number; gemm: string; gemms: string; simd: string; simds: string;
  /** The bfloat16 products' kernel under the selected GEMM: avx512bf16 (vdpbf16ps), or avx2-fma /
   * generic (float32 FMAs, the same numbers, slower); native/src/gemm_bf16.c. */
  gemmBf16: string;
}

const NO_SUMS = new Float64Array(0);

/** How the native backend runs attention under opts: the plain kernel (null), the TypeScript definition
 * ('ts': a transform without a kernel form, or a Float64Array state missing), or the extended kernel
 * with these arguments (kind 0 = plain softmax with quantizers; the quantizers' fields of the state). */
function extended(opts: AttnOpts | undefined, NH: number): 'ts' | null | { kind: number; spec: Float32Array; nk: number; state: Float64Array; sums: Float64Array; G: number } {
  if (!attnExtended(opts)) return null;
  if (opts!.transform && !opts!.kernel) return 'ts';
  const state = opts!.state;
  if (!state || state.length < ATTN_STATE) return 'ts';
  writeQuantHeaders(state, opts!);
  const k = opts!.kernel;
  return k ? { kind: k.kind, spec: k.spec, nk: k.nk, state, sums: k.sums, G: k.G }
    : { kind: 0, spec: softmaxSpec(NH), nk: 0, state, sums: NO_SUMS, G: 0 };
}

/** What the addon runs with, or null when it is not built. */
export function nativeInfo(): NativeInfo | null {
  const a = load();
  return a ? a.info() : null;
}

function matmulFlags(opts?: MatmulOptions): number {
  return (opts?.transA ? 1 : 0) | (opts?.transB ? 2 : 0) | (opts?.accumulate ? 4 : 0) | (opts?.bf16 ? 8 : 0);
}

/** The native backend, or null when the addon is not built (see nativeBackendError()). */
export function loadNativeBackend(): Backend | null {
  const a = load();
  if (!a) return null;
  return {
    name: 'native',
    matmul: (out, x, y, M, N, K, opts) => a.matmul(out, x, y, M, N, K, matmulFlags(opts)),
    addBias: a.addBias,
    biasBackward: a.biasBackward,
    embeddingForward: a.embeddingForward,
    embeddingBackward: a.embeddingBackward,
    // A softmax variant (opts.kernel) and the quantizers run inside the strips (attentionScore*); a
    // transform without a kernel form runs the TypeScript definition.
    attentionForward: (out, stats, q, k, v, drop, B, T, C, NH, opts) => {
      const x = extended(opts, NH);
      if (x === 'ts') tsAttentionForward(out, stats, q, k, v, drop, B, T, C, NH, opts);
      else if (x) {
        a.attentionScoreForward(out, stats, q, k, v, drop?.p ?? 0, drop?.seed ?? 0, B, T, C, NH, opts?.bf16 ? 1 : 0,
          x.kind, x.spec, x.nk, x.state);
      } else a.attentionForward(out, stats, q, k, v, drop?.p ?? 0, drop?.seed ?? 0, B, T, C, NH, opts?.bf16 ? 1 : 0);
    },
    attentionBackward: (dq, dk, dv, dout, out, stats, q, k, v, drop, B, T, C, NH, opts) => {
      const x = extended(opts, NH);
      if (x === 'ts') tsAttentionBackward(dq, dk, dv, dout, out, stats, q, k, v, drop, B, T, C, NH, opts);
      else if (x) {
        a.attentionScoreBackward(dq, dk, dv, dout, out, stats, q, k, v, drop?.p ?? 0, drop?.seed ?? 0, B, T, C, NH,
          opts?.bf16 ? 1 : 0, x.kind, x.spec, x.nk, x.state, x.sums, x.G);
      } else a.attentionBackward(dq, dk, dv, dout, out, stats, q, k, v, drop?.p ?? 0, drop?.seed ?? 0, B, T, C, NH, opts?.bf16 ? 1 : 0);
    },
    crossEntropyForward: a.crossEntropyForward,
    crossEntropyBackward: a.crossEntropyBackward,
    add: a.add,
    addInto: a.addInto,
    mul: a.mul,
    scale: a.scale,
    sumSquares: a.sumSquares,
    fakeQuant: a.fakeQuant,
    adamw: a.adamw,
    native: nativeKernels(a),
  };
}

/** Our GEMM's controls (native/src/gemm.h), for `normlab bench --gemm` and the tests. */
export interface NativeGemm {
  /** The GEMMs this build and CPU offer, best first: avx512, avx2, neon (ARM64), generic, and openblas when linked. */
  available: string[];
  current(): string;
  /** Every later product (matmul and attention) uses `name`; throws a RangeError if unavailable. */
  select(name: string): void;
  /**
   * GFLOP/s of a register-only FMA loop with 512- or 256-bit vectors on `threads` threads (0: no
   * such ISA); with cpuTime, per CPU second of the process times threads (see native/src/gemm.h).
   * bits = 16: vdpbf16ps (AVX512_BF16, bfloat16 pairs into float32; 0 without it).
   */
  fmaPeak(bits: 512 | 256 | 16, threads: number, cpuTime?: boolean): number;
}

/**
 * The SIMD level of every kernel but the GEMM (native/src/vmath.h): avx512, avx2 or generic, by
 * default the best this CPU has; for `normlab bench --simds` and the parity tests of each level.
 */
export interface NativeSimd {
  /** The levels this CPU runs, best first. */
  available: string[];
  current(): string;
  /** Every later kernel call runs the clone compiled for `name`; throws a RangeError if unavailable. */
  select(name: string): void;
}

export function nativeSimd(): NativeSimd | null {
  const a = load();
  if (!a) return null;
  return { available: a.info().simds.split(','), current: () => a.info().simd, select: (name) => { a.simdSelect(name); } };
}

/** The GEMM controls, or null when the addon is not built. */
export function nativeGemm(): NativeGemm | null {
  const a = load();
  if (!a) return null;
  return {
    available: a.info().gemms.split(','),
    current: () => a.info().gemm,
    select: (name) => { a.gemmSelect(name); },
    fmaPeak: (bits, threads, cpuTime = false) => a.fmaPeak(bits, threads, cpuTime),
  };
}
