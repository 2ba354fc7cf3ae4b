// KV-cache generation (src/model/generate.ts) runs each block's own wiring on one row; its logits
// must equal the full forward's at every position, for every norm placement, for glu (a gated MLP)
// and for learned activations, in float64 (the two paths differ only in summation order).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/engine/rng.js';
import { tsBackend } from '../src/engine/kernels/ts/ts-backend.js';
import type { ModelConfig } from '../src/config/config-types.js';
import { Generator } from '../src/model/generate.js';
import { GPT } from '../src/model/gpt.js';
import { MetricCtx } from '../src/nn/params.js';
import { tinyConfig } from './helpers.js';
import { assertCacheMatches } from './kv-cache.js';

const PLACEMENTS: [string, Partial<ModelConfig>][] = [
  ['pre', {}],
  ['post', { use_pre_ln: false, use_post_ln: true }],
  ['peri', { use_pre_ln: false, use_peri_ln: true }],
  ['pre+post+peri', { use_post_ln: true, use_peri_ln: true }],
  ['none', { use_pre_ln: false }],
];
const MLPS: [string, Partial<ModelConfig>][] = [
  ['gelu', {}],
  ['glu', { activation_variant: 'glu' }],
  ['pfla (learned knots)', { activation_variant: 'pfla', pfla_num_points: 6 }],
  ['learned_spline, layernorm with bias', { activation_variant: 'learned_spline', lsa_num_knots: 5, norm_variant_attn: 'layernorm', bias: true }],
  ['prelu, dact', { activation_variant: 'prelu', norm_variant_attn: 'dact' }],
];

for (const [place, p] of PLACEMENTS) {
  for (const [mlp, m] of MLPS) {
    test(`KV-cache logits equal the full forward at every position: ${place}, ${mlp}`, () => {
      const T = 6, cfg = tinyConfig({ block_size: T, n_embd: 8, n_head: 2, ...p, ...m });
      const model = new GPT(cfg, tsBackend, { dtype: 'float64', maxB: 1, maxT: T, seed: 3 });
      // Every parameter moved off its init (gains, knots, slopes), so a skipped or misplaced norm shows.
      const rng = new Rng(11);
      for (const q of model.store.params) for (let i = 0; i < q.data.length; i++) q.data[i] += 0.3 * rng.normal();
      assertCacheMatches(model, T, T, rng);
    });
  }
}

test('the KV-cache path differs when a block is wired differently (the check can fail)', () => {
  // The same weights read as a pre-LN and as a post-LN model give different logits: so equality
  // above is not an accident of norms that do nothing.
  const T = 4, base = tinyConfig({ block_size: T });
  const a = new GPT(base, tsBackend, { dtype: 'float64', maxB: 1, maxT: T, seed: 3 });
  const b = new GPT({ ...base, use_post_ln: true }, tsBackend, { dtype: 'float64', maxB: 1, maxT: T, seed: 3 });
  const ctx = () => new MetricCtx(false, new Rng(1));
  const la = Array.from(new Generator(a).cachedLogits([1, 2, 3], ctx()));
  const lb = Array.from(new Generator(b).cachedLogits([1, 2, 3], ctx()));
  assert.ok(la.some((v, i) => Math.abs(v - lb[i]) > 1e-6));
});
