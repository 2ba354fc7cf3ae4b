// Backend parity: every kernel of the Backend interface, and every variant override of a fast
// backend (native, wasm), gets the same seeded inputs there and in `ts`; outputs must satisfy
// |fast - ts| <= atol + rtol * |ts| (tolerances below, with the reason for each; both fast backends
// are held to the same classes). Inputs are Float32Array views at odd offsets inside larger
// buffers, and the WHOLE buffers are compared, so a write outside a view fails the test too. Sizes cover 1 row, odd widths, T = 1,
// attention across the 64-row causal blocks, and arrays large enough to run on the thread pool.
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { Rng } from '../src/engine/rng.js';
import type { Backend } from '../src/engine/backend.js';
import { tsBackend } from '../src/engine/kernels/ts/ts-backend.js';
import { loadNativeBackend, nativeBackendError, nativeSimd } from '../src/engine/kernels/native/native-backend.js';
import { createNodeWasmBackend, loadWasmBackend, wasmBackendError, wasmModulePath } from '../src/engine/kernels/wasm/node-loader.js';
import { createWasmBackend, wasmWorkerChunks } from '../src/engine/kernels/wasm/wasm-backend.js';
import { selectBackend } from '../src/engine/select.js';
import { UserError } from '../src/util/errors.js';
import { norms } from '../src/nn/norms/norm-registry.js';
import { activations } from '../src/nn/activations/activation-registry.js';
import { MetricCtx } from '../src/nn/params.js';
import { defaultConfig } from '../src/config/config.js';
import type { ModelConfig } from '../src/config/config-types.js';
import { fusedKernels, type Variant } from '../src/nn/variant.js';

const native = loadNativeBackend(), simd = nativeSimd();
const skip: string | false = native ? false : `native backend not built (${nativeBackendError()}): run \`npm run build:native\``;
const wasm = loadWasmBackend();

/**
 * The backends checked against ts; the wasm module is built by every `npm install`, so never
 * skipped. The native kernels outside the GEMM have a clone per SIMD level (native/src/vmath.h):
 * the best one this CPU runs is the default (NORMLAB_SIMD may name another), and every other level
 * it runs is checked too, with the same tolerances: the levels differ only in vector width,
 * libmvec's variant, and so the order of sums.
 */
const FAST: { label: string; be: Backend | null; skip: string | false; simd?: string }[] = [
  { label: 'native', be: native, skip },
  ...(simd?.available.filter((l) => l !== simd.current()) ?? []).map((level) => ({ label: `native simd=${level}`, be: native, skip, simd: level })),
  { label: 'wasm', be: wasm, skip: false },
];

/** Registers a parity test once per fast backend (and native SIMD level); the body gets the backend under test. */
function backendTest(name: string, body: (be: Backend, label: string) => void): void {
  for (const f of FAST) test(`${f.label}: ${name}`, { skip: f.skip }, () => {
    assert.ok(f.be, `${f.label} backend not available: ${f.label === 'wasm' ? wasmBackendError() : nativeBackendError()}`);
    const before = simd?.current();
    if (f.simd) simd!.select(f.simd);
    try {
      body(f.be, f.label);
    } finally {
      if (before) simd!.select(before);
    }
  });
}

// CI builds the addon with --strict and sets NORMLAB_REQUIRE_NATIVE=1, so a missing addon fails
// there instead of silently skipping every parity test.
test('native backend is built when NORMLAB_REQUIRE_NATIVE=1', { skip: process.env.NORMLAB_REQUIRE_NATIVE === '1' ? false : 'NORMLAB_REQUIRE_NATIVE is not set' }, () => {
  assert.ok(native, `native backend required but not available: ${nativeBackendError()}`);
});
const EPS32 = 2 ** -23; // float32 spacing at 1 (2x the unit roundoff)

// Tolerances. Inputs are N(0, 1) unless said otherwise.
// EXACT: the native kernel does the same double arithmetic as the TypeScript one and rounds once
//   (elementwise ops, bias add, embedding lookup, dropout mask, cross-entropy gradient, relu).
const EXACT = { atol: 0, rtol: 0 };
// ROW: a statistic over a row summed in double in both backends (in another order), then per
//   element double arithmetic: the results differ by an ulp or two of float32 at most.
const ROW = { atol: 4 * EPS32, rtol: 4 * EPS32 };
// ACCUM(n): sums over n rows accumulated into float32 arrays. The TypeScript kernels round the
//   running float32 sum at every one of the n steps (a random walk of n roundings of size up to
//   eps32 * |partial sum| ~ eps32 * sqrt(n)), the native ones sum in double; expected difference
//   ~ eps32 * n, so atol = 8 eps32 n with rtol 8 eps32 is several times the typical error, while a
//   wrong or missing term (size ~ 1) is far above it.
const ACCUM = (n: number) => ({ atol: 8 * EPS32 * Math.max(n, 1), rtol: 8 * EPS32 });
// GEMM(K): float32 sgemm (blocked, FMA) against the TypeScript loops, which accumulate into the
//   float32 output (NN, TN) or in double (NT, TT). Each result is a sum of K products of size ~1:
//   error bound gamma_K * sum|a b| ~ K eps32 * 0.64 K in the worst case, ~ eps32 K in practice
//   (random walk with partial sums ~ sqrt K). atol = 16 eps32 K (2e-6 K) keeps a margin of ~10x
//   over observed differences.
const GEMM = (K: number) => ({ atol: 16 * EPS32 * Math.max(K, 1), rtol: 16 * EPS32 });
// LIBM: expf / erff from libm (vector variants, documented at <= 4 ulp) and float arithmetic
//   around them (softmax, cross-entropy probabilities, gelu): rtol 32 eps32 (4e-6); atol 1e-6
//   covers results that cancel to ~0 (gelu's derivative at x ~ -0.75, gelu(x) for x << 0).
const LIBM = { atol: 1e-6, rtol: 32 * EPS32 };

type Tol = { atol: number; rtol: number };

/** Seeded N(0, scale^2) values in a view at `offset` inside a buffer with 3 guard elements after it. */
function view(rng: Rng, n: number, offset: number, scale = 1): Float32Array {
  const buf = new Float32Array(offset + n + 3);
  for (let i = 0; i < buf.length; i++) buf[i] = rng.normal() * scale;
  return buf.subarray(offset, offset + n);
}

function ints(rng: Rng, n: number, max: number, offset = 1): Int32Array {
  const buf = new Int32Array(offset + n + 2).fill(-1);
  for (let i = 0; i < n; i++) buf[offset + i] = rng.int(max);
  return buf.subarray(offset, offset + n);
}

function assertClose(what: string, got: Float32Array, want: Float32Array, tol: Tol, label = 'native'): void {
  const g = new Float32Array(got.buffer), w = new Float32Array(want.buffer); // whole buffers, guards included
  assert.equal(g.length, w.length);
  let worst = -1, worstExcess = 0, maxDiff = 0, maxUse = 0;
  for (let i = 0; i < w.length; i++) {
    const d = Math.abs(g[i] - w[i]), lim = tol.atol + tol.rtol * Math.abs(w[i]);
    if (g[i] === w[i]) continue; // equal infinities too (krmsnorm's half overflow)
    if (d > maxDiff) maxDiff = d;
    if (d > 0) maxUse = Math.max(maxUse, lim > 0 ? d / lim : Infinity);
    if (!(d <= lim) && g[i] !== w[i] && !(Number.isNaN(g[i]) && Number.isNaN(w[i])) && (worst < 0 || d - lim > worstExcess)) {
      worst = i; worstExcess = d - lim;
    }
  }
  // NORMLAB_PARITY_REPORT=1 prints how much of each tolerance is used (to re-justify them).
  if (process.env.NORMLAB_PARITY_REPORT) console.log(`${what}: max |diff| ${maxDiff.toExponential(2)}, ${(100 * maxUse).toFixed(1)}% of tolerance`);
  if (worst >= 0) {
    const i = worst - (got.byteOffset / 4);
    assert.fail(`${what}: element ${i} (buffer index ${worst}): ${label} ${g[worst]} vs ts ${w[worst]}, ` +
      `|diff| ${Math.abs(g[worst] - w[worst]).toExponential(2)} > atol ${tol.atol.toExponential(2)} + rtol ${tol.rtol.toExponential(2)} * |ts|`);
  }
}

/**
 * Runs `call` on each backend with identical inputs from make(seed), then compares the arrays
 * named in `tols` (outputs, accumulated gradients, and inputs that must stay unchanged).
 */
function parity<A extends Record<string, Float32Array>>(
  nb: Backend, label: string, make: (rng: Rng) => A, call: (be: Backend, a: A) => number | void,
  tols: Partial<Record<keyof A & string, Tol>>, resultTol?: Tol,
): void {
  const ta = make(new Rng(1234)), na = make(new Rng(1234));
  const tr = call(tsBackend, ta), nr = call(nb, na);
  for (const [name, tol] of Object.entries(tols) as [string, Tol][]) assertClose(`${label} ${name}`, na[name], ta[name], tol, nb.name);
  if (typeof tr === 'number') {
    const t = resultTol ?? EXACT;
    assert.ok(Math.abs((nr as number) - tr) <= t.atol + t.rtol * Math.abs(tr), `${label} result: ${nb.name} ${nr} vs ts ${tr}`);
  }
  if (nb.alloc) residentParity(nb, label, make, call, na, nr);
}

/**
 * A backend with its own memory (Backend.alloc: wasm) runs the same call again with every array in
 * that memory, at the same offsets in blocks as long as the original buffers (guards included),
 * so its kernels work in place instead of on copies: every array, guards included, must come out
 * bit for bit as from the copies (`want`, `wantResult`).
 */
function residentParity<A extends Record<string, Float32Array>>(
  nb: Backend, label: string, make: (rng: Rng) => A, call: (be: Backend, a: A) => number | void, want: A, wantResult: number | void,
): void {
  const ra = make(new Rng(1234));
  const placed: [Float32Array, Float32Array][] = [];
  const views = Object.fromEntries(Object.entries(ra).map(([name, v]) => {
    if (!(v instanceof Float32Array)) return [name, v];
    const whole = new Float32Array(v.buffer), block = nb.alloc!(whole.length);
    assert.ok(block, `${label}: ${nb.name} alloc(${whole.length}) returned null`);
    block.set(whole);
    placed.push([whole, block]);
    return [name, block.subarray(v.byteOffset / 4, v.byteOffset / 4 + v.length)];
  })) as A;
  const r = call(nb, views);
  for (const [whole, block] of placed) { whole.set(block); nb.free!(block); }
  for (const name of Object.keys(want)) {
    if (want[name] instanceof Float32Array) assert.deepEqual(new Float32Array(ra[name].buffer), new Float32Array(want[name].buffer), `${label} ${name}: in place vs copied`);
  }
  assert.ok(Object.is(r, wantResult), `${label} result: in place ${r} vs copied ${wantResult}`);
}

// Every kernel of the interface must have a parity test below: adding a kernel to Backend without
// one fails here.
const TESTED = ['matmul', 'addBias', 'biasBackward', 'embeddingForward', 'embeddingBackward', 'attentionForward',
  'attentionBackward', 'crossEntropyForward', 'crossEntropyBackward', 'add', 'addInto', 'mul', 'scale', 'sumSquares', 'adamw', 'fakeQuant'];
test('every Backend kernel has a parity test', () => {
  const MEMORY = ['alloc', 'free']; // not kernels: parity() runs every case again on alloc()'s arrays
  const kernels = Object.entries(tsBackend).filter(([k, v]) => typeof v === 'function' && !MEMORY.includes(k)).map(([k]) => k).sort();
  assert.deepEqual(kernels, [...TESTED].sort());
  for (const { be } of FAST) {
    if (be) assert.deepEqual(Object.entries(be).filter(([k, v]) => typeof v === 'function' && !MEMORY.includes(k)).map(([k]) => k).sort(), kernels);
  }
});

backendTest('matmul: four transpose cases, overwrite and accumulate, odd and degenerate sizes, views', (be) => {
  const sizes: [number, number, number][] = [[1, 1, 1], [1, 9, 5], [7, 1, 3], [3, 5, 1], [13, 17, 19], [2, 3, 0], [64, 96, 128], [200, 130, 70]];
  for (const [M, N, K] of sizes) for (const transA of [false, true]) for (const transB of [false, true]) for (const accumulate of [false, true]) {
    parity(be, `matmul ${M}x${N}x${K} tA=${transA} tB=${transB} acc=${accumulate}`,
      (rng) => ({ out: view(rng, M * N, 3), a: view(rng, M * K, 1), b: view(rng, K * N, 5) }),
      (be, x) => be.matmul(x.out, x.a, x.b, M, N, K, { transA, transB, accumulate }),
      { out: GEMM(K + (accumulate ? 1 : 0)), a: EXACT, b: EXACT });
  }
});

backendTest('addBias and biasBackward', (be) => {
  for (const [N, C] of [[1, 1], [1, 7], [5, 3], [300, 130]]) {
    parity(be, `addBias ${N}x${C}`, (rng) => ({ out: view(rng, N * C, 1), bias: view(rng, C, 2) }),
      (be, x) => be.addBias(x.out, x.bias, N, C), { out: EXACT, bias: EXACT });
    parity(be, `biasBackward ${N}x${C}`, (rng) => ({ dbias: view(rng, C, 3), dout: view(rng, N * C, 1) }),
      (be, x) => be.biasBackward(x.dbias, x.dout, N, C), { dbias: ACCUM(N + 1), dout: EXACT });
  }
});

backendTest('embeddingForward and embeddingBackward (repeated tokens, T = 1, pool-sized)', (be) => {
  for (const [B, T, C, V] of [[1, 1, 1, 1], [2, 3, 5, 4], [3, 1, 7, 2], [4, 64, 130, 65]]) {
    const idx = ints(new Rng(B * 100 + T), B * T, V);
    parity(be, `embeddingForward ${B}x${T}x${C}`,
      (rng) => ({ out: view(rng, B * T * C, 1), wte: view(rng, V * C, 2), wpe: view(rng, T * C, 3) }),
      (be, x) => be.embeddingForward(x.out, idx, x.wte, x.wpe, B, T, C), { out: EXACT, wte: EXACT, wpe: EXACT });
    parity(be, `embeddingBackward ${B}x${T}x${C}`,
      (rng) => ({ dwte: view(rng, V * C, 1), dwpe: view(rng, T * C, 2), dout: view(rng, B * T * C, 3) }),
      (be, x) => be.embeddingBackward(x.dwte, x.dwpe, x.dout, idx, B, T, C),
      // Same order of float32 additions in both backends (rows in order per channel).
      { dwte: EXACT, dwpe: EXACT, dout: EXACT });
  }
});

backendTest('attentionForward and attentionBackward, with and without dropout, strip edges included', (be) => {
  // T = 1; odd T and 2 heads; T crossing the 64-row strips (65, 130); head size 64; T = 1030 has
  // strips of 32 rows (native/src/attention.c keeps a strip near 256 KB).
  for (const [B, T, C, NH] of [[1, 1, 4, 1], [2, 5, 6, 2], [1, 65, 16, 2], [2, 130, 32, 2], [1, 70, 128, 2], [1, 1030, 8, 1]]) {
    for (const drop of [null, { p: 0.2, seed: 0x9e3779b9 + B + T }]) {
      const n = B * T * C, nS = 2 * B * NH * T;
      const label = `attention B=${B} T=${T} C=${C} NH=${NH} dropout=${drop ? drop.p : 0}`;
      // Scores: D-term float32 dot products scaled by 1/sqrt(D) (error ~ eps32 |score|); through
      // the softmax (LIBM exps) a score error e moves a probability by ~ e * p. Outputs are convex
      // combinations of v rows (|v| <~ 4): error ~ a few eps32 * |v|. atol 32 eps32 (3.8e-6) is ~6x
      // the largest difference observed. The row sums Z add up to T exps (float32 in native and wasm).
      const fwdTol = { atol: 32 * EPS32, rtol: LIBM.rtol };
      const zTol = { atol: 32 * EPS32, rtol: Math.max(LIBM.rtol, 8 * EPS32 * Math.sqrt(T)) };
      // Gradients: sums over up to T rows of products of O(1) terms (dout, v, q, k ~ N(0, 1)) with
      // probability weights: rounding random-walks as eps32 sqrt(T) times the term size.
      const bwdTol = { atol: 32 * EPS32 * Math.sqrt(T), rtol: 8 * EPS32 };
      parity(be, `${label} forward`,
        (rng) => ({ out: view(rng, n, 1), stats: view(rng, nS, 3), q: view(rng, n, 1), k: view(rng, n, 2), v: view(rng, n, 3) }),
        (be, x) => be.attentionForward(x.out, x.stats, x.q, x.k, x.v, drop, B, T, C, NH),
        { out: fwdTol, stats: zTol, q: EXACT, k: EXACT, v: EXACT });
      // Backward from the SAME saved statistics and output (made by the ts forward), so only the
      // backward arithmetic is compared: dq, dk, dv are sums over T of products with D-sums inside.
      parity(be, `${label} backward`,
        (rng) => {
          const x = { dq: view(rng, n, 1), dk: view(rng, n, 2), dv: view(rng, n, 3), dout: view(rng, n, 2),
            out: new Float32Array(n), stats: new Float32Array(nS), q: view(rng, n, 1), k: view(rng, n, 2), v: view(rng, n, 3) };
          tsBackend.attentionForward(x.out, x.stats, x.q, x.k, x.v, drop, B, T, C, NH);
          return x;
        },
        (be, x) => be.attentionBackward(x.dq, x.dk, x.dv, x.dout, x.out, x.stats, x.q, x.k, x.v, drop, B, T, C, NH),
        { dq: bwdTol, dk: bwdTol, dv: bwdTol, out: EXACT, stats: EXACT, q: EXACT, k: EXACT, v: EXACT });
    }
  }
});

backendTest('crossEntropyForward and crossEntropyBackward (V = 1, large logits, pool-sized)', (be) => {
  for (const [N, V, scale] of [[1, 1, 1], [3, 65, 1], [7, 5, 30], [600, 65, 3]]) {
    const targets = ints(new Rng(N + V), N, V);
    parity(be, `crossEntropyForward N=${N} V=${V} logit scale ${scale}`,
      (rng) => ({ losses: view(rng, N, 1), probs: view(rng, N * V, 2), logits: view(rng, N * V, 3, scale) }),
      (be, x) => be.crossEntropyForward(x.losses, x.probs, x.logits, targets, N, V),
      // Losses are log-sum-exp in double over LIBM exps: absolute error ~ eps32 * |max logit|.
      { losses: { atol: LIBM.atol * scale, rtol: LIBM.rtol }, probs: LIBM, logits: EXACT },
      { atol: LIBM.atol * scale, rtol: LIBM.rtol });
    parity(be, `crossEntropyBackward N=${N} V=${V}`,
      (rng) => ({ dlogits: view(rng, N * V, 1), probs: view(rng, N * V, 2) }),
      (be, x) => be.crossEntropyBackward(x.dlogits, x.probs, targets, 1 / N, N, V), { dlogits: EXACT, probs: EXACT });
  }
});

backendTest('add, addInto, mul, scale, sumSquares (empty, odd, pool-sized)', (be) => {
  for (const n of [0, 1, 7, 100003]) {
    parity(be, `add ${n}`, (rng) => ({ out: view(rng, n, 1), a: view(rng, n, 2), b: view(rng, n, 3) }),
      (be, x) => be.add(x.out, x.a, x.b, n), { out: EXACT, a: EXACT, b: EXACT });
    parity(be, `add aliased ${n}`, (rng) => ({ a: view(rng, n, 2), b: view(rng, n, 3) }),
      (be, x) => be.add(x.a, x.a, x.b, n), { a: EXACT, b: EXACT });
    parity(be, `addInto ${n}`, (rng) => ({ dst: view(rng, n, 1), src: view(rng, n, 2) }),
      (be, x) => be.addInto(x.dst, x.src, n), { dst: EXACT, src: EXACT });
    parity(be, `mul ${n}`, (rng) => {
      const mask = view(rng, n, 3);
      for (let i = 0; i < n; i++) mask[i] = rng.uniform() < 0.1 ? 0 : 1 / 0.9;
      return { out: view(rng, n, 1), x: view(rng, n, 2), mask };
    }, (be, x) => be.mul(x.x, x.x, x.mask, n), { x: EXACT, mask: EXACT });
    parity(be, `scale ${n}`, (rng) => ({ x: view(rng, n, 1) }), (be, x) => be.scale(x.x, 0.37, n), { x: EXACT });
    parity(be, `sumSquares ${n}`, (rng) => ({ x: view(rng, n, 1) }), (be, x) => be.sumSquares(x.x, n), { x: EXACT },
      { atol: 0, rtol: 1e-12 }); // both sum exact float products in double, in different orders
  }
});

// Same float32 operations in the same order (mean|x| summed in double in entry order): bit for bit.
backendTest('fakeQuant: every method, bits 2/4/8/16, causal blocks, scheduler blend, aliased, constant', (be) => {
  for (const [n, T] of [[0, 0], [1, 0], [7, 0], [100003, 0], [3 * 64 * 64, 64], [2 * 5 * 5, 5]]) {
    for (let method = 0; method < 4; method++) for (const bits of [2, 4, 8, 16]) for (const level of [-1, 0.3]) {
      parity(be, `fakeQuant n=${n} T=${T} method=${method} bits=${bits} level=${level}`, (rng) => {
        const u = view(rng, n, 3);
        for (let i = 0; i < n; i++) u[i] = rng.uniform();
        return { out: view(rng, n, 1), x: view(rng, n, 2), u };
      }, (be, a) => be.fakeQuant(a.out, a.x, method === 2 ? a.u : null, n, T, method, bits, level), { out: EXACT, x: EXACT, u: EXACT });
    }
  }
  parity(be, 'fakeQuant aliased', (rng) => ({ x: view(rng, 1001, 2) }), (be, a) => be.fakeQuant(a.x, a.x, null, 1001, 0, 1, 4, -1), { x: EXACT });
  parity(be, 'fakeQuant constant', (rng) => ({ out: view(rng, 9, 2), x: view(rng, 9, 2).fill(0.7) }),
    (be, a) => be.fakeQuant(a.out, a.x, null, 9, 0, 1, 8, -1), { out: EXACT, x: EXACT });
});

backendTest('adamw (step 1 and 10, with and without weight decay, pool-sized)', (be) => {
  for (const n of [1, 1000, 50001]) for (const [step, wd] of [[1, 0], [10, 0.1]]) {
    parity(be, `adamw n=${n} step=${step} wd=${wd}`,
      (rng) => {
        const v = view(rng, n, 2);
        for (let i = 0; i < n; i++) v[i] = v[i] * v[i] * 1e-3; // second moments are non-negative
        return { param: view(rng, n, 1), grad: view(rng, n, 3, 0.1), m: view(rng, n, 1, 0.01), v };
      },
      (be, x) => be.adamw(x.param, x.grad, x.m, x.v, n, 6e-4, 0.9, 0.95, 1e-8, wd, step),
      // Same double arithmetic; only Math.pow and libm's pow may differ in the last bit of bc1, bc2.
      { param: { atol: 0, rtol: 2 * EPS32 }, m: EXACT, v: EXACT, grad: EXACT });
  }
});

// Every native variant override must have a case below (adding one without a parity case fails).
// Tolerance classes (see above): EXACT where the C code does the TypeScript code's double
// arithmetic and rounds once; LIBM where exp / expm1 / log1p / erf come from float libm.
const VARIANT_TOL: Record<string, 'norm' | 'dact' | Tol> = {
  rmsnorm: 'norm', layernorm: 'norm', prmsnorm: 'norm', hyperspherenorm: 'norm', krmsnorm: 'norm',
  identity: EXACT, relu: EXACT, rrelu: EXACT, leaky_relu: EXACT, relu6: EXACT, squared_relu: EXACT, softsign: EXACT, prelu: EXACT,
  gelu: LIBM, gelu_shifted: LIBM, elu: LIBM, celu: LIBM, selu: LIBM, sigmoid: LIBM, silu: LIBM, tanh: LIBM,
  softplus: LIBM, mish: LIBM, glu: LIBM,
  // Same double arithmetic per element as the TypeScript code (setup shared): bit-exact outputs and dx.
  piecewise: EXACT, pfla: EXACT, pfla_le: EXACT, learned_spline: EXACT,
  dact: 'dact', // its inner activation's class, see dactTols
};
// Configurations per variant (flags its params or math depend on).
// Third entry: 'init' = parameters at their declared init (knots increasing: binary search);
// 'ties' = random knots rounded to a 0.5 grid (repeated knots: empty segments, spline pushes);
// default: random parameters (knots out of order: the precedence scan, the spline's sort).
type Knots = 'init' | 'ties' | undefined;
const VARIANT_CASES: [string, Partial<ModelConfig>, Knots?][] = [
  ['rmsnorm', {}], ['layernorm', { bias: false }], ['layernorm', { bias: true }],
  ['prmsnorm', { prmsnorm_pct: 0.0625 }], ['prmsnorm', { prmsnorm_pct: 0.3 }], ['prmsnorm', { prmsnorm_pct: 1 }],
  ['hyperspherenorm', { hsnorm_gain: false, hsnorm_radius_learning: false }],
  ['hyperspherenorm', { hsnorm_gain: true, hsnorm_radius_learning: false }],
  ['hyperspherenorm', { hsnorm_gain: false, hsnorm_radius_learning: true }],
  ['hyperspherenorm', { hsnorm_gain: true, hsnorm_radius_learning: true }],
  ['gelu_shifted', { shifted_gelu_learnable_shift: true }], ['gelu_shifted', { shifted_gelu_learnable_shift: false }],
  ...['identity', 'relu', 'leaky_relu', 'relu6', 'squared_relu', 'softsign', 'prelu', 'gelu', 'elu', 'celu', 'selu',
    'sigmoid', 'silu', 'tanh', 'softplus', 'mish', 'glu', 'piecewise', 'pfla', 'pfla_le', 'learned_spline', 'rrelu']
    .map((n): [string, Partial<ModelConfig>] => [n, {}]),
  ['pfla_le', { pfla_num_points: 2 }], ['piecewise', { pla_num_points: 1 }], ['learned_spline', { lsa_num_knots: 2 }],
  // krmsnorm: every quantizer x selection, with and without recomputation and gain.
  ...(['none', 'int8', 'int16'] as const).flatMap((q) => (['first', 'last', 'random'] as const).flatMap((sel) =>
    [null, 0.1].map((pct): [string, Partial<ModelConfig>] => ['krmsnorm',
      { krmsnorm_quantize_type: q, krmsnorm_selection_type: sel, krmsnorm_recompute_percentage: pct, krmsnorm_enable_gain: pct === null }]))),
  ['krmsnorm', { krmsnorm_num: 1, krmsnorm_recompute_percentage: 0 }], ['krmsnorm', { krmsnorm_num: 200, krmsnorm_quantize_type: 'int8' }],
  ['dact', {}], ['dact', { dact_use_gamma: false, dact_use_beta: false, dact_use_alpha: false, dact_alpha_init: 0.7 }],
  ['dact', { dact_activation: 'relu' }], ['dact', { dact_activation: 'prelu', dact_use_gamma: false }],
  ['dact', { dact_activation: 'gelu_shifted', dact_use_beta: false }], ['dact', { dact_activation: 'pfla' }],
  ['dact', { dact_activation: 'rrelu' }], // inner drawing from the run's generator
  ...['piecewise', 'pfla', 'pfla_le', 'learned_spline'].flatMap((n): [string, Partial<ModelConfig>, Knots][] =>
    [[n, {}, 'init'], [n, {}, 'ties']]),
];
// Edge inputs written over every 3rd element: zeros of both signs (kinks of relu, prelu, elu,
// leaky_relu), relu6's 6, softplus/mish's threshold 20 and the float just above it, +-30 and
// +-100 (exp overflow / underflow paths of sigmoid, softplus, tanh, elu), tiny values.
const EDGES = [0, -0, 6, -6, 20, Math.fround(20 + 2e-6), -20, 30, -30, 100, -100, 1e-6, -1e-6, 1e-30, 0.5, -1,
  2, -2, 10, -10, 5, -5, -1.5]; // and the knots' bounds: piecewise +-2, pfla +-10, learned_spline +-5

test('every variant with a tolerance class has parity cases', () => {
  assert.deepEqual([...new Set(VARIANT_CASES.map(([n]) => n))].sort(), Object.keys(VARIANT_TOL).sort());
});

/** The variants a backend runs fused (its kernel table, or a variant's own fused() from its raw kernels). */
const overridden = (be: Backend) => Object.entries({ ...norms, ...activations }).filter(([, v]) => fusedKernels(v, be)).map(([n]) => n).sort();

backendTest('every variant override has a parity case', (be) => {
  const overrides = overridden(be);
  // native overrides every norm and activation; wasm the common ones (the rest run their TypeScript code).
  if (be.name === 'native') assert.deepEqual(overrides, Object.keys(VARIANT_TOL).sort());
  for (const name of overrides) assert.ok(name in VARIANT_TOL, `${be.name} overrides ${name}, which has no parity case`);
});

backendTest('variant overrides match the TypeScript variants (seeded inputs with edge values)', (be) => {
  const cfg = { ...defaultConfig() } as unknown as ModelConfig;
  const registry: Record<string, Variant> = { ...norms, ...activations };
  for (const [name, over, knots] of VARIANT_CASES) {
    const v = registry[name];
    const nv = fusedKernels(v, be);
    if (!nv) continue;
    const a = { ...cfg, ...over } as ModelConfig;
    const isNorm = name in norms;
    const w = v.gated ? 2 : 1; // glu reads 2C inputs per row
    for (const [N, C, training] of [[1, 1, true], [1, 8, true], [3, 7, false], [5, 64, true], [300, 130, true]] as const) {
      const states: string[] = [];
      const make = (rng: Rng) => {
        const x: Record<string, Float32Array> = { x: view(rng, w * N * C, 1, 2), out: view(rng, N * C, 2), dout: view(rng, N * C, 3), dx: view(rng, w * N * C, 1) };
        if (!isNorm) for (let i = 0, e = 0; i < w * N * C; i += 3, e++) x.x[i] = EDGES[e % EDGES.length];
        else if (N > 1) { x.x.fill(0, 0, C); for (let i = C + 1; i < N * C; i += 7) x.x[i] = EDGES[i % EDGES.length]; } // a zero row (eps), outliers
        if (name === 'krmsnorm' && N >= 5 && C >= 20) {
          // Rounding ties at both ends of rows 1-3 (first / last selection): int8 and int16 rows with
          // min 0 and max 255 (65535) have scale 1, so v + 0.5 values tie; half-precision ties at
          // 1 + 2^-11 (halfway between two halves), and 65520 (the tie that overflows to infinity).
          const rows = [[0, 255, 0.5, 1.5, 2.5, 3.5, 254.5, 100.5, 7, 9], [0, 65535, 0.5, 1.5, 2.5, 65534.5, 3, 4, 5, 6],
            [1 + 2 ** -11, 1 + 3 * 2 ** -11, -(1 + 2 ** -11), 2 ** -25, 3 * 2 ** -25, 65519, 0.1, 0.2, 0.3, 0.4]];
          rows.forEach((r, i) => { x.x.set(r, (i + 1) * C); x.x.set(r, (i + 2) * C - r.length); });
          x.x.set([65520, 1, 2, 3, 4, 5, 6, 7, 8, 9], 4 * C); // half overflow: infinite RMS, rrms 0
        }
        for (const [p, spec] of Object.entries(v.params(C, a))) {
          const len = spec.shape.reduce((s, d) => s * d, 1);
          x[`p.${p}`] = view(rng, len, 2, 0.5);
          const q = x[`p.${p}`], init = spec.init;
          if (knots === 'init' && typeof init === 'object' && 'values' in init) q.set(Array.from(init.values));
          else if (p.endsWith('x_vals')) { // knots spread over [-6, 6], in random order
            for (let i = 0; i < len; i++) q[i] = knots === 'ties' ? Math.round(q[i] * 24) / 2 : q[i] * 12;
          } else for (let i = 0; i < len; i++) q[i] += 1; // gains near 1, not all equal
          x[`dp.${p}`] = view(rng, len, 3);
        }
        for (const [s, len] of Object.entries(v.saved(N, C, a))) x[`s.${s}`] = view(rng, len, 1);
        return x;
      };
      const pick = (x: Record<string, Float32Array>, prefix: string) =>
        Object.fromEntries(Object.entries(x).filter(([k]) => k.startsWith(prefix)).map(([k, arr]) => [k.slice(prefix.length), arr]));
      const run = (be: Backend, x: Record<string, Float32Array>) => {
        const k = be === tsBackend ? v : nv;
        const p = pick(x, 'p.'), dp = pick(x, 'dp.'), s = pick(x, 's.');
        const ctx = new MetricCtx(training, new Rng(5)); // one per backend: rrelu must draw the same numbers
        k.forward(x.out, x.x, p, s, N, C, a, ctx);
        k.backward(x.dx, dp, x.dout, x.x, p, s, N, C, a, ctx);
        states.push(JSON.stringify(ctx.rng.getState())); // and leave the generator in the same state
      };
      let cls = VARIANT_TOL[name];
      const tols: Record<string, Tol> = { x: EXACT, dout: EXACT };
      if (cls === 'dact') {
        // dact: gamma * act(alpha x) + beta and its gradients are double arithmetic around the inner
        // activation (rrelu: TypeScript in both), so an EXACT inner keeps everything EXACT (sums over
        // rows aside, ACCUM below). A LIBM inner's error is scaled by gamma and alpha (~1 +- 0.5, up
        // to ~2.5): 4x LIBM. Its parameter sums (dalpha = sum dax x, x up to 100 at the outliers)
        // carry that error per term: a random walk over N*C terms, 4e-4 sqrt(N*C).
        const innerTol = VARIANT_TOL[a.dact_activation] ?? EXACT;
        cls = innerTol === LIBM ? { atol: 4 * LIBM.atol, rtol: 4 * LIBM.rtol } : EXACT;
      }
      // Norm outputs and saved statistics: ROW (double statistics in both). dx also depends on the row
      // dot product through a cancellation (dxhat - xhat * mean), so allow 16 eps32 absolute.
      tols.out = cls === 'norm' ? ROW : cls;
      tols.dx = cls === 'norm' ? { atol: 16 * EPS32, rtol: 4 * EPS32 } : cls;
      for (const key of Object.keys(v.saved(N, C, a))) tols[`s.${key}`] = ROW;
      for (const key of Object.keys(v.params(C, a))) {
        tols[`p.${key}`] = EXACT;
        // Per-channel gradients: ACCUM over the N rows. Scalar ones (prelu's slope, the radius, the
        // shift) sum N*C terms in double in both backends (in another order) and round once:
        // ACCUM(N + 1) is ample for the exact ones. gelu_shifted's terms each carry the LIBM error of
        // the derivative (<= 1e-6 + 4e-6 |term|, |term| <~ 2, signs random): a random walk over N*C
        // terms, 8e-6 sqrt(N*C) with a margin of ~10x, plus rtol LIBM for the final rounding.
        tols[`dp.${key}`] = name === 'gelu_shifted' ? { atol: 8e-6 * Math.sqrt(N * C), rtol: LIBM.rtol }
          : name === 'dact' && cls !== EXACT ? { atol: 4e-4 * Math.sqrt(N * C), rtol: LIBM.rtol }
          // dact's dgamma terms dout * act reach ~100 at the outliers (act ~ x), so the TypeScript
          // float32 running sums round at a larger scale: 4x ACCUM.
          // krmsnorm: a row whose k selected entries happen to be small gets r << rms, so its terms
          // x * rrms reach ~sqrt(C / k) x: 4x ACCUM as well.
          : name === 'dact' || name === 'krmsnorm' ? ACCUM(4 * (N + 1)) : ACCUM(N + 1);
      }
      const what = `${name} ${JSON.stringify(over)}${knots ? ` ${knots}` : ''} N=${N} C=${C}`;
      parity(be, what, make, run, tols);
      assert.equal(states[1], states[0], `${what}: generator state after the call`);
    }
  }
});

test('native kernels reject wrong array types and too-short arrays instead of touching memory', { skip }, () => {
  const nb = native as Backend;
  assert.throws(() => nb.add(new Float64Array(4), new Float64Array(4), new Float64Array(4), 4), /Float32Array/);
  assert.throws(() => nb.matmul(new Float32Array(5), new Float32Array(6), new Float32Array(6), 2, 3, 3), /out has 5 elements/);
  assert.throws(() => nb.embeddingForward(new Float32Array(4), Int32Array.from([0, 3]), new Float32Array(6), new Float32Array(4), 1, 2, 2),
    /idx\[1\] = 3 is outside \[0, 3\)/);
  assert.throws(() => nb.crossEntropyForward(new Float32Array(1), new Float32Array(3), new Float32Array(3), Int32Array.from([-1]), 1, 3),
    /targets/);
  assert.throws(() => nb.attentionForward(new Float32Array(6), new Float32Array(4), new Float32Array(6), new Float32Array(6),
    new Float32Array(6), null, 1, 2, 3, 2), /multiple of NH/);
  // Variant entry points: glu's 2C input, an out-of-range krmsnorm selection.
  const cfg = { ...defaultConfig() } as unknown as ModelConfig, ctx = new MetricCtx(true, new Rng(1));
  const f = (n: number) => new Float32Array(n);
  assert.throws(() => nb.native!.gluForward(f(4), f(4), 2, 2), /x has 4 elements, the sizes need 8/);
  const kr = { ...cfg, krmsnorm_num: 2, krmsnorm_selection_type: 'first' } as ModelConfig;
  assert.throws(() => fusedKernels(norms.krmsnorm, nb)!.backward(f(4), { gain: f(2) }, f(4), f(4), { gain: f(2) },
    { sel: Float32Array.from([0, 5]), vq: f(4), rrms: f(2), full: f(2) }, 2, 2, kr, ctx), /sel\[1\] is not a channel index/);
});

test('wasm kernels reject wrong array types, too-short arrays and out-of-range ids', () => {
  const wb = wasm as Backend;
  assert.throws(() => wb.add(new Float64Array(4), new Float64Array(4), new Float64Array(4), 4), /wasm backend add: out must be a Float32Array/);
  assert.throws(() => wb.matmul(new Float32Array(5), new Float32Array(6), new Float32Array(6), 2, 3, 3), /matmul: out has 5 elements, the sizes need 6/);
  assert.throws(() => wb.embeddingForward(new Float32Array(4), Int32Array.from([0, 3]), new Float32Array(6), new Float32Array(4), 1, 2, 2),
    /idx\[1\] = 3 is outside \[0, 3\)/);
  assert.throws(() => wb.crossEntropyForward(new Float32Array(1), new Float32Array(3), new Float32Array(3), Int32Array.from([-1]), 1, 3), /targets/);
  assert.throws(() => wb.attentionForward(new Float32Array(6), new Float32Array(4), new Float32Array(6), new Float32Array(6),
    new Float32Array(6), null, 1, 2, 3, 2), /multiple of NH/);
});

test('wasm alloc: zeroed blocks in the module memory, reused after free, valid across growth; none without shared memory', () => {
  const wb = createNodeWasmBackend(1);
  const a = wb.alloc!(1000)!, b = wb.alloc!(5)!;
  assert.ok(a instanceof Float32Array && a.length === 1000 && b.length === 5);
  assert.ok(a.every((x) => x === 0));
  assert.ok(b.byteOffset >= a.byteOffset + 4000 && a.byteOffset % 64 === 0 && b.byteOffset % 64 === 0, 'aligned, not overlapping');
  a.fill(7);
  wb.free!(a);
  wb.free!(a.subarray(1)); // not a block: ignored
  wb.free!(new Float32Array(4)); // not in the memory: ignored
  const c = wb.alloc!(900)!;
  assert.equal(c.byteOffset, a.byteOffset, 'a freed block is reused first-fit');
  assert.ok(c.every((x) => x === 0), 'and zeroed');
  // 64 MiB more makes the memory grow: views made before stay on the same bytes and work in place.
  b.set([1, 2, 3, 4, 5]);
  const big = wb.alloc!(16 << 20)!;
  wb.add(b, b, b, 5);
  assert.deepEqual([...b], [2, 4, 6, 8, 10]);
  wb.scale(big.subarray(0, 5), 2, 5);
  wb.free!(big); wb.free!(b); wb.free!(c);
  // One thread without shared memory (a browser page that is not cross-origin isolated): no alloc.
  const plain = createWasmBackend(new WebAssembly.Module(readFileSync(wasmModulePath(false))), { threads: 1 });
  assert.equal(plain.alloc!(10), null);
});

test('wasm on worker threads gives the one-thread results bit for bit, each chunk exactly once (oversubscribed)', () => {
  // 6 threads on this machine's cores: chunks are claimed by whichever thread is running. An
  // accumulating product repeated 30 times would drift if any chunk ran twice or not at all.
  const one = createNodeWasmBackend(1), many = createNodeWasmBackend(6);
  const rng = new Rng(3);
  const fill = (n: number) => Float32Array.from({ length: n }, () => rng.normal());
  const same = (what: string, a: Float32Array, b: Float32Array) => {
    for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) assert.fail(`${what}: element ${i}: ${a[i]} (1 thread) vs ${b[i]} (6 threads)`);
  };
  for (const [M, N, K] of [[1, 3, 2], [7, 9, 5], [130, 70, 64], [768, 128, 128]]) for (const transA of [false, true]) for (const transB of [false, true]) {
    const a = fill(M * K), b = fill(K * N), o1 = fill(M * N), o2 = Float32Array.from(o1);
    for (let rep = 0; rep < 30; rep++) {
      one.matmul(o1, a, b, M, N, K, { transA, transB, accumulate: true });
      many.matmul(o2, a, b, M, N, K, { transA, transB, accumulate: true });
    }
    same(`matmul ${M}x${N}x${K} tA=${transA} tB=${transB}`, o1, o2);
  }
  for (const [B, T, C, NH] of [[1, 5, 6, 2], [3, 64, 64, 4], [2, 70, 32, 2]]) {
    const n = B * T * C, nA = B * NH * T * T, q = fill(n), k = fill(n), v = fill(n), dout = fill(n);
    const run = (be: Backend) => {
      const o = new Float32Array(n), att = new Float32Array(nA), dq = new Float32Array(n), dk = new Float32Array(n), dv = new Float32Array(n);
      for (let rep = 0; rep < 10; rep++) {
        be.attentionForward(o, att, q, k, v, null, B, T, C, NH);
        be.attentionBackward(dq, dk, dv, new Float32Array(nA), dout, att, q, k, v, null, B, T, C, NH);
      }
      return [o, att, dq, dk, dv];
    };
    const r1 = run(one), r2 = run(many);
    r1.forEach((x, i) => same(`attention B=${B} T=${T} C=${C} NH=${NH} output ${i}`, x, r2[i]));
  }
  for (const n of [5, 4099, 100003]) {
    const x = fill(n), dout = fill(n);
    for (const name of ['gelu', 'relu', 'silu', 'mish']) { // rows of wasm/assembly/elementwise.ts
      const run = (be: Backend) => {
        const y = new Float32Array(n), dx = new Float32Array(n), k = be.wasm!.elementwise(name)!;
        k.forward(y, x, n);
        for (let rep = 0; rep < 5; rep++) k.backward(dx, dout, x, n);
        return [y, dx];
      };
      const r1 = run(one), r2 = run(many);
      r1.forEach((x2, i) => same(`${name} n=${n} output ${i}`, x2, r2[i]));
    }
    const steps = (be: Backend) => { // AdamW: 10 steps on the same gradient
      const p = Float32Array.from(x), m = new Float32Array(n), v = new Float32Array(n);
      for (let step = 1; step <= 10; step++) be.adamw(p, dout, m, v, n, 1e-3, 0.9, 0.95, 1e-8, 0.1, step);
      return [p, m, v];
    };
    const a1 = steps(one), a2 = steps(many);
    a1.forEach((x2, i) => same(`adamw n=${n} output ${i}`, x2, a2[i]));
  }
  assert.ok(wasmWorkerChunks(many) > 0, 'the worker threads ran some chunks');
  assert.equal(wasmWorkerChunks(one), 0);
});

test('native kernels give the same results when called from several threads at once (worker_threads)', { skip }, async () => {
  // Each thread runs the same deterministic sequence (pool-sized rmsnorm, gelu, attention) and
  // returns a checksum of the outputs. While one caller holds the pool, the others run inline:
  // the results must not change.
  const url = new URL('../src/engine/kernels/native/native-backend.js', import.meta.url).href;
  const code = `
    const { loadNativeBackend } = await import(${JSON.stringify(url)});
    const be = loadNativeBackend();
    const N = 300, C = 130, n = N * C, B = 2, T = 70, NH = 2, Ca = 32;
    const x = new Float32Array(n).map((_, i) => Math.sin(i * 0.37) * 2), gain = new Float32Array(C).fill(1.5);
    const out = new Float32Array(n), rrms = new Float32Array(N), g = new Float32Array(n);
    const q = x.subarray(0, B * T * Ca), att = new Float32Array(B * NH * T * T), o = new Float32Array(B * T * Ca);
    let sum = 0;
    for (let rep = 0; rep < 30; rep++) {
      be.native.rmsnormForward(out, rrms, x, gain, N, C);
      be.native.geluForward(g, out, n);
      be.attentionForward(o, att, q, q, q, null, B, T, Ca, NH);
      for (let i = 0; i < n; i += 7) sum += g[i];
      for (let i = 0; i < o.length; i += 5) sum += o[i];
    }
    return sum;`;
  const run = (): Promise<number> => new Promise((resolve, reject) => {
    const w = new Worker(`(async () => { const f = async () => { ${code} }; require('node:worker_threads').parentPort.postMessage(await f()); })()`, { eval: true });
    w.once('message', resolve);
    w.once('error', reject);
  });
  const alone = await run();
  const together = await Promise.all([run(), run(), run()]);
  for (const s of together) assert.equal(s, alone);
});

test('native SIMD level: the best one by default, NORMLAB_SIMD picks one at load, an unknown name is a clear error', { skip }, () => {
  const s = simd!;
  const before = s.current();
  assert.throws(() => s.select('avx1024'), /native simdSelect: unknown or unavailable SIMD level 'avx1024' \(available here: /);
  assert.equal(s.current(), before);
  assert.ok(s.available.includes('generic'));
  const url = new URL('../src/engine/kernels/native/native-backend.js', import.meta.url).href;
  const code = `import(${JSON.stringify(url)}).then((m) => console.log(m.nativeInfo().simd));`;
  const levelAt = (env: string | undefined) => execFileSync(process.execPath, ['--input-type=module', '-e', code],
    { env: { ...process.env, NORMLAB_SIMD: env }, encoding: 'utf8' }).trim();
  assert.equal(levelAt(''), s.available[0]);
  assert.equal(levelAt('generic'), 'generic');
  assert.equal(levelAt('avx1024'), s.available[0]); // ignored, as NORMLAB_GEMM's unknown names
});

test('selectBackend: ts, native, wasm, auto', () => {
  assert.equal(selectBackend('wasm').backend.name, 'wasm');
  assert.equal(selectBackend('ts').backend.name, 'ts');
  assert.equal(selectBackend('ts').note, null);
  const auto = selectBackend('auto');
  if (native) {
    assert.equal(auto.backend.name, 'native');
    assert.equal(auto.note, null);
    assert.equal(selectBackend('native').backend.name, 'native');
  } else {
    assert.equal(auto.backend.name, 'wasm');
    assert.match(auto.note ?? '', /native backend not built .*using the WebAssembly backend.*npm run build:native/);
    assert.throws(() => selectBackend('native'), (e: unknown) => e instanceof UserError && /--backend native/.test(e.message));
  }
});
