// A softmax variant bound to one attention layer: its parameters (declared in the ParamStore as
// `<prefix>.<name>`, prefix transformer.h.<i>.attn.softmax_layer_attn), the saved scores S, and the
// attention it computes (./attention.ts stages, or the backend's own where it has them). Plain
// softmax never gets a slot: the backends' attention kernels compute it.
import type { Backend } from '../../engine/backend.js';
import type { F } from '../../engine/types.js';
import type { ModelConfig } from '../../model/config.js';
import type { Param, ParamStore } from '../../model/params.js';
import type { Params } from '../variant.js';
import type { Grads, SoftmaxVariant } from './score.js';
import { attentionScores, attentionScoresBackward, attentionValues, attentionValuesBackward } from './attention.js';

export class SoftmaxSlot {
  private handles: [string, Param][] = [];
  private p: Params = {};
  private dp: Params = {};
  private g: Grads = {};
  /** The scores of the last forward (B, NH, T, T): backward reads them. */
  private S: F;
  /** The last forward's prepare() result (strongermax's per-call decision). */
  private st = 0;

  constructor(store: ParamStore, readonly prefix: string, readonly variant: SoftmaxVariant<any>, readonly cfg: ModelConfig, maxScores: number) {
    for (const [name, spec] of Object.entries(variant.params(cfg.n_head, cfg))) {
      const h = store.declare(`${prefix}.${name}`, spec.shape, spec.init,
        { learned: spec.learned ?? true, persistent: spec.persistent ?? true });
      this.handles.push([name, h]);
    }
    this.S = store.alloc(maxScores);
  }

  /** After ParamStore.finalize(): pick up the views. */
  bind(): void {
    for (const [name, h] of this.handles) {
      this.p[name] = h.data; this.dp[name] = h.grad; this.g[name] = new Float64Array(h.data.length);
    }
  }

  get params(): Params {
    return this.p;
  }

  /** out (B, T, C) and P (B, NH, T, T; 0 above the diagonal) from q, k, v; mask: attention dropout. */
  forward(be: Backend, out: F, P: F, q: F, k: F, v: F, mask: F | null, B: number, T: number, C: number, NH: number): void {
    const S = this.S, sa = be.scoreAttention;
    if (sa && S instanceof Float32Array) sa.scores(S, q, k, B, T, C, NH); else attentionScores(S, q, k, B, T, C, NH);
    this.transformRows(P, S, B, NH, T, T);
    if (sa && S instanceof Float32Array) sa.values(out, P, v, mask, B, T, C, NH); else attentionValues(out, P, v, mask, B, T, C, NH);
  }

  /** Rows of a (B, NH, Tq, T) score tensor whose row t has keys 0..T - Tq + t: P from S. */
  transformRows(P: F, S: F, B: number, NH: number, Tq: number, T: number): void {
    const v = this.variant, a = this.cfg, p = this.p;
    this.st = v.prepare?.(S, { B, NH, Tq, T }, p, a) ?? 0;
    for (let r = 0; r < B * NH; r++) {
      const h = r % NH;
      for (let t = 0; t < Tq; t++) {
        const o = (r * Tq + t) * T, n = T - Tq + t + 1;
        v.forward(P, S, o, n, T, h, p, a, this.st);
        for (let i = o + n; i < o + T; i++) P[i] = 0;
      }
    }
  }

  /** Accumulates into dq, dk, dv and the parameter gradients; scratch has B*NH*T*T elements. */
  backward(be: Backend, dq: F, dk: F, dv: F, scratch: F, dout: F, P: F, q: F, k: F, v: F, mask: F | null,
    B: number, T: number, C: number, NH: number): void {
    const S = this.S, sa = be.scoreAttention && S instanceof Float32Array ? be.scoreAttention : null;
    if (sa) sa.valuesBackward(scratch, dv, dout, P, v, mask, B, T, C, NH);
    else attentionValuesBackward(scratch, dv, dout, P, v, mask, B, T, C, NH);
    const vr = this.variant, a = this.cfg, p = this.p, g = this.g;
    for (const name in g) g[name].fill(0);
    for (let r = 0; r < B * NH; r++) {
      const h = r % NH;
      for (let t = 0; t < T; t++) {
        const o = (r * T + t) * T;
        vr.backward(scratch, scratch, S, P, o, t + 1, T, h, p, g, a, this.st);
      }
    }
    for (const name in g) { const d = this.dp[name], s = g[name]; for (let i = 0; i < d.length; i++) d[i] += s[i]; }
    if (sa) sa.scoresBackward(dq, dk, scratch, q, k, B, T, C, NH);
    else attentionScoresBackward(dq, dk, scratch, q, k, B, T, C, NH);
  }
}
