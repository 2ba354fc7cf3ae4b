// The training loop (nanoGPT's train.py, with the iteration convention of docs/variants.md, "Training loop and checkpoints"):
//   for it = start .. max_iters:
//     evaluate when it % eval_interval == 0 or it == max_iters (after `it` updates); checkpoint on a
//       new best val loss (or always, with --always_save_checkpoint), except at it == 0
//     stop at it == max_iters; else one update: accumulate gradients over micro-batches, clip, AdamW
// Evaluation draws its batches from a generator seeded by (seed, it), so it never shifts the
// training stream and a resumed run repeats the uninterrupted run's numbers exactly.
// Ctrl-C/SIGTERM stops before the next update (or in the middle of an evaluation, which is then
// done again) and saves the run's state there (RESUME_STATE, src/train/checkpoint.ts), so
// --init_from resume continues from that iteration, not from the last checkpoint.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng } from '../engine/rng.js';
import { bf16Note, selectBackend } from '../engine/select.js';
import { DiskError, makeDir, writeFileAtomic } from '../util/files.js';
import { acquireLock } from '../util/lock.js';
import { UserError } from '../util/errors.js';
import { checkTrainConfig, MODEL_KEYS } from '../config/config.js';
import { closeDataset, datasetTokenizer, getBatch, loadDataset, type Dataset, type Tokens } from '../data/dataset.js';
import type { Tokenizer } from '../data/tokenizer.js';
import { blockLayout } from '../model/block.js';
import { buildModel } from '../model/build.js';
import type { TrainConfig } from '../config/config-types.js';
import { Generator } from '../model/generate.js';
import type { GPT } from '../model/gpt.js';
import { METRICS, formatMetric } from '../nn/metrics.js';
import { MetricCtx } from '../nn/params.js';
import { AdamW, clipGradNorm } from './optimizer.js';
import {
  CHECKPOINT, CHECKPOINT_NAMES, checkSameVocabulary, dropResumeState, hasCheckpoint, loadMoments, loadTensors, loadWeights, readState, recoverCheckpoint,
  RESUME_STATE, resumePoint, saveCheckpoint, saveWeights, type CheckpointKind, type TrainState,
} from './checkpoint.js';
import { checkMemory, type MemoryEstimate } from '../model/memory.js';
import { formatBytes } from '../util/files.js';
import { formatDuration } from '../util/format.js';
import { Progress, RunLog, type LogRow } from './log.js';
import { learningRate } from './schedule.js';
import { TensorBoardWriter } from './tensorboard.js';

/** summary.json; after tokens_per_s, one key per declared metric (src/nn/metrics.ts): its last evaluated value or null. */
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
  config: TrainConfig;
  block_layout: string;
}

/** Resolve --init_from resume: the saved config, with the training flags given now on top. */
function resumeConfig(cfg: TrainConfig, given: Set<string>): { cfg: TrainConfig; state: TrainState; kind: CheckpointKind } {
  const { state, kind } = resumePoint(cfg.out_dir);
  if (kind === CHECKPOINT) dropResumeState(cfg.out_dir); // stale, if any
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
  return { cfg: merged as unknown as TrainConfig, state, kind };
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
 * Trains in cfg.out_dir, holding its lock (src/util/lock.ts) so no other training or sweep
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
  const { cfg, state, kind, data } = resolveRun(input, given);
  try {
    const run = new Run(cfg, state, kind, data);
    run.openOutputs();
    return await run.loop();
  } finally {
    closeDataset(data);
  }
}

/** The model's vocabulary: the dataset's, rounded up to a multiple of --vocab_multiple when given. */
export function modelVocabSize(datasetVocab: number, multiple: number | null): number {
  return multiple === null ? datasetVocab : Math.ceil(datasetVocab / multiple) * multiple;
}

/** Phase 1: the effective config (a resumed run's, with the flags given now), checked; the dataset. */
function resolveRun(input: TrainConfig, given: Set<string>): { cfg: TrainConfig; state: TrainState | null; kind: CheckpointKind; data: Dataset } {
  let cfg = input;
  let state: TrainState | null = null;
  let kind = CHECKPOINT;
  if (cfg.init_from === 'resume') ({ cfg, state, kind } = resumeConfig(cfg, given));
  for (const w of checkTrainConfig(cfg)) console.warn(`warning: ${w}`);
  const outDir = cfg.out_dir;
  if (!state && hasCheckpoint(outDir) && !cfg.overwrite) {
    throw new UserError(`${outDir} already holds a run (a checkpoint). Continue it with --init_from resume, ` +
      'choose another --out_dir, or pass --overwrite to replace it.');
  }

  const data: Dataset = loadDataset(cfg.data_dir, cfg.dataset, { blockSize: cfg.block_size, tokenizer: cfg.tokenizer });
  const vocab = modelVocabSize(data.meta.vocab_size, cfg.vocab_multiple);
  if (state && state.config.vocab_size !== vocab) {
    closeDataset(data);
    throw new UserError(`dataset ${cfg.dataset} gives vocab_size ${vocab} but the run in ${outDir} was trained with ${state.config.vocab_size}`);
  }
  return { cfg: { ...cfg, vocab_size: vocab }, state, kind, data };
}

type Evaluation = { train: number; val: number; metrics: Record<string, number> };

/** One training run: its model, optimizer and generator, the counters its summary reports, and its outputs. */
class Run {
  readonly outDir: string;
  readonly model: GPT;
  readonly opt: AdamW;
  readonly rng: Rng;
  readonly nParams: number;
  readonly layout: string;
  readonly extraMeta: Record<string, string>;
  private readonly B: number; private readonly T: number;
  private readonly x: Int32Array; private readonly y: Int32Array;
  private readonly trainCtx: MetricCtx;
  private readonly codec: Tokenizer | null;
  private log!: RunLog;
  private tb: TensorBoardWriter | null = null;
  private progress!: Progress;
  private t0 = 0;
  // What the summary reports.
  start = 0; it = 0; bestVal: number | null = null; bestIter: number | null = null; wallBefore = 0;
  trainMs = 0; tokens = 0; lastTrain: number | null = null; lastVal: number | null = null;
  /** The last evaluated value of every declared metric (src/nn/metrics.ts), null until reported. */
  metricValues: Record<string, number | null> = Object.fromEntries(METRICS.map((m) => [m.name, null]));
  savedIter: number | null;
  stop: 'interrupted' | null = null;
  /** The memory estimate checked before allocating (printed at start). */
  readonly memory: MemoryEstimate;
  /** The evaluation at `it` was cut short by the stop: a resume does it again. */
  evalCut = false;

  /** Phase 2: backend, model and optimizer; a resumed run's weights, moments, generator and counters,
   * or a fine-tuning run's starting weights. */
  constructor(readonly cfg: TrainConfig, readonly state: TrainState | null, readonly kind: CheckpointKind, readonly data: Dataset) {
    this.outDir = cfg.out_dir;
    const { backend, note } = selectBackend(cfg.backend);
    if (note) console.warn(note);
    const B = this.B = cfg.batch_size, T = this.T = cfg.block_size;
    this.memory = checkMemory(cfg, { batch: B, block: T, training: true }, 'this model');
    this.model = buildModel(cfg, backend, { maxB: B, maxT: T, seed: cfg.seed });
    this.opt = new AdamW(this.model.store);
    this.rng = new Rng(cfg.seed);
    if (state) {
      const [weights, moments, stateFile] = kind.files;
      const ckpt = path.join(this.outDir, weights);
      const { tensors, metadata } = loadTensors(ckpt);
      checkSameVocabulary(metadata, ckpt, data.meta, cfg.dataset);
      loadWeights(this.model, tensors, ckpt);
      const optIter = loadMoments(path.join(this.outDir, moments), this.model, this.opt);
      if (Number(metadata.iter) !== state.iter || optIter !== state.iter) {
        throw new UserError(`the ${kind.what} files in ${this.outDir} disagree (${stateFile} at iter ${state.iter}, ${weights} at ${metadata.iter}, ` +
          `${moments} at ${optIter}): a write was interrupted. Restore them or start again with --overwrite.`);
      }
      this.rng.setState(state.rng);
      this.start = state.iter; this.bestVal = state.best_val_loss; this.bestIter = state.best_iter; this.wallBefore = state.wall_s ?? 0;
    } else if (cfg.init_from !== 'scratch') {
      if (!cfg.init_from.endsWith('.safetensors')) {
        throw new UserError(`--init_from ${cfg.init_from}: expected scratch, resume, or a path to a .safetensors file`);
      }
      const { tensors, metadata } = loadTensors(cfg.init_from);
      checkSameVocabulary(metadata, cfg.init_from, data.meta, cfg.dataset);
      loadWeights(this.model, tensors, cfg.init_from);
    }
    this.it = this.start;
    // The checkpoint's iteration (a run resumed from its resume state has its checkpoint further back).
    this.savedIter = !state ? null : kind === CHECKPOINT ? state.iter
      : fs.existsSync(path.join(this.outDir, CHECKPOINT.files[2])) ? readState(this.outDir).iter : null;
    this.nParams = this.model.numParams();
    this.layout = blockLayout(cfg);
    this.x = new Int32Array(B * T); this.y = new Int32Array(B * T);
    this.trainCtx = new MetricCtx(true, this.rng);
    this.codec = datasetTokenizer(data.meta);
    // The vocabulary travels with the weights, so `normlab sample` decodes without the dataset.
    this.extraMeta = {
      dataset: cfg.dataset, ...(data.meta.tokenizer ? { tokenizer: data.meta.tokenizer } : {}),
      ...(data.meta.chars ? { chars: JSON.stringify(data.meta.chars) } : {}),
    };
  }

  /** Phase 3: out_dir's log, TensorBoard writer and progress line; the run's header on the terminal. */
  openOutputs(): void {
    const { cfg, state, outDir, data } = this;
    // --overwrite: the previous run's files go, so no stale TensorBoard events or final weights mix in.
    if (!state && cfg.overwrite) clearRunFiles(outDir);
    this.log = new RunLog(outDir, state ? { keepUntil: { trainBelow: this.start, evalUpTo: state.eval_pending ? this.start - 1 : this.start } } : {});
    const tb = this.tb = cfg.tensorboard_log ? new TensorBoardWriter(outDir) : null;
    if (tb) this.log.addScalarSink((tag, step, value) => tb.scalar(tag, step, value));
    console.log(`normlab train: ${cfg.n_layer} layers, ${cfg.n_head} heads, ${cfg.n_embd} wide, block ${this.T}; ` +
      `${(this.nParams / 1e6).toFixed(2)}M parameters; backend ${this.model.be.name}; ${cfg.dataset}: ${data.train.length} train / ${data.val.length} val tokens`);
    if (cfg.dtype === 'bfloat16') console.log(bf16Note(this.model.be.name));
    console.log(this.layout);
    const mem = this.memory, big = mem.parts[0];
    console.log(`memory: about ${formatBytes(mem.bytes)} at peak (estimate, docs/memory.md); largest part: ${big.name}, ${formatBytes(big.bytes)}`);
    if (state) {
      console.log(`resuming ${outDir} at iter ${this.start}${this.kind === RESUME_STATE ? ', where it was stopped' : ''} ` +
        `(best val loss ${this.bestVal?.toFixed(4) ?? 'none'})`);
    }
    this.progress = new Progress(cfg.max_iters, cfg.progress);
    this.t0 = Date.now();
    if (state) {
      // A resumed run that evaluates nothing more (it was checkpointed at its last evaluation) keeps that evaluation's losses.
      const prev = readPrevSummary(outDir);
      if (prev && prev.iters === this.start) { this.lastTrain = prev.final_train_loss; this.lastVal = prev.final_val_loss;
        for (const m of METRICS) this.metricValues[m.name] = typeof prev[m.name] === 'number' ? prev[m.name] as number : null;
      }
    }
  }

  /** Phase 4: evaluate, checkpoint and step until max_iters, Ctrl-C/SIGTERM, divergence or an error;
   * then the final weights and summary. Returns the exit code. */
  async loop(): Promise<number> {
    const { cfg, state } = this;
    // A second one before the state is being saved stops at once (the last checkpoint stays whole);
    // during the save (synchronous, so no handler runs meanwhile) it waits for the save to end.
    // A second one exits at once, saying so, with summary.json 'interrupted' and why (not 'running').
    const onSigint = () => {
      if (this.stop) this.stopNow();
      this.stop = 'interrupted';
    };
    // SIGTERM (kill, a scheduler's stop) is a Ctrl-C: stop cleanly, summary 'interrupted'.
    const offSignals = () => { process.off('SIGINT', onSigint); process.off('SIGTERM', onSigint); };
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigint);
    const closeOutputs = () => { this.tb?.close(); this.progress.end(); };
    try {
      for (; ; this.it++) {
        const it = this.it;
        const evalNow = (it % cfg.eval_interval === 0 || it === cfg.max_iters) && !(state && it === this.start && !state.eval_pending);
        if (evalNow && !(await this.evalStep(it))) { this.evalCut = true; break; } // interrupted: this evaluation is not logged
        if (it >= cfg.max_iters) break;
        // Let the event loop run (a Ctrl-C handler cannot fire inside a synchronous loop), then stop if asked.
        await new Promise((resolve) => setImmediate(resolve));
        if (this.stop) break;
        this.trainOne(it);
      }
    } catch (e) {
      closeOutputs();
      offSignals();
      // On a full disk the summary may not be writable either: the first error is the one to report.
      try { this.summary('failed', e instanceof Error ? e.message : String(e)); } catch { /* reported below */ }
      if (e instanceof Diverged) {
        console.error(`error: ${e.message}. Nothing was saved from the diverged steps; ` +
          (this.savedIter === null ? `no checkpoint had been saved in ${this.outDir}` : `the last checkpoint in ${this.outDir} (iter ${this.savedIter}) is intact`) +
          '. Try a lower --learning_rate, --grad_clip, or another variant setting.');
        return 2;
      }
      throw e;
    }
    closeOutputs();
    try {
      return this.finish();
    } finally {
      offSignals();
      // Interrupted, its state saved: a further signal while the process exits ends it with the
      // run's own code, not by the signal's default action (no exit code at all).
      if (this.stop) for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => process.exit(130));
    }
  }

  /** The evaluation at `it`: log, checkpoint on a new best (or always), summary, optional sample.
   * False when Ctrl-C arrived during it. */
  private async evalStep(it: number): Promise<boolean> {
    const { cfg } = this;
    const e = await this.evaluate(it);
    if (!e) return false;
    this.lastTrain = e.train; this.lastVal = e.val;
    for (const m of METRICS) if (m.name in e.metrics) this.metricValues[m.name] = e.metrics[m.name];
    this.log.write({ iter: it, train_loss: round(e.train), val_loss: round(e.val), ...roundAll(e.metrics) });
    this.progress.say(`iter ${it}: train loss ${e.train.toFixed(4)}, val loss ${e.val.toFixed(4)}` +
      METRICS.map((m) => { const v = this.metricValues[m.name]; return v === null ? '' : `, ${m.label} ${formatMetric(m, v)}`; }).join(''));
    if (!Number.isFinite(e.val)) throw new Diverged(it, e.val);
    if (this.bestVal === null || e.val < this.bestVal || cfg.always_save_checkpoint) {
      if (this.bestVal === null || e.val < this.bestVal) { this.bestVal = e.val; this.bestIter = it; }
      if (it > 0) {
        saveCheckpoint(this.outDir, this.model, this.opt, this.trainState(it), this.extraMeta);
        this.savedIter = it;
        dropResumeState(this.outDir); // superseded: it is at this iteration or before
      }
    }
    this.summary('running');
    if (cfg.max_sample_tokens && this.codec) {
      const gen = new Generator(this.model);
      const ids = gen.generate([0], { maxNewTokens: cfg.max_sample_tokens, temperature: 0.8, topK: 200 },
        new Rng(cfg.seed), new MetricCtx(false, new Rng(cfg.seed)));
      this.progress.say(`--- sample at iter ${it} ---\n${this.codec.decode(ids)}\n---`);
    }
    return true;
  }

  /** Mean loss over eval_iters batches of each split; null when Ctrl-C arrives meanwhile. */
  private async evaluate(iter: number): Promise<Evaluation | null> {
    const { cfg, B, T, x, y } = this;
    const ctx = new MetricCtx(false, new Rng((cfg.seed * 1000003 + iter * 7919) >>> 0));
    const res = { train: 0, val: 0, metrics: {} as Record<string, number> };
    for (const split of ['train', 'val'] as const) {
      let sum = 0;
      for (let k = 0; k < cfg.eval_iters; k++) {
        getBatch(this.data[split], B, T, ctx.rng, x, y);
        sum += this.model.forward(x, y, B, T, ctx);
        await new Promise((resolve) => setImmediate(resolve));
        if (this.stop) return null;
      }
      res[split] = sum / cfg.eval_iters;
      if (split === 'val') res.metrics = ctx.take();
      else ctx.take();
    }
    return res;
  }

  /** The update at `it` (trainStep), timed, logged every log_interval iterations, on the progress line. */
  private trainOne(it: number): void {
    const { cfg } = this;
    const ts = performance.now();
    const lr = learningRate(it, cfg);
    this.trainCtx.iter = it; // quantization warm-up and scheduler (docs/quantization.md)
    const loss = trainStep(this.model, this.opt, this.data.train, this.trainCtx, this.x, this.y, cfg, lr);
    if (!Number.isFinite(loss)) throw new Diverged(it, loss);
    const ms = performance.now() - ts;
    this.trainMs += ms; this.tokens += this.B * this.T * cfg.gradient_accumulation_steps;
    const metrics = this.trainCtx.take();
    if (it % cfg.log_interval === 0) this.log.write({ iter: it, loss: round(loss), lr, ms: Math.round(ms * 100) / 100, ...roundAll(metrics) });
    const tps = (this.tokens / this.trainMs) * 1000;
    this.progress.update(it + 1, loss, tps, ((cfg.max_iters - it - 1) * this.trainMs) / Math.max(1, it + 1 - this.start) / 1000);
  }

  /** A second Ctrl-C/SIGTERM: exit 130 now, without saving the state; the summary and the terminal say where the run stands. */
  private stopNow(): never {
    const kept = this.savedIter === null ? `no checkpoint had been saved in ${this.outDir}` : `the last checkpoint in ${this.outDir} (iter ${this.savedIter}) is intact`;
    const why = `stopped at once by a second signal at iter ${this.it}, before its state was saved; ${kept}`;
    try { this.summary('interrupted', why); } catch { /* a full disk: the terminal still says it */ }
    this.progress.end();
    console.error(`\n${why}. Continue with: normlab train --out_dir ${this.outDir} --init_from resume`);
    process.exit(130);
  }

  /** After the loop: interrupted (its state saved, exit 130, how to continue) or done (final weights, exit 0). */
  private finish(): number {
    const { outDir, it } = this;
    if (this.stop) {
      const saved = this.saveResumeState();
      this.summary('interrupted');
      console.log(`interrupted at iter ${it}; ${saved}. Continue with: normlab train --out_dir ${outDir} --init_from resume`);
      return 130;
    }
    saveWeights(path.join(outDir, 'final.safetensors'), this.model, it, this.extraMeta);
    dropResumeState(outDir);
    this.summary('ok');
    const wall = (Date.now() - this.t0) / 1000;
    console.log(`done: ${it} iterations in ${formatDuration(wall)}; best val loss ${this.bestVal?.toFixed(4)} at iter ${this.bestIter}; ` +
      `${Math.round((this.tokens / Math.max(this.trainMs, 1)) * 1000)} tok/s; checkpoints in ${outDir}`);
    return 0;
  }

  /** The run's state at `it` (the generator as it stands now), as a checkpoint or resume state records it. */
  private trainState(it: number): TrainState {
    return {
      version: 1, config: this.cfg, iter: it, best_val_loss: this.bestVal, best_iter: this.bestIter, rng: this.rng.getState(),
      params: this.nParams, tokens_seen: this.tokens, wall_s: this.wallBefore + (Date.now() - this.t0) / 1000,
    };
  }

  /**
   * Saves where the stopped run stands (RESUME_STATE): the weights, moments and generator before the
   * update at `it`, and whether the evaluation at `it` still has to be done. Nothing is written when
   * nothing happened since the state this run resumed from. Returns what to tell the user.
   */
  private saveResumeState(): string {
    const { outDir, it } = this;
    const lastCkpt = () => fs.existsSync(path.join(outDir, CHECKPOINT.files[2])) ? `the checkpoint is at iter ${readState(outDir).iter}` : 'no checkpoint yet';
    if (this.state && it === this.start) return `nothing trained since iter ${it}, where it resumes again`;
    try {
      saveCheckpoint(outDir, this.model, this.opt, { ...this.trainState(it), ...(this.evalCut ? { eval_pending: true } : {}) },
        this.extraMeta, RESUME_STATE);
    } catch (e) {
      if (!(e instanceof DiskError)) throw e;
      console.error(`error: ${e.message}`);
      return `its state was not saved (${lastCkpt()})`;
    }
    return `its state is saved there (${RESUME_STATE.files.join(', ')}; ${lastCkpt()})`;
  }

  summary(status: Summary['status'], error?: string): void {
    const s: Summary = {
      status, ...(error ? { error } : {}), best_val_loss: this.bestVal, best_iter: this.bestIter, final_train_loss: this.lastTrain,
      final_val_loss: this.lastVal, iters: this.it, params: this.nParams, wall_s: this.wallBefore + (Date.now() - this.t0) / 1000,
      tokens_per_s: this.trainMs > 0 ? (this.tokens / this.trainMs) * 1000 : null, ...this.metricValues,
      config: this.cfg, block_layout: this.layout,
    };
    writeFileAtomic(path.join(this.outDir, 'summary.json'), JSON.stringify(s, null, 1) + '\n');
  }
}

/**
 * One update: gradients accumulated over gradient_accumulation_steps micro-batches drawn from
 * ctx.rng, clipped, applied by AdamW at learning rate lr. Returns the mean loss of the micro-batches
 * (NaN or Infinity is returned before any update is applied).
 */
export function trainStep(model: GPT, opt: AdamW, split: Tokens, ctx: MetricCtx, x: Int32Array, y: Int32Array,
  cfg: TrainConfig, lr: number): number {
  const B = cfg.batch_size, T = cfg.block_size, accum = cfg.gradient_accumulation_steps;
  model.store.zeroGrad();
  let loss = 0;
  for (let micro = 0; micro < accum; micro++) {
    getBatch(split, B, T, ctx.rng, x, y);
    loss += model.forward(x, y, B, T, ctx, 1 / accum) / accum; // the LM head's gradient is computed here (fused)
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

function readPrevSummary(dir: string): (Summary & Record<string, unknown>) | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as Summary & Record<string, unknown>;
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

