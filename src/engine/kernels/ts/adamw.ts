// One AdamW step, matching torch.optim.AdamW (decoupled decay applied to p before the Adam update,
// bias corrections 1 - beta^step, eps added to the bias-corrected sqrt(v)).
import type { F } from '../../types.js';

export function adamw(param: F, grad: F, m: F, v: F, n: number, lr: number, beta1: number, beta2: number,
  eps: number, weightDecay: number, step: number): void {
  const bc1 = 1 - Math.pow(beta1, step), bc2 = 1 - Math.pow(beta2, step);
  const decay = 1 - lr * weightDecay, stepSize = lr / bc1, rbc2 = 1 / Math.sqrt(bc2);
  for (let i = 0; i < n; i++) {
    const g = grad[i];
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    param[i] = param[i] * decay - stepSize * m[i] / (Math.sqrt(v[i]) * rbc2 + eps);
  }
}
