// CELU with alpha = 1 (Barron 2017; matches torch.nn.CELU()):
// y = max(0, x) + min(0, alpha (exp(x / alpha) - 1)). With alpha = 1 this is x for x > 0, else
// expm1(x): the same function as ELU, so it shares ELU's kernels (its fused() too); dy/dx = 1 for x > 0, else exp(x).
import type { Variant } from '../variant.js';
import { elu } from './elu.js';

export const celu: Variant = {
  ...elu,
  name: 'celu',
  curve: (x) => Math.max(0, x) + Math.min(0, Math.expm1(x)),
};
