// Sampling from a run folder: the model and its vocabulary come from the checkpoint alone.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng } from './engine/rng.js';
import { selectBackend } from './engine/select.js';
import { UserError } from './engine/types.js';
import { charCodec } from './data/chars.js';
import { loadMeta } from './data/dataset.js';
import { buildModel } from './model/build.js';
import type { ModelConfig } from './model/config.js';
import { Generator } from './model/generate.js';
import type { GPT } from './model/gpt.js';
import { MetricCtx } from './nn/params.js';
import { loadTensors, loadWeights } from './train/checkpoint.js';

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
  chars: string[];
  file: string;
}

/** Loads ckpt.safetensors (or opts.file) of a run folder with the config saved in it. */
export function loadRun(outDir: string, opts: { dataDir?: string; backend?: 'auto' | 'ts' | 'native' | 'wasm'; file?: string } = {}): LoadedRun {
  const file = opts.file ?? (fs.existsSync(path.join(outDir, 'ckpt.safetensors')) ? path.join(outDir, 'ckpt.safetensors') : path.join(outDir, 'final.safetensors'));
  if (!fs.existsSync(file)) {
    throw new UserError(`${outDir} has no checkpoint (ckpt.safetensors or final.safetensors): train first, e.g. normlab train --out_dir ${outDir}`);
  }
  const { tensors, metadata } = loadTensors(file);
  let cfg: ModelConfig & { dataset?: string };
  try {
    cfg = JSON.parse(metadata.config ?? '');
  } catch {
    throw new UserError(`${file} has no normlab model config in its metadata; it cannot be sampled from without the flags it was trained with`);
  }
  let chars: string[] | undefined;
  if (metadata.chars) chars = JSON.parse(metadata.chars);
  if (!chars) {
    const statePath = path.join(outDir, 'state.json');
    const dataset = fs.existsSync(statePath) ? JSON.parse(fs.readFileSync(statePath, 'utf8')).config?.dataset : 'shakespeare_char';
    chars = loadMeta(opts.dataDir ?? 'data', dataset).chars;
    if (!chars) throw new UserError(`dataset ${dataset} has no character list in meta.json; cannot decode samples`);
  }
  const { backend } = selectBackend(opts.backend ?? 'auto');
  const model = buildModel(cfg, backend, { maxB: 1, maxT: cfg.block_size, seed: 0 });
  loadWeights(model, tensors, file);
  return { model, chars, file };
}

export async function sampleText(outDir: string, opts: SampleTextOptions = {}): Promise<string> {
  const run = loadRun(outDir, opts);
  return generateText(run, opts);
}

export function generateText(run: LoadedRun, opts: SampleTextOptions, onText?: (s: string) => void): string {
  const codec = charCodec(run.chars);
  const start = opts.start ?? '\n';
  const prompt = Array.from(codec.encode(start.length ? start : '\n'));
  const seed = opts.seed ?? 1337;
  const gen = new Generator(run.model);
  const ids = gen.generate(prompt, {
    maxNewTokens: opts.maxNewTokens ?? 500, temperature: opts.temperature ?? 0.8, topK: opts.topK === undefined ? 200 : opts.topK,
  }, new Rng(seed), new MetricCtx(false, new Rng(seed + 1)), onText ? (id) => onText(codec.decode([id])) : undefined);
  return start + codec.decode(ids);
}
