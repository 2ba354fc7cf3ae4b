// The quantizers (src/engine/quantize.ts, Backend.fakeQuant) against values worked by hand:
// round-half-to-even ties, clamping, a constant tensor, stochastic rounding with given draws, the
// causal lower-triangle range, the scheduler's blend. Every backend gets the same cases (the
// backends' bit-for-bit parity on random tensors is in backends.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../src/engine/backend.js';
import { tsBackend } from '../src/engine/kernels/ts/ts-backend.js';
import { loadNativeBackend } from '../src/engine/kernels/native/native-backend.js';
import { loadWasmBackend } from '../src/engine/kernels/wasm/node-loader.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { quantMethodId, quantParams, type QuantMethod } from '../src/engine/quantize.js';
import { ROOT } from './helpers.js';

const SYM = 0, AFF = 1, STO = 2, TER = 3;
const BACKENDS = [tsBackend, loadNativeBackend(), loadWasmBackend()].filter((b): b is Backend => b !== null);

function fq(be: Backend, x: number[], method: number, bits: number, opts: { T?: number; u?: number[]; level?: number } = {}): number[] {
  const a = Float32Array.from(x), out = new Float32Array(x.length);
  be.fakeQuant(out, a, opts.u ? Float32Array.from(opts.u) : null, x.length, opts.T ?? 0, method, bits, opts.level ?? -1);
  assert.deepEqual([...a], [...Float32Array.from(x)], 'x unchanged');
  return [...out];
}
const f32 = (v: number[]) => [...Float32Array.from(v)];

for (const be of BACKENDS) {
  test(`${be.name}: symmetric rounds half to even (scale = max|x| / (2^(b-1) - 1))`, () => {
    // 3 bits: scale = 3 / 3 = 1; -1.5 -> -2, 0.5 -> 0, 1.5 -> 2, 2.5 -> 2 (Math.round would give -1, 1, 2, 3).
    assert.deepEqual(fq(be, [-3, -1.5, 0.5, 1.5, 2.5, 3], SYM, 3), [-3, -2, 0, 2, 2, 3]);
  });
  test(`${be.name}: affine rounds the zero point and clamps to [-2^(b-1), 2^(b-1) - 1]`, () => {
    // 2 bits: scale = (2 - -1) / 3 = 1, zp = -round(-1) - 2 = -1: q = round(x) - 1 in [-2, 1].
    assert.deepEqual(fq(be, [-1, 0, 0.5, 2], AFF, 2), [-1, 0, 0, 2]);
    // [-1.5, 1.5]: scale 1, zp = -round(-1.5) - 2 = 0; q(1.5) = 2 clamps to 1, q(-1.5) = -2.
    assert.deepEqual(fq(be, [-1.5, 1.5], AFF, 2), [-2, 1]);
  });
  test(`${be.name}: ternary uses mean|x| and clamps to -1, 0, 1`, () => {
    // mean|x| = 2.6 / 4 = 0.65: 0.1 -> 0, -0.5 -> -1, 2 -> 1 (clamped), 0 -> 0.
    assert.deepEqual(fq(be, [0.1, -0.5, 2, 0], TER, 2), f32([0, -0.65, 0.65, 0]));
    // An all-zero tensor: scale is clamped to 1e-5 and every q is 0.
    assert.deepEqual(fq(be, [0, 0, 0], TER, 2), [0, 0, 0]);
  });
  test(`${be.name}: stochastic rounds the magnitude up when the draw is below its fraction`, () => {
    // 2 bits: s = 3 levels of max|x| = 1: l = 3, 1.5, 0.75, 0; draws 0.9, 0.4, 0.8, 0.1.
    assert.deepEqual(fq(be, [1, -0.5, 0.25, 0], STO, 2, { u: [0.9, 0.4, 0.8, 0.1] }), f32([1, -2 / 3, 0, 0]));
  });
  test(`${be.name}: a constant tensor passes unchanged (scale 0)`, () => {
    assert.deepEqual(fq(be, [0.7, 0.7, 0.7], AFF, 8), f32([0.7, 0.7, 0.7]));
    assert.deepEqual(fq(be, [0, 0], SYM, 8), [0, 0]);
    assert.deepEqual(fq(be, [0, 0], STO, 8, { u: [0.5, 0.5] }), [0, 0]);
  });
  test(`${be.name}: causal blocks take the range over the lower triangle; masked entries stay masked`, () => {
    const X = -Infinity;
    // Lower triangle max|x| = 3 (the masked -inf does not count): scale 1 at 3 bits.
    const s = [1, X, X, 2, -3, X, 0.5, 1.5, 3];
    assert.deepEqual(fq(be, [...s, ...s.map((v) => v / 2)], SYM, 3, { T: 3 }),
      [1, X, X, 2, -3, X, 0, 2, 3, 0, X, X, 1, -2, X, 0, 1, 2]);
    // mean|x| over the 6 lower entries of one block: (1 + 2 + 3 + 0.5 + 1.5 + 3) / 6 = 11/6.
    assert.equal(quantParams(Float32Array.from(s), 9, 3, TER, 2, Math.fround)!.scale, Math.fround(11 / 6));
  });
  test(`${be.name}: with a scheduler the output is x + level * (x' - x)`, () => {
    assert.deepEqual(fq(be, [-1.5, 0.5, 3], SYM, 3, { level: 0.25 }), [-1.625, 0.375, 3]);
    assert.deepEqual(fq(be, [-1.5, 0.5, 3], SYM, 3, { level: 0 }), [-1.5, 0.5, 3]);
  });
}

test('quantParams: float64 tensors use float64 arithmetic (the gradient checks)', () => {
  const p = quantParams(Float64Array.from([-1, 0.1, 2]), 3, 0, AFF, 8)!;
  assert.equal(p.scale, 3 / 255);
  assert.equal(p.zp, -Math.round(-1 / (3 / 255)) - 128);
});

// torch's float32 quantizers (tools/torch_reference.py quantize_tensor, fixtures by
// tools/make_torch_fixtures.py): every method at 2..16 bits, whole tensors with exact half-step ties
// and causal blocks with -inf above the diagonal; each backend must give the same float32 bits.
interface QuantCase { method: string; bits: number; T: number; x: (number | null)[]; u: number[]; out: (number | null)[] } // null: -inf
const QCASES = JSON.parse(readFileSync(path.join(ROOT, 'test', 'fixtures', 'torch', 'quant_float32.json'), 'utf8')) as QuantCase[];
for (const be of BACKENDS) {
  test(`${be.name}: float32 quantizers equal torch's bit for bit (${QCASES.length} cases)`, () => {
    const errs: string[] = [];
    for (const c of QCASES) {
      const x = Float32Array.from(c.x, (v) => v ?? -Infinity), out = new Float32Array(x.length);
      be.fakeQuant(out, x, c.method === 'stochastic_quant' ? Float32Array.from(c.u) : null, x.length, c.T, quantMethodId(c.method as QuantMethod), c.bits, -1);
      const want = Float32Array.from(c.out, (v) => v ?? -Infinity);
      const bad = [...out].findIndex((v, i) => !Object.is(v, want[i]) && !(v === 0 && want[i] === 0));
      if (bad >= 0) errs.push(`${c.method} ${c.bits} bits T=${c.T}: [${bad}] x=${x[bad]} got ${out[bad]}, torch ${want[bad]}`);
    }
    assert.deepEqual(errs, []);
  });
}
