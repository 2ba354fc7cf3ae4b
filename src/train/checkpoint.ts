// Checkpoints in open formats (docs/variants.md, "Training loop and checkpoints"):
//   ckpt.safetensors   parameters under the reference state-dict names (tied lm_head left out),
//                      metadata {format: pt, normlab: 1, config: <model config JSON>, iter}
//   optim.safetensors  AdamW moments, `exp_avg.<name>` and `exp_avg_sq.<name>`, metadata {step, iter}
//   state.json         the whole train config, iteration, best validation loss, RNG state
// The three files are one unit (docs/safety.md). A new checkpoint is written as a generation beside
// the current one (`<file>.next`, every byte checked and fsynced), then switched in by one atomic
// step: writing `checkpoint.commit` (atomically) names the generation as the checkpoint; the files
// are then renamed over the old ones and the commit record removed. A kill before the commit record
// exists leaves the old checkpoint untouched (the `.next` files are discarded at the next start); a
// kill after it is completed at the next start by finishing the renames (recoverCheckpoint). A write
// that fails (full disk, I/O error) removes the generation and keeps the old checkpoint.
//
// A run stopped by Ctrl-C/SIGTERM also saves its state at that iteration, in the same three-file
// form under other names (RESUME_STATE: resume.ckpt.safetensors, resume.optim.safetensors,
// resume.state.json, committed by resume.commit), so the checkpoint keeps its meaning (the weights
// of the best, or last, evaluation). `--init_from resume` continues from whichever of the two is
// newer (resumePoint); the resume state is removed once a later checkpoint or the run's end
// supersedes it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanTemporaries, DiskError, makeDir, readFileNoFollow, syncDir, writeFileAtomic, writeFileDurable } from '../util/files.js';
import { readSafetensors, safetensorsChunks, writeSafetensors, type LoadedTensor, type NamedTensor } from '../engine/safetensors.js';
import { UserError } from '../util/errors.js';
import { checkTrainConfig, checkValue, FLAGS, MODEL_KEYS } from '../config/config.js';
import type { ModelConfig, TrainConfig } from '../config/config-types.js';
import type { GPT } from '../model/gpt.js';
import { numel } from '../nn/variant.js';
import type { AdamW } from './optimizer.js';

export interface TrainState {
  version: 1;
  config: TrainConfig;
  iter: number; // updates done = the next iteration to run
  best_val_loss: number | null;
  best_iter: number | null;
  rng: { s: number[]; spare: number | null };
  params: number;
  tokens_seen: number;
  wall_s: number;
  /** The evaluation due at `iter` has not been done yet (a resume state saved during it); absent: done. */
  eval_pending?: boolean;
}

export function modelConfigOf(cfg: ModelConfig): ModelConfig {
  const out: Record<string, unknown> = {};
  for (const k of MODEL_KEYS) out[k] = cfg[k];
  return out as unknown as ModelConfig;
}

export function modelTensors(model: GPT): NamedTensor[] {
  return model.store.params.filter((p) => p.persistent).map((p) => ({ name: p.name, shape: p.shape, data: p.data }));
}

/** extra: more metadata, e.g. {chars: JSON of the vocabulary, dataset}, so the file samples on its own. */
function weightsMetadata(model: GPT, iter: number, extra: Record<string, string>): Record<string, string> {
  return { format: 'pt', normlab: '1', config: JSON.stringify(modelConfigOf(model.cfg)), iter: String(iter), ...extra };
}

export function saveWeights(file: string, model: GPT, iter: number, extra: Record<string, string> = {}): void {
  writeSafetensors(file, modelTensors(model), weightsMetadata(model, iter, extra));
}

/** The files of one checkpoint (weights, moments, state, in the order they are switched in) and its commit record. */
export interface CheckpointKind {
  files: readonly [weights: string, moments: string, state: string];
  commit: string;
  /** In messages. */
  what: string;
}

/** The checkpoint: the weights of the best evaluation (of every evaluation with --always_save_checkpoint). */
export const CHECKPOINT: CheckpointKind = { files: ['ckpt.safetensors', 'optim.safetensors', 'state.json'], commit: 'checkpoint.commit', what: 'checkpoint' };
/** Where a run stopped by Ctrl-C/SIGTERM stands, saved as it stops, for --init_from resume. */
export const RESUME_STATE: CheckpointKind = {
  files: ['resume.ckpt.safetensors', 'resume.optim.safetensors', 'resume.state.json'], commit: 'resume.commit', what: 'resume state',
};
const KINDS = [CHECKPOINT, RESUME_STATE];
const NEXT = '.next';

/** Every name a checkpoint write may leave in a run folder (for --overwrite and sweeps clearing a run). */
export const CHECKPOINT_NAMES = KINDS.flatMap((k) => [...k.files, ...k.files.map((f) => f + NEXT), k.commit]);

/** Whether dir holds a checkpoint or a resume state, switched in or committed and waiting for recoverCheckpoint. */
export function hasCheckpoint(dir: string): boolean {
  return KINDS.some((k) => fs.existsSync(path.join(dir, k.files[0])) || fs.existsSync(path.join(dir, k.commit)));
}

export function saveCheckpoint(dir: string, model: GPT, opt: AdamW, state: TrainState, extra: Record<string, string> = {},
  kind: CheckpointKind = CHECKPOINT): void {
  makeDir(dir, 'out_dir');
  const moments: NamedTensor[] = [];
  for (const p of model.store.params) {
    if (!p.learned) continue;
    const n = numel(p.shape);
    moments.push({ name: `exp_avg.${p.name}`, shape: p.shape, data: opt.m.subarray(p.offset, p.offset + n) });
    moments.push({ name: `exp_avg_sq.${p.name}`, shape: p.shape, data: opt.v.subarray(p.offset, p.offset + n) });
  }
  const [weights, optim, stateFile] = kind.files;
  // The weights and moments are written from their own memory, chunk by chunk (no second copy).
  const contents: Record<string, () => Iterable<Uint8Array> | string> = {
    [weights]: () => safetensorsChunks(modelTensors(model), weightsMetadata(model, state.iter, extra)),
    [optim]: () => safetensorsChunks(moments, { step: String(opt.step), iter: String(state.iter) }),
    [stateFile]: () => JSON.stringify(state, null, 1) + '\n',
  };
  // 1. The new generation, beside the current checkpoint.
  try {
    for (const f of kind.files) writeFileDurable(path.join(dir, f + NEXT), contents[f]());
    syncDir(dir);
    // 2. The switch: from here on the new generation is the checkpoint.
    writeFileAtomic(path.join(dir, kind.commit), JSON.stringify({ iter: state.iter, files: kind.files }) + '\n');
  } catch (e) {
    for (const f of kind.files) fs.rmSync(path.join(dir, f + NEXT), { force: true });
    if (e instanceof DiskError) {
      const kept = fs.existsSync(path.join(dir, stateFile)) ? `the previous ${kind.what} (iter ${readState(dir, kind).iter}) is kept` : `no ${kind.what} was saved`;
      throw new DiskError(`${e.message}. The ${kind.what} at iter ${state.iter} was not saved; ${kept} in ${dir}`, e.code);
    }
    throw e;
  }
  // 3. Put the new files in place and drop the commit record.
  finishCommit(dir, kind);
}

function finishCommit(dir: string, kind: CheckpointKind): void {
  for (const f of kind.files) {
    const next = path.join(dir, f + NEXT);
    if (fs.existsSync(next)) fs.renameSync(next, path.join(dir, f));
  }
  syncDir(dir);
  fs.rmSync(path.join(dir, kind.commit), { force: true });
  syncDir(dir);
}

/**
 * Removes dir's resume state (superseded by a later checkpoint, or by the run's end). The state
 * file goes first: without it the other two are never read (resumePoint), and the next resume state
 * write replaces them.
 */
export function dropResumeState(dir: string): void {
  const [weights, optim, stateFile] = RESUME_STATE.files;
  if (!fs.existsSync(path.join(dir, stateFile)) && !fs.existsSync(path.join(dir, weights))) return;
  for (const f of [stateFile, weights, optim]) fs.rmSync(path.join(dir, f), { force: true });
  syncDir(dir);
}

/**
 * Makes a run folder's checkpoint and resume state whole after a kill: a committed generation is
 * switched in, an uncommitted one is discarded, temporary files of dead writers are removed. Only
 * the process that owns the folder (holds its lock) may call this. Returns what was done, for the log.
 */
export function recoverCheckpoint(dir: string): string[] {
  const done: string[] = [];
  if (!fs.existsSync(dir)) return done;
  for (const kind of KINDS) {
    if (fs.existsSync(path.join(dir, kind.commit))) {
      finishCommit(dir, kind);
      done.push(`completed the ${kind.what} write interrupted by a kill`);
    }
    const partial = kind.files.filter((f) => fs.existsSync(path.join(dir, f + NEXT)));
    for (const f of partial) fs.rmSync(path.join(dir, f + NEXT), { force: true });
    if (partial.length) done.push(`removed an unfinished ${kind.what} write (${partial.map((f) => f + NEXT).join(', ')})`);
  }
  const tmp = cleanTemporaries(dir);
  if (tmp.length) done.push(`removed temporary files left by a killed process (${tmp.join(', ')})`);
  return done;
}

/**
 * Where --init_from resume continues: the resume state when it is newer than the checkpoint (the
 * run was stopped after it), else the checkpoint. At the same iteration the checkpoint wins: it was
 * written after that iteration's evaluation. A resume state that is not newer is stale (a kill came
 * between a later checkpoint and its removal): the resuming run removes it.
 */
export function resumePoint(dir: string): { kind: CheckpointKind; state: TrainState } {
  const saved = fs.existsSync(path.join(dir, RESUME_STATE.files[2])) ? readState(dir, RESUME_STATE) : null;
  const ckpt = fs.existsSync(path.join(dir, CHECKPOINT.files[2])) ? readState(dir, CHECKPOINT) : null;
  if (saved && (!ckpt || saved.iter > ckpt.iter)) return { kind: RESUME_STATE, state: saved };
  return { kind: CHECKPOINT, state: ckpt ?? readState(dir, CHECKPOINT) };
}

/**
 * The model config saved in a checkpoint's metadata (`config`), as a plain object; a UserError of
 * one line when it is missing or not a JSON object (docs/safety.md, "A hostile checkpoint file").
 */
export function metadataConfig(metadata: Record<string, string>, file: string): Record<string, unknown> {
  if (metadata.config === undefined) {
    throw new UserError(`${file} has no normlab model config in its metadata; it cannot be used without the flags it was trained with`);
  }
  let v: unknown;
  try { v = JSON.parse(metadata.config); } catch {
    throw new UserError(`${file}: the model config in its metadata is not JSON: the file is corrupt or not from normlab`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new UserError(`${file}: the model config in its metadata is ${v === null ? 'null' : Array.isArray(v) ? 'a list' : `a ${typeof v}`}, not an object: the file is corrupt or not from normlab`);
  }
  return v as Record<string, unknown>;
}

/** The character vocabulary saved in a checkpoint's metadata (`chars`), or null when there is none. */
export function metadataChars(metadata: Record<string, string>, file: string): string[] | null {
  if (metadata.chars === undefined) return null;
  let v: unknown;
  try { v = JSON.parse(metadata.chars); } catch { v = undefined; }
  if (!Array.isArray(v) || !v.every((c) => typeof c === 'string')) {
    throw new UserError(`${file}: the vocabulary (chars) in its metadata is not a JSON list of strings: the file is corrupt or not from normlab`);
  }
  return v as string[];
}

/**
 * Refuses a model config (from a checkpoint's metadata or a run's state) whose sizes the file's
 * tensors cannot hold, before any work proportional to them: every integer flag of the model (n_embd,
 * block_size, a spline's knots, a piecewise activation's points...) counts entries of some tensor, so
 * none may exceed the number of values the file holds. The exact shapes are compared afterwards
 * (loadWeights, the dashboard's activation curves); this bound makes that comparison cheap.
 */
export function checkConfigSizes(cfg: Record<string, unknown>, tensors: Map<string, LoadedTensor>, file: string): void {
  let held = 0;
  for (const t of tensors.values()) held += t.data.length;
  for (const f of FLAGS) {
    if (f.type !== 'int' || !(MODEL_KEYS as readonly string[]).includes(f.name)) continue;
    const v = cfg[f.name];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
      throw new UserError(`${file}: ${f.name} ${JSON.stringify(v)?.slice(0, 40)} in its model config is not an integer: the file is corrupt or not from normlab`);
    }
    if (v > Math.max(held, 1)) {
      throw new UserError(`${file}: its model config gives ${f.name} ${v} but the file holds only ${held} values in all: ` +
        'the metadata does not belong to these weights (corrupt or edited file)');
    }
  }
}

/**
 * A saved model config checked as the flags it stands for would be (each value's type and range,
 * the flag combinations; with typesOnly, each value's type alone, enough to draw from it): a
 * UserError of one line naming the file otherwise. Keys it lacks (written
 * before the flag existed) take the flag's default when the model is built.
 */
export function checkSavedModelConfig(cfg: Record<string, unknown>, file: string, opts: { typesOnly?: boolean } = {}): void {
  const model: Record<string, unknown> = {};
  for (const k of MODEL_KEYS) if (k !== 'vocab_size' && k in cfg) model[k] = cfg[k];
  try {
    if (!opts.typesOnly) checkTrainConfig(model);
    const wrong = FLAGS.filter((f) => f.name in model).map((f) => checkValue(f, model[f.name])).filter((w) => w);
    if (wrong.length) throw new UserError(wrong.join('\n'));
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    const why = e.message.replace(/^invalid configuration:\s*/, '').split('\n').map((l) => l.trim()).filter(Boolean).join('; ');
    throw new UserError(`${file} has a model config in its metadata that normlab refuses (${why}): the file is corrupt or not from normlab`);
  }
}

/**
 * Refuses weights whose vocabulary differs from the dataset's (docs/safety.md): every checkpoint and
 * resume state records the vocabulary it was trained on in its metadata (`tokenizer`, and `chars` for
 * a character set), and a run continued or fine-tuned on another mapping of token ids would train on
 * text it reads wrongly, without a word. Weights without that record (other tools) are not checked.
 */
export function checkSameVocabulary(metadata: Record<string, string>, file: string, meta: { tokenizer?: string; chars?: string[] }, dataset: string): void {
  const savedTok = metadata.tokenizer ?? (metadata.chars !== undefined ? 'char' : undefined);
  const dataTok = meta.tokenizer ?? (meta.chars ? 'char' : undefined);
  const from = metadata.dataset ? `dataset ${metadata.dataset}` : 'its dataset';
  if (savedTok !== undefined && dataTok !== undefined && savedTok !== dataTok) {
    throw new UserError(`${file} was trained on ${from} with the ${savedTok} tokenizer, but dataset ${dataset} uses ${dataTok}: ` +
      'its token ids mean other text. Use the dataset it was trained on, or start a new run in another --out_dir.');
  }
  const saved = metadataChars(metadata, file);
  if (!saved || !meta.chars) return;
  const same = saved.length === meta.chars.length && saved.every((c, i) => c === meta.chars![i]);
  if (same) return;
  const show = (cs: string[]) => { const j = JSON.stringify(cs.join('')); return j.length > 60 ? j.slice(0, 57) + '..."' : j; };
  const k = saved.findIndex((c, i) => c !== meta.chars![i]);
  throw new UserError(`${file} was trained on ${from} with the vocabulary ${show(saved)} (${saved.length} characters), but dataset ${dataset} ` +
    `has ${show(meta.chars)} (${meta.chars.length} characters; they differ from token id ${k < 0 ? saved.length : k}): its token ids mean other ` +
    'characters. Use the dataset it was trained on, or start a new run in another --out_dir.');
}

/** The contract used by `activations`, `inspect` and the dashboard. */
export function loadTensors(file: string): { tensors: Map<string, LoadedTensor>; metadata: Record<string, string> } {
  return readSafetensors(file);
}

/**
 * Copy tensors into the model, refusing (with one message listing every problem) names that are
 * missing, unexpected or mis-shaped for the model the flags describe. With a tied head either
 * `transformer.wte.weight` or `lm_head.weight` may carry the shared matrix (PyTorch writers that
 * drop shared tensors keep one of the two names). nanoGPT's causal-mask buffers (`*.attn.bias` of
 * four dimensions, `*.attn.mask`) are not parameters and are skipped.
 */
export function loadWeights(model: GPT, tensors: Map<string, LoadedTensor>, what: string): void {
  const tied = model.cfg.wte_weight_tying;
  const source = (name: string): LoadedTensor | undefined =>
    tensors.get(name) ?? (tied && name === 'transformer.wte.weight' ? tensors.get('lm_head.weight') : undefined);
  const isMaskBuffer = (name: string, t: LoadedTensor) =>
    (name.endsWith('.attn.bias') && t.shape.length === 4) || name.endsWith('.attn.mask');
  const missing: string[] = [], shapes: string[] = [], unexpected: string[] = [];
  for (const p of model.store.params) {
    if (!p.persistent) continue;
    const t = source(p.name);
    if (!t) { missing.push(p.name); continue; }
    if (t.shape.join('x') !== p.shape.join('x') && !(numel(t.shape) === 1 && numel(p.shape) === 1)) {
      shapes.push(`${p.name}: file [${t.shape}] vs model [${p.shape}]`);
    }
  }
  for (const [name, t] of tensors) {
    if (model.store.get(name) || isMaskBuffer(name, t)) continue;
    if (name === 'lm_head.weight' && tied) continue;
    unexpected.push(name);
  }
  if (missing.length || shapes.length || unexpected.length) {
    const list = (title: string, xs: string[]) => (xs.length ? `\n  ${title} (${xs.length}): ${xs.slice(0, 12).join(', ')}${xs.length > 12 ? ', ...' : ''}` : '');
    throw new UserError(`${what} does not fit the model described by the flags:` + list('missing', missing) +
      list('unexpected', unexpected) + list('mis-shaped', shapes) +
      '\n  Give the flags the weights were trained with (the checkpoint metadata `config` lists them).');
  }
  for (const p of model.store.params) {
    const t = source(p.name);
    if (!t) continue;
    const bad = t.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new UserError(`${what} is corrupt: tensor ${p.name} holds ${Number.isNaN(t.data[bad]) ? 'NaN' : 'infinite'} values ` +
        `(first at index ${bad}); weights are finite when they are saved, so the file was damaged or edited: use another checkpoint`);
    }
    p.data.set(t.data.subarray(0, p.data.length));
  }
}

export function loadMoments(file: string, model: GPT, opt: AdamW): number {
  const { tensors, metadata } = readSafetensors(file);
  for (const p of model.store.params) {
    if (!p.learned) continue;
    const m = tensors.get(`exp_avg.${p.name}`), v = tensors.get(`exp_avg_sq.${p.name}`);
    if (!m || !v || m.data.length !== p.data.length || v.data.length !== p.data.length) {
      throw new UserError(`${file} has no optimizer state for ${p.name}: the checkpoint is incomplete or from other flags`);
    }
    opt.m.set(m.data, p.offset);
    opt.v.set(v.data, p.offset);
  }
  opt.step = Number(metadata.step ?? 0);
  return Number(metadata.iter ?? NaN);
}

export function readState(dir: string, kind: CheckpointKind = CHECKPOINT): TrainState {
  const file = path.join(dir, kind.files[2]);
  if (!fs.existsSync(file)) {
    throw new UserError(`--init_from resume: ${dir} has no state.json (no checkpoint to resume). ` +
      'Train with --init_from scratch first, or point --out_dir at a run folder.');
  }
  let text: string;
  try {
    text = readFileNoFollow(file).toString('utf8');
  } catch (e) {
    throw new UserError(`${file} cannot be read (${(e as NodeJS.ErrnoException).code === 'ELOOP' ? 'it is a symbolic link' : (e as Error).message}): ` +
      'a state file normlab writes is a plain file; remove it or restore it');
  }
  let s: TrainState;
  try {
    s = JSON.parse(text);
  } catch {
    throw new UserError(`${file} is corrupt (not JSON); the run cannot be resumed from it`);
  }
  if (!s || typeof s !== 'object' || s.version !== 1 || typeof s.iter !== 'number' || !s.config || !s.rng) {
    throw new UserError(`${file} is not a normlab state file (version 1); the run cannot be resumed from it`);
  }
  return s;
}
