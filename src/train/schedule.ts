// Learning rate at iteration `it` (docs/variants.md, "Optimizer"): constant unless decay_lr; then linear warm-up
// lr * (it + 1) / (warmup_iters + 1) for it < warmup_iters, cosine decay to min_lr at lr_decay_iters, min_lr after.
// The warm-up is nanoGPT's current form: the framework's lr * it / warmup_iters makes the first update's rate 0,
// an update that only spends a batch (and moves AdamW's moments), so normlab corrects it (docs/variants.md).
export interface LrConfig {
  learning_rate: number;
  min_lr: number;
  decay_lr: boolean;
  warmup_iters: number;
  lr_decay_iters: number;
}

export function learningRate(it: number, c: LrConfig): number {
  if (!c.decay_lr) return c.learning_rate;
  if (it < c.warmup_iters) return (c.learning_rate * (it + 1)) / (c.warmup_iters + 1);
  if (it > c.lr_decay_iters) return c.min_lr;
  const span = c.lr_decay_iters - c.warmup_iters;
  const ratio = span > 0 ? (it - c.warmup_iters) / span : 1;
  const coeff = 0.5 * (1 + Math.cos(Math.PI * ratio));
  return c.min_lr + coeff * (c.learning_rate - c.min_lr);
}
