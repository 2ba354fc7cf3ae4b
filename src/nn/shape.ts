// The model's shape: the flags every variant may read besides its own (n_embd, bias, ...). They are
// declared here, below the variants, so that a variant's config type (src/nn/variant.ts) needs nothing
// from the config layer above; src/config/flags.ts puts them first in the train table.
import { inUnitInterval, type FlagSpec, type FlagValues } from '../util/schema.js';
import { atLeast } from './variant.js';

/** The model's shape: what every variant may read besides its own flags. */
export const MODEL_FLAGS = [
  { name: 'n_layer', type: 'int', default: 6, group: 'model', help: 'number of transformer blocks', check: atLeast(1) },
  { name: 'n_head', type: 'int', default: 6, group: 'model', help: 'attention heads per block (must divide n_embd)', check: atLeast(1) },
  { name: 'n_embd', type: 'int', default: 384, group: 'model', help: 'embedding width C', check: atLeast(1) },
  { name: 'block_size', type: 'int', default: 256, group: 'model', help: 'context length in tokens', check: atLeast(1) },
  { name: 'dropout', type: 'float', default: 0.0, group: 'model', help: 'dropout probability (embeddings, attention, residual)', check: inUnitInterval },
  { name: 'bias', type: 'bool', default: false, group: 'model', help: 'biases in linear layers and layernorm' },
  { name: 'mlp_expansion_factor', type: 'int', default: 4, group: 'model', help: 'MLP hidden size = factor * n_embd', check: atLeast(1) },
  { name: 'mlp_size', type: 'int', default: null, nullable: true, group: 'model', help: 'MLP hidden size (overrides mlp_expansion_factor)', check: atLeast(1, ' (or None to use --mlp_expansion_factor)') },
  { name: 'wte_weight_tying', type: 'bool', default: true, group: 'model', help: 'tie lm_head.weight to transformer.wte.weight' },
  {
    name: 'dtype', type: 'str', default: 'float32', choices: ['float32', 'bfloat16'], group: 'model',
    help: 'number format of the matrix products\' operands (bfloat16: rounded to bfloat16, float32 sums; everything else float32; docs/dtype.md)',
    refused: { float16: 'no float16 matrix product on the CPUs normlab runs on (it would be emulated, slower than float32); use --dtype bfloat16 (same 16-bit operands, float32 range) or float32' },
  },
] as const satisfies readonly FlagSpec[];

/** The shape flags, and vocab_size (from the dataset's meta.json, not a flag). */
export type ModelShape = FlagValues<typeof MODEL_FLAGS> & { vocab_size: number };
