// The playground's training worker (a Web Worker; bundled for the browser by
// scripts/build-playground.mjs). It runs the same code as `normlab train`: the same model, AdamW,
// learning-rate schedule, batches drawn from the run's generator, and evaluations seeded by
// (seed, iter) exactly as src/train/loop.ts does, so the losses equal the CLI's with the same
// flags and backend. Messages in: start {config, backend}, stop, resume, checkpoint, bench. Messages
// out: ready, step, eval, stopped, done, checkpoint, bench, error.
import { Rng } from '../../engine/rng.js';
import type { Backend } from '../../engine/backend.js';
import { tsBackend } from '../../engine/kernels/ts/ts-backend.js';
import { createWasmBackend } from '../../engine/kernels/wasm/wasm-backend.js';
import { safetensorsBytes } from '../../engine/safetensors.js';
import { checkTrainConfig } from '../../config/config.js';
import { getBatch } from '../../data/dataset.js';
import { charCodec } from '../../data/chars.js';
import { buildModel } from '../../model/build.js';
import type { ModelConfig, TrainConfig } from '../../config/config-types.js';
import { Generator } from '../../model/generate.js';
import type { GPT } from '../../model/gpt.js';
import { activationCurve } from '../../nn/activations/curve.js';
import { activations } from '../../nn/activations/activation-registry.js';
import { MetricCtx } from '../../nn/params.js';
import { AdamW } from '../../train/optimizer.js';
import { modelConfigOf, modelTensors } from '../../train/checkpoint.js';
import { trainStep } from '../../train/loop.js';
import { learningRate } from '../../train/schedule.js';

interface Data { train: Uint16Array; val: Uint16Array; chars: string[] }

interface Run {
  cfg: TrainConfig;
  model: GPT;
  opt: AdamW;
  ctx: MetricCtx;
  x: Int32Array;
  y: Int32Array;
  it: number;
  trainMs: number;
  tokens: number;
}

const post = (m: unknown, transfer: Transferable[] = []): void => (self as unknown as Worker).postMessage(m, transfer);

let data: Data | null = null;
let wasm: Backend | null = null;
let run: Run | null = null;
let stopRequested = false;
let running = false;

async function loadData(): Promise<Data> {
  if (data) return data;
  const get = async (f: string) => {
    const r = await fetch(f);
    if (!r.ok) throw new Error(`${f}: HTTP ${r.status}`);
    return r;
  };
  const meta = await (await get('data/meta.json')).json() as { chars: string[] };
  const train = new Uint16Array(await (await get('data/train.bin')).arrayBuffer());
  const val = new Uint16Array(await (await get('data/val.bin')).arrayBuffer());
  data = { train, val, chars: meta.chars };
  return data;
}

/** Whether the page is cross-origin isolated: then the wasm backend has shared memory (threads, and the model's arrays in place). */
function isolated(): boolean {
  return (self as unknown as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
}

/** Threads for the wasm backend: one per core when the page is cross-origin isolated, else 1. */
function wasmThreads(): number {
  return isolated() ? Math.max(1, Math.min(navigator.hardwareConcurrency || 1, 8)) : 1;
}

async function backendFor(name: string): Promise<Backend> {
  if (name === 'ts') return tsBackend;
  if (!wasm) {
    const threads = wasmThreads(), shared = isolated();
    const module = await WebAssembly.compileStreaming(fetch(shared ? 'normlab-threads.wasm' : 'normlab.wasm'));
    wasm = createWasmBackend(module, {
      threads, shared,
      spawn: (m, memory) => new Worker('wasm-thread.js', { type: 'module' }).postMessage({ module: m, memory }),
    });
  }
  return wasm;
}

/** Yields to the message loop (a stop or checkpoint request arrives between steps). */
const yieldNow = () => new Promise<void>((resolve) => { const ch = new MessageChannel(); ch.port1.onmessage = () => resolve(); ch.port2.postMessage(0); });

/** src/train/loop.ts's evaluation: eval_iters batches per split from a generator seeded by (seed, iter). */
function evaluate(r: Run, d: Data): { train: number; val: number } {
  const { cfg, model, x, y } = r;
  const ctx = new MetricCtx(false, new Rng((cfg.seed * 1000003 + r.it * 7919) >>> 0));
  const out = { train: 0, val: 0 };
  for (const split of ['train', 'val'] as const) {
    let sum = 0;
    for (let k = 0; k < cfg.eval_iters; k++) {
      getBatch(d[split], cfg.batch_size, cfg.block_size, ctx.rng, x, y);
      sum += model.forward(x, y, cfg.batch_size, cfg.block_size, ctx);
    }
    out[split] = sum / cfg.eval_iters;
  }
  return out;
}

/** The MLP activation of every block, on a grid, beside its initial curve (learned activations only). */
function curves(r: Run): unknown {
  const variant = r.cfg.activation_variant, v = activations[variant];
  const learned = r.model.blocks.length > 0 && Object.keys(r.model.blocks[0].act.params).length > 0;
  if (!learned || !v.curve) return null;
  const xs = Array.from({ length: 121 }, (_, i) => -6 + i * 0.1);
  return {
    variant, xs,
    initial: activationCurve(variant, r.cfg, undefined, xs),
    layers: r.model.blocks.map((b, i) => ({ label: `h.${i}`, ys: activationCurve(variant, r.cfg, b.act.params, xs) })),
  };
}

function sample(r: Run, d: Data): string {
  const gen = new Generator(r.model);
  const ids = gen.generate([0], { maxNewTokens: 200, temperature: 0.8, topK: 200 }, new Rng(r.cfg.seed), new MetricCtx(false, new Rng(r.cfg.seed)));
  return charCodec(d.chars).decode(ids);
}

async function loop(): Promise<void> {
  const r = run!, d = data!, { cfg } = r;
  running = true;
  stopRequested = false;
  try {
    for (; ; r.it++) {
      if (r.it % cfg.eval_interval === 0 || r.it === cfg.max_iters) {
        const e = evaluate(r, d);
        post({ type: 'eval', iter: r.it, train: e.train, val: e.val, curves: curves(r), sample: sample(r, d) });
        if (!Number.isFinite(e.val)) throw new Error(`training diverged at iter ${r.it}: val loss is ${e.val}`);
      }
      if (r.it >= cfg.max_iters) break;
      await yieldNow();
      if (stopRequested) { post({ type: 'stopped', iter: r.it }); return; }
      const t = performance.now();
      const loss = trainStep(r.model, r.opt, d.train, r.ctx, r.x, r.y, cfg, learningRate(r.it, cfg));
      const ms = performance.now() - t;
      if (!Number.isFinite(loss)) throw new Error(`training diverged at iter ${r.it}: loss is ${loss}`);
      r.ctx.take();
      r.trainMs += ms; r.tokens += cfg.batch_size * cfg.block_size * cfg.gradient_accumulation_steps;
      post({ type: 'step', iter: r.it, loss, ms, tokPerS: (r.tokens / r.trainMs) * 1000 });
    }
    post({ type: 'done', iter: r.it, msPerIter: r.trainMs / Math.max(1, r.it), tokPerS: (r.tokens / r.trainMs) * 1000 });
  } finally {
    running = false;
  }
}

/** A fresh run of cfg on be: the model, its optimizer, metrics and batch buffers (start, bench). */
function newRun(cfg: TrainConfig, be: Backend): Run {
  const model = buildModel(cfg, be, { maxB: cfg.batch_size, maxT: cfg.block_size, seed: cfg.seed });
  const x = new Int32Array(cfg.batch_size * cfg.block_size), y = new Int32Array(x.length);
  return { cfg, model, opt: new AdamW(model.store), ctx: new MetricCtx(true, new Rng(cfg.seed)), x, y, it: 0, trainMs: 0, tokens: 0 };
}

async function start(config: TrainConfig, backendName: string): Promise<void> {
  const d = await loadData();
  const cfg = { ...config, vocab_size: d.chars.length } as TrainConfig;
  checkTrainConfig(cfg);
  const be = await backendFor(backendName);
  run?.model.store.release(); // the previous run's arrays in the wasm memory (its model is not used again)
  run = null;
  run = newRun(cfg, be);
  post({ type: 'ready', params: run.model.numParams(), backend: be.name, threads: be === wasm ? wasmThreads() : 1 });
  await loop();
}

/** The weights as `normlab train` writes ckpt.safetensors: loadable by `normlab sample --out_dir`. */
function checkpoint(r: Run, d: Data): Uint8Array {
  return safetensorsBytes(modelTensors(r.model), {
    format: 'pt', normlab: '1', config: JSON.stringify(modelConfigOf(r.cfg as ModelConfig)), iter: String(r.it),
    dataset: r.cfg.dataset, chars: JSON.stringify(d.chars),
  });
}

/** Speed only (tools/bench_browser.mjs): ms per training iteration of `config` after warm-up. */
async function bench(config: TrainConfig, backendName: string, iters: number, warmup: number): Promise<void> {
  const d = await loadData();
  const cfg = { ...config, vocab_size: d.chars.length } as TrainConfig;
  const be = await backendFor(backendName);
  const { model, opt, ctx, x, y } = newRun(cfg, be);
  for (let i = 0; i < warmup; i++) trainStep(model, opt, d.train, ctx, x, y, cfg, cfg.learning_rate);
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) trainStep(model, opt, d.train, ctx, x, y, cfg, cfg.learning_rate);
  const msPerIter = (performance.now() - t0) / iters;
  model.store.release();
  post({ type: 'bench', backend: be.name, threads: be === wasm ? wasmThreads() : 1, msPerIter });
}

self.onmessage = (ev: MessageEvent) => {
  const m = ev.data as { type: string; config?: TrainConfig; backend?: string; iters?: number; warmup?: number };
  const fail = (e: unknown) => post({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  if (m.type === 'start' && !running) start(m.config!, m.backend ?? 'wasm').catch(fail);
  else if (m.type === 'bench' && !running) bench(m.config!, m.backend ?? 'wasm', m.iters ?? 10, m.warmup ?? 2).catch(fail);
  else if (m.type === 'stop') stopRequested = true;
  else if (m.type === 'resume' && run && !running) loop().catch(fail);
  else if (m.type === 'checkpoint' && run && data) {
    const bytes = checkpoint(run, data);
    post({ type: 'checkpoint', iter: run.it, bytes }, [bytes.buffer]);
  }
};
