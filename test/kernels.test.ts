// The TypeScript kernels against naive formulas and finite differences (float64).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/engine/rng.js';
import { tsBackend as be } from '../src/engine/kernels/ts/ts-backend.js';
import { attnKept, attnRowKey, mix32 } from '../src/engine/kernels/ts/attention.js';
import { compare, type GradcheckResult } from './gradcheck.js';

function randn(rng: Rng, n: number): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

test('matmul: all four transpose cases and accumulate match the naive product', () => {
  const rng = new Rng(1);
  const M = 5, N = 7, K = 6;
  const A = randn(rng, M * K), Bm = randn(rng, K * N);
  const At = new Float64Array(K * M), Bt = new Float64Array(N * K);
  for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) At[k * M + i] = A[i * K + k];
  for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) Bt[j * K + k] = Bm[k * N + j];
  const ref = new Float64Array(M * N);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += A[i * K + k] * Bm[k * N + j];
    ref[i * N + j] = s;
  }
  for (const [a, b, transA, transB] of [[A, Bm, false, false], [A, Bt, false, true], [At, Bm, true, false], [At, Bt, true, true]] as const) {
    const out = new Float64Array(M * N).fill(1);
    be.matmul(out, a, b, M, N, K, { transA, transB });
    for (let i = 0; i < M * N; i++) assert.ok(Math.abs(out[i] - ref[i]) < 1e-12);
    be.matmul(out, a, b, M, N, K, { transA, transB, accumulate: true });
    for (let i = 0; i < M * N; i++) assert.ok(Math.abs(out[i] - 2 * ref[i]) < 1e-12);
  }
});

test('attention: output is the causal softmax-weighted sum of v (T x T reference), gradients match finite differences, with and without dropout', () => {
  for (const drop of [null, { p: 0.3, seed: 12345 }]) {
    const rng = new Rng(2);
    const B = 2, T = 4, C = 6, NH = 2, D = C / NH;
    const q = randn(rng, B * T * C), k = randn(rng, B * T * C), v = randn(rng, B * T * C), r = randn(rng, B * T * C);
    const stats = new Float64Array(2 * B * NH * T), out = new Float64Array(B * T * C);
    const loss = () => {
      be.attentionForward(out, stats, q, k, v, drop, B, T, C, NH);
      let L = 0;
      for (let i = 0; i < out.length; i++) L += out[i] * r[i];
      return L;
    };
    loss();
    // The textbook form: a full T x T softmax with -inf above the diagonal, dropout factors from attnKept.
    for (let b = 0; b < B; b++) for (let h = 0; h < NH; h++) for (let t = 0; t < T; t++) {
      const sc: number[] = [];
      for (let s = 0; s < T; s++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[(b * T + t) * C + h * D + d] * k[(b * T + s) * C + h * D + d];
        sc.push(s <= t ? dot / Math.sqrt(D) : -Infinity);
      }
      const mx = Math.max(...sc), e = sc.map((x) => Math.exp(x - mx)), Z = e.reduce((a, x) => a + x, 0);
      const row = (b * NH + h) * T + t, rk = drop ? attnRowKey(drop.seed, b * NH + h, t) : 0;
      assert.ok(Math.abs(stats[2 * row] - mx) < 1e-12 && Math.abs(stats[2 * row + 1] - Z) < 1e-12);
      for (let d = 0; d < D; d++) {
        let o = 0;
        for (let s = 0; s < T; s++) o += (e[s] / Z) * (drop ? (attnKept(rk, s, drop.p) ? 1 / (1 - drop.p) : 0) : 1) * v[(b * T + s) * C + h * D + d];
        assert.ok(Math.abs(out[(b * T + t) * C + h * D + d] - o) < 1e-12);
      }
    }
    const dq = new Float64Array(q.length), dk = new Float64Array(k.length), dv = new Float64Array(v.length);
    be.attentionBackward(dq, dk, dv, r, out, stats, q, k, v, drop, B, T, C, NH);
    const res: GradcheckResult = { maxErr: 0, worst: '' };
    compare(res, 'q', q, dq, loss, 1e-5);
    compare(res, 'k', k, dk, loss, 1e-5);
    compare(res, 'v', v, dv, loss, 1e-5);
    assert.ok(res.maxErr < 1e-6, res.worst);
  }
});

test('attention dropout: the counter hash keeps about 1 - p of the entries, the same for the same (seed, pair, row, column)', () => {
  // Pinned values of the mix (lowbias32; the C and AssemblyScript copies are held to it by the
  // backend parity tests with dropout): 0 is its fixed point.
  assert.equal(mix32(0), 0);
  assert.equal(mix32(1), 0x688990c0);
  for (const p of [0.1, 0.5, 0.9]) {
    let kept = 0;
    const n = 200000;
    for (let i = 0; i < n; i++) if (attnKept(attnRowKey(7, i % 97, Math.floor(i / 97)), i % 131, p)) kept++;
    assert.ok(Math.abs(kept / n - (1 - p)) < 0.01, `p = ${p}: kept ${kept / n}`);
  }
  assert.equal(attnKept(attnRowKey(1, 2, 3), 4, 0.5), attnKept(attnRowKey(1, 2, 3), 4, 0.5));
  let differ = 0;
  for (let s = 0; s < 1000; s++) if (attnKept(attnRowKey(1, 2, 3), s, 0.5) !== attnKept(attnRowKey(2, 2, 3), s, 0.5)) differ++;
  assert.ok(differ > 400 && differ < 600, `another seed changes about half the decisions: ${differ}`);
});

test('cross-entropy: value matches logsumexp - logit, gradient matches finite differences', () => {
  const rng = new Rng(3);
  const N = 4, V = 5;
  const logits = randn(rng, N * V), targets = Int32Array.from([0, 4, 2, 2]);
  const losses = new Float64Array(N), probs = new Float64Array(N * V);
  const loss = () => be.crossEntropyForward(losses, probs, logits, targets, N, V);
  const L = loss();
  let ref = 0;
  for (let n = 0; n < N; n++) {
    let s = 0;
    for (let i = 0; i < V; i++) s += Math.exp(logits[n * V + i]);
    ref += Math.log(s) - logits[n * V + targets[n]];
  }
  assert.ok(Math.abs(L - ref / N) < 1e-12);
  const d = new Float64Array(N * V);
  be.crossEntropyBackward(d, probs, targets, 1 / N, N, V);
  const res: GradcheckResult = { maxErr: 0, worst: '' };
  compare(res, 'logits', logits, d, loss, 1e-5);
  assert.ok(res.maxErr < 1e-6, res.worst);
});

test('adamw: one step matches the hand-computed torch.optim.AdamW update', () => {
  const p = Float64Array.from([1, -2]), g = Float64Array.from([0.5, 0.1]);
  const m = new Float64Array(2), v = new Float64Array(2);
  const lr = 0.1, b1 = 0.9, b2 = 0.99, eps = 1e-8, wd = 0.1;
  be.adamw(p, g, m, v, 2, lr, b1, b2, eps, wd, 1);
  // step 1: mhat = g, vhat = g^2, update = g / (|g| + eps) = sign(g) (almost)
  const exp0 = 1 * (1 - lr * wd) - lr * 0.5 / (0.5 + eps);
  const exp1 = -2 * (1 - lr * wd) - lr * 0.1 / (0.1 + eps);
  assert.ok(Math.abs(p[0] - exp0) < 1e-12 && Math.abs(p[1] - exp1) < 1e-12);
  assert.ok(Math.abs(m[0] - 0.05) < 1e-15 && Math.abs(v[0] - 0.0025) < 1e-15);
});

test('embedding: forward adds token and position rows; backward scatters', () => {
  const wte = Float64Array.from([1, 2, 3, 4, 5, 6]), wpe = Float64Array.from([10, 20, 30, 40]);
  const idx = Int32Array.from([2, 0]), out = new Float64Array(4);
  be.embeddingForward(out, idx, wte, wpe, 1, 2, 2);
  assert.deepEqual(Array.from(out), [15, 26, 31, 42]);
  const dwte = new Float64Array(6), dwpe = new Float64Array(4);
  be.embeddingBackward(dwte, dwpe, Float64Array.from([1, 1, 2, 2]), idx, 1, 2, 2);
  assert.deepEqual(Array.from(dwte), [2, 2, 0, 0, 1, 1]);
  assert.deepEqual(Array.from(dwpe), [1, 1, 2, 2]);
});
