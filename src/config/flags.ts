// The flag tables: `normlab train`'s (name, type, default, group, help), and the sample and prepare
// commands'. It is the one place where defaults live; the parser, --help, the sweep validator,
// defaultConfig() and the checkpoint metadata (MODEL_KEYS) all read it.
// Names, types and defaults follow the user's document exactly.
import type { ModelConfig, TrainConfig } from '../model/config.js';
import type { FlagGroup, FlagSpec } from './schema.js';

export const NORM_CHOICES = ['krmsnorm', 'prmsnorm', 'rmsnorm', 'layernorm', 'hyperspherenorm', 'dact', 'identity'] as const;
export const ACTIVATION_CHOICES = [
  'celu', 'elu', 'gelu', 'gelu_shifted', 'glu', 'leaky_relu', 'learned_spline', 'mish', 'piecewise', 'pfla',
  'pfla_le', 'prelu', 'relu', 'relu6', 'rrelu', 'selu', 'sigmoid', 'silu', 'softplus', 'softsign',
  'squared_relu', 'tanh', 'identity',
] as const;

/** Names of the train table: every TrainConfig key, plus data_dir (where datasets live). */
export type TrainFlagName = keyof TrainConfig | 'data_dir';

export const FLAGS: readonly FlagSpec<TrainFlagName>[] = [
  // model
  { name: 'n_layer', type: 'int', default: 6, group: 'model', help: 'number of transformer blocks' },
  { name: 'n_head', type: 'int', default: 6, group: 'model', help: 'attention heads per block (must divide n_embd)' },
  { name: 'n_embd', type: 'int', default: 384, group: 'model', help: 'embedding width C' },
  { name: 'block_size', type: 'int', default: 256, group: 'model', help: 'context length in tokens' },
  { name: 'dropout', type: 'float', default: 0.0, group: 'model', help: 'dropout probability (embeddings, attention, residual)' },
  { name: 'bias', type: 'bool', default: false, group: 'model', help: 'biases in linear layers and layernorm' },
  { name: 'mlp_expansion_factor', type: 'int', default: 4, group: 'model', help: 'MLP hidden size = factor * n_embd' },
  { name: 'mlp_size', type: 'int', default: null, nullable: true, group: 'model', help: 'MLP hidden size (overrides mlp_expansion_factor)' },
  { name: 'wte_weight_tying', type: 'bool', default: true, group: 'model', help: 'tie lm_head.weight to transformer.wte.weight' },

  // normalization
  { name: 'norm_variant_attn', type: 'str', default: 'rmsnorm', choices: NORM_CHOICES, group: 'normalization', help: 'norm used inside every block' },
  { name: 'norm_variant_output', type: 'str', default: 'rmsnorm', choices: NORM_CHOICES, group: 'normalization', help: 'final norm before the LM head (ln_f)' },
  { name: 'use_pre_ln', type: 'bool', default: true, group: 'normalization', help: 'norm before attention and MLP' },
  { name: 'use_post_ln', type: 'bool', default: false, group: 'normalization', help: 'norm after each residual add' },
  { name: 'use_peri_ln', type: 'bool', default: false, group: 'normalization', help: 'norm on the output of attention and MLP, before the residual add' },
  { name: 'prmsnorm_pct', type: 'float', default: 0.0625, group: 'normalization', help: 'prmsnorm: fraction of the leading entries used for the RMS' },
  { name: 'krmsnorm_num', type: 'int', default: 10, group: 'normalization', help: 'krmsnorm: number of entries k used for the RMS' },
  { name: 'krmsnorm_quantize_type', type: 'str', default: 'none', choices: ['int8', 'int16', 'none'], group: 'normalization', help: 'krmsnorm: fake quantization of the selected entries' },
  { name: 'krmsnorm_enable_gain', type: 'bool', default: true, group: 'normalization', help: 'krmsnorm: learnable gain' },
  { name: 'krmsnorm_selection_type', type: 'str', default: 'last', choices: ['first', 'last', 'random'], group: 'normalization', help: 'krmsnorm: which k entries' },
  { name: 'krmsnorm_recompute_percentage', type: 'float', default: null, nullable: true, group: 'normalization', help: 'krmsnorm: fall back to the full RMS when the partial one is off by more than this fraction' },
  { name: 'hsnorm_gain', type: 'bool', default: false, group: 'normalization', help: 'hyperspherenorm: learnable gain' },
  { name: 'hsnorm_radius', type: 'float', default: null, nullable: true, group: 'normalization', help: 'hyperspherenorm: radius (default sqrt(n_embd))' },
  { name: 'hsnorm_radius_learning', type: 'bool', default: false, group: 'normalization', help: 'hyperspherenorm: learnable radius' },
  { name: 'dact_activation', type: 'str', default: 'tanh', choices: ACTIVATION_CHOICES, group: 'normalization', help: 'dact: inner activation' },
  { name: 'dact_use_gamma', type: 'bool', default: true, group: 'normalization', help: 'dact: learnable per-channel gain gamma' },
  { name: 'dact_use_beta', type: 'bool', default: true, group: 'normalization', help: 'dact: learnable per-channel bias beta' },
  { name: 'dact_alpha_init', type: 'float', default: 1.0, group: 'normalization', help: 'dact: initial alpha' },
  { name: 'dact_use_alpha', type: 'bool', default: true, group: 'normalization', help: 'dact: learnable alpha' },

  // activation
  { name: 'activation_variant', type: 'str', default: 'gelu', choices: ACTIVATION_CHOICES, group: 'activation', help: 'MLP nonlinearity' },
  { name: 'shifted_gelu_learnable_shift', type: 'bool', default: true, group: 'activation', help: 'gelu_shifted: learnable shift' },
  { name: 'shifted_gelu_initial_shift', type: 'float', default: 0.0, group: 'activation', help: 'gelu_shifted: initial shift' },
  { name: 'pla_num_points', type: 'int', default: 7, group: 'activation', help: 'piecewise: number of points' },
  { name: 'pla_left_bound', type: 'float', default: -2.0, group: 'activation', help: 'piecewise: left bound' },
  { name: 'pla_right_bound', type: 'float', default: 2.0, group: 'activation', help: 'piecewise: right bound' },
  { name: 'pfla_num_points', type: 'int', default: 50, group: 'activation', help: 'pfla, pfla_le: number of points' },
  { name: 'pfla_left_bound', type: 'float', default: -10.0, group: 'activation', help: 'pfla, pfla_le: left bound' },
  { name: 'pfla_right_bound', type: 'float', default: 10.0, group: 'activation', help: 'pfla, pfla_le: right bound' },
  { name: 'lsa_num_knots', type: 'int', default: 30, group: 'activation', help: 'learned_spline: number of knots' },

  // training
  { name: 'batch_size', type: 'int', default: 64, group: 'training', help: 'sequences per micro-batch' },
  { name: 'max_iters', type: 'int', default: 3500, group: 'training', help: 'optimizer updates' },
  { name: 'learning_rate', type: 'float', default: 1e-3, group: 'training', help: 'peak learning rate' },
  { name: 'min_lr', type: 'float', default: 1e-4, group: 'training', help: 'learning rate at the end of the cosine decay' },
  { name: 'decay_lr', type: 'bool', default: false, group: 'training', help: 'linear warm-up then cosine decay' },
  { name: 'warmup_iters', type: 'int', default: 100, group: 'training', help: 'warm-up iterations (with --decay_lr)' },
  { name: 'lr_decay_iters', type: 'int', default: 3500, group: 'training', help: 'iteration where the cosine decay reaches min_lr' },
  { name: 'weight_decay', type: 'float', default: 0.1, group: 'training', help: 'AdamW decoupled weight decay (2-D+ tensors only)' },
  { name: 'beta1', type: 'float', default: 0.9, group: 'training', help: 'AdamW beta1' },
  { name: 'beta2', type: 'float', default: 0.99, group: 'training', help: 'AdamW beta2' },
  { name: 'grad_clip', type: 'float', default: 1.0, group: 'training', help: 'global gradient-norm clip (0 disables)' },
  { name: 'gradient_accumulation_steps', type: 'int', default: 1, group: 'training', help: 'micro-batches per update' },
  { name: 'init_from', type: 'str', default: 'scratch', group: 'training', help: "'scratch', 'resume' (continue out_dir), or a .safetensors file" },
  { name: 'seed', type: 'int', default: 1337, group: 'training', help: 'seed of every random draw' },
  { name: 'backend', type: 'str', default: 'auto', choices: ['auto', 'ts', 'native'], group: 'training', help: 'compute backend (auto: native when built, else ts)' },

  // data
  { name: 'dataset', type: 'str', default: 'shakespeare_char', group: 'data', help: 'folder under data/ made by `normlab prepare`' },
  { name: 'data_dir', type: 'str', default: 'data', group: 'data', help: 'folder holding the datasets (<data_dir>/<dataset>/train.bin, val.bin, meta.json)' },

  // logging
  { name: 'out_dir', type: 'str', default: 'out', group: 'logging', help: 'where checkpoints and logs go' },
  { name: 'eval_interval', type: 'int', default: 250, group: 'logging', help: 'evaluate every this many iterations' },
  { name: 'eval_iters', type: 'int', default: 200, group: 'logging', help: 'batches per evaluation, per split' },
  { name: 'log_interval', type: 'int', default: 10, group: 'logging', help: 'write a training log line every this many iterations' },
  { name: 'always_save_checkpoint', type: 'bool', default: false, group: 'logging', help: 'checkpoint at every evaluation, not only on a new best val loss' },
  { name: 'max_sample_tokens', type: 'int', default: null, nullable: true, group: 'logging', help: 'print a sample of this many tokens at each evaluation' },
  { name: 'tensorboard_log', type: 'bool', default: true, group: 'logging', help: 'write TensorBoard event files to out_dir' },
  { name: 'progress', type: 'bool', default: true, group: 'logging', help: 'progress bar on the terminal' },
  { name: 'overwrite', type: 'bool', default: false, group: 'logging', help: 'allow a scratch run to replace a run already in out_dir' },
];

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
  { name: 'num_samples', type: 'int', default: 10, group: 'sampling', help: 'number of samples to draw' },
  { name: 'max_new_tokens', type: 'int', default: 500, group: 'sampling', help: 'tokens generated per sample' },
  { name: 'temperature', type: 'float', default: 0.8, group: 'sampling', help: '1.0 = no change, < 1.0 = less random, > 1.0 = more random' },
  { name: 'top_k', type: 'int', default: 200, nullable: true, group: 'sampling', help: 'keep only the k most likely tokens (None: all)' },
  shared('seed', 'sampling', 'seed of the sampling generator'),
  shared('backend', 'sampling', 'compute backend (auto: native when built, else ts)'),
];

// `normlab prepare <dataset>`.
export const PREPARE_FLAGS: readonly FlagSpec[] = [
  { name: 'input', type: 'str', default: null, nullable: true, group: 'data', help: 'UTF-8 text file to make a char-level dataset from (None: <data_dir>/<dataset>/input.txt, or the text shipped for shakespeare_char)' },
  shared('data_dir', 'data', 'folder the dataset folder is written into (<data_dir>/<dataset>/)'),
];

export function defaultConfig(): TrainConfig {
  const cfg: Record<string, unknown> = { vocab_size: 0 };
  for (const f of FLAGS) cfg[f.name] = f.default;
  return cfg as unknown as TrainConfig;
}

/** Groups whose flags define the model's shape and math. */
const MODEL_GROUPS: readonly FlagGroup[] = ['model', 'normalization', 'activation'];

/** The flags that define the model's shape and math, saved with every checkpoint: vocab_size (from
 * the dataset) and every flag of the model, normalization and activation groups, in table order. */
export const MODEL_KEYS: readonly (keyof ModelConfig)[] = [
  'vocab_size', ...FLAGS.filter((f) => MODEL_GROUPS.includes(f.group)).map((f) => f.name as keyof ModelConfig),
];
