// A softmax variant bound to one attention layer: its parameters (declared in the ParamStore as
// `<prefix>.<name>`, prefix transformer.h.<i>.attn.softmax_layer_attn), the saved scores S and
// weights P (B, NH, T, T), and the attention it computes (./attention.ts stages, or the backend's
// own where it has them). Plain softmax never gets a slot: the backends' attention kernels compute
// it without T x T storage (docs/memory.md); a variant keeps S and P (docs/softmax.md says why).
// Attention dropout keeps exactly the entries the plain kernels keep (attnKept of the call's seed).
import type { AttnDropout, Backend } from '../../engine/backend.js';
import { attnKept, attnRowKey } from '../../engine/kernels/ts/attention.js';
import type { F } from '../../engine/types.js';
import type { Param, ParamStore } from '../store.js';
import type { Params, VariantConfig } from '../variant.js';
import type { ElemKernel, Grads, SoftmaxVariant } from './score.js';
import type { QSpec, Quantizer } from '../quant.js';
import type { Ctx } from '../variant.js';
import { allocLike } from '../../engine/types.js';

/** Fake quantization inside attention (docs/quantization.md): the scores before the variant (sQ) and
 * its weights before p v (pQ), straight-through in backward, as for plain softmax. */
export interface SlotQuant { quant: Quantizer; sQ: QSpec | null; pQ: QSpec | null; level: number; ctx: Ctx }
import { attentionScores, attentionScoresBackward, attentionValues, attentionValuesBackward } from './score-attention.js';

export class SoftmaxSlot {
  private handles: [string, Param][] = [];
  private p: Params = {};
  private dp: Params = {};
  private g: Grads = {};
  /** The scores of the last forward (B, NH, T, T): backward reads them. */
  private S: F;
  private P: F;
  /** dP, then dS, of one backward. */
  private dP: F;
  /** The keep factors of the call's dropout (0 or 1/(1-p)), built from the seed; null without dropout. */
  private mask: F | null;
  /** The last forward's prepare() result (strongermax's per-call decision). */
  private st = 0;
  /** The last forward's native fused form (elementwise variants on a backend that has it), else null. */
  private elem: ElemKernel | null = null;
  private c = new Float32Array(6);
  private hp: Float32Array;
  private sums = new Float64Array(0);
  /** Q(P) of the last forward when pv_mult_p_input is quantized (the weights p v used), else null. */
  private Pq: F | null = null;
  private Wfwd: F | null = null;

  constructor(store: ParamStore, readonly prefix: string, readonly variant: SoftmaxVariant<any>, readonly cfg: VariantConfig, maxScores: number) {
    for (const [name, spec] of Object.entries(variant.params(cfg.n_head, cfg))) {
      const h = store.declare(`${prefix}.${name}`, spec.shape, spec.init,
        { learned: spec.learned ?? true, persistent: spec.persistent ?? true });
      this.handles.push([name, h]);
    }
    this.S = store.alloc(maxScores);
    this.P = store.alloc(maxScores);
    this.dP = store.alloc(maxScores);
    this.mask = cfg.dropout > 0 ? store.alloc(maxScores) : null;
    this.hp = new Float32Array(3 * cfg.n_head);
  }

  /** After ParamStore.finalize(): pick up the views. */
  bind(): void {
    for (const [name, h] of this.handles) {
      this.p[name] = h.data; this.dp[name] = h.grad; this.g[name] = new Float64Array(h.data.length);
    }
  }

  /** The KV cache cannot give this variant's weights (see SoftmaxVariant.callDependent). */
  get callDependent(): boolean {
    return this.variant.callDependent?.(this.cfg) ?? false;
  }

  get params(): Params {
    return this.p;
  }

  /** The dropout keep factors of a call: the same decisions as the plain kernels' (attnKept). */
  private keep(drop: AttnDropout | null, B: number, T: number, NH: number): F | null {
    if (!drop || !this.mask) return null;
    const m = this.mask, sc = 1 / (1 - drop.p);
    for (let i = 0; i < B * NH; i++) for (let t = 0; t < T; t++) {
      const rk = attnRowKey(drop.seed, i, t), o = (i * T + t) * T;
      for (let s = 0; s < T; s++) m[o + s] = s <= t && attnKept(rk, s, drop.p) ? sc : 0;
    }
    return m;
  }

  /** out (B, T, C) from q, k, v with the variant's weights; drop: attention dropout of the call. */
  forward(be: Backend, out: F, q: F, k: F, v: F, drop: AttnDropout | null, B: number, T: number, C: number, NH: number,
    qz?: SlotQuant): void {
    const S = this.S, P = this.P, sa = be.scoreAttention, mask = this.keep(drop, B, T, NH);
    this.Wfwd = P;
    this.elem = !qz && sa?.elemForward && S instanceof Float32Array && this.variant.kind(this.cfg) === 'elem'
      ? this.variant.native?.(this.cfg, this.p, NH, T) ?? null : null;
    if (this.elem) {
      const e = this.elem;
      this.c.fill(0); this.c.set(e.c);
      for (let h = 0; h < NH; h++) this.hp.set(e.hp?.(h) ?? [0, 0, 0], 3 * h);
      sa!.elemForward!(out, P, S, q, k, v, mask, B, T, C, NH, e.kind, this.c, this.hp);
      return;
    }
    if (sa && S instanceof Float32Array) sa.scores(S, q, k, B, T, C, NH); else attentionScores(S, q, k, B, T, C, NH);
    const n = B * NH * T * T;
    // The quantizer reads T x T causal blocks (s <= t); the variant then sees the quantized scores.
    if (qz?.sQ) qz.quant.apply(be, S, S, n, qz.sQ, qz.level, qz.ctx, T);
    this.transformRows(P, S, B, NH, T, T);
    let W = P;
    if (qz?.pQ) {
      if (!this.Pq || this.Pq.length < n) this.Pq = allocLike(P, P.length);
      qz.quant.apply(be, this.Pq, P, n, qz.pQ, qz.level, qz.ctx, T);
      W = this.Pq;
    }
    this.Wfwd = W;
    if (sa && S instanceof Float32Array) sa.values(out, W, v, mask, B, T, C, NH); else attentionValues(out, W, v, mask, B, T, C, NH);
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

  /** Accumulates into dq, dk, dv and the parameter gradients (after a forward with the same drop). */
  backward(be: Backend, dq: F, dk: F, dv: F, dout: F, q: F, k: F, v: F, drop: AttnDropout | null,
    B: number, T: number, C: number, NH: number): void {
    const P = this.P, scratch = this.dP, mask = drop ? this.mask : null;
    const S = this.S, sa = be.scoreAttention && S instanceof Float32Array ? be.scoreAttention : null;
    if (this.elem && sa?.elemBackward) {
      const e = this.elem;
      if (this.sums.length < 2 * B * NH) this.sums = new Float64Array(2 * B * NH);
      sa.elemBackward(dq, dk, dv, scratch, this.sums, dout, P, S, q, k, v, mask, B, T, C, NH, e.kind, this.c, this.hp);
      if (e.grads) {
        const all = new Float64Array(NH), unclamped = new Float64Array(NH);
        for (let i = 0; i < B * NH; i++) { all[i % NH] += this.sums[2 * i]; unclamped[i % NH] += this.sums[2 * i + 1]; }
        for (const name in this.g) this.g[name].fill(0);
        e.grads(all, unclamped, this.g);
        for (const name in this.g) { const d = this.dp[name], s = this.g[name]; for (let i = 0; i < d.length; i++) d[i] += s[i]; }
      }
      return;
    }
    const W = this.Wfwd ?? P; // the weights p v used (Q(P) with pv_mult_p_input): dv; the variant reads P
    if (sa) sa.valuesBackward(scratch, dv, dout, W, v, mask, B, T, C, NH);
    else attentionValuesBackward(scratch, dv, dout, W, v, mask, B, T, C, NH);
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
