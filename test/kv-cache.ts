// KV-cache generation against the full forward (test/generate.test.ts, test/attention-variants.test.ts).
import assert from 'node:assert/strict';
import { Rng } from '../src/engine/rng.js';
import { Generator } from '../src/model/generate.js';
import type { GPT } from '../src/model/gpt.js';
import { MetricCtx } from '../src/nn/params.js';

/** The cached logits of random tokens equal the full forward's (float64, 1e-9 relative) at positions
 * 0..positions-1 of a context of T; returns nothing, asserts. */
export function assertCacheMatches(model: GPT, T: number, positions: number, rng: Rng): void {
  const V = model.cfg.vocab_size, tokens = Array.from({ length: T }, () => rng.int(V));
  const gen = new Generator(model), ctx = () => new MetricCtx(false, new Rng(1));
  for (let L = 1; L <= positions; L++) {
    const cached = Array.from(gen.cachedLogits(tokens.slice(0, L), ctx()));
    model.forward(Int32Array.from(tokens.slice(0, L)), null, 1, L, ctx());
    const full = Array.from(model.logitsAt(new Float64Array(V), L - 1));
    let worst = 0;
    for (let i = 0; i < V; i++) worst = Math.max(worst, Math.abs(cached[i] - full[i]) / (1e-12 + Math.abs(full[i])));
    assert.ok(worst < 1e-9, `position ${L - 1}: relative difference ${worst}`);
    assert.ok(full.some((v) => Math.abs(v) > 1e-3), 'logits are not trivially zero');
  }
}
