// The training loop (nanoGPT's train.py, with the iteration convention of spec/interfaces.md):
//   for it = start .. max_iters:
//     evaluate when it % eval_interval == 0 or it == max_iters (after `it` updates); checkpoint on a
//       new best val loss (or always, with --always_save_checkpoint), except at it == 0
//     stop at it == max_iters; else one update: accumulate gradients over micro-batches, clip, AdamW
// Evaluation draws its batches from a generator seeded by (seed, it), so it never shifts the
// training stream and a resumed run repeats the uninterrupted run's numbers exactly.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng } from '../engine/rng.js';
import { selectBackend } from '../engine/select.js';
import { makeDir, writeFileAtomic } from '../engine/files.js';
import { acquireLock } from '../engine/lock.js';
import { UserError } from '../engine/types.js';
import { checkTrainConfig, MODEL_KEYS } from '../config/index.js';
import { getBatch, loadDataset, type Dataset } from '../data/dataset.js';
import { charCodec } from '../data/chars.js';
import { blockLayout } from '../model/block.js';
import { buildModel } from '../model/build.js';
import type { TrainConfig } from '../model/config.js';
import { Generator } from '../model/generate.js';
import type { GPT } from '../model/gpt.js';
import { MetricCtx } from '../nn/params.js';
import { AdamW, clipGradNorm } from './adamw.js';
import { CHECKPOINT_NAMES, loadMoments, loadTensors, loadWeights, readState, recoverCheckpoint, saveCheckpoint, saveWeights, type TrainState } from './checkpoint.js';
import { checkMemory } from '../model/memory.js';
import { formatDuration, Progress, RunLog, type LogRow } from './log.js';
import { learningRate } from './schedule.js';
import { TensorBoardWriter } from './tensorboard.js';

export interface Summary {
  status: 'running' | 'ok' | 'failed' | 'interrupted';
  error?: string;
  best_val_loss: number | null;
  best_iter: number | null;
  final_train_loss: number | null;
  final_val_loss: number | null;
  iters: number;
  params: number;
  wall_s: number;
  tokens_per_s: number | null;
  krmsnorm_recompute: number | null;
  config: TrainConfig;
  block_layout: string;
}

/** Resolve --init_from resume: the saved config, with the training flags given now on top. */
function resumeConfig(cfg: TrainConfig, given: Set<string>): { cfg: TrainConfig; state: TrainState } {
  const state = readState(cfg.out_dir);
  const merged: Record<string, unknown> = { ...state.config };
  const conflicts: string[] = [];
  for (const k of given) {
    const v = (cfg as unknown as Record<string, unknown>)[k];
    if ((MODEL_KEYS as string[]).includes(k) && JSON.stringify(v) !== JSON.stringify(merged[k])) {
      conflicts.push(`--${k} ${JSON.stringify(v)} (the run has ${JSON.stringify(merged[k])})`);
    }
    merged[k] = v;
  }
  if (conflicts.length) {
    throw new UserError(`--init_from resume continues the model in ${cfg.out_dir}; these model flags differ from it: ` +
      `${conflicts.join(', ')}. Drop them, or start a new run in another --out_dir.`);
  }
  merged.init_from = 'resume';
  return { cfg: merged as unknown as TrainConfig, state };
}

/** Files a run writes into out_dir (besides TensorBoard events). */
const RUN_FILES = [...CHECKPOINT_NAMES, 'final.safetensors', 'log.jsonl', 'log.csv', 'summary.json'];

/** Removes the files a training run writes in dir (nothing else); returns their names. */
export function clearRunFiles(dir: string): string[] {
  const gone: string[] = [];
  for (const f of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
    if (RUN_FILES.includes(f) || f.startsWith('events.out.tfevents.') || /\.tmp-\d+$/.test(f)) {
      fs.rmSync(path.join(dir, f), { force: true });
      gone.push(f);
    }
  }
  return gone;
}

/**
 * Trains in cfg.out_dir, holding its lock (src/engine/lock.ts) so no other training or sweep
 * writes there meanwhile; first completes or discards a checkpoint write a kill interrupted.
 */
export async function train(input: TrainConfig, given: Set<string>): Promise<number> {
  makeDir(input.out_dir, '--out_dir');
  const lock = acquireLock(input.out_dir, 'train');
  try {
    for (const line of recoverCheckpoint(input.out_dir)) console.log(`${input.out_dir}: ${line}`);
    return await trainLocked(input, given);
  } finally {
    lock.release();
  }
}

async function trainLocked(input: TrainConfig, given: Set<string>): Promise<number> {
  let cfg = input;
  let state: TrainState | null = null;
  if (cfg.init_from === 'resume') ({ cfg, state } = resumeConfig(cfg, given));
  for (const w of checkTrainConfig(cfg)) console.warn(`warning: ${w}`);
  const outDir = cfg.out_dir;
  if (!state && fs.existsSync(path.join(outDir, 'state.json')) && !cfg.overwrite) {
    throw new UserError(`${outDir} already holds a run (state.json). Continue it with --init_from resume, ` +
      'choose another --out_dir, or pass --overwrite to replace it.');
  }

  const data: Dataset = loadDataset(cfg.data_dir, cfg.dataset, { blockSize: cfg.block_size });
  if (state && state.config.vocab_size !== data.meta.vocab_size) {
    throw new UserError(`dataset ${cfg.dataset} has vocab_size ${data.meta.vocab_size} but the run in ${outDir} was trained with ${state.config.vocab_size}`);
  }
  cfg = { ...cfg, vocab_size: data.meta.vocab_size };
  const { backend, note } = selectBackend(cfg.backend);
  if (note) console.warn(note);

  const B = cfg.batch_size, T = cfg.block_size, accum = cfg.gradient_accumulation_steps;
  checkMemory(cfg, { batch: B, block: T, training: true }, 'this model');
  const model = buildModel(cfg, backend, { maxB: B, maxT: T, seed: cfg.seed });
  const opt = new AdamW(model.store);
  const rng = new Rng(cfg.seed);
  let start = 0, bestVal: number | null = null, bestIter: number | null = null;
  let wallBefore = 0;
  if (state) {
    const ckpt = path.join(outDir, 'ckpt.safetensors');
    const { tensors, metadata } = loadTensors(ckpt);
    loadWeights(model, tensors, ckpt);
    const optIter = loadMoments(path.join(outDir, 'optim.safetensors'), model, opt);
    if (Number(metadata.iter) !== state.iter || optIter !== state.iter) {
      throw new UserError(`the checkpoint files in ${outDir} disagree (state.json at iter ${state.iter}, ckpt at ${metadata.iter}, ` +
        `optim at ${optIter}): a write was interrupted. Restore them or start again with --overwrite.`);
    }
    rng.setState(state.rng);
    start = state.iter; bestVal = state.best_val_loss; bestIter = state.best_iter; wallBefore = state.wall_s ?? 0;
  } else if (cfg.init_from !== 'scratch') {
    if (!cfg.init_from.endsWith('.safetensors')) {
      throw new UserError(`--init_from ${cfg.init_from}: expected scratch, resume, or a path to a .safetensors file`);
    }
    loadWeights(model, loadTensors(cfg.init_from).tensors, cfg.init_from);
  }

  // --overwrite: the previous run's files go, so no stale TensorBoard events or final weights mix in.
  if (!state && cfg.overwrite) clearRunFiles(outDir);
  const log = new RunLog(outDir, state ? { keepUntil: { trainBelow: start, evalUpTo: start } } : {});
  const tb = cfg.tensorboard_log ? new TensorBoardWriter(outDir) : null;
  if (tb) log.addScalarSink((tag, step, value) => tb.scalar(tag, step, value));
  const layout = blockLayout(cfg);
  const nParams = model.numParams();
  console.log(`normlab train: ${cfg.n_layer} layers, ${cfg.n_head} heads, ${cfg.n_embd} wide, block ${T}; ` +
    `${(nParams / 1e6).toFixed(2)}M parameters; backend ${backend.name}; ${cfg.dataset}: ${data.train.length} train / ${data.val.length} val tokens`);
  console.log(layout);
  if (state) console.log(`resuming ${outDir} at iter ${start} (best val loss ${bestVal?.toFixed(4) ?? 'none'})`);

  const x = new Int32Array(B * T), y = new Int32Array(B * T);
  const trainCtx = new MetricCtx(true, rng);
  const codec = data.meta.chars ? charCodec(data.meta.chars) : null;
  const extraMeta: Record<string, string> = { dataset: cfg.dataset, ...(data.meta.chars ? { chars: JSON.stringify(data.meta.chars) } : {}) };
  const progress = new Progress(cfg.max_iters, cfg.progress);
  const t0 = Date.now();
  let trainMs = 0, tokens = 0, lastTrain: number | null = null, lastVal: number | null = null, recompute: number | null = null;
  let stop: 'interrupted' | null = null;
  const onSigint = () => {
    if (stop) process.exit(130);
    stop = 'interrupted';
  };
  // SIGTERM (kill, a scheduler's stop) is a Ctrl-C: stop cleanly, summary 'interrupted'.
  const offSignals = () => { process.off('SIGINT', onSigint); process.off('SIGTERM', onSigint); };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  let savedIter: number | null = state ? state.iter : null;
  if (state) {
    // A resumed run that evaluates nothing more (it was checkpointed at its last evaluation) keeps that evaluation's losses.
    const prev = readPrevSummary(outDir);
    if (prev && prev.iters === start) { lastTrain = prev.final_train_loss; lastVal = prev.final_val_loss; recompute = prev.krmsnorm_recompute; }
  }

  const summary = (status: Summary['status'], error?: string): void => {
    const s: Summary = {
      status, ...(error ? { error } : {}), best_val_loss: bestVal, best_iter: bestIter, final_train_loss: lastTrain,
      final_val_loss: lastVal, iters: it, params: nParams, wall_s: wallBefore + (Date.now() - t0) / 1000,
      tokens_per_s: trainMs > 0 ? (tokens / trainMs) * 1000 : null, krmsnorm_recompute: recompute, config: cfg, block_layout: layout,
    };
    writeFileAtomic(path.join(outDir, 'summary.json'), JSON.stringify(s, null, 1) + '\n');
  };

  /** Mean loss over eval_iters batches of each split; null when Ctrl-C arrives meanwhile. */
  const evaluate = async (iter: number): Promise<{ train: number; val: number; metrics: Record<string, number> } | null> => {
    const ctx = new MetricCtx(false, new Rng((cfg.seed * 1000003 + iter * 7919) >>> 0));
    const res = { train: 0, val: 0, metrics: {} as Record<string, number> };
    for (const split of ['train', 'val'] as const) {
      let sum = 0;
      for (let k = 0; k < cfg.eval_iters; k++) {
        getBatch(data[split], B, T, ctx.rng, x, y);
        sum += model.forward(x, y, B, T, ctx);
        await new Promise((resolve) => setImmediate(resolve));
        if (stop) return null;
      }
      res[split] = sum / cfg.eval_iters;
      if (split === 'val') res.metrics = ctx.take();
      else ctx.take();
    }
    return res;
  };

  let it = start;
  try {
    for (; ; it++) {
      const evalNow = (it % cfg.eval_interval === 0 || it === cfg.max_iters) && !(state && it === start);
      if (evalNow) {
        const e = await evaluate(it);
        if (!e) break; // interrupted: this evaluation is not logged
        lastTrain = e.train; lastVal = e.val;
        if ('krmsnorm_recompute' in e.metrics) recompute = e.metrics.krmsnorm_recompute;
        log.write({ iter: it, train_loss: round(e.train), val_loss: round(e.val), ...roundAll(e.metrics) });
        progress.say(`iter ${it}: train loss ${e.train.toFixed(4)}, val loss ${e.val.toFixed(4)}` +
          (recompute !== null ? `, krmsnorm recompute ${(100 * recompute).toFixed(1)}%` : ''));
        if (!Number.isFinite(e.val)) throw new Diverged(it, e.val);
        if (bestVal === null || e.val < bestVal || cfg.always_save_checkpoint) {
          if (bestVal === null || e.val < bestVal) { bestVal = e.val; bestIter = it; }
          if (it > 0) {
            saveCheckpoint(outDir, model, opt, {
              version: 1, config: cfg, iter: it, best_val_loss: bestVal, best_iter: bestIter, rng: rng.getState(),
              params: nParams, tokens_seen: tokens, wall_s: wallBefore + (Date.now() - t0) / 1000,
            }, extraMeta);
            savedIter = it;
          }
        }
        summary('running');
        if (cfg.max_sample_tokens && codec) {
          const gen = new Generator(model);
          const ids = gen.generate([0], { maxNewTokens: cfg.max_sample_tokens, temperature: 0.8, topK: 200 },
            new Rng(cfg.seed), new MetricCtx(false, new Rng(cfg.seed)));
          progress.say(`--- sample at iter ${it} ---\n${codec.decode(ids)}\n---`);
        }
      }
      if (it >= cfg.max_iters) break;
      // Let the event loop run (a Ctrl-C handler cannot fire inside a synchronous loop), then stop if asked.
      await new Promise((resolve) => setImmediate(resolve));
      if (stop) break;

      const ts = performance.now();
      const lr = learningRate(it, cfg);
      const loss = trainStep(model, opt, data.train, trainCtx, x, y, cfg, lr);
      if (!Number.isFinite(loss)) throw new Diverged(it, loss);
      const ms = performance.now() - ts;
      trainMs += ms; tokens += B * T * accum;
      const metrics = trainCtx.take();
      if (it % cfg.log_interval === 0) log.write({ iter: it, loss: round(loss), lr, ms: Math.round(ms * 100) / 100, ...roundAll(metrics) });
      const tps = (tokens / trainMs) * 1000;
      progress.update(it + 1, loss, tps, ((cfg.max_iters - it - 1) * trainMs) / Math.max(1, it + 1 - start) / 1000);
    }
  } catch (e) {
    tb?.close();
    progress.end();
    offSignals();
    // On a full disk the summary may not be writable either: the first error is the one to report.
    try { summary('failed', e instanceof Error ? e.message : String(e)); } catch { /* reported below */ }
    if (e instanceof Diverged) {
      console.error(`error: ${e.message}. Nothing was saved from the diverged steps; ` +
        (savedIter === null ? `no checkpoint had been saved in ${outDir}` : `the last checkpoint in ${outDir} (iter ${savedIter}) is intact`) +
        '. Try a lower --learning_rate, --grad_clip, or another variant setting.');
      return 2;
    }
    throw e;
  }
  tb?.close();
  progress.end();
  offSignals();
  if (stop) {
    summary('interrupted');
    console.log(`interrupted at iter ${it}; the last checkpoint is at iter ${fs.existsSync(path.join(outDir, 'state.json')) ? readState(outDir).iter : 'none'}. ` +
      `Continue with: normlab train --out_dir ${outDir} --init_from resume`);
    return 130;
  }
  saveWeights(path.join(outDir, 'final.safetensors'), model, it, extraMeta);
  summary('ok');
  const wall = (Date.now() - t0) / 1000;
  console.log(`done: ${it} iterations in ${formatDuration(wall)}; best val loss ${bestVal?.toFixed(4)} at iter ${bestIter}; ` +
    `${Math.round((tokens / Math.max(trainMs, 1)) * 1000)} tok/s; checkpoints in ${outDir}`);
  return 0;
}

/**
 * One update: gradients accumulated over gradient_accumulation_steps micro-batches drawn from
 * ctx.rng, clipped, applied by AdamW at learning rate lr. Returns the mean loss of the micro-batches
 * (NaN or Infinity is returned before any update is applied).
 */
export function trainStep(model: GPT, opt: AdamW, split: Uint16Array, ctx: MetricCtx, x: Int32Array, y: Int32Array,
  cfg: TrainConfig, lr: number): number {
  const B = cfg.batch_size, T = cfg.block_size, accum = cfg.gradient_accumulation_steps;
  model.store.zeroGrad();
  let loss = 0;
  for (let micro = 0; micro < accum; micro++) {
    getBatch(split, B, T, ctx.rng, x, y);
    loss += model.forward(x, y, B, T, ctx) / accum;
    model.backward(1 / accum, ctx);
  }
  if (!Number.isFinite(loss)) return loss;
  clipGradNorm(model.be, model.store, cfg.grad_clip);
  opt.update(model.be, lr, cfg.beta1, cfg.beta2, cfg.weight_decay);
  return loss;
}

class Diverged extends Error {
  constructor(iter: number, loss: number) {
    super(`training diverged at iter ${iter}: loss is ${loss}`);
  }
}

function readPrevSummary(dir: string): Summary | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as Summary;
  } catch {
    return null;
  }
}

function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

function roundAll(m: Record<string, number>): LogRow {
  const out: LogRow = {};
  for (const [k, v] of Object.entries(m)) out[k] = round(v);
  return out;
}

