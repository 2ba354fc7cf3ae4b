// bfloat16 products on the WebAssembly backend run in AssemblyScript (wasm/assembly/bf16.ts;
// docs/dtype.md, docs/wasm.md): the rounding is src/engine/bf16.ts's bit for bit, a bf16 product is
// the float32 product of rounded operands bit for bit, attention rounds the same operands as the
// TypeScript definition, and thread counts 1, 2, 3 give the same bits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bf16Copy, roundBf16 } from '../src/engine/bf16.js';
import { Rng } from '../src/engine/rng.js';
import type { AttnDropout, Backend } from '../src/engine/backend.js';
import { tsBackend } from '../src/engine/kernels/ts/ts-backend.js';
import { createNodeWasmBackend, loadWasmBackend } from '../src/engine/kernels/wasm/node-loader.js';

const wasm = loadWasmBackend()!;
const byThreads = new Map<number, Backend>([[1, createNodeWasmBackend(1)], [2, createNodeWasmBackend(2)], [3, createNodeWasmBackend(3)]]);
const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

test('wasm rounds to bfloat16 like src/engine/bf16.ts, bit for bit (identity times every bit pattern)', () => {
  const rng = new Rng(3), n = 64, N = 97;
  const eye = new Float32Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 1;
  const x = new Float32Array(n * N), u = bits(x);
  for (let i = 0; i < x.length; i++) u[i] = (rng.int(0x10000) << 16 | rng.int(0x10000)) >>> 0;
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i]) || Math.abs(x[i]) > 1e38) x[i] = 0.5; // 0 * inf is NaN
  // ties both ways, zeros, subnormals, the smallest normal, just below it, just below a tie
  const special = [1 + 2 ** -8, 1 + 3 * 2 ** -8, -0, 1e-39, -1e-39, 2 ** -126, 0.1, 2 ** -126 * (1 - 2 ** -20), 1 + 2 ** -8 - 2 ** -23, -(1 + 3 * 2 ** -8)];
  special.forEach((v, i) => { x[i] = v; });
  const want = new Float32Array(n * N);
  roundBf16(want, x, want.length);
  for (const flags of [{}, { transB: true }]) {
    const xin = flags.transB ? transpose(x, n, N) : x, out = new Float32Array(n * N);
    wasm.matmul(out, eye, xin, n, N, n, { bf16: true, ...flags });
    for (let i = 0; i < out.length; i++) assert.ok(out[i] === want[i], `element ${i}: x ${x[i]}: wasm ${out[i]}, bf16.ts ${want[i]}`);
  }
});

function transpose(x: Float32Array, R: number, Cn: number): Float32Array {
  const t = new Float32Array(R * Cn);
  for (let r = 0; r < R; r++) for (let c = 0; c < Cn; c++) t[c * R + r] = x[r * Cn + c];
  return t;
}

test('a wasm bf16 product is the float32 product of rounded operands, bit for bit, every transpose, 1-3 threads', () => {
  const rng = new Rng(7);
  for (const [M, N, K] of [[5, 7, 3], [33, 65, 130], [64, 48, 385], [200, 9, 64]]) for (let t = 0; t < 8; t++) {
    const opts = { transA: !!(t & 1), transB: !!(t & 2), accumulate: !!(t & 4) };
    const a = Float32Array.from({ length: M * K }, () => rng.normal()), b = Float32Array.from({ length: K * N }, () => rng.normal());
    const c0 = Float32Array.from({ length: M * N }, () => rng.normal());
    const want = Float32Array.from(c0);
    wasm.matmul(want, bf16Copy(a, M * K), bf16Copy(b, K * N), M, N, K, opts);
    for (const [threads, be] of byThreads) {
      const got = Float32Array.from(c0);
      be.matmul(got, a, b, M, N, K, { ...opts, bf16: true });
      assert.deepEqual(bits(got), bits(want), `${M}x${N}x${K} ${JSON.stringify(opts)}, ${threads} threads`);
    }
  }
});

/** Forward and backward of one attention call on be; returns out, stats, dq, dk, dv. */
function attention(be: Backend, x: Record<string, Float32Array>, drop: AttnDropout | null, B: number, T: number, C: number, NH: number, bf16: boolean): Float32Array[] {
  const n = B * T * C, out = new Float32Array(n), stats = new Float32Array(2 * B * NH * T);
  const dq = Float32Array.from(x.g), dk = Float32Array.from(x.g), dv = Float32Array.from(x.g); // accumulated into
  be.attentionForward(out, stats, x.q, x.k, x.v, drop, B, T, C, NH, { bf16 });
  be.attentionBackward(dq, dk, dv, x.dout, out, stats, x.q, x.k, x.v, drop, B, T, C, NH, { bf16 });
  return [out, stats, dq, dk, dv];
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

// The TypeScript definition sums in float64 and rounds weights computed in float64, wasm in float32:
// the two differ by float32 sums (about 1e-6 relative) and by the rare weight within a float32 ulp of
// a bfloat16 tie that rounds the other way (one term changed by 2^-8). The rounding itself changes
// the results by about 2^-9 relative: wasm must be within a tenth of that distance of the definition
// (so it rounds the same operands), and differ from the float32 attention (so it rounds at all).
test('wasm bf16 attention rounds the operands the TypeScript definition rounds, dropout on and off, 1-3 threads the same bits', () => {
  const rng = new Rng(13);
  for (const [B, T, C, NH] of [[2, 37, 32, 2], [1, 70, 48, 3]]) for (const drop of [null, { p: 0.2, seed: 99 }]) {
    const n = B * T * C, r = () => Float32Array.from({ length: n }, () => rng.normal());
    const x = { q: r(), k: r(), v: r(), dout: r(), g: r() };
    const def = attention(tsBackend, x, drop, B, T, C, NH, true), f32 = attention(tsBackend, x, drop, B, T, C, NH, false);
    const got = [...byThreads].map(([, be]) => attention(be, x, drop, B, T, C, NH, true));
    ['out', 'stats', 'dq', 'dk', 'dv'].forEach((name, i) => {
      const label = `B=${B} T=${T} C=${C} NH=${NH} dropout=${drop?.p ?? 0} ${name}`;
      for (let t = 1; t < got.length; t++) assert.deepEqual(bits(got[t][i]), bits(got[0][i]), `${label}: ${t + 1} threads`);
      const rounding = maxDiff(def[i], f32[i]), err = maxDiff(got[0][i], def[i]);
      if (name === 'stats') { assert.ok(err <= 1e-5 * def[i].reduce((m, v) => Math.max(m, Math.abs(v)), 0), `${label}: ${err}`); return; } // m, Z: float32 sums of rounded products
      assert.ok(rounding > 1e-4, `${label}: bf16 changes the result (${rounding})`);
      assert.ok(err <= 0.1 * rounding, `${label}: wasm vs definition ${err}, rounding's own effect ${rounding}`);
    });
  }
});
