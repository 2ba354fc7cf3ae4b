// Softmax cross-entropy, matches torch.nn.functional.cross_entropy (mean over rows):
//   loss_n = logsumexp(logits_n) - logits_n[target_n]
// Saved: probs (N, V) = softmax(logits), reused by backward: dlogits = (probs - onehot) * scale.
// probs may alias logits, and dlogits probs (the fused LM head keeps one block of rows: docs/memory.md).
import type { F } from '../../types.js';

export function crossEntropyForward(losses: F, probs: F, logits: F, targets: Int32Array, N: number, V: number): number {
  let total = 0;
  for (let n = 0; n < N; n++) {
    const o = n * V, target = logits[o + targets[n]];
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (logits[o + i] > max) max = logits[o + i];
    let sum = 0;
    for (let i = 0; i < V; i++) { const e = Math.exp(logits[o + i] - max); probs[o + i] = e; sum += e; }
    const inv = 1 / sum;
    for (let i = 0; i < V; i++) probs[o + i] *= inv;
    const loss = Math.log(sum) + max - target;
    losses[n] = loss;
    total += loss;
  }
  return total / N;
}

export function crossEntropyBackward(dlogits: F, probs: F, targets: Int32Array, scale: number, N: number, V: number): void {
  for (let n = 0; n < N; n++) {
    const o = n * V;
    for (let i = 0; i < V; i++) dlogits[o + i] = probs[o + i] * scale;
    dlogits[o + targets[n]] -= scale;
  }
}
