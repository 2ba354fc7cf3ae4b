// The quantization flags (docs/quantization.md): the reference's names, types and defaults
// (ReaLLM-Forge train_args.py, "Quantization"), with the checks that refuse what cannot work:
// bits outside 1..16 (2..16 for symmetric and affine), a _bits or _method flag whose quantizer is
// off, a scheduler without --full_quant_iteration, --quantize_linear_* without quantized_linear.
import { atLeast } from '../nn/variant.js';
import { ATTN_POINTS, LINEAR_LAYERS, LINEAR_VARIANTS, MLP_POINTS, linearVariant, pointOn } from '../nn/quant.js';
import { QUANT_METHODS } from '../engine/quantize.js';
import type { FlagSpec } from '../util/schema.js';

const bitsCheck: FlagSpec['check'] = (v, _c, name) =>
  (typeof v === 'number' && !(v >= 1 && v <= 16) ? `--${name} is ${v}; bits must be from 1 to 16` : null);
const unitLevel: FlagSpec['check'] = (v, _c, name) =>
  (typeof v === 'number' && !(v >= 0 && v <= 1) ? `--${name} is ${v}; it must be in [0, 1]` : null);

export const QUANT_FLAGS = [
  { name: 'activations_quant_method', type: 'str', default: 'affine_quant', choices: QUANT_METHODS, group: 'quantization', help: 'quantizer of every activation point (one scale per tensor)' },
  { name: 'quantize_mlp_act', type: 'bool', default: false, group: 'quantization', help: 'quantize all four MLP activation points' },
  { name: 'quantize_mlp_act_input', type: 'bool', default: false, group: 'quantization', help: 'quantize the MLP\'s input, before c_fc' },
  { name: 'quantize_mlp_act_activation_input', type: 'bool', default: false, group: 'quantization', help: 'quantize c_fc\'s output, into the activation' },
  { name: 'quantize_mlp_act_activation_output', type: 'bool', default: false, group: 'quantization', help: 'quantize the activation\'s output, into c_proj' },
  { name: 'quantize_mlp_act_output', type: 'bool', default: false, group: 'quantization', help: 'quantize c_proj\'s output' },
  { name: 'quantize_mlp_act_bits', type: 'int', default: 8, group: 'quantization', help: 'bits of the MLP activation points', check: bitsCheck },
  { name: 'quantize_mlp_act_input_bits', type: 'int', default: null, nullable: true, group: 'quantization', help: 'bits of --quantize_mlp_act_input (None: --quantize_mlp_act_bits)', check: bitsCheck },
  { name: 'quantize_mlp_act_activation_input_bits', type: 'int', default: null, nullable: true, group: 'quantization', help: 'bits of --quantize_mlp_act_activation_input (None: --quantize_mlp_act_bits)', check: bitsCheck },
  { name: 'quantize_mlp_act_activation_output_bits', type: 'int', default: null, nullable: true, group: 'quantization', help: 'bits of --quantize_mlp_act_activation_output (None: --quantize_mlp_act_bits)', check: bitsCheck },
  { name: 'quantize_mlp_act_output_bits', type: 'int', default: null, nullable: true, group: 'quantization', help: 'bits of --quantize_mlp_act_output (None: --quantize_mlp_act_bits)', check: bitsCheck },
  { name: 'quantize_attn_act', type: 'bool', default: false, group: 'quantization', help: 'quantize all eight attention activation points' },
  { name: 'quantize_attn_act_input', type: 'bool', default: false, group: 'quantization', help: 'quantize attention\'s input, before c_attn_q/k/v' },
  { name: 'quantize_attn_act_qk_mult_q_input', type: 'bool', default: false, group: 'quantization', help: 'quantize q, into q k^T' },
  { name: 'quantize_attn_act_qk_mult_k_input', type: 'bool', default: false, group: 'quantization', help: 'quantize k, into q k^T' },
  { name: 'quantize_attn_act_softmax_input', type: 'bool', default: false, group: 'quantization', help: 'quantize the scaled scores into the softmax (range over the causal lower triangle)' },
  { name: 'quantize_attn_act_pv_mult_p_input', type: 'bool', default: false, group: 'quantization', help: 'quantize the probabilities, into p v (range over the causal lower triangle)' },
  { name: 'quantize_attn_act_pv_mult_v_input', type: 'bool', default: false, group: 'quantization', help: 'quantize v, into p v' },
  { name: 'quantize_attn_act_pv_mult_output', type: 'bool', default: false, group: 'quantization', help: 'quantize p v, into c_proj' },
  { name: 'quantize_attn_act_output', type: 'bool', default: false, group: 'quantization', help: 'quantize attention\'s c_proj output' },
  { name: 'quantize_attn_act_bits', type: 'int', default: 8, group: 'quantization', help: 'bits of the attention activation points', check: bitsCheck },
  { name: 'quantize_attn_act_input_bits', type: 'int', default: null, nullable: true, group: 'quantization', help: 'bits of --quantize_attn_act_input (None: --quantize_attn_act_bits)', check: bitsCheck },
  { name: 'quantize_attn_act_qk_mult_q_input_bits', type: 'int', default: null, nullable: true, group: 'quantization', help: 'bits of --quantize_attn_act_qk_mult_q_input (None: --quantize_attn_act_bits)', check: bitsCheck },
  { name: 'quantize_attn_act_qk_mult_k_input_bits', type: 'int', default: null, nullable: true, group: 'quantization', help: 'bits of --quantize_attn_act_qk_mult_k_input (None: --quantize_attn_act_bits)', check: bitsCheck },
  { name: 'quantize_attn_act_softmax_input_bits', type: 'int', default: null, nullable: true, group: 'quantization', help: 'bits of --quantize_attn_act_softmax_input (None: --quantize_attn_act_bits)', check: bitsCheck },
  { name: 'quantize_attn_act_pv_mult_p_input_bits', type: 'int', default: null, nullable: true, group: 'quantization', help: 'bits of --quantize_attn_act_pv_mult_p_input (None: --quantize_attn_act_bits)', check: bitsCheck },
  { name: 'quantize_attn_act_pv_mult_v_input_bits', type: 'int', default: null, nullable: true, group: 'quantization', help: 'bits of --quantize_attn_act_pv_mult_v_input (None: --quantize_attn_act_bits)', check: bitsCheck },
  { name: 'quantize_attn_act_pv_mult_output_bits', type: 'int', default: null, nullable: true, group: 'quantization', help: 'bits of --quantize_attn_act_pv_mult_output (None: --quantize_attn_act_bits)', check: bitsCheck },
  { name: 'quantize_attn_act_output_bits', type: 'int', default: null, nullable: true, group: 'quantization', help: 'bits of --quantize_attn_act_output (None: --quantize_attn_act_bits)', check: bitsCheck },
  { name: 'linear_variant_attn', type: 'str', default: 'linear', choices: LINEAR_VARIANTS, group: 'quantization', help: 'linear layers of attention (quantized_linear: fake-quantized weights)' },
  { name: 'linear_variant_q', type: 'str', default: null, nullable: true, choices: LINEAR_VARIANTS, group: 'quantization', help: 'c_attn_q (None: --linear_variant_attn)' },
  { name: 'linear_variant_k', type: 'str', default: null, nullable: true, choices: LINEAR_VARIANTS, group: 'quantization', help: 'c_attn_k (None: --linear_variant_attn)' },
  { name: 'linear_variant_v', type: 'str', default: null, nullable: true, choices: LINEAR_VARIANTS, group: 'quantization', help: 'c_attn_v (None: --linear_variant_attn)' },
  { name: 'linear_variant_attn_proj', type: 'str', default: null, nullable: true, choices: LINEAR_VARIANTS, group: 'quantization', help: 'attention c_proj (None: --linear_variant_attn)' },
  { name: 'linear_variant_mlp', type: 'str', default: 'linear', choices: LINEAR_VARIANTS, group: 'quantization', help: 'linear layers of the MLP' },
  { name: 'linear_variant_mlp_up', type: 'str', default: null, nullable: true, choices: LINEAR_VARIANTS, group: 'quantization', help: 'c_fc (None: --linear_variant_mlp)' },
  { name: 'linear_variant_mlp_down', type: 'str', default: null, nullable: true, choices: LINEAR_VARIANTS, group: 'quantization', help: 'MLP c_proj (None: --linear_variant_mlp)' },
  { name: 'quantize_linear_method', type: 'str', default: 'affine_quant', choices: QUANT_METHODS, group: 'quantization', help: 'quantizer of quantized_linear weights (the whole matrix as one tensor; bias float)' },
  { name: 'quantize_linear_bits', type: 'int', default: 8, group: 'quantization', help: 'bits of quantized_linear weights', check: bitsCheck },
  { name: 'quantize_linear_attn_q_method', type: 'str', default: null, nullable: true, choices: QUANT_METHODS, group: 'quantization', help: 'quantizer of c_attn_q (None: --quantize_linear_method)' },
  { name: 'quantize_linear_attn_q_bits', type: 'int', default: null, nullable: true, group: 'quantization', help: 'bits of c_attn_q (None: --quantize_linear_bits)', check: bitsCheck },
  { name: 'quantize_linear_attn_k_method', type: 'str', default: null, nullable: true, choices: QUANT_METHODS, group: 'quantization', help: 'quantizer of c_attn_k (None: --quantize_linear_method)' },
  { name: 'quantize_linear_attn_k_bits', type: 'int', default: null, nullable: true, group: 'quantization', help: 'bits of c_attn_k (None: --quantize_linear_bits)', check: bitsCheck },
  { name: 'quantize_linear_attn_v_method', type: 'str', default: null, nullable: true, choices: QUANT_METHODS, group: 'quantization', help: 'quantizer of c_attn_v (None: --quantize_linear_method)' },
  { name: 'quantize_linear_attn_v_bits', type: 'int', default: null, nullable: true, group: 'quantization', help: 'bits of c_attn_v (None: --quantize_linear_bits)', check: bitsCheck },
  { name: 'quantize_linear_attn_proj_method', type: 'str', default: null, nullable: true, choices: QUANT_METHODS, group: 'quantization', help: 'quantizer of attention c_proj (None: --quantize_linear_method)' },
  { name: 'quantize_linear_attn_proj_bits', type: 'int', default: null, nullable: true, group: 'quantization', help: 'bits of attention c_proj (None: --quantize_linear_bits)', check: bitsCheck },
  { name: 'quantize_linear_mlp_up_method', type: 'str', default: null, nullable: true, choices: QUANT_METHODS, group: 'quantization', help: 'quantizer of c_fc (None: --quantize_linear_method)' },
  { name: 'quantize_linear_mlp_up_bits', type: 'int', default: null, nullable: true, group: 'quantization', help: 'bits of c_fc (None: --quantize_linear_bits)', check: bitsCheck },
  { name: 'quantize_linear_mlp_down_method', type: 'str', default: null, nullable: true, choices: QUANT_METHODS, group: 'quantization', help: 'quantizer of MLP c_proj (None: --quantize_linear_method)' },
  { name: 'quantize_linear_mlp_down_bits', type: 'int', default: null, nullable: true, group: 'quantization', help: 'bits of MLP c_proj (None: --quantize_linear_bits)', check: bitsCheck },
  { name: 'quantization_warmup_iters', type: 'int', default: 100, group: 'quantization', help: 'updates trained with float weights before quantized_linear quantizes them (evaluation always quantizes)', check: atLeast(0) },
  { name: 'quantize_wte', type: 'bool', default: null, nullable: true, group: 'quantization', help: 'quantize the token embedding table (as one tensor; the tied LM head stays float)' },
  { name: 'quantize_wte_method', type: 'str', default: 'affine_quant', choices: QUANT_METHODS, group: 'quantization', help: 'quantizer of the token embedding table' },
  { name: 'quantize_wte_bits', type: 'int', default: 8, group: 'quantization', help: 'bits of the token embedding table', check: bitsCheck },
  { name: 'quantize_wpe', type: 'bool', default: null, nullable: true, group: 'quantization', help: 'quantize the position embedding table (as one tensor)' },
  { name: 'quantize_wpe_method', type: 'str', default: 'affine_quant', choices: QUANT_METHODS, group: 'quantization', help: 'quantizer of the position embedding table' },
  { name: 'quantize_wpe_bits', type: 'int', default: 8, group: 'quantization', help: 'bits of the position embedding table', check: bitsCheck },
  { name: 'quant_scheduler', type: 'str', default: null, nullable: true, choices: ['static', 'linear'], group: 'quantization', help: "training blends x + level (x' - x): static keeps --start_quant_level, linear grows it to 1 at --full_quant_iteration (evaluation: level 1)" },
  { name: 'start_quant_level', type: 'float', default: 0.0, group: 'quantization', help: 'quantization level at iteration 0 (0: float, 1: fully quantized)', check: unitLevel },
  { name: 'full_quant_iteration', type: 'int', default: null, nullable: true, group: 'quantization', help: 'iteration where the linear scheduler reaches level 1 (required with --quant_scheduler)', check: atLeast(1, ' (or None without a scheduler)') },
] as const satisfies readonly FlagSpec[];

const DEFAULTS = new Map<string, unknown>(QUANT_FLAGS.map((f) => [f.name, f.default]));
const given = (c: Record<string, unknown>, k: string) => k in c && c[k] !== DEFAULTS.get(k);
const needsTwo = (method: unknown) => method === 'symmetric_quant' || method === 'affine_quant';

/**
 * Problems of the quantization flags taken together (the flags' own checks come first). A _bits or
 * _method flag counts as given when it differs from its default (a config does not say which flags
 * were typed); the per-point and per-layer ones default to None, so any value of theirs is given.
 */
export function quantProblems(c: Record<string, unknown>): string[] {
  const errors: string[] = [];
  const bitsFor = (flag: string, bits: unknown, method: unknown) => {
    if (typeof bits === 'number' && bits < 2 && needsTwo(method)) errors.push(`--${flag} is ${bits} with ${method}: symmetric and affine need 2 to 16 bits`);
  };
  for (const [g, points] of [['mlp', MLP_POINTS], ['attn', ATTN_POINTS]] as const) {
    let anyOn = false;
    for (const p of points) {
      const on = pointOn(c, g, p), flag = `quantize_${g}_act_${p}_bits`;
      anyOn ||= on;
      if (!on && c[flag] !== null && c[flag] !== undefined) errors.push(`--${flag} is given but --quantize_${g}_act_${p} is off: add --quantize_${g}_act_${p} (or --quantize_${g}_act), or drop the bits`);
      if (on) bitsFor(c[flag] !== null && c[flag] !== undefined ? flag : `quantize_${g}_act_bits`, c[flag] ?? c[`quantize_${g}_act_bits`], c.activations_quant_method);
    }
    if (!anyOn && given(c, `quantize_${g}_act_bits`)) errors.push(`--quantize_${g}_act_bits is given but no ${g} activation point is quantized: add --quantize_${g}_act (or one point's flag), or drop the bits`);
  }
  const anyAct = MLP_POINTS.some((p) => pointOn(c, 'mlp', p)) || ATTN_POINTS.some((p) => pointOn(c, 'attn', p));
  if (!anyAct && given(c, 'activations_quant_method')) errors.push('--activations_quant_method is given but no activation point is quantized: add --quantize_mlp_act or --quantize_attn_act (or a point), or drop it');
  let anyLinear = false;
  for (const l of LINEAR_LAYERS) {
    const q = linearVariant(c, l) === 'quantized_linear';
    anyLinear ||= q;
    for (const what of ['method', 'bits']) {
      const flag = `quantize_linear_${l.key}_${what}`;
      if (!q && c[flag] !== null && c[flag] !== undefined) errors.push(`--${flag} is given but this layer is not quantized_linear: add --linear_variant_${l.variant} quantized_linear (or --linear_variant_${l.group} quantized_linear), or drop it`);
    }
    if (q) {
      const own = c[`quantize_linear_${l.key}_bits`];
      bitsFor(own !== null && own !== undefined ? `quantize_linear_${l.key}_bits` : 'quantize_linear_bits', own ?? c.quantize_linear_bits,
        c[`quantize_linear_${l.key}_method`] ?? c.quantize_linear_method);
    }
  }
  if (!anyLinear) {
    for (const k of ['quantize_linear_method', 'quantize_linear_bits']) {
      if (given(c, k)) errors.push(`--${k} is given but no linear layer is quantized_linear: add --linear_variant_attn quantized_linear and/or --linear_variant_mlp quantized_linear, or drop it`);
    }
  }
  for (const e of ['wte', 'wpe']) {
    const on = c[`quantize_${e}`] === true;
    for (const k of [`quantize_${e}_method`, `quantize_${e}_bits`]) {
      if (!on && given(c, k)) errors.push(`--${k} is given but --quantize_${e} is off: add --quantize_${e}, or drop it`);
    }
    if (on) bitsFor(`quantize_${e}_bits`, c[`quantize_${e}_bits`], c[`quantize_${e}_method`]);
  }
  if (c.quant_scheduler !== null && c.quant_scheduler !== undefined && (c.full_quant_iteration === null || c.full_quant_iteration === undefined)) {
    errors.push(`--quant_scheduler ${c.quant_scheduler} needs --full_quant_iteration N (the iteration where quantization is full)`);
  }
  if ((c.quant_scheduler === null || c.quant_scheduler === undefined) && (given(c, 'start_quant_level') || given(c, 'full_quant_iteration'))) {
    errors.push('--start_quant_level and --full_quant_iteration need --quant_scheduler static or linear');
  }
  return errors;
}
