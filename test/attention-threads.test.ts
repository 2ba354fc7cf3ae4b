// Attention's native kernels give the same bits for any NORMLAB_THREADS (docs/memory.md, "Attention"):
// forward strips and backward pairs are each computed whole by one thread, in a fixed order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadNativeBackend, nativeBackendError } from '../src/engine/kernels/native/native-backend.js';

const skip = loadNativeBackend() ? false : `native backend not built (${nativeBackendError()})`;
const NATIVE = fileURLToPath(new URL('../src/engine/kernels/native/native-backend.js', import.meta.url));
const RNG = fileURLToPath(new URL('../src/engine/rng.js', import.meta.url));

// One forward and backward with dropout at a size with several strips per pair and more pairs than
// threads; prints a hash of every output.
const SCRIPT = `
const { loadNativeBackend } = await import(${JSON.stringify(NATIVE)});
const { Rng } = await import(${JSON.stringify(RNG)});
const { createHash } = await import('node:crypto');
const be = loadNativeBackend(), rng = new Rng(11);
const B = 2, T = 200, C = 48, NH = 3, n = B * T * C, drop = { p: 0.1, seed: 4242 };
const r = () => Float32Array.from({ length: n }, () => rng.normal());
const q = r(), k = r(), v = r(), dout = r(), out = new Float32Array(n), stats = new Float32Array(2 * B * NH * T);
const dq = new Float32Array(n), dk = new Float32Array(n), dv = new Float32Array(n);
be.attentionForward(out, stats, q, k, v, drop, B, T, C, NH);
be.attentionBackward(dq, dk, dv, dout, out, stats, q, k, v, drop, B, T, C, NH);
const h = createHash('sha256');
for (const a of [out, stats, dq, dk, dv]) h.update(new Uint8Array(a.buffer));
console.log(h.digest('hex'));
`;

test('native attention forward and backward (with dropout) give the same bits with 1, 2 and 3 threads', { skip }, () => {
  const run = (threads: number) => execFileSync(process.execPath, ['--input-type=module', '-e', SCRIPT],
    { env: { ...process.env, NORMLAB_THREADS: String(threads) }, encoding: 'utf8' }).trim();
  const one = run(1);
  assert.match(one, /^[0-9a-f]{64}$/);
  // Twice each: a race between threads (a shared scratch strip, once) showed in one run of ten.
  for (const threads of [2, 3, 2, 3]) assert.equal(run(threads), one, `${threads} threads`);
});
