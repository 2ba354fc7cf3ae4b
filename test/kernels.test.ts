// The TypeScript kernels against naive formulas and finite differences (float64).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/engine/rng.js';
import { tsBackend as be } from '../src/engine/kernels/ts/index.js';
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

test('attention: probabilities are causal and sum to one; gradients match finite differences (with and without dropout mask)', () => {
  for (const withMask of [false, true]) {
    const rng = new Rng(2);
    const B = 2, T = 4, C = 6, NH = 2;
    const q = randn(rng, B * T * C), k = randn(rng, B * T * C), v = randn(rng, B * T * C), r = randn(rng, B * T * C);
    const att = new Float64Array(B * NH * T * T), out = new Float64Array(B * T * C);
    let mask: Float64Array | null = null;
    if (withMask) {
      mask = new Float64Array(B * NH * T * T);
      for (let i = 0; i < mask.length; i++) mask[i] = rng.uniform() < 0.3 ? 0 : 1 / 0.7;
    }
    const loss = () => {
      be.attentionForward(out, att, q, k, v, mask, B, T, C, NH);
      let L = 0;
      for (let i = 0; i < out.length; i++) L += out[i] * r[i];
      return L;
    };
    loss();
    for (let row = 0; row < B * NH * T; row++) {
      const t = row % T;
      let s = 0;
      for (let j = 0; j < T; j++) { s += att[row * T + j]; if (j > t) assert.equal(att[row * T + j], 0); }
      assert.ok(Math.abs(s - 1) < 1e-12);
    }
    const dq = new Float64Array(q.length), dk = new Float64Array(k.length), dv = new Float64Array(v.length);
    be.attentionBackward(dq, dk, dv, new Float64Array(att.length), r, att, q, k, v, mask, B, T, C, NH);
    const res: GradcheckResult = { maxErr: 0, worst: '' };
    compare(res, 'q', q, dq, loss, 1e-5);
    compare(res, 'k', k, dk, loss, 1e-5);
    compare(res, 'v', v, dv, loss, 1e-5);
    assert.ok(res.maxErr < 1e-6, res.worst);
  }
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
