// Kernel micro-benchmark: each kernel of the ts and native backends on the same inputs, at the
// shapes of the `small` (4 layers, C = 128, T = 64, B = 12) and `default` (6 layers, C = 384,
// T = 256, B = 64) presets, timed in the same run. Prints ms per call, the ts/native ratio, and
// GFLOP/s for the matrix products. With --simds, native only: each kernel (and every norm and
// activation) at each listed SIMD level of the kernels outside the GEMM, in interleaved rounds, as
// CPU ms per call (run it with NORMLAB_THREADS=1 on a shared machine) and the ratio to the first level.
//   node dist/bench/kernels.js [--preset small|default|all] [--only NAME] [--min-ms 200] [--simds avx512,avx2,generic]
import { performance } from 'node:perf_hooks';
import { Rng } from '../src/engine/rng.js';
import type { Backend } from '../src/engine/backend.js';
import type { F } from '../src/engine/types.js';
import { tsBackend } from '../src/engine/kernels/ts/ts-backend.js';
import { loadNativeBackend, nativeBackendError, nativeInfo, nativeSimd } from '../src/engine/kernels/native/native-backend.js';
import { norms } from '../src/nn/norms/norm-registry.js';
import { activations } from '../src/nn/activations/activation-registry.js';
import { MetricCtx } from '../src/nn/params.js';
import { fusedKernels } from '../src/nn/variant.js';
import { defaultConfig } from '../src/config/config.js';
import type { ModelConfig } from '../src/config/config-types.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: string) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? argv[i + 1] : dflt; };
const preset = opt('preset', 'all'), only = opt('only', ''), minMs = Number(opt('min-ms', '200'));
const simds = opt('simds', '').split(',').filter((l) => l);

const native = loadNativeBackend();
if (!native) {
  console.error(`native backend not built (${nativeBackendError()}): run \`npm run build:native\``);
  process.exit(1);
}
const info = nativeInfo()!;
console.log(`native: ${info.threads} threads, GEMM ${info.gemm}, SIMD ${info.simd} (available: ${info.simds})`);
const simd = nativeSimd()!, simdBefore = simd.current();
for (const l of simds) if (!simd.available.includes(l)) {
  console.error(`--simds ${l}: not available here (available: ${info.simds})`);
  process.exit(1);
}

const rng = new Rng(7);
const randn = (n: number, s = 1) => { const a = new Float32Array(n); for (let i = 0; i < n; i++) a[i] = rng.normal() * s; return a; };

/** Median ms per call over the calls made in budgetMs (after one warm-up call, which is the
 * measurement when it alone exceeds the budget: the slow TypeScript products take seconds). The
 * median, not the mean, so that other processes on a shared machine skew it less. */
function time(fn: () => void, budgetMs = minMs): number {
  const w0 = performance.now();
  fn();
  const warm = performance.now() - w0;
  if (warm >= budgetMs) return warm;
  const times: number[] = [];
  const end = performance.now() + budgetMs;
  while (times.length < 3 || performance.now() < end) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

interface Row { kernel: string; shape: string; ts: number; native: number; flops?: number }
const rows: Row[] = [];

/** CPU ms per call (this process's CPU time over the calls made until budgetMs of it is spent). */
function cpuTime(fn: () => void, budgetMs: number): number {
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
  fn();
  const t0 = cpu();
  let n = 0, t = 0;
  do { fn(); n++; t = cpu() - t0; } while (t < budgetMs);
  return t / n;
}

/** --simds: the native kernel at each level, 5 interleaved rounds, medians. */
function benchLevels(kernel: string, shape: string, run: (be: Backend) => void): void {
  const t: Record<string, number[]> = {};
  for (let round = 0; round < 5; round++) for (const l of simds) { simd.select(l); (t[l] ??= []).push(cpuTime(() => run(native!), minMs / 5)); }
  simd.select(simdBefore);
  const med = simds.map((l) => t[l].sort((a, b) => a - b)[2]);
  console.log(`${kernel.padEnd(24)} ${shape.padEnd(20)} ${simds.map((l, i) => `${l} ${med[i].toFixed(3).padStart(8)} ms`).join('  ')}  ` +
    simds.slice(1).map((l, i) => `${l}/${simds[0]} ${(med[i + 1] / med[0]).toFixed(2)}x`).join('  '));
}

function bench(kernel: string, shape: string, run: (be: Backend) => void, flops?: number, tsBudget = minMs): void {
  if (only && !kernel.includes(only)) return;
  if (simds.length) return benchLevels(kernel, shape, run);
  const nt = time(() => run(native!));
  const tt = time(() => run(tsBackend), tsBudget);
  const r: Row = { kernel, shape, ts: tt, native: nt, flops };
  rows.push(r);
  const gf = flops ? `  ${(flops / nt / 1e6).toFixed(1).padStart(7)} GFLOP/s native, ${(flops / tt / 1e6).toFixed(2)} ts` : '';
  console.log(`${kernel.padEnd(22)} ${shape.padEnd(26)} ts ${tt.toFixed(3).padStart(10)} ms  native ${nt.toFixed(3).padStart(9)} ms  ts/native ${(tt / nt).toFixed(1).padStart(6)}x${gf}`);
}

function suite(name: string, B: number, T: number, C: number, NH: number, V: number, params: number): void {
  console.log(`\n== ${name}: B=${B} T=${T} C=${C} NH=${NH} V=${V} (N = B*T = ${B * T})`);
  const N = B * T, H = 4 * C;
  const x = randn(N * C), y = randn(N * C), h = randn(N * H), dh = randn(N * H);
  const w = randn(C * H, 0.02), out = new Float32Array(N * H), outC = new Float32Array(N * C);
  // The products of one MLP, forward and backward: (N, C) x (C, 4C); dX = dH W^T; dW = X^T dH.
  const mm = (be: Backend, M: number, Nn: number, K: number, a: F, b: F, o: F, transA = false, transB = false) =>
    be.matmul(o, a, b, M, Nn, K, { transA, transB });
  bench('matmul NN', `${N}x${H}x${C}`, (be) => mm(be, N, H, C, x, w, out), 2 * N * H * C);
  bench('matmul NN', `${N}x${C}x${H}`, (be) => mm(be, N, C, H, h, w, outC), 2 * N * C * H);
  bench('matmul NT (dX)', `${N}x${C}x${H}`, (be) => mm(be, N, C, H, dh, w, outC, false, true), 2 * N * C * H);
  const dw = new Float32Array(C * H);
  bench('matmul TN (dW)', `${C}x${H}x${N}`, (be) => mm(be, C, H, N, x, dh, dw, true, false), 2 * N * C * H);
  // Attention on q = k = v-sized inputs; causal flops: QK^T and PV each ~ B NH T^2 D.
  const q = randn(N * C), k = randn(N * C), v = randn(N * C), stats = new Float32Array(2 * B * NH * T);
  const attFlops = 2 * B * NH * T * T * (C / NH);
  bench('attentionForward', `B${B} T${T} C${C} NH${NH}`, (be) => be.attentionForward(outC, stats, q, k, v, null, B, T, C, NH), attFlops);
  const dq = new Float32Array(N * C), dk = new Float32Array(N * C), dv = new Float32Array(N * C);
  tsBackend.attentionForward(outC, stats, q, k, v, null, B, T, C, NH);
  // Backward recomputes the scores: 5 products of ~B NH T^2 D / 2 each (counted as 2 forward's worth, as before).
  bench('attentionBackward', `B${B} T${T} C${C} NH${NH}`, (be) => be.attentionBackward(dq, dk, dv, y, outC, stats, q, k, v, null, B, T, C, NH), 2 * attFlops);
  const logits = randn(N * V), probs = new Float32Array(N * V), losses = new Float32Array(N), targets = new Int32Array(N).map(() => rng.int(V));
  bench('crossEntropyForward', `${N}x${V}`, (be) => { be.crossEntropyForward(losses, probs, logits, targets, N, V); });
  const dlogits = new Float32Array(N * V);
  bench('crossEntropyBackward', `${N}x${V}`, (be) => be.crossEntropyBackward(dlogits, probs, targets, 1 / N, N, V));
  const cfg = defaultConfig() as unknown as ModelConfig, ctx = new MetricCtx(true, new Rng(1));
  // With --simds every norm (width C) and activation (width 4C; glu reads 2 x 4C).
  const variantList: [string, number][] = simds.length
    ? [...Object.keys(norms).map((n): [string, number] => [n, C]), ...Object.keys(activations).filter((a) => !activations[a].gated).map((a): [string, number] => [a, H])]
    : [['rmsnorm', C], ['layernorm', C], ['gelu', H], ['relu', H]];
  for (const [vname, width] of variantList) {
    const variant = { ...norms, ...activations }[vname];
    const rowsN = N, xin = width === C ? x : h, o = width === C ? outC : out, g = width === C ? y : dh;
    const p: Record<string, F> = {}, dp: Record<string, F> = {}, s: Record<string, F> = {};
    for (const [pn, spec] of Object.entries(variant.params(width, cfg))) {
      const n = spec.shape.reduce((a, d) => a * d, 1), init = spec.init;
      p[pn] = typeof init === 'object' && 'values' in init ? Float32Array.from(init.values) : new Float32Array(n).fill(1); // knots at their initial places
      dp[pn] = new Float32Array(n);
    }
    for (const [sn, len] of Object.entries(variant.saved(rowsN, width, cfg))) s[sn] = new Float32Array(len);
    const kern = (be: Backend) => (be === tsBackend ? variant : fusedKernels(variant, be) ?? variant);
    const dx = new Float32Array(rowsN * width);
    bench(`${vname} forward`, `${rowsN}x${width}`, (be) => kern(be).forward(o, xin, p, s, rowsN, width, cfg, ctx));
    bench(`${vname} backward`, `${rowsN}x${width}`, (be) => kern(be).backward(dx, dp, g, xin, p, s, rowsN, width, cfg, ctx));
  }
  bench('add', `${N * C}`, (be) => be.add(outC, x, y, N * C));
  bench('addInto', `${N * C}`, (be) => be.addInto(outC, x, N * C));
  bench('scale', `${N * C}`, (be) => be.scale(outC, 0.999, N * C));
  bench('sumSquares', `${params}`, (be) => { be.sumSquares(h, Math.min(params, h.length)); });
  const pm = randn(params), gr = randn(params), m1 = new Float32Array(params), m2 = new Float32Array(params);
  bench('adamw', `${params}`, (be) => be.adamw(pm, gr, m1, m2, params, 6e-4, 0.9, 0.95, 1e-8, 0.1, 3));
  bench('biasBackward', `${N}x${H}`, (be) => be.biasBackward(w.subarray(0, H), dh, N, H));
  const idx = new Int32Array(N).map(() => rng.int(V)), wte = randn(V * C), wpe = randn(T * C);
  bench('embeddingForward', `${N}x${C}`, (be) => be.embeddingForward(outC, idx, wte, wpe, B, T, C));
  bench('embeddingBackward', `${N}x${C}`, (be) => be.embeddingBackward(wte, wpe, y, idx, B, T, C));
}

if (preset === 'small' || preset === 'all') suite('small', 12, 64, 128, 4, 65, 800_000);
if (preset === 'default' || preset === 'all') {
  // The default preset's batch is 64; 16 keeps the TypeScript side of the run short, with the
  // same per-row shapes. The headline sgemm shape of its MLP (16384 x 384 x 1536) runs at full size.
  suite('default (B reduced to 16)', 16, 256, 384, 6, 65, 10_650_000);
  const M = 16384, Nn = 384, K = 1536, a = randn(M * K), b = randn(K * Nn, 0.02), o = new Float32Array(M * Nn);
  bench('matmul NN (default MLP)', `${M}x${Nn}x${K}`, (be) => be.matmul(o, a, b, M, Nn, K), 2 * M * Nn * K, 1);
}

if (simds.length) process.exit(0);
const geo = Math.exp(rows.reduce((s, r) => s + Math.log(r.ts / r.native), 0) / Math.max(rows.length, 1));
console.log(`\n${rows.length} kernels; geometric mean ts/native ratio ${geo.toFixed(1)}x`);
