// AdamW over a ParamStore (torch.optim.AdamW semantics, eps 1e-8): decay only on the tensors of 2
// or more dimensions (the store keeps them contiguous at the front), constants never updated.
import type { Backend } from '../engine/backend.js';
import type { F } from '../engine/types.js';
import type { ParamStore } from '../nn/store.js';

export class AdamW {
  readonly m: F; // first moments, (learned elements)
  readonly v: F; // second moments
  step = 0;

  constructor(readonly store: ParamStore) {
    this.m = store.alloc(store.learnedEnd);
    this.v = store.alloc(store.learnedEnd);
  }

  update(be: Backend, lr: number, beta1: number, beta2: number, weightDecay: number): void {
    this.step++;
    const { data, grad, decayEnd, learnedEnd } = this.store;
    const sl = (a: F, s: number, e: number) => a.subarray(s, e);
    if (decayEnd > 0) {
      be.adamw(sl(data, 0, decayEnd), sl(grad, 0, decayEnd), sl(this.m, 0, decayEnd), sl(this.v, 0, decayEnd),
        decayEnd, lr, beta1, beta2, 1e-8, weightDecay, this.step);
    }
    if (learnedEnd > decayEnd) {
      const n = learnedEnd - decayEnd;
      be.adamw(sl(data, decayEnd, learnedEnd), sl(grad, decayEnd, learnedEnd), sl(this.m, decayEnd, learnedEnd),
        sl(this.v, decayEnd, learnedEnd), n, lr, beta1, beta2, 1e-8, 0, this.step);
    }
  }
}

/**
 * Global gradient-norm clipping (torch.nn.utils.clip_grad_norm_): if the L2 norm of all learned
 * gradients exceeds maxNorm, scale them by maxNorm / (norm + 1e-6). Returns the norm before clipping.
 */
export function clipGradNorm(be: Backend, store: ParamStore, maxNorm: number): number {
  const g = store.grad.subarray(0, store.learnedEnd);
  const norm = Math.sqrt(be.sumSquares(g, g.length));
  if (maxNorm > 0 && norm > maxNorm) be.scale(g, maxNorm / (norm + 1e-6), g.length);
  return norm;
}
