// The types of a config, derived from the flag tables (src/config/flags.ts) and from the flags each
// variant declares in its own file; nothing here restates a flag. Defaults live in the tables
// (defaultConfig() builds a config from them).
import type { FlagValues } from '../util/schema.js';
import type { ACTIVATION_FLAGS, ModelShape, NORM_PLACEMENT_FLAGS, RUN_FLAGS, SOFTMAX_FLAGS } from './flags.js';
import type { QUANT_FLAGS } from './quantization.js';
import type { ActivationRegistry } from '../nn/activations/activation-registry.js';
import type { NormRegistry } from '../nn/norms/norm-registry.js';
import type { SoftmaxVariantRegistry } from '../nn/softmax/softmax-registry.js';
import type { SoftmaxVariant } from '../nn/softmax/score.js';
import type { Variant } from '../nn/variant.js';

/** The registries' keys: the values --norm_variant_* and --activation_variant accept. */
export type NormName = keyof NormRegistry;
export type ActivationName = keyof ActivationRegistry;
export type SoftmaxName = keyof SoftmaxVariantRegistry;

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/** The own flags of every variant of a registry, as one config type. */
type RegistryFlags<R> = UnionToIntersection<{ [K in keyof R]: R[K] extends Variant<infer A> ? A : R[K] extends SoftmaxVariant<infer A> ? A : never }[keyof R]>;

/** The flags that define the model's shape and math (the ones saved with every checkpoint, MODEL_KEYS). */
export type ModelConfig = ModelShape
  & FlagValues<typeof NORM_PLACEMENT_FLAGS> & RegistryFlags<NormRegistry>
  & FlagValues<typeof ACTIVATION_FLAGS> & RegistryFlags<ActivationRegistry>
  & FlagValues<typeof SOFTMAX_FLAGS> & RegistryFlags<SoftmaxVariantRegistry>
  & FlagValues<typeof QUANT_FLAGS>;

/** Every flag of the train command. */
export type TrainConfig = ModelConfig & FlagValues<typeof RUN_FLAGS>;
