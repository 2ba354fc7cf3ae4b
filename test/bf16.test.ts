// --dtype bfloat16 (docs/dtype.md): the rounding at hand-worked points, the same rounding in C and
// TypeScript, every backend's products against a float64 reference that rounds the operands, and
// training: 20 steps on every backend against the float64 TypeScript model with the same rounding,
// and every parameter's gradient after one step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { bf16, roundBf16 } from '../src/engine/bf16.js';
import { Rng } from '../src/engine/rng.js';
import type { Backend } from '../src/engine/backend.js';
import { tsBackend } from '../src/engine/kernels/ts/ts-backend.js';
import { loadNativeBackend, nativeBackendError, nativeGemm } from '../src/engine/kernels/native/native-backend.js';
import { loadWasmBackend } from '../src/engine/kernels/wasm/node-loader.js';
import { defaultConfig, FLAGS, MODEL_KEYS, parseFlags } from '../src/config/config.js';
import type { TrainConfig } from '../src/config/config-types.js';
import { buildModel } from '../src/model/build.js';
import { AdamW, clipGradNorm } from '../src/train/optimizer.js';
import { trainStep } from '../src/train/loop.js';
import { getBatch } from '../src/data/dataset.js';
import { MetricCtx } from '../src/nn/params.js';

const native = loadNativeBackend();
const nativeSkip = native ? false : `native backend not built (${nativeBackendError()}): run \`npm run build:native\``;
const BACKENDS: [string, Backend | null, string | false][] = [
  ['ts', tsBackend, false], ['native', native, nativeSkip], ['wasm', loadWasmBackend(), false],
];

test('bf16 rounds to the nearest bfloat16, ties to even, subnormals to signed zero, NaN stays NaN', () => {
  assert.equal(bf16(1), 1);
  assert.equal(bf16(1 + 2 ** -8), 1); // halfway between 1 and 1 + 2^-7: to the even one
  assert.equal(bf16(1 + 3 * 2 ** -8), 1 + 2 ** -6); // halfway between 1 + 2^-7 and 1 + 2^-6: even is 1 + 2^-6
  assert.equal(bf16(1 + 2 ** -8 + 2 ** -20), 1 + 2 ** -7); // above halfway: up
  assert.equal(bf16(-3.14159), -3.140625);
  assert.equal(bf16(0.1), 0.10009765625);
  assert.equal(bf16(3.4e38), Infinity); // above the largest bfloat16 (3.3895e38) by more than half an ulp
  assert.equal(bf16(-Infinity), -Infinity);
  assert.ok(Number.isNaN(bf16(NaN)));
  assert.ok(Object.is(bf16(1e-39), 0)); // float32 subnormal
  assert.ok(Object.is(bf16(-1e-39), -0));
  assert.equal(bf16(2 ** -126), 2 ** -126); // smallest normal stays
  assert.equal(bf16(65504), 65536); // float16's largest: 1.9990234375 * 2^15 rounds up in bfloat16's 8 bits
});

test('the native GEMM rounds like src/engine/bf16.ts, bit for bit (identity times x)', { skip: nativeSkip }, () => {
  const rng = new Rng(3), n = 64, N = 97;
  const eye = new Float32Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 1;
  const x = new Float32Array(n * N);
  const u = new Uint32Array(x.buffer);
  for (let i = 0; i < x.length; i++) u[i] = (rng.int(0x10000) << 16 | rng.int(0x10000)) >>> 0; // every bit pattern
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i]) || Math.abs(x[i]) > 1e38) x[i] = 0.5; // no inf: 0 * inf is NaN
  const special = [1 + 2 ** -8, 1 + 3 * 2 ** -8, -0, 1e-39, -1e-39, 2 ** -126, 0.1, 2 ** -126 * (1 - 2 ** -20)];
  special.forEach((v, i) => { x[i] = v; });
  const out = new Float32Array(n * N), want = new Float32Array(n * N);
  native!.matmul(out, eye, x, n, N, n, { bf16: true });
  roundBf16(want, x, want.length);
  // (a zero's sign is the sum's, +0, whatever the operand's)
  for (let i = 0; i < out.length; i++) assert.ok(out[i] === want[i], `element ${i}: x ${x[i]}: native ${out[i]}, bf16.ts ${want[i]}`);
});

test('native bf16 products are equal bit for bit under every GEMM kernel (vdpbf16ps and its float32-FMA fallbacks)', { skip: nativeSkip }, () => {
  const g = nativeGemm()!, before = g.current(), rng = new Rng(5);
  const M = 77, N = 129, K = 401;
  const a = Float32Array.from({ length: M * K }, () => rng.normal()), b = Float32Array.from({ length: K * N }, () => rng.normal());
  const results: Float32Array[] = [];
  try {
    for (const name of g.available.filter((k) => k !== 'openblas')) {
      g.select(name);
      const out = new Float32Array(M * N);
      native!.matmul(out, a, b, M, N, K, { bf16: true, transB: false });
      results.push(out);
    }
  } finally { g.select(before); }
  for (const r of results) assert.deepEqual(r, results[0]);
});

// Products: |fast - ref| <= (K + 2) eps32 sum_k |a b| (+ |out| when accumulating), the float32
// summation bound of test/gemm.test.ts; the reference is ts on Float64Array with bf16, whose
// operands are rounded the same way, so only the sums' rounding differs.
for (const [name, be, skip] of BACKENDS) test(`${name}: bf16 matmul matches the float64 reference with rounded operands, every transpose`, { skip }, () => {
  const rng = new Rng(11);
  for (const [M, N, K] of [[5, 7, 3], [33, 65, 130], [64, 48, 385]]) for (let t = 0; t < 8; t++) {
    const opts = { transA: !!(t & 1), transB: !!(t & 2), accumulate: !!(t & 4), bf16: true };
    const a = Float32Array.from({ length: M * K }, () => rng.normal()), b = Float32Array.from({ length: K * N }, () => rng.normal());
    const c0 = Float32Array.from({ length: M * N }, () => rng.normal());
    const out = Float32Array.from(c0), ref = Float64Array.from(c0), mag = new Float64Array(M * N);
    be!.matmul(out, a, b, M, N, K, opts);
    tsBackend.matmul(ref, Float64Array.from(a), Float64Array.from(b), M, N, K, opts);
    const abs = (x: Float32Array) => Float64Array.from(x, Math.abs);
    tsBackend.matmul(mag, abs(a), abs(b), M, N, K, { transA: opts.transA, transB: opts.transB });
    for (let i = 0; i < M * N; i++) {
      const tol = (K + 2) * 2 ** -23 * (mag[i] + (opts.accumulate ? Math.abs(c0[i]) : 0)) + 1e-30;
      assert.ok(Math.abs(out[i] - ref[i]) <= tol, `${M}x${N}x${K} ${JSON.stringify(opts)} element ${i}: ${out[i]} vs ${ref[i]}`);
    }
    // and it really rounds: differs from the float32 product
    const plain = Float32Array.from(c0);
    be!.matmul(plain, a, b, M, N, K, { ...opts, bf16: false });
    assert.notDeepEqual(plain, out);
  }
});

const parseArgs = (argv: string[]) => parseFlags(argv, FLAGS, defaultConfig() as unknown as Record<string, unknown>);

test('--dtype: float32 by default, bfloat16 accepted, float16 refused with why and what to use', () => {
  assert.equal(defaultConfig().dtype, 'float32');
  assert.ok(MODEL_KEYS.includes('dtype'), 'saved with every checkpoint, so sample and resume use it');
  assert.equal(parseArgs(['--dtype', 'bfloat16']).config.dtype, 'bfloat16');
  assert.throws(() => parseArgs(['--dtype', 'float16']), /--dtype float16: no float16 matrix product .* use --dtype bfloat16/);
  assert.throws(() => parseArgs(['--dtype', 'int8']), /--dtype: "int8" is not a valid choice; allowed: float32, bfloat16/);
});

// Training parity (docs/dtype.md): the float64 TypeScript model with every product's operands
// rounded to bfloat16 is the reference, run for 20 AdamW steps. Step for step, each backend is put
// in the reference's state before that step (its parameters, rounded to float32) and draws the same
// batch and dropout masks; its loss must agree within test/backends-train.test.ts's class (2e-5
// relative; observed <= 1.4e-7) and every parameter's gradient to GRAD_TOL of that tensor's largest.
// Most agree to 1e-6 (float32 against float64 sums of the same rounded operands), but an operand
// whose float32 value lies within an ulp of a bfloat16 rounding boundary may round the other way in
// one backend: a 2^-8 relative change of one term of a sum that can cancel; observed <= 8.9e-3 (layernorm + relu + bias + dropout).
// Why from the reference's state and not free-running as backends-train does: rounding to
// bfloat16 turns a one-ulp float32 difference of an operand near a rounding boundary into a 2^-8
// relative jump, which AdamW (lr * sign(g) early on) carries on; free-running runs of two float32
// backends with bfloat16 drift apart by up to 1e-4 relative in 20 steps (ts float32 against native:
// 1.3e-4), as much as each does from the reference, while float32 runs stay within 2e-7.
// The key projection's bias has a zero gradient in exact arithmetic (softmax ignores a shift common
// to all keys); what is left is rounding noise, so a tensor's scale is at least FLOOR times the
// model's largest gradient.
const STEPS = 20, VOCAB = 65, LOSS_TOL = 2e-5, GRAD_TOL = 2e-2, FLOOR = 1e-4;
function splitData(): Uint16Array {
  const rng = new Rng(99), split = new Uint16Array(4000);
  for (let i = 0; i < split.length; i++) split[i] = (i * 7 + rng.int(5)) % VOCAB;
  return split;
}
const COMBOS: Partial<TrainConfig>[] = [
  { norm_variant_attn: 'rmsnorm', norm_variant_output: 'rmsnorm', activation_variant: 'gelu' },
  { norm_variant_attn: 'layernorm', norm_variant_output: 'layernorm', activation_variant: 'relu', bias: true, dropout: 0.1 },
  { norm_variant_attn: 'prmsnorm', norm_variant_output: 'rmsnorm', activation_variant: 'silu' },
  { norm_variant_attn: 'rmsnorm', norm_variant_output: 'layernorm', activation_variant: 'glu', use_peri_ln: true },
  { norm_variant_attn: 'krmsnorm', norm_variant_output: 'rmsnorm', activation_variant: 'gelu', dropout: 0.1, wte_weight_tying: false },
];
const config = (combo: Partial<TrainConfig>): TrainConfig => ({
  ...defaultConfig(), vocab_size: VOCAB, n_layer: 2, n_head: 2, n_embd: 32, block_size: 16, batch_size: 4,
  dropout: 0, bias: false, learning_rate: 1e-3, seed: 7, dtype: 'bfloat16', ...combo,
} as TrainConfig);

type Step = { params: Float64Array; loss: number; grads: Float64Array };
const refs = new Map<string, Step[]>();
/** The reference's 20 steps: state before each, its loss and gradients (before clipping). */
function reference(combo: Partial<TrainConfig>, split: Uint16Array): Step[] {
  const label = JSON.stringify(combo);
  if (refs.has(label)) return refs.get(label)!;
  const cfg = config(combo), B = cfg.batch_size, T = cfg.block_size;
  const model = buildModel(cfg, tsBackend, { maxB: B, maxT: T, seed: cfg.seed, dtype: 'float64' });
  const opt = new AdamW(model.store), ctx = new MetricCtx(true, new Rng(cfg.seed));
  const x = new Int32Array(B * T), y = new Int32Array(x.length), steps: Step[] = [];
  for (let s = 0; s < STEPS; s++) {
    const params = Float64Array.from(model.store.data);
    model.store.zeroGrad();
    getBatch(split, B, T, ctx.rng, x, y);
    const loss = model.forward(x, y, B, T, ctx);
    model.backward(1, ctx);
    steps.push({ params, loss, grads: Float64Array.from(model.store.grad) });
    clipGradNorm(model.be, model.store, cfg.grad_clip);
    opt.update(model.be, cfg.learning_rate, cfg.beta1, cfg.beta2, cfg.weight_decay);
  }
  refs.set(label, steps);
  return steps;
}

for (const [name, be, skip] of BACKENDS) test(`${name}: bfloat16 training follows the float64 reference with rounded products step for step (loss and every parameter's gradient), every combination`, { skip }, () => {
  const split = splitData();
  for (const combo of COMBOS) {
    const cfg = config(combo), label = JSON.stringify(combo), B = cfg.batch_size, T = cfg.block_size;
    const ref = reference(combo, split);
    const model = buildModel(cfg, be!, { maxB: B, maxT: T, seed: cfg.seed });
    const ctx = new MetricCtx(true, new Rng(cfg.seed));
    const x = new Int32Array(B * T), y = new Int32Array(x.length);
    let worstLoss = 0, worstGrad = 0;
    for (let s = 0; s < STEPS; s++) {
      const r = ref[s];
      model.store.data.set(r.params);
      model.store.zeroGrad();
      getBatch(split, B, T, ctx.rng, x, y);
      const loss = model.forward(x, y, B, T, ctx);
      model.backward(1, ctx);
      worstLoss = Math.max(worstLoss, Math.abs(loss - r.loss) / Math.abs(r.loss));
      assert.ok(Math.abs(loss - r.loss) <= LOSS_TOL * Math.abs(r.loss), `${label} step ${s}: loss reference ${r.loss} vs ${name} ${loss}`);
      let all = 0;
      for (let i = 0; i < r.grads.length; i++) all = Math.max(all, Math.abs(r.grads[i]));
      for (const p of model.store.params) {
        const g = r.grads.subarray(p.offset, p.offset + p.grad.length);
        let scale = FLOOR * all, worst = 0; // FLOOR: c_attn_k.bias's gradient is 0 but for rounding
        for (let i = 0; i < g.length; i++) { scale = Math.max(scale, Math.abs(g[i])); worst = Math.max(worst, Math.abs(g[i] - p.grad[i])); }
        worstGrad = Math.max(worstGrad, worst / (scale || 1));
        assert.ok(worst <= GRAD_TOL * scale + 1e-12, `${label} step ${s} ${p.name}: gradient differs by ${worst} (largest ${scale}) from the reference`);
      }
    }
    if (process.env.NORMLAB_PARITY_REPORT) console.log(`bf16 ${name} ${label}: loss ${ref[0].loss.toFixed(4)} -> ${ref[STEPS - 1].loss.toFixed(4)}; worst relative loss difference ${worstLoss.toExponential(2)}, worst gradient difference / tensor max ${worstGrad.toExponential(2)}`);
    assert.ok(ref[STEPS - 1].loss < ref[0].loss - 0.02, `${label}: the reference's loss should fall`);
  }
});

function run(be: Backend, cfg: TrainConfig, split: Uint16Array, steps: number): number[] {
  const model = buildModel(cfg, be, { maxB: cfg.batch_size, maxT: cfg.block_size, seed: cfg.seed });
  const opt = new AdamW(model.store), ctx = new MetricCtx(true, new Rng(cfg.seed));
  const x = new Int32Array(cfg.batch_size * cfg.block_size), y = new Int32Array(x.length), losses: number[] = [];
  for (let s = 0; s < steps; s++) losses.push(trainStep(model, opt, split, ctx, x, y, cfg, cfg.learning_rate));
  return losses;
}

test('bfloat16 changes the products: a bfloat16 run differs from the float32 run of the same seed, but not by much', () => {
  const split = splitData(), combo = COMBOS[0];
  const a = run(tsBackend, { ...config(combo), dtype: 'float32' }, split, 3), b = run(tsBackend, config(combo), split, 3);
  assert.notEqual(a[2], b[2]);
  assert.ok(Math.abs(a[2] - b[2]) < 1e-2 * a[2]);
});

// Every product of a bfloat16 model rounds its operands: a backend that records the options of each
// matmul and attention call sees bf16 on all of them, in one training step of every combination (the
// step-for-step test above cannot see a layer that forgets bf16: its reference forgets it too).
test('with --dtype bfloat16 every matrix product of a training step (linear layers, MLP, attention, LM head) rounds its operands', () => {
  const split = splitData();
  for (const combo of COMBOS) {
    const cfg = config(combo), calls: string[] = [];
    const spy = new Proxy(tsBackend, {
      get(target, key, recv) {
        const f = Reflect.get(target, key, recv);
        if (key === 'matmul') return (...a: Parameters<Backend['matmul']>) => { calls.push(`matmul ${a[3]}x${a[4]}x${a[5]} bf16=${!!a[6]?.bf16}`); return f(...a); };
        if (key === 'attentionForward' || key === 'attentionBackward') return (...a: unknown[]) => { calls.push(`${key} bf16=${!!(a[a.length - 1] as { bf16?: boolean } | undefined)?.bf16}`); return f(...a); };
        return f;
      },
    }) as Backend;
    run(spy, cfg, split, 1);
    assert.ok(calls.filter((c) => c.startsWith('matmul')).length >= 2 * 6 * 3, `${JSON.stringify(combo)}: ${calls.length} calls`);
    assert.ok(calls.some((c) => c.startsWith('attentionBackward')));
    for (const c of calls) assert.ok(c.endsWith('bf16=true'), `${JSON.stringify(combo)}: ${c}`);
  }
});

// A bfloat16 training run on the native backend gives the same bits for any NORMLAB_THREADS (one
// thread runs each product whole, more cut it into slices; each element is summed in the same order
// either way): the parameters after 3 AdamW steps with dropout, hashed.
const THREADS_SCRIPT = `
const D = ${JSON.stringify(new URL('../src/', import.meta.url).href)};
const { loadNativeBackend } = await import(D + 'engine/kernels/native/native-backend.js');
const { buildModel } = await import(D + 'model/build.js');
const { defaultConfig } = await import(D + 'config/config.js');
const { AdamW } = await import(D + 'train/optimizer.js');
const { trainStep } = await import(D + 'train/loop.js');
const { MetricCtx } = await import(D + 'nn/params.js');
const { Rng } = await import(D + 'engine/rng.js');
const { createHash } = await import('node:crypto');
const cfg = { ...defaultConfig(), vocab_size: 65, n_layer: 2, n_head: 2, n_embd: 64, block_size: 32, batch_size: 8, dropout: 0.1, bias: true, dtype: process.argv[1] };
const model = buildModel(cfg, loadNativeBackend(), { maxB: 8, maxT: 32, seed: 5 });
const opt = new AdamW(model.store), ctx = new MetricCtx(true, new Rng(5));
const split = Uint16Array.from({ length: 3000 }, (_, i) => (i * 7 + (i >> 2)) % 65);
const x = new Int32Array(8 * 32), y = new Int32Array(x.length);
for (let s = 0; s < 3; s++) trainStep(model, opt, split, ctx, x, y, cfg, 1e-3);
console.log(createHash('sha256').update(new Uint8Array(model.store.data.buffer, model.store.data.byteOffset, model.store.data.byteLength)).digest('hex'));
`;
test('native bfloat16 training gives the same bits with 1, 2 and 3 threads', { skip: nativeSkip }, () => {
  const run = (threads: number, dtype = 'bfloat16') => execFileSync(process.execPath, ['--input-type=module', '-e', THREADS_SCRIPT, dtype],
    { env: { ...process.env, NORMLAB_THREADS: String(threads) }, encoding: 'utf8' }).trim();
  const one = run(1);
  assert.match(one, /^[0-9a-f]{64}$/);
  for (const threads of [2, 3]) assert.equal(run(threads), one, `${threads} threads`);
  assert.notEqual(run(1, 'float32'), one, 'the float32 run differs: the script trains with bfloat16');
});
