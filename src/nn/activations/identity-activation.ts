// Identity (matches torch.nn.Identity): y = x; dy/dx = 1. Nothing saved. The same kernels as the
// identity norm.
import type { Variant } from '../variant.js';
import { identity as identityNorm } from '../norms/identity-norm.js';

export const identity: Variant = { ...identityNorm, curve: (x) => x };
