// Backend parity over training: 20 AdamW steps of a small GPT from the same seed on the same
// batches, once on the TypeScript backend and once on each fast one (native, wasm; float32 all),
// for a few variant combinations (fused overrides, variants without one, dropout masks, bias, glu).
// The native run is skipped when the addon is not built; it runs once more at every other SIMD
// level of its kernels outside the GEMM that this CPU has (native/src/vmath.h).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/engine/rng.js';
import type { Backend } from '../src/engine/backend.js';
import { tsBackend } from '../src/engine/kernels/ts/ts-backend.js';
import { loadNativeBackend, nativeBackendError, nativeSimd } from '../src/engine/kernels/native/native-backend.js';
import { loadWasmBackend, wasmBackendError } from '../src/engine/kernels/wasm/node-loader.js';
import { defaultConfig } from '../src/config/config.js';
import type { TrainConfig } from '../src/config/config-types.js';
import { buildModel } from '../src/model/build.js';
import { AdamW } from '../src/train/optimizer.js';
import { trainStep } from '../src/train/loop.js';
import { MetricCtx } from '../src/nn/params.js';

const native = loadNativeBackend(), simd = nativeSimd();
const nativeSkip = native ? false : `native backend not built (${nativeBackendError()}): run \`npm run build:native\``;
const FAST: [string, Backend | null, string | false, string?][] = [
  ['native', native, nativeSkip],
  ...(simd?.available.filter((l) => l !== simd.current()) ?? []).map((l): [string, Backend | null, string | false, string] => [`native simd=${l}`, native, nativeSkip, l]),
  ['wasm', loadWasmBackend(), false],
];

const STEPS = 20;
const VOCAB = 65;

type Run = { losses: number[]; params: Float32Array };
const tsRuns = new Map<string, Run>(); // the TypeScript runs, shared by the fast backends' tests

function run(be: Backend, cfg: TrainConfig, split: Uint16Array): Run {
  const model = buildModel(cfg, be, { maxB: cfg.batch_size, maxT: cfg.block_size, seed: cfg.seed });
  const opt = new AdamW(model.store);
  const ctx = new MetricCtx(true, new Rng(cfg.seed));
  const x = new Int32Array(cfg.batch_size * cfg.block_size), y = new Int32Array(x.length);
  const losses: number[] = [];
  for (let step = 0; step < STEPS; step++) losses.push(trainStep(model, opt, split, ctx, x, y, cfg, cfg.learning_rate));
  return { losses, params: Float32Array.from(model.store.data) };
}

// Tolerances. Each step's kernels differ by float32 rounding only (test/backends.test.ts), but
// training amplifies it: AdamW divides by sqrt(v), so at step 1 every update is lr * sign(g), and
// a gradient element near 0 may take opposite signs in the two backends (a 2 lr difference in that
// parameter, which later steps carry on). So parameters are compared on their RMS difference
// (<= 1e-2 lr-sized moves on average, i.e. 1e-5 with lr 1e-3) and the maximum (<= 2.5 lr per
// element: a few sign flips, never a drift); losses, averages over all tokens, must agree to 2e-5
// relative (observed: <= 2e-7; a wrong kernel moves them by 1e-3 or more within a few steps).
for (const [name, fast, skip, level] of FAST) test(`20 training steps agree between ts and ${name} for several variant combinations`, { skip }, () => {
  assert.ok(fast, `${name} backend not available: ${wasmBackendError()}`);
  const before = simd?.current();
  if (level) simd!.select(level);
  try {
    trainParity(name, fast);
  } finally {
    if (before) simd!.select(before);
  }
});

function trainParity(name: string, fast: Backend): void {
  const rng = new Rng(99);
  const split = new Uint16Array(4000);
  for (let i = 0; i < split.length; i++) split[i] = (i * 7 + rng.int(5)) % VOCAB; // learnable structure
  // Fused overrides (rmsnorm, layernorm, gelu, relu), variants without one (prmsnorm, krmsnorm,
  // silu, glu) on Float32Array, dropout masks, biases, peri-LN. Not prmsnorm with peri-LN: at this
  // width its RMS is taken over 2 of 32 channels of a near-zero sublayer output, which amplifies
  // any rounding difference ~100x per step (the two backends drift apart at 1e-4 by step 14 there
  // while every kernel agrees to float32 rounding; a ts run against itself is exact).
  const combos: Partial<TrainConfig>[] = [
    { norm_variant_attn: 'rmsnorm', norm_variant_output: 'rmsnorm', activation_variant: 'gelu' },
    { norm_variant_attn: 'layernorm', norm_variant_output: 'layernorm', activation_variant: 'relu', bias: true, dropout: 0.1 },
    { norm_variant_attn: 'prmsnorm', norm_variant_output: 'rmsnorm', activation_variant: 'silu' },
    { norm_variant_attn: 'rmsnorm', norm_variant_output: 'layernorm', activation_variant: 'glu', use_peri_ln: true },
    { norm_variant_attn: 'krmsnorm', norm_variant_output: 'rmsnorm', activation_variant: 'gelu', dropout: 0.1 },
  ];
  for (const combo of combos) {
    const cfg = {
      ...defaultConfig(), vocab_size: VOCAB, n_layer: 2, n_head: 2, n_embd: 32, block_size: 16, batch_size: 4,
      dropout: 0, bias: false, learning_rate: 1e-3, seed: 7, ...combo,
    } as TrainConfig;
    const label = JSON.stringify(combo);
    if (!tsRuns.has(label)) tsRuns.set(label, run(tsBackend, cfg, split));
    const a = tsRuns.get(label)!, b = run(fast, cfg, split);
    for (let s = 0; s < STEPS; s++) {
      assert.ok(Math.abs(a.losses[s] - b.losses[s]) <= 2e-5 * Math.abs(a.losses[s]),
        `${label} step ${s}: loss ts ${a.losses[s]} vs ${name} ${b.losses[s]}`);
    }
    assert.ok(a.losses[STEPS - 1] < a.losses[0] - 0.02, `${label}: the loss should fall (${a.losses[0]} -> ${a.losses[STEPS - 1]})`);
    let sq = 0, max = 0;
    for (let i = 0; i < a.params.length; i++) {
      const d = Math.abs(a.params[i] - b.params[i]);
      sq += d * d; if (d > max) max = d;
    }
    const rms = Math.sqrt(sq / a.params.length), lr = cfg.learning_rate;
    if (process.env.NORMLAB_PARITY_REPORT) {
      console.log(`${label}: loss ${a.losses[0].toFixed(4)} -> ${a.losses[STEPS - 1].toFixed(4)}; max |dloss| ${Math.max(...a.losses.map((l, s) => Math.abs(l - b.losses[s]))).toExponential(2)}; params rms diff ${rms.toExponential(2)}, max ${max.toExponential(2)}`);
    }
    assert.ok(rms <= 1e-2 * lr, `${label}: parameter RMS difference ${rms} > ${1e-2 * lr}`);
    assert.ok(max <= 2.5 * lr, `${label}: largest parameter difference ${max} > ${2.5 * lr}`);
  }
}
