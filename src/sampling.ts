// Sampling from a run folder: the model and its vocabulary come from the checkpoint alone.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng } from './engine/rng.js';
import { selectBackend } from './engine/select.js';
import { UserError } from './util/errors.js';
import { datasetTokenizer, loadMeta } from './data/dataset.js';
import { charTokenizer, checkTokenizerName, gpt2Tokenizer, streamDecoder, type Tokenizer } from './data/tokenizer.js';
import { buildModel } from './model/build.js';
import type { ModelConfig } from './config/config-types.js';
import { Generator } from './model/generate.js';
import type { GPT } from './model/gpt.js';
import { MetricCtx } from './nn/params.js';
import { checkConfigSizes, checkSavedModelConfig, loadTensors, loadWeights, metadataChars, metadataConfig } from './train/checkpoint.js';
import { checkMemory } from './model/memory.js';
import type { LoadedTensor } from './engine/safetensors.js';

export interface SampleTextOptions {
  start?: string;
  maxNewTokens?: number;
  temperature?: number;
  topK?: number | null;
  seed?: number;
  dataDir?: string;
  backend?: 'auto' | 'ts' | 'native' | 'wasm';
  /** Which weights: ckpt (best, default) or final. */
  file?: string;
}

export interface LoadedRun {
  model: GPT;
  tokenizer: Tokenizer;
  file: string;
}

/** Loads ckpt.safetensors (or opts.file) of a run folder with the config saved in it. */
export function loadRun(outDir: string, opts: { dataDir?: string; backend?: 'auto' | 'ts' | 'native' | 'wasm'; file?: string } = {}): LoadedRun {
  const file = opts.file ?? (fs.existsSync(path.join(outDir, 'ckpt.safetensors')) ? path.join(outDir, 'ckpt.safetensors') : path.join(outDir, 'final.safetensors'));
  if (!fs.existsSync(file)) {
    throw new UserError(`${outDir} has no checkpoint (ckpt.safetensors or final.safetensors): train first, e.g. normlab train --out_dir ${outDir}`);
  }
  const { tensors, metadata } = loadTensors(file);
  const cfg = metadataConfig(metadata, file) as unknown as ModelConfig;
  // The vocabulary: saved with the weights (tokenizer, chars), else the dataset's meta.json.
  let tokenizer: Tokenizer | null = null;
  const chars = metadataChars(metadata, file);
  if (chars) tokenizer = charTokenizer(chars, `the vocabulary of ${file}`);
  else if (metadata.tokenizer) tokenizer = checkTokenizerName(metadata.tokenizer, `${file} metadata`) === 'gpt2' ? gpt2Tokenizer() : null;
  if (!tokenizer) {
    const statePath = path.join(outDir, 'state.json');
    let dataset: unknown = 'shakespeare_char';
    if (fs.existsSync(statePath)) {
      try { dataset = (JSON.parse(fs.readFileSync(statePath, 'utf8')) as { config?: { dataset?: unknown } } | null)?.config?.dataset; } catch {
        throw new UserError(`${statePath} is corrupt (not JSON): cannot tell which dataset's vocabulary decodes ${file}`);
      }
      if (typeof dataset !== 'string') throw new UserError(`${statePath} names no dataset: cannot tell which vocabulary decodes ${file}`);
    }
    tokenizer = datasetTokenizer(loadMeta(opts.dataDir ?? 'data', dataset as string));
    if (!tokenizer) throw new UserError(`dataset ${dataset}'s meta.json names no tokenizer and has no character list; cannot decode samples`);
  }
  if (tokenizer.vocabSize > cfg.vocab_size) {
    throw new UserError(`${file} has a vocabulary of ${cfg.vocab_size} but its tokenizer ${tokenizer.name} has ${tokenizer.vocabSize} ids: they do not belong together`);
  }
  checkSavedConfig(cfg, tensors, file);
  const { backend } = selectBackend(opts.backend ?? 'auto');
  const model = buildModel(cfg, backend, { maxB: 1, maxT: cfg.block_size, seed: 0 });
  loadWeights(model, tensors, file);
  return { model, tokenizer, file };
}

export async function sampleText(outDir: string, opts: SampleTextOptions = {}): Promise<string> {
  const run = loadRun(outDir, opts);
  return generateText(run, opts);
}

export function generateText(run: LoadedRun, opts: SampleTextOptions, onText?: (s: string) => void): string {
  const codec = run.tokenizer;
  const start = opts.start ?? '\n';
  const prompt = codec.encode(start.length ? start : '\n');
  const seed = opts.seed ?? 1337;
  const gen = new Generator(run.model);
  const ids = gen.generate(prompt, {
    maxNewTokens: opts.maxNewTokens ?? 500, temperature: opts.temperature ?? 0.8, topK: opts.topK === undefined ? 200 : opts.topK,
  }, new Rng(seed), new MetricCtx(false, new Rng(seed + 1)), onText ? streamDecoder(codec, onText) : undefined);
  return start + codec.decode(ids);
}

/**
 * A checkpoint's saved config is checked like the flags it stands for before anything is allocated:
 * each value as its flag would be, the model's memory, the parameter count against the tensors the
 * file really holds, and every weight finite (a diverged run's NaN weights sample nothing).
 */
export function checkSavedConfig(cfg: ModelConfig, tensors: Map<string, LoadedTensor>, file: string): void {
  checkSavedModelConfig(cfg as unknown as Record<string, unknown>, file);
  const V = cfg.vocab_size;
  if (!Number.isSafeInteger(V) || V < 1 || V > 65536) {
    throw new UserError(`${file}: vocab_size ${JSON.stringify(V)} in its metadata is not an integer from 1 to 65536: the file is corrupt or not from normlab`);
  }
  const est = checkMemory(cfg, { batch: 1, block: cfg.block_size, training: false }, `${file} (by its metadata)`);
  let held = 0;
  for (const t of tensors.values()) held += t.data.length;
  if (held < est.params / 1.5 || held > est.params * 1.5 + 1e4) {
    throw new UserError(`${file}: its metadata describes a model of about ${(est.params / 1e6).toFixed(2)}M parameters but the file holds ` +
      `${(held / 1e6).toFixed(2)}M values: the metadata does not belong to these weights (corrupt or edited file)`);
  }
  // Sizes the memory estimate leaves out (a variant's knots or points) are bounded by the file too.
  checkConfigSizes(cfg as unknown as Record<string, unknown>, tensors, file);
  for (const [name, t] of tensors) {
    const bad = t.data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new UserError(`${file}: tensor ${name} holds ${Number.isNaN(t.data[bad]) ? 'NaN' : 'infinite'} values: the run diverged ` +
        'before this checkpoint was written, so it cannot be sampled; train again (lower --learning_rate) or use another checkpoint');
    }
  }
}
