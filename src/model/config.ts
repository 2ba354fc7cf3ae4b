// Every flag of the train command, typed. Defaults live in one place: the flag table in
// src/config/flags.ts (defaultConfig() builds a Config from it).
export type NormName = 'layernorm' | 'rmsnorm' | 'prmsnorm' | 'krmsnorm' | 'hyperspherenorm' | 'dact' | 'identity';
export type ActivationName =
  | 'celu' | 'elu' | 'gelu' | 'gelu_shifted' | 'glu' | 'leaky_relu' | 'learned_spline' | 'mish'
  | 'piecewise' | 'pfla' | 'pfla_le' | 'prelu' | 'relu' | 'relu6' | 'rrelu' | 'selu' | 'sigmoid'
  | 'silu' | 'softplus' | 'softsign' | 'squared_relu' | 'tanh' | 'identity';

export interface ModelConfig {
  vocab_size: number; // from the dataset's meta.json, not a flag
  n_layer: number;
  n_head: number;
  n_embd: number;
  block_size: number;
  dropout: number;
  bias: boolean;
  mlp_expansion_factor: number;
  mlp_size: number | null;
  wte_weight_tying: boolean;

  norm_variant_attn: NormName;
  norm_variant_output: NormName;
  use_pre_ln: boolean;
  use_post_ln: boolean;
  use_peri_ln: boolean;
  prmsnorm_pct: number;
  krmsnorm_num: number;
  krmsnorm_quantize_type: 'int8' | 'int16' | 'none';
  krmsnorm_enable_gain: boolean;
  krmsnorm_selection_type: 'first' | 'last' | 'random';
  krmsnorm_recompute_percentage: number | null;
  hsnorm_gain: boolean;
  hsnorm_radius: number | null;
  hsnorm_radius_learning: boolean;
  dact_activation: ActivationName;
  dact_use_gamma: boolean;
  dact_use_beta: boolean;
  dact_alpha_init: number;
  dact_use_alpha: boolean;

  activation_variant: ActivationName;
  shifted_gelu_learnable_shift: boolean;
  shifted_gelu_initial_shift: number;
  pla_num_points: number;
  pla_left_bound: number;
  pla_right_bound: number;
  pfla_num_points: number;
  pfla_left_bound: number;
  pfla_right_bound: number;
  lsa_num_knots: number;
}

export interface TrainConfig extends ModelConfig {
  dataset: string;
  out_dir: string;
  batch_size: number;
  max_iters: number;
  learning_rate: number;
  min_lr: number;
  decay_lr: boolean;
  warmup_iters: number;
  lr_decay_iters: number;
  weight_decay: number;
  beta1: number;
  beta2: number;
  grad_clip: number;
  gradient_accumulation_steps: number;
  eval_interval: number;
  eval_iters: number;
  log_interval: number;
  always_save_checkpoint: boolean;
  init_from: string; // 'scratch' | 'resume' | path to a .safetensors file
  seed: number;
  max_sample_tokens: number | null;
  backend: 'auto' | 'ts' | 'native';
  tensorboard_log: boolean;
  progress: boolean;
  overwrite: boolean;
  data_dir: string;
}
