// Softmax variants and the in-attention quantizers INSIDE the strip attention (docs/softmax.md "Inside
// the attention kernel", docs/quantization.md "Attention"): the native kernel (strips, the kinds of
// native/src/softmax.h) and the wasm kernel (rows, wasm/assembly/softmax.ts) against the TypeScript definition (src/engine/kernels/ts/attention.ts running the
// variant's own transform row by row) at lengths around the strip edges, the same bits for 1, 2 and 3
// threads, bfloat16 against a float64 definition that rounds the operands, and float64 finite
// differences of the definition's backward.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../src/engine/rng.js';
import type { AttnDropout, AttnOpts, AttnQuant, Backend } from '../src/engine/backend.js';
import type { F } from '../src/engine/types.js';
import { ATTN_STATE } from '../src/engine/kernels/ts/attention.js';
import { tsBackend } from '../src/engine/kernels/ts/ts-backend.js';
import { loadNativeBackend, nativeBackendError } from '../src/engine/kernels/native/native-backend.js';
import { createNodeWasmBackend } from '../src/engine/kernels/wasm/node-loader.js';
import { defaultConfig } from '../src/config/config.js';
import type { TrainConfig } from '../src/config/config-types.js';
import { ParamStore } from '../src/nn/store.js';
import { softmaxes } from '../src/nn/softmax/softmax-registry.js';
import { SoftmaxSlot } from '../src/nn/softmax/softmax-slot.js';
import { GPT } from '../src/model/gpt.js';
import { VARIANT_CASES } from './softmax-cases.js';
import { assertCacheMatches } from './kv-cache.js';

const native = loadNativeBackend();
const skip = native ? false : `native backend not built (${nativeBackendError()})`;
/** The backends with the kernel: native (strips) and wasm (rows, one thread here; threads below). */
const FAST: [string, Backend | null, string | false][] = [['native', native, skip], ['wasm', createNodeWasmBackend(1), false]];

/** Every kind and flag path of the kernels: the backends test's cases plus the ones with learned
 * temperature, per-head obo, the per-call decision, pfla's learned knots and learned divisor. */
const CASES: [string, Partial<TrainConfig>][] = [
  ...VARIANT_CASES,
  ['strongermax', { strongermax_use_learned_obo_per_head: true, strongermax_obo: 0.5, strongermax_use_learned_temperature_factor: true, strongermax_temperature_factor: 1.3 }],
  ['strongermax', { strongermax_overflow_recompute: true, strongermax_xmax_guess: 0, strongermax_overflow_recompute_value: 1, strongermax_obo: 1, strongermax_clamping: true, strongermax_clamp_value: 1.5 }],
  ['strongermax', { strongermax_overflow_recompute: true, strongermax_xmax_guess: 0, strongermax_overflow_recompute_value: 50 }],
  ['strongermax', { strongermax_div_by_sum_of_terms: false, strongermax_use_learned_temperature_factor: true, strongermax_divisor: 8 }],
  ['strongermax', { strongermax_div_by_sum_of_terms: false, strongermax_xmax_guess: null, strongermax_divisor: 4 }],
  ['softermax', { softermax_use_xmax: false }], ['sigsoftmax', { sigsoftmax_use_euler_base: false, sigsoftmax_base: 0.5 }],
  ['pfla_softmax', { pfla_softmax_learn_x: true, pfla_softmax_mode: 'quadratic', pfla_softmax_num_points: 7, pfla_softmax_density: 'quad' }],
  ['pfla_softmax', { pfla_softmax_use_learned_divisor: true, pfla_softmax_gamma_init: 3, pfla_softmax_learn_x: true }],
  ['pfla_softmax', { pfla_softmax_use_obo: true, pfla_softmax_use_learned_obo: true, pfla_softmax_obo: 0.5 }],
];

interface Run { out: Float64Array; dq: Float64Array; dk: Float64Array; dv: Float64Array; stats: Float64Array; grads: Record<string, Float64Array> }
interface Setup { B: number; T: number; C: number; NH: number; drop?: AttnDropout | null; quantS?: AttnQuant | null; quantP?: AttnQuant | null; bf16?: boolean; ints?: boolean }

/** The arrays of one attention call. */
interface Bufs { q: F; k: F; v: F; dout: F; out: F; stats: F; dq: F; dk: F; dv: F }
/** One forward and backward of attention with options o, the slot's backward begun and ended around it. */
function forwardBackward(be: Backend, slot: SoftmaxSlot | null, b: Bufs, drop: AttnDropout | null, B: number, T: number, C: number, NH: number, o: AttnOpts): void {
  be.attentionForward(b.out, b.stats, b.q, b.k, b.v, drop, B, T, C, NH, o);
  slot?.beginBackward();
  be.attentionBackward(b.dq, b.dk, b.dv, b.dout, b.out, b.stats, b.q, b.k, b.v, drop, B, T, C, NH, o);
  slot?.endBackward();
}

const cfgOf = (name: string, over: Partial<TrainConfig>, NH: number, C: number): TrainConfig =>
  ({ ...defaultConfig(), n_head: NH, n_embd: C, dropout: 0, softmax_variant_attn: name, ...over } as TrainConfig);

/** One forward and backward of attention with variant `name` on be (arrays of dtype), inputs from seed:
 * normal values, or small integers (ints: exact scores, so quantizers decide alike everywhere). */
function run(be: Backend, dtype: 'float32' | 'float64', name: string, over: Partial<TrainConfig>, s: Setup, seed = 3): Run {
  const { B, T, C, NH } = s, n = B * T * C;
  const cfg = cfgOf(name, over, NH, C), store = new ParamStore(dtype, be);
  const slot = name === 'softmax' ? null : new SoftmaxSlot(store, 'attn.softmax_layer_attn', softmaxes[name], cfg);
  store.finalize(new Rng(1));
  slot?.bind();
  const pr = new Rng(9); // learned parameters moved off their initial values (the same on every backend)
  for (const [, a] of Object.entries(slot?.params ?? {})) for (let i = 0; i < a.length; i++) a[i] = Math.fround(a[i] * (1 + 0.05 * pr.normal()));
  const rng = new Rng(seed), arr = (ints = false) => {
    const x = store.alloc(n);
    for (let i = 0; i < n; i++) x[i] = ints ? Math.round(2 * rng.normal()) : Math.fround(rng.normal());
    return x;
  };
  const q = arr(s.ints), k = arr(s.ints), v = arr(), dout = arr(), out = store.alloc(n), stats = store.alloc(2 * B * NH * T);
  const dq = store.alloc(n), dk = store.alloc(n), dv = store.alloc(n);
  let o: AttnOpts = { bf16: s.bf16, quantS: s.quantS ?? null, quantP: s.quantP ?? null, state: new Float64Array(ATTN_STATE) };
  if (slot) o = slot.fill(o, B, T);
  forwardBackward(be, slot, { q, k, v, dout, out, stats, dq, dk, dv }, s.drop ?? null, B, T, C, NH, o);
  const grads: Record<string, Float64Array> = {};
  for (const [pn, g] of Object.entries(slot?.paramGrads ?? {})) grads[pn] = Float64Array.from(g);
  const r: Run = { out: Float64Array.from(out), dq: Float64Array.from(dq), dk: Float64Array.from(dk), dv: Float64Array.from(dv), stats: Float64Array.from(stats), grads };
  store.release();
  return r;
}

const maxAbs = (a: ArrayLike<number>) => { let m = 0; for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i])); return m; };

/** Every output within rel of its tensor's largest entry (floor: abs). */
function agree(a: Run, b: Run, what: string, rel = 2e-4, abs = 1e-7): void {
  const pairs: [string, ArrayLike<number>, ArrayLike<number>][] = [['out', a.out, b.out], ['dq', a.dq, b.dq], ['dk', a.dk, b.dk], ['dv', a.dv, b.dv]];
  for (const name of Object.keys(a.grads)) pairs.push([`d ${name}`, a.grads[name], b.grads[name]]);
  for (const [name, x, y] of pairs) {
    assert.equal(x.length, y.length, `${what}: ${name} length`);
    // a parameter's gradient sums float32 terms of both signs over every score: an absolute floor too
    const tol = rel * maxAbs(x) + (name.startsWith('d ') ? Math.max(abs, 1e-6) : abs);
    let worst = 0, at = -1;
    for (let i = 0; i < x.length; i++) { const d = Math.abs(x[i] - y[i]); if (!(d <= worst)) { worst = d; at = i; } }
    assert.ok(worst <= tol, `${what}: ${name}[${at}] ${x[at]} vs ${y[at]} (|diff| ${worst} > ${tol})`);
  }
}

const LENGTHS = [1, 63, 64, 65, 130];

for (const [bn, be, skip] of FAST) for (const [name, over] of CASES) {
  test(`${name} ${JSON.stringify(over)} inside the ${bn} kernel = the TypeScript definition at T = ${LENGTHS.join(', ')} (float32, dropout at 130)`, { skip }, () => {
    for (const T of LENGTHS) {
      const s: Setup = { B: 2, T, C: 16, NH: 2, drop: T === 130 ? { p: 0.2, seed: 77 } : null };
      agree(run(tsBackend, 'float32', name, over, s), run(be!, 'float32', name, over, s), `T ${T}`);
    }
  });
}

const AFF8: AttnQuant = { method: 1, bits: 8, level: -1, seed: 0 };
const QUANT_CASES: [string, string, Partial<TrainConfig>, Partial<Setup>][] = [
  ['scores affine int8', 'softmax', {}, { quantS: AFF8 }],
  ['scores symmetric int4 with the linear scheduler at 0.6', 'softmax', {}, { quantS: { method: 0, bits: 4, level: 0.6, seed: 0 } }],
  ['scores stochastic int6', 'consmax_v2', { consmax_initial_gamma: 2.5 }, { quantS: { method: 2, bits: 6, level: -1, seed: 12345 } }],
  ['scores ternary before the per-call decision', 'strongermax', { strongermax_overflow_recompute: true, strongermax_xmax_guess: 0, strongermax_overflow_recompute_value: 0.5, strongermax_obo: 1 }, { quantS: { method: 3, bits: 2, level: -1, seed: 0 } }],
  ['scores and weights affine int8, relumax (exact weights)', 'relumax', { relumax_divisor: 4 }, { quantS: AFF8, quantP: AFF8 }],
  ['weights symmetric int8, squareplus', 'squareplus', { squareplus_divisor: 0.5 }, { quantP: { method: 0, bits: 8, level: -1, seed: 0 } }],
  ['weights stochastic int8 and dropout, softmax', 'softmax', {}, { quantP: { method: 2, bits: 8, level: -1, seed: 99 }, drop: { p: 0.1, seed: 5 } }],
  ['scores and weights affine int8, pfla_softmax', 'pfla_softmax', { pfla_softmax_learn_x: true }, { quantS: AFF8, quantP: AFF8 }],
];

for (const [bn, be, skip] of FAST) for (const [what, name, over, extra] of QUANT_CASES) {
  test(`in-attention quantizers inside the ${bn} kernel (${what}): ${bn} = the TypeScript definition at T = ${LENGTHS.join(', ')}`, { skip }, () => {
    for (const T of LENGTHS) {
      // Integer q and k with D = 4 (scale 1/2): the scores are exact on both sides, so both quantize them
      // alike. The weights come from exp etc., rounded differently: a weight within a rounding of a
      // quantization boundary may land one level apart (one level of 2^8 moves an output by about
      // max|v| / 255), so those cases get that allowance.
      const s: Setup = { B: 2, T, C: 16, NH: 4, ints: true, ...extra };
      const exactP = !extra.quantP || name === 'relumax';
      agree(run(tsBackend, 'float32', name, over, s), run(be!, 'float32', name, over, s), `T ${T}`, exactP ? 2e-4 : 2e-2);
    }
  });
}

test('the quantizers change the result, and their saved state makes backward see what forward saw', { skip }, () => {
  const s: Setup = { B: 1, T: 65, C: 16, NH: 4, ints: true };
  const plain = run(native!, 'float32', 'softmax', {}, s), q = run(native!, 'float32', 'softmax', {}, { ...s, quantS: { method: 0, bits: 2, level: -1, seed: 0 }, quantP: AFF8 });
  assert.ok(maxAbs(plain.out.map((x, i) => x - q.out[i])) > 1e-3);
});

// ---- the same bits for any thread count ---------------------------------------------------------------
const SLOT = fileURLToPath(new URL('../src/nn/softmax/softmax-slot.js', import.meta.url));
const STORE = fileURLToPath(new URL('../src/nn/store.js', import.meta.url));
const REG = fileURLToPath(new URL('../src/nn/softmax/softmax-registry.js', import.meta.url));
const CONF = fileURLToPath(new URL('../src/config/config.js', import.meta.url));
const NATIVE = fileURLToPath(new URL('../src/engine/kernels/native/native-backend.js', import.meta.url));
const WASM = fileURLToPath(new URL('../src/engine/kernels/wasm/node-loader.js', import.meta.url));
const RNG = fileURLToPath(new URL('../src/engine/rng.js', import.meta.url));
const SCRIPT = `
const { loadNativeBackend } = await import(${JSON.stringify(NATIVE)});
const { loadWasmBackend } = await import(${JSON.stringify(WASM)});
const { Rng } = await import(${JSON.stringify(RNG)});
const { SoftmaxSlot } = await import(${JSON.stringify(SLOT)});
const { ParamStore } = await import(${JSON.stringify(STORE)});
const { softmaxes } = await import(${JSON.stringify(REG)});
const { defaultConfig } = await import(${JSON.stringify(CONF)});
const { createHash } = await import('node:crypto');
const be = process.env.ATTN_BACKEND === 'wasm' ? loadWasmBackend() : loadNativeBackend(), h = createHash('sha256');
const B = 2, T = 200, C = 48, NH = 3, n = B * T * C, drop = { p: 0.1, seed: 4242 };
const cases = [
  ['consmax_v2', { consmax_v2_clamping: true, consmax_v2_clamp_value: 0.5 }, null, null],
  ['strongermax', { strongermax_overflow_recompute: true, strongermax_xmax_guess: 0, strongermax_overflow_recompute_value: 1, strongermax_use_learned_obo_per_head: true, strongermax_obo: 1 }, { method: 1, bits: 8, level: -1, seed: 0 }, null],
  ['pfla_softmax', { pfla_softmax_learn_x: true }, null, { method: 3, bits: 2, level: -1, seed: 0 }],
  ['softmax', {}, { method: 2, bits: 8, level: 0.5, seed: 7 }, { method: 1, bits: 8, level: -1, seed: 0 }],
];
for (const [name, over, quantS, quantP] of cases) {
  const store = new ParamStore('float32', be), cfg = { ...defaultConfig(), n_head: NH, n_embd: C, softmax_variant_attn: name, ...over };
  const slot = name === 'softmax' ? null : new SoftmaxSlot(store, 'a', softmaxes[name], cfg);
  store.finalize(new Rng(1)); slot?.bind();
  const rng = new Rng(11), r = () => Float32Array.from({ length: n }, () => rng.normal());
  const q = r(), k = r(), v = r(), dout = r(), out = new Float32Array(n), stats = new Float32Array(2 * B * NH * T);
  const dq = new Float32Array(n), dk = new Float32Array(n), dv = new Float32Array(n);
  let o = { quantS, quantP, state: new Float64Array(32) };
  if (slot) o = slot.fill(o, B, T);
  be.attentionForward(out, stats, q, k, v, drop, B, T, C, NH, o);
  slot?.beginBackward();
  be.attentionBackward(dq, dk, dv, dout, out, stats, q, k, v, drop, B, T, C, NH, o);
  slot?.endBackward();
  for (const a of [out, stats, dq, dk, dv, o.state, ...(o.kernel ? [o.kernel.sums] : [])]) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}
console.log(h.digest('hex'));
`;

for (const [bn, , skip] of FAST) test(`variants and quantizers inside the ${bn} kernel give the same bits with 1, 2 and 3 threads (dropout on)`, { skip }, () => {
  // a file, not -e: wasm's worker threads inherit the process's flags, and --input-type is refused there
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'normlab-attn-')), 'threads.mjs');
  writeFileSync(file, SCRIPT);
  const go = (threads: number) => execFileSync(process.execPath, [file],
    { env: { ...process.env, NORMLAB_THREADS: String(threads), ATTN_BACKEND: bn }, encoding: 'utf8' }).trim();
  const one = go(1);
  assert.match(one, /^[0-9a-f]{64}$/);
  for (const threads of [2, 3, 2, 3]) assert.equal(go(threads), one, `${threads} threads`);
  rmSync(path.dirname(file), { recursive: true, force: true });
});

// ---- bfloat16 -----------------------------------------------------------------------------------------
// The reference: the definition on float64 arrays with the same operands rounded to bfloat16 (q, k, v,
// dout, the weights P' keep and dS scale). An operand within a float32 rounding of a bfloat16 boundary
// may round the other way in float32 (2^-8 relative of one term), hence test/bf16.test.ts's 2e-2 of a
// tensor's largest entry.
for (const [name, over, extra] of [
  ['softermax', {}, {}], ['consmax_v2', { consmax_initial_gamma: 2.5 }, {}], ['pfla_softmax', {}, {}],
  ['strongermax', { strongermax_use_learned_obo: true, strongermax_obo: 1 }, { drop: { p: 0.2, seed: 3 } }],
  ['softmax', {}, { quantS: AFF8, quantP: AFF8, ints: true }], ['relumax', { relumax_divisor: 4 }, { quantS: AFF8, quantP: AFF8, ints: true }],
] as [string, Partial<TrainConfig>, Partial<Setup>][]) for (const [bn, be, skip] of FAST) {
  test(`bfloat16 with ${name} ${JSON.stringify(over)}${extra.quantS ? ' and both quantizers' : ''}: ${bn} = the float64 definition on rounded operands`, { skip }, () => {
    for (const T of [1, 64, 130]) {
      const s: Setup = { B: 2, T, C: 16, NH: extra.ints ? 4 : 2, bf16: true, ...extra };
      agree(run(tsBackend, 'float64', name, over, s), run(be!, 'float32', name, over, s), `T ${T}`, 2e-2, 1e-6);
    }
  });
}

// ---- float64 finite differences of the definition's backward -----------------------------------------
function gradcheck(name: string, over: Partial<TrainConfig>): void {
  const B = 1, T = 6, C = 8, NH = 2, n = B * T * C, cfg = cfgOf(name, over, NH, C);
  const store = new ParamStore('float64', tsBackend);
  const slot = new SoftmaxSlot(store, 'a', softmaxes[name], cfg);
  store.finalize(new Rng(1));
  slot.bind();
  const rng = new Rng(4), arr = () => { const x = store.alloc(n); for (let i = 0; i < n; i++) x[i] = rng.normal(); return x; };
  const q = arr(), k = arr(), v = arr(), r = arr(), out = store.alloc(n), stats = store.alloc(2 * B * NH * T);
  const loss = () => {
    tsBackend.attentionForward(out, stats, q, k, v, null, B, T, C, NH, slot.fill({}, B, T));
    let L = 0;
    for (let i = 0; i < n; i++) L += out[i] * r[i];
    return L;
  };
  loss();
  const dq = store.alloc(n), dk = store.alloc(n), dv = store.alloc(n), o = slot.fill({}, B, T);
  forwardBackward(tsBackend, slot, { q, k, v, dout: r, out, stats, dq, dk, dv }, null, B, T, C, NH, o);
  const check = (what: string, x: ArrayLike<number> & { [i: number]: number }, g: ArrayLike<number>) => {
    for (let i = 0; i < x.length; i++) {
      const x0 = x[i], h = 1e-6 * Math.max(1, Math.abs(x0));
      x[i] = x0 + h; const lp = loss(); x[i] = x0 - h; const lm = loss(); x[i] = x0;
      const num = (lp - lm) / (2 * h);
      assert.ok(Math.abs(num - g[i]) <= 1e-6 * Math.max(1, Math.abs(num)), `${name} ${what}[${i}]: numeric ${num}, backward ${g[i]}`);
    }
  };
  check('q', q, dq); check('k', k, dk); check('v', v, dv);
  for (const [pn, p] of Object.entries(slot.params)) if (p.length) check(pn, p, slot.paramGrads[pn]);
}

test('float64 finite differences: the strip backward of a row variant (strongermax: learned per-head obo and temperature, clamped)', () => {
  gradcheck('strongermax', { strongermax_use_learned_obo_per_head: true, strongermax_obo: 0.5, strongermax_use_learned_temperature_factor: true, strongermax_clamping: true, strongermax_clamp_value: 1 });
});
test('float64 finite differences: the strip backward of an elementwise variant (consmax_v2, per-head β and γ)', () => {
  gradcheck('consmax_v2', { consmax_initial_gamma: 2.5 });
});
test('float64 finite differences: the strip backward of pfla_softmax (learned knots, row sum with learned obo)', () => {
  gradcheck('pfla_softmax', { pfla_softmax_learn_x: true, pfla_softmax_num_points: 5, pfla_softmax_use_obo: true, pfla_softmax_use_learned_obo: true });
});

// ---- hand-worked values at known scores ---------------------------------------------------------------
// One key (T = 1), D = 4 (scale 1/2), q = (2x, 0, 0, 0), k = (1, 0, 0, 0), v = (1, 0, 0, 0): the score is x, out[0]
// = P(x) and, with dout = (1, 0, 0, 0), dq[0] = P'(x) / 2. Points from far below the exponentials' clamps (2^-125:
// results under 2.4e-38 stand for smaller ones) to far above, the ties at 0 and β, softplus's threshold at 20.
// Tolerance: the float32 rounding of the exponent (|x| ulps of it move e^x by |x| 6e-8 relative) and of the
// polynomials (a few 1e-7), with an absolute floor far under anything a weight can carry (1e-36).
// sigmoidmax's slope σ (1 - σ) is taken in float32 (as PyTorch's backward): 1 - σ keeps nothing under 2^-24, so
// its slope has that absolute floor (2^-24 / 256 / 2).
const WORKED: [string, (x: number) => number, (x: number) => number, number][] = [
  ['softplus', (x) => (x > 20 ? x : Math.log1p(Math.exp(x))) / 100, (x) => (x > 20 ? 1 : 1 / (1 + Math.exp(-x))) / 100, 0],
  ['sigmoidmax', (x) => 1 / (1 + Math.exp(-x)) / 256, (x) => Math.exp(-x) / (1 + Math.exp(-x)) ** 2 / 256, 2 ** -24 / 512],
  ['consmax', (x) => Math.exp(x - 2.5) / 100, (x) => Math.exp(x - 2.5) / 100, 0],
  ['exppolymax', (x) => (x < 0 ? Math.exp(x) : (x + 0.5) ** 2 + 1) / 1000, (x) => (x < 0 ? Math.exp(x) : 2 * (x + 0.5)) / 1000, 0], // k = ln e / 2
];
const POINTS = [-200, -100, -87.5, -30, -5, -1, -1e-3, 0, 1e-3, 0.5, 1, 2.5, 5, 19.5, 20.5, 30, 60];

for (const [bn, be, skip] of [['ts', tsBackend, false], ...FAST] as [string, Backend | null, string | false][]) {
  test(`${WORKED.map(([n]) => n).join(', ')} inside the ${bn} kernel: values and slopes worked by hand at scores from -200 to 60`, { skip }, () => {
    for (const [name, f, df, floor] of WORKED) {
      const cfg = cfgOf(name, {}, 1, 4), store = new ParamStore('float32', be!);
      const slot = new SoftmaxSlot(store, 'attn.softmax_layer_attn', softmaxes[name], cfg);
      store.finalize(new Rng(1));
      slot.bind();
      const q = store.alloc(4), k = store.alloc(4), v = store.alloc(4), dout = store.alloc(4), out = store.alloc(4), stats = store.alloc(2);
      const dq = store.alloc(4), dk = store.alloc(4), dv = store.alloc(4);
      k[0] = 1; v[0] = 1; dout[0] = 1;
      for (const x of POINTS) {
        if (name === 'consmax' && x > 30) continue; // e^57.5 / 100: past float32's range, as in PyTorch
        q[0] = 2 * x; dq.fill(0); dk.fill(0); dv.fill(0); // backward adds to them
        const o = slot.fill({ state: new Float64Array(ATTN_STATE) }, 1, 1);
        forwardBackward(be!, slot, { q, k, v, dout, out, stats, dq, dk, dv }, null, 1, 1, 4, 1, o);
        const rel = 4e-7 * (1 + Math.abs(x)), want = f(x), slope = df(x) / 2;
        assert.ok(Math.abs(out[0] - want) <= rel * Math.abs(want) + 1e-36, `${name}(${x}) = ${out[0]}, by hand ${want}`);
        assert.ok(Math.abs(dq[0] - slope) <= 2 * rel * Math.abs(slope) + floor + 1e-36, `${name}'(${x}) / 2 = ${dq[0]}, by hand ${slope}`);
      }
      store.release();
    }
  });
}

// ---- generation -------------------------------------------------------------------------------------
// The KV cache runs the same attention (src/model/generate.ts attendCachedWith): with bfloat16 and a
// variant its logits equal the full forward's at every position; with the quantizers too at the first
// position (later ones take their statistics over the step's own row, docs/quantization.md).
for (const [what, over, positions] of [
  ['consmax_v2, bfloat16', { softmax_variant_attn: 'consmax_v2', consmax_initial_gamma: 2.5, dtype: 'bfloat16' }, 6],
  ['softermax, bfloat16', { softmax_variant_attn: 'softermax', dtype: 'bfloat16' }, 6],
  ['strongermax with both quantizers, bfloat16', { softmax_variant_attn: 'strongermax', strongermax_obo: 1, quantize_attn_act_softmax_input: true, quantize_attn_act_pv_mult_p_input: true, dtype: 'bfloat16' }, 1],
  ['softmax with both quantizers, bfloat16', { quantize_attn_act_softmax_input: true, quantize_attn_act_pv_mult_p_input: true, dtype: 'bfloat16' }, 1],
] as [string, Partial<TrainConfig>, number][]) {
  test(`KV-cache generation computes the full forward's attention (${what}; float64)`, () => {
    const T = 6, cfg = { ...defaultConfig(), vocab_size: 11, n_layer: 2, n_embd: 8, n_head: 2, block_size: T, dropout: 0, ...over } as TrainConfig;
    const model = new GPT(cfg, tsBackend, { dtype: 'float64', maxB: 1, maxT: T, seed: 3 });
    const rng = new Rng(11);
    for (const q of model.store.params) for (let i = 0; i < q.data.length; i++) q.data[i] += 0.3 * rng.normal();
    assertCacheMatches(model, T, positions, rng);
  });
}
