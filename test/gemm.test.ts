// Our GEMM (native/src/gemm.c): every micro-kernel this CPU offers, forced in turn, against the
// TypeScript matmul on every case the Backend's matmul has: four transpose combinations, overwrite
// and accumulate, sizes of 1, odd sizes, sizes that cross the register tiles (12 x 32, 6 x 16,
// 4 x 8) and the kc = 384 block, the M = 1 path, K = 0, views at offsets inside larger buffers
// (the whole buffers are compared, so a write outside the view fails), and products big enough to
// be split over the thread pool.
//
// Tolerance, per element: both results are float32 sums of K products, each within gamma_K =
// K u / (1 - K u) (u = 2^-24) of the exact sum, relative to S = sum_k |a_ik b_kj| (standard
// bound for recursive summation, which covers any order and blocking, fused or not). So
// |native - ts| <= 2 gamma_K S ~ K eps32 S, plus one rounding each for the final add to |out|
// when accumulating. We allow (K + 2) eps32 (S + |out0|) + 1e-30: the worst-case bound, not a
// fitted one, and still far below the size of one wrong or missing term (S / K on average),
// since K^2 eps32 << 1 for the K used here (<= 800).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Rng } from '../src/engine/rng.js';
import { matmul as tsMatmul } from '../src/engine/kernels/ts/matmul.js';
import { loadNativeBackend, nativeBackendError, nativeGemm } from '../src/engine/kernels/native/native-backend.js';

const native = loadNativeBackend(), gemm = nativeGemm();
const skip = native && gemm ? false : `native backend not built (${nativeBackendError()})`;
const EPS32 = 2 ** -23;

function buffer(rng: Rng, n: number, offset: number): Float32Array {
  const buf = new Float32Array(offset + n + 3);
  for (let i = 0; i < buf.length; i++) buf[i] = rng.normal();
  return buf.subarray(offset, offset + n);
}

function check(kernel: string, M: number, N: number, K: number, transA: boolean, transB: boolean, accumulate: boolean): void {
  const rng = new Rng(M * 1000003 + N * 1009 + K);
  const a = buffer(rng, M * K, 1), b = buffer(rng, K * N, 5), out = buffer(rng, M * N, 3);
  const want = new Float32Array(out.buffer.slice(0)).subarray(3, 3 + M * N), out0 = Float32Array.from(out);
  tsMatmul(want, a, b, M, N, K, { transA, transB, accumulate });
  native!.matmul(out, a, b, M, N, K, { transA, transB, accumulate });
  const label = `${kernel} ${M}x${N}x${K} tA=${transA} tB=${transB} acc=${accumulate}`;
  const g = new Float32Array(out.buffer), w = new Float32Array(want.buffer);
  for (let i = 0; i < g.length; i++) {
    const e = i - 3;
    if (e < 0 || e >= M * N) { assert.equal(g[i], w[i], `${label}: guard element ${i} changed`); continue; }
    const r = Math.floor(e / N), c = e % N;
    let s = accumulate ? Math.abs(out0[e]) : 0;
    for (let k = 0; k < K; k++) s += Math.abs((transA ? a[k * M + r] : a[r * K + k]) * (transB ? b[c * K + k] : b[k * N + c]));
    const tol = (K + 2) * EPS32 * s + 1e-30;
    if (!(Math.abs(g[i] - w[i]) <= tol)) assert.fail(`${label}: element (${r}, ${c}): native ${g[i]} vs ts ${w[i]}, tolerance ${tol.toExponential(2)}`);
  }
}

// Small sizes around every tile edge, the kc block edge (385, 769), the M = 1 path, K = 0,
// products of more than 1 MFLOP (split over the pool, along M or along N), A read in place (up to
// 256 columns) and above, and avx512's half-width tile written straight to C (16 or 48 columns).
const SIZES: [number, number, number][] = [[1, 1, 1], [1, 65, 130], [1, 7, 1], [2, 3, 0], [5, 1, 3], [3, 17, 1],
  [13, 33, 7], [12, 32, 384], [25, 49, 385], [7, 15, 769], [97, 65, 40], [200, 131, 70], [61, 300, 90],
  [26, 48, 33], [14, 16, 9]];

test('our GEMM: every micro-kernel, four transposes, overwrite and accumulate, odd sizes, views, pool splits', { skip }, () => {
  const before = gemm!.current();
  const ours = gemm!.available.filter((k) => k !== 'openblas');
  assert.ok(ours.includes('generic'), `the portable kernel is always available (got ${gemm!.available.join(', ')})`);
  try {
    for (const kernel of gemm!.available) {
      gemm!.select(kernel);
      assert.equal(gemm!.current(), kernel);
      for (const [M, N, K] of SIZES) for (const transA of [false, true]) for (const transB of [false, true])
        for (const accumulate of [false, true]) check(kernel, M, N, K, transA, transB, accumulate);
    }
  } finally {
    gemm!.select(before);
  }
});

test('our GEMM: attention (strided head slices, causal blocks, alpha) with every micro-kernel', { skip }, () => {
  // The attention kernels call the GEMM directly with row strides and a scale; the result must not
  // depend on the kernel beyond rounding: each kernel against the first one.
  const B = 2, T = 70, C = 24, NH = 3, rng = new Rng(5);
  const q = buffer(rng, B * T * C, 0), k = buffer(rng, B * T * C, 0), v = buffer(rng, B * T * C, 0);
  const before = gemm!.current();
  let ref: Float32Array | null = null;
  try {
    for (const kernel of gemm!.available) {
      gemm!.select(kernel);
      const out = new Float32Array(B * T * C), stats = new Float32Array(2 * B * NH * T);
      native!.attentionForward(out, stats, q, k, v, null, B, T, C, NH);
      if (!ref) { ref = out; continue; }
      // Outputs are convex combinations of v (|v| <~ 4): a few hundred eps32 covers the rounding
      // of scores (D = 8 terms), softmax and the T-term weighted sums.
      for (let i = 0; i < out.length; i++) assert.ok(Math.abs(out[i] - ref[i]) <= 1e-4, `${kernel}: out[${i}] ${out[i]} vs ${ref[i]}`);
    }
  } finally {
    gemm!.select(before);
  }
});

test('our GEMM: selecting an unknown or unavailable kernel is a clear error and changes nothing', { skip }, () => {
  const before = gemm!.current();
  assert.throws(() => gemm!.select('avx1024'), /unknown or unavailable GEMM 'avx1024' \(available here: /);
  assert.equal(gemm!.current(), before);
  assert.ok(gemm!.fmaPeak(256, 1) >= 0 && gemm!.fmaPeak(512, 1, true) >= 0);
});

test('our GEMM: worker_threads that load the addon at once, switch kernels and multiply meanwhile get exact products', { skip }, async () => {
  // The selection is one per process (native/src/gemm.c): a switch made on one thread applies to
  // the next product on any thread, and a product that is running keeps the kernel it started
  // with. With small integers every kernel's sum is exact, so every product must equal the plain
  // loop whichever kernel ran it. Half the products are big enough to be split over the pool.
  const url = new URL('../src/engine/kernels/native/native-backend.js', import.meta.url).href;
  const code = `
    const { loadNativeBackend, nativeGemm } = await import(${JSON.stringify(url)});
    const be = loadNativeBackend(), gemm = nativeGemm();
    const kernels = gemm.available.filter((k) => k !== 'openblas');
    let wrong = 0;
    for (let rep = 0; rep < 24; rep++) {
      gemm.select(kernels[(rep + id) % kernels.length]);
      const M = rep % 2 ? 150 : 13 + id, N = 70 + rep, K = 97;
      const a = new Float32Array(M * K).map((_, i) => (i * 7 + id) % 9 - 4), b = new Float32Array(K * N).map((_, i) => (i * 5 + rep) % 7 - 3);
      const out = new Float32Array(M * N);
      be.matmul(out, a, b, M, N, K, {});
      for (let i = 0; i < M; i += 5) for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[i * K + k] * b[k * N + j];
        if (out[i * N + j] !== s) wrong++;
      }
      if (!gemm.available.includes(gemm.current())) wrong++;
    }
    return wrong;`;
  const run = (id: number): Promise<number> => new Promise((resolve, reject) => {
    const w = new Worker(`(async () => { const id = ${id}; const f = async () => { ${code} }; require('node:worker_threads').parentPort.postMessage(await f()); })()`, { eval: true });
    w.once('message', resolve);
    w.once('error', reject);
  });
  const before = gemm!.current();
  try {
    const wrong = await Promise.all([0, 1, 2, 3].map(run));
    assert.deepEqual(wrong, [0, 0, 0, 0]);
  } finally {
    gemm!.select(before);
  }
});
