// The flag tables: `normlab train`'s (name, type, default, group, help, checks), and the sample and
// prepare commands'. It is the one place where defaults live; the parser, --help, the sweep
// validator, defaultConfig() and the checkpoint metadata (MODEL_KEYS) all read it. The flags of a
// norm or an activation are declared in its own file (src/nn/norms/*, src/nn/activations/*) and
// come here through the registries, in registry order; choice lists are the registries' keys.
// Names, types and defaults follow the user's document exactly.
import { activations } from '../nn/activations/activation-registry.js';
import { norms } from '../nn/norms/norm-registry.js';
import { softmaxes } from '../nn/softmax/softmax-registry.js';
import { MODEL_FLAGS } from '../nn/shape.js';
import { atLeast, type Registry } from '../nn/variant.js';
import type { ActivationName, ModelConfig, NormName, SoftmaxName, TrainConfig } from './config-types.js';
import { inUnitInterval, type FlagGroup, type FlagSpec } from '../util/schema.js';
import { TOKENIZERS } from '../data/tokenizer.js';
import { QUANT_FLAGS } from './quantization.js';

export const NORM_CHOICES = Object.keys(norms) as readonly NormName[];
export const ACTIVATION_CHOICES = Object.keys(activations) as readonly ActivationName[];
export const SOFTMAX_CHOICES = Object.keys(softmaxes) as readonly SoftmaxName[];

const positive: FlagSpec['check'] = (v, _c, name) =>
  (typeof v === 'number' && !(v > 0) ? `--${name} is ${v}; it must be > 0` : null);
/** Integers in [min, max]: a bound on work a flag or a request can ask for. */
const atMost = (max: number, min: number): FlagSpec['check'] => (v, _c, name) =>
  (typeof v === 'number' && !(v >= min && v <= max) ? `--${name} is ${v}; it must be from ${min} to ${max}` : null);
/** Longest sample `normlab sample` generates (the dashboard allows less: src/dashboard/server.ts). */
export const MAX_NEW_TOKENS = 1_000_000;
/** A per-layer list: at most n_layer values; a shorter list repeats over the layers (layer i takes
 * value i mod length), so [relu, gelu] alternates. */
const layerList: FlagSpec['check'] = (v, c, name) =>
  (Array.isArray(v) && typeof c.n_layer === 'number' && v.length > c.n_layer
    ? `--${name} has ${v.length} values for --n_layer ${c.n_layer}: give one per layer (or fewer: the list repeats over the layers)`
    : null);
const nonEmpty: FlagSpec['check'] = (v, _c, name) => (v === '' ? `--${name} is empty; give a folder name` : null);

// The model's shape flags (MODEL_FLAGS, ModelShape) live in src/nn/shape.ts: every variant may read them.
export { MODEL_FLAGS, type ModelShape } from '../nn/shape.js';

/** Which norm goes where (src/model/block.ts decides the wiring from these). */
export const NORM_PLACEMENT_FLAGS = [
  { name: 'norm_variant_attn', type: 'str', default: 'rmsnorm', choices: NORM_CHOICES, group: 'normalization', help: 'norm used inside every block' },
  {
    name: 'norm_variant_attn_layerlist', type: 'str', list: true, default: null, nullable: true, choices: NORM_CHOICES, group: 'normalization',
    help: 'norm inside each block, one per layer (repeats when shorter than n_layer; None: --norm_variant_attn in every block)', check: layerList,
  },
  { name: 'norm_variant_output', type: 'str', default: 'rmsnorm', choices: NORM_CHOICES, group: 'normalization', help: 'final norm before the LM head (ln_f)' },
  { name: 'use_pre_ln', type: 'bool', default: true, group: 'normalization', help: 'norm before attention and MLP' },
  { name: 'use_post_ln', type: 'bool', default: false, group: 'normalization', help: 'norm after each residual add' },
  { name: 'use_peri_ln', type: 'bool', default: false, group: 'normalization', help: 'norm on the output of attention and MLP, before the residual add' },
] as const satisfies readonly FlagSpec[];

export const ACTIVATION_FLAGS = [
  { name: 'activation_variant', type: 'str', default: 'gelu', choices: ACTIVATION_CHOICES, group: 'activation', help: 'MLP nonlinearity' },
  {
    name: 'activation_variant_layerlist', type: 'str', list: true, default: null, nullable: true, choices: ACTIVATION_CHOICES, group: 'activation',
    help: 'MLP nonlinearity of each block, one per layer (repeats when shorter than n_layer; None: --activation_variant in every block)', check: layerList,
  },
] as const satisfies readonly FlagSpec[];

/** The attention's normalization (docs/softmax.md); each variant's flags come from its own file. */
export const SOFTMAX_FLAGS = [
  { name: 'softmax_variant_attn', type: 'str', default: 'softmax', choices: SOFTMAX_CHOICES, group: 'softmax', help: 'the normalization of attention scores in every block (docs/softmax.md)' },
  {
    name: 'softmax_variant_output', type: 'str', default: 'softmax', choices: SOFTMAX_CHOICES, group: 'softmax',
    help: 'accepted for the framework\'s files; never affects training (the loss is cross-entropy on the logits), and `normlab sample` keeps softmax: in the framework this only acts in generate(), where consmax_v2, relumax and squareplus break sampling (docs/softmax.md)',
  },
  { name: 'disable_flash_attention', type: 'bool', default: false, group: 'softmax', help: 'accepted, no effect (normlab\'s attention gives the same values either way)' },
] as const satisfies readonly FlagSpec[];

/** Accepted from the framework's files, logging only: no effect on the math (docs/softmax.md). */
export const SOFTMAX_LOG_FLAGS = [
  { name: 'softmax_io_logging', type: 'bool', default: false, group: 'logging', help: 'accepted, no effect (the framework keeps softmax inputs and outputs for its own plots)' },
  { name: 'softmax_io_log_interval', type: 'int', default: 1, group: 'logging', help: 'accepted, no effect (with --softmax_io_logging)', check: atLeast(1) },
  { name: 'consmax_beta_gamma_logging', type: 'bool', default: false, group: 'logging', help: 'accepted, no effect (the learned β and γ are in every checkpoint and on the dashboard\'s run page)' },
] as const satisfies readonly FlagSpec[];

/** Training, data and logging: everything but the model. */
export const RUN_FLAGS = [
  // training
  { name: 'batch_size', type: 'int', default: 64, group: 'training', help: 'sequences per micro-batch', check: atLeast(1) },
  { name: 'max_iters', type: 'int', default: 3500, group: 'training', help: 'optimizer updates', check: atLeast(0) },
  { name: 'learning_rate', type: 'float', default: 1e-3, group: 'training', help: 'peak learning rate', check: atLeast(0) },
  { name: 'min_lr', type: 'float', default: 1e-4, group: 'training', help: 'learning rate at the end of the cosine decay', check: atLeast(0) },
  { name: 'decay_lr', type: 'bool', default: false, group: 'training', help: 'linear warm-up then cosine decay' },
  { name: 'warmup_iters', type: 'int', default: 100, group: 'training', help: 'warm-up iterations (with --decay_lr)', check: atLeast(0) },
  { name: 'lr_decay_iters', type: 'int', default: 3500, group: 'training', help: 'iteration where the cosine decay reaches min_lr', check: atLeast(0) },
  { name: 'weight_decay', type: 'float', default: 0.1, group: 'training', help: 'AdamW decoupled weight decay (2-D+ tensors only)', check: atLeast(0) },
  { name: 'beta1', type: 'float', default: 0.9, group: 'training', help: 'AdamW beta1', check: inUnitInterval },
  { name: 'beta2', type: 'float', default: 0.99, group: 'training', help: 'AdamW beta2', check: inUnitInterval },
  { name: 'grad_clip', type: 'float', default: 1.0, group: 'training', help: 'global gradient-norm clip (0 disables)', check: atLeast(0) },
  { name: 'gradient_accumulation_steps', type: 'int', default: 1, group: 'training', help: 'micro-batches per update', check: atLeast(1) },
  {
    name: 'init_from', type: 'str', default: 'scratch', group: 'training', help: "'scratch', 'resume' (continue out_dir: where it was stopped, else from its checkpoint), or a .safetensors file",
    check: (v) => (typeof v !== 'string' || v === 'scratch' || v === 'resume' || v.endsWith('.safetensors') ? null
      : `--init_from ${JSON.stringify(v)}: expected scratch, resume, or a path to a .safetensors file`),
  },
  { name: 'seed', type: 'int', default: 1337, group: 'training', help: 'seed of every random draw' },
  { name: 'backend', type: 'str', default: 'auto', choices: ['auto', 'ts', 'native', 'wasm'], group: 'training', help: 'compute backend (auto: native when built, else wasm, else ts)' },

  // data
  { name: 'dataset', type: 'str', default: 'shakespeare_char', group: 'data', help: 'folder under data/ made by `normlab prepare`', check: nonEmpty },
  { name: 'data_dir', type: 'str', default: 'data', group: 'data', help: 'folder holding the datasets (<data_dir>/<dataset>/train.bin, val.bin, meta.json)', check: nonEmpty },
  { name: 'tokenizer', type: 'str', default: null, nullable: true, choices: TOKENIZERS, group: 'data', help: "how the dataset's ids were made (None: from its meta.json); gpt2 loads train.bin/val.bin made by nanoGPT, which have no meta.json" },
  { name: 'vocab_multiple', type: 'int', default: null, nullable: true, group: 'data', help: "round the model's vocab_size up to a multiple of this (64: GPT-2's 50257 becomes nanoGPT's 50304); None: the dataset's vocab_size", check: atLeast(1, ' (or None for the dataset\'s vocab_size)') },

  // logging
  { name: 'out_dir', type: 'str', default: 'out', group: 'logging', help: 'where checkpoints and logs go', check: nonEmpty },
  { name: 'eval_interval', type: 'int', default: 250, group: 'logging', help: 'evaluate every this many iterations', check: atLeast(1) },
  { name: 'eval_iters', type: 'int', default: 200, group: 'logging', help: 'batches per evaluation, per split', check: atLeast(1) },
  { name: 'log_interval', type: 'int', default: 10, group: 'logging', help: 'write a training log line every this many iterations', check: atLeast(1) },
  { name: 'always_save_checkpoint', type: 'bool', default: false, group: 'logging', help: 'checkpoint at every evaluation, not only on a new best val loss' },
  { name: 'max_sample_tokens', type: 'int', default: null, nullable: true, group: 'logging', help: 'print a sample of this many tokens at each evaluation', check: atLeast(1, ' (or None for no samples)') },
  { name: 'tensorboard_log', type: 'bool', default: true, group: 'logging', help: 'write TensorBoard event files to out_dir' },
  { name: 'progress', type: 'bool', default: true, group: 'logging', help: 'progress bar on the terminal' },
  { name: 'overwrite', type: 'bool', default: false, group: 'logging', help: 'allow a scratch run to replace a run already in out_dir' },
  ...SOFTMAX_LOG_FLAGS,
] as const satisfies readonly FlagSpec[];

/**
 * The flags the variants of a registry declare, under `group`, each once (variants may share a flag
 * object, as pfla and pfla_le do). Two different declarations of one name, or a variant flag named
 * like a core flag, are a programming error: thrown when the module loads, so no test can miss it.
 */
export function variantFlags(registry: Record<string, { name: string; flags?: Registry[string]['flags'] }>, group: FlagGroup, taken: ReadonlySet<string>): FlagSpec[] {
  const seen = new Map<string, unknown>(), out: FlagSpec[] = [];
  for (const v of Object.values(registry)) {
    for (const f of v.flags ?? []) {
      const prev = seen.get(f.name);
      if (prev === f) continue;
      if (prev !== undefined || taken.has(f.name)) {
        throw new Error(`variant ${v.name}: flag --${f.name} is declared twice (share one declaration, or rename it)`);
      }
      seen.set(f.name, f);
      out.push({ ...f, group });
    }
  }
  return out;
}

const CORE: readonly FlagSpec[] = [...MODEL_FLAGS, ...NORM_PLACEMENT_FLAGS, ...ACTIVATION_FLAGS, ...QUANT_FLAGS, ...RUN_FLAGS];
const coreNames = new Set(CORE.map((f) => f.name));
const NORM_FLAGS = variantFlags(norms, 'normalization', coreNames);
const ACT_VARIANT_FLAGS = variantFlags(activations, 'activation', new Set([...coreNames, ...NORM_FLAGS.map((f) => f.name)]));
const SOFTMAX_VARIANT_FLAGS = variantFlags(softmaxes, 'softmax',
  new Set([...coreNames, ...SOFTMAX_FLAGS.map((f) => f.name), ...NORM_FLAGS.map((f) => f.name), ...ACT_VARIANT_FLAGS.map((f) => f.name)]));

/** The train table, in --help order: model, normalization (placement, then each norm's flags),
 * activation (the choice, then each activation's flags), quantization, training, data, logging. */
export const FLAGS: readonly FlagSpec[] = [
  ...MODEL_FLAGS, ...NORM_PLACEMENT_FLAGS, ...NORM_FLAGS, ...ACTIVATION_FLAGS, ...ACT_VARIANT_FLAGS,
  ...SOFTMAX_FLAGS, ...SOFTMAX_VARIANT_FLAGS, ...QUANT_FLAGS, ...RUN_FLAGS,
];

/** Names of the train table: every TrainConfig key (vocab_size aside). */
export type TrainFlagName = Exclude<keyof TrainConfig, 'vocab_size'>;

/** A train flag reused by another command: same name, type and default, its own group and help. */
function shared(name: TrainFlagName, group: FlagGroup, help: string): FlagSpec {
  const f = FLAGS.find((g) => g.name === name);
  if (!f) throw new Error(`no train flag ${name}`);
  return { ...f, group, help };
}

// `normlab sample`: nanoGPT's sample.py defaults. out_dir, seed, data_dir and backend mean what they
// mean for train, so they come from the train table.
export const SAMPLE_FLAGS: readonly FlagSpec[] = [
  shared('out_dir', 'data', 'run folder holding ckpt.safetensors and state.json'),
  shared('data_dir', 'data', 'folder holding the datasets (for the vocabulary in meta.json)'),
  { name: 'start', type: 'str', default: '\n', group: 'sampling', help: 'prompt text the samples continue' },
  { name: 'num_samples', type: 'int', default: 10, group: 'sampling', help: 'number of samples to draw', check: atLeast(1) },
  { name: 'max_new_tokens', type: 'int', default: 500, group: 'sampling', help: `tokens generated per sample (at most ${MAX_NEW_TOKENS})`, check: atMost(MAX_NEW_TOKENS, 0) },
  { name: 'temperature', type: 'float', default: 0.8, group: 'sampling', help: '1.0 = no change, < 1.0 = less random, > 1.0 = more random', check: positive },
  { name: 'top_k', type: 'int', default: 200, nullable: true, group: 'sampling', help: 'keep only the k most likely tokens (None: all)', check: atLeast(1, ' (or None for all tokens)') },
  shared('seed', 'sampling', 'seed of the sampling generator'),
  shared('backend', 'sampling', 'compute backend (auto: native when built, else wasm, else ts)'),
];

// `normlab eval`: a checkpoint under quantization flags (docs/quantization.md, "Post-training evaluation").
export const EVAL_FLAGS: readonly FlagSpec[] = [
  { name: 'init_from', type: 'str', default: null, nullable: true, group: 'data', help: 'the checkpoint to evaluate (a .safetensors file written by normlab train)' },
  { name: 'bits', type: 'int', list: true, default: null, nullable: true, group: 'quantization', help: 'evaluate at each of these widths in turn, applied to every quantized point (e.g. 16 8 6 4 3 2; None: the flags as given)', check: (v, _c, name) => (Array.isArray(v) && v.some((b) => !(b >= 1 && b <= 16)) ? `--${name} ${v.join(' ')}: every width must be from 1 to 16` : null) },
  { name: 'json', type: 'bool', default: false, group: 'logging', help: 'print the rows as JSON lines' },
  shared('dataset', 'data', 'dataset whose val and train splits are evaluated'),
  shared('data_dir', 'data', 'folder holding the datasets'),
  shared('batch_size', 'training', 'sequences per batch'),
  shared('eval_iters', 'training', 'batches per split (the same batches for every row)'),
  shared('seed', 'training', 'seed of the batches drawn'),
  shared('backend', 'training', 'compute backend (auto: native when built, else wasm, else ts)'),
  ...QUANT_FLAGS,
];

// `normlab export`: a checkpoint's quantized weights as integers (docs/quantization.md, "Export for hardware").
export const EXPORT_FLAGS: readonly FlagSpec[] = [
  { name: 'init_from', type: 'str', default: null, nullable: true, group: 'data', help: 'the checkpoint to export (a .safetensors file written by normlab train)' },
  { name: 'quantized', type: 'bool', default: false, group: 'data', help: 'write the quantized weights as integers with scale and zero point (required)' },
  { name: 'out', type: 'str', default: null, nullable: true, group: 'data', help: 'the .safetensors file to write' },
  shared('seed', 'training', 'seed of stochastic_quant rounding'),
  ...QUANT_FLAGS,
];

// `normlab prepare <dataset>`.
export const PREPARE_FLAGS: readonly FlagSpec[] = [
  { name: 'input', type: 'str', default: null, nullable: true, group: 'data', help: 'UTF-8 text file to make the dataset from (None: <data_dir>/<dataset>/input.txt, or the text shipped for shakespeare and shakespeare_char)' },
  shared('tokenizer', 'data', "char (the text's own characters) or gpt2 (GPT-2 BPE, ids as tiktoken's); None: gpt2 for shakespeare, else char"),
  shared('data_dir', 'data', 'folder the dataset folder is written into (<data_dir>/<dataset>/)'),
];

export function defaultConfig(): TrainConfig {
  const cfg: Record<string, unknown> = { vocab_size: 0 };
  for (const f of FLAGS) cfg[f.name] = f.default;
  return cfg as unknown as TrainConfig;
}

/** Groups whose flags define the model's shape and math. */
const MODEL_GROUPS: readonly FlagGroup[] = ['model', 'normalization', 'activation', 'softmax', 'quantization'];

/** The flags that define the model's shape and math, saved with every checkpoint: vocab_size (from
 * the dataset) and every flag of the model, normalization, activation and quantization groups, in table order. */
export const MODEL_KEYS: readonly (keyof ModelConfig)[] = [
  'vocab_size', ...FLAGS.filter((f) => MODEL_GROUPS.includes(f.group)).map((f) => f.name as keyof ModelConfig),
];
