// One transformer block and its residual wiring. Placement of the norms is decided here and only
// here (spec/variants.md, "Where norms sit"):
//   h = pre_ln_attn(x) if pre;  a = attn(h);  a = out_ln_attn(a) if peri;  x1 = x + a;  x1 = post_ln_attn(x1) if post
//   h = pre_ln_mlp(x1) if pre;  m = mlp(h);   m = out_ln_mlp(m) if peri;   y = x1 + m;   y = post_ln_mlp(y) if post
// Attention: separate q, k, v projections, causal softmax, c_proj. MLP: c_proj(act(c_fc(h))).
// Dropout (when training with dropout > 0): on attention probabilities and on both c_proj outputs.
import type { Backend } from '../engine/backend.js';
import { alloc, type DType, type F } from '../engine/types.js';
import { Linear } from '../nn/linear.js';
import { VariantSlot } from '../nn/slot.js';
import type { Ctx } from '../nn/variant.js';
import { norms } from '../nn/norms/index.js';
import { activations } from '../nn/activations/index.js';
import type { ModelConfig } from './config.js';
import type { ParamStore } from './params.js';

export type Dropout = (mask: F, n: number, ctx: Ctx) => boolean;

/** Scratch buffers shared by all blocks during backward (one block is processed at a time). */
export interface BlockScratch {
  g1: F; g2: F; g3: F; g4: F; g5: F; // (N, C)
  gq: F; gk: F; gv: F; // (N, C)
  gfc: F; // (N, Hin)
  gact: F; // (N, H)
  gatt: F; // (B, NH, T, T)
}

export function mlpHidden(cfg: ModelConfig): number {
  return cfg.mlp_size ?? cfg.mlp_expansion_factor * cfg.n_embd;
}

export function blockLayout(cfg: ModelConfig): string {
  const n = cfg.norm_variant_attn;
  const pre = cfg.use_pre_ln ? `pre_ln[${n}](x)` : 'x';
  const inner = (f: string) => (cfg.use_peri_ln ? `out_ln[${n}](${f}(${pre}))` : `${f}(${pre})`);
  const half = (f: string) => `x = x + ${inner(f)}` + (cfg.use_post_ln ? ` -> post_ln[${n}]` : '');
  return `block: ${half('attn')}; ${half('mlp')}; final: ln_f[${cfg.norm_variant_output}]`;
}

export class Block {
  readonly preAttn: VariantSlot | null;
  readonly preMlp: VariantSlot | null;
  readonly outAttn: VariantSlot | null;
  readonly outMlp: VariantSlot | null;
  readonly postAttn: VariantSlot | null;
  readonly postMlp: VariantSlot | null;
  readonly q: Linear; readonly k: Linear; readonly v: Linear; readonly attnProj: Linear;
  readonly fc: Linear; readonly mlpProj: Linear;
  readonly act: VariantSlot;
  readonly H: number; readonly Hin: number;

  // Activations kept for backward, sized for maxN = maxB * maxT rows.
  private hA: F; private qb: F; private kb: F; private vb: F; private att: F; private yb: F;
  private a: F; private aOut: F; private s1: F; private x1: F;
  private hM: F; private fcb: F; private actb: F; private m: F; private mOut: F; private s2: F;
  readonly y: F; // block output (N, C)
  private attMask: F | null; private aMask: F | null; private mMask: F | null;

  constructor(store: ParamStore, readonly i: number, readonly cfg: ModelConfig, maxB: number, maxT: number, dtype: DType) {
    const C = cfg.n_embd, N = maxB * maxT, NH = cfg.n_head;
    const pfx = `transformer.h.${i}`;
    const norm = norms[cfg.norm_variant_attn];
    const slot = (name: string) => new VariantSlot(store, `${pfx}.${name}`, norm, C, cfg, N, dtype);
    this.preAttn = cfg.use_pre_ln ? slot('pre_ln_attn') : null;
    this.preMlp = cfg.use_pre_ln ? slot('pre_ln_mlp') : null;
    this.postAttn = cfg.use_post_ln ? slot('post_ln_attn') : null;
    this.postMlp = cfg.use_post_ln ? slot('post_ln_mlp') : null;
    this.outAttn = cfg.use_peri_ln ? slot('out_ln_attn') : null;
    this.outMlp = cfg.use_peri_ln ? slot('out_ln_mlp') : null;
    const projStd = 0.02 / Math.sqrt(2 * cfg.n_layer);
    this.q = new Linear(store, `${pfx}.attn.c_attn_q`, C, C, cfg.bias, 0.02);
    this.k = new Linear(store, `${pfx}.attn.c_attn_k`, C, C, cfg.bias, 0.02);
    this.v = new Linear(store, `${pfx}.attn.c_attn_v`, C, C, cfg.bias, 0.02);
    this.attnProj = new Linear(store, `${pfx}.attn.c_proj`, C, C, cfg.bias, projStd);
    const act = activations[cfg.activation_variant];
    this.H = mlpHidden(cfg);
    this.Hin = act.gated ? 2 * this.H : this.H;
    this.fc = new Linear(store, `${pfx}.mlp.c_fc`, C, this.Hin, cfg.bias, 0.02);
    this.act = new VariantSlot(store, `${pfx}.mlp.activation_variant`, act, this.H, cfg, N, dtype);
    this.mlpProj = new Linear(store, `${pfx}.mlp.c_proj`, this.H, C, cfg.bias, projStd);

    const nc = () => alloc(dtype, N * C);
    this.hA = this.preAttn ? nc() : (null as unknown as F);
    this.qb = nc(); this.kb = nc(); this.vb = nc(); this.yb = nc();
    this.att = alloc(dtype, maxB * NH * maxT * maxT);
    this.a = nc();
    this.aOut = this.outAttn ? nc() : this.a;
    this.s1 = nc();
    this.x1 = this.postAttn ? nc() : this.s1;
    this.hM = this.preMlp ? nc() : this.x1;
    this.fcb = alloc(dtype, N * this.Hin);
    this.actb = alloc(dtype, N * this.H);
    this.m = nc();
    this.mOut = this.outMlp ? nc() : this.m;
    this.s2 = nc();
    this.y = this.postMlp ? nc() : this.s2;
    const drop = cfg.dropout > 0;
    this.attMask = drop ? alloc(dtype, maxB * NH * maxT * maxT) : null;
    this.aMask = drop ? nc() : null;
    this.mMask = drop ? nc() : null;
  }

  slots(): VariantSlot[] {
    return [this.preAttn, this.preMlp, this.postAttn, this.postMlp, this.outAttn, this.outMlp, this.act]
      .filter((s): s is VariantSlot => s !== null);
  }

  forward(be: Backend, x: F, B: number, T: number, ctx: Ctx, dropout: Dropout): void {
    const C = this.cfg.n_embd, N = B * T, NH = this.cfg.n_head, nAtt = B * NH * T * T;
    // attention half
    const hA = this.preAttn ? this.hA : x;
    this.preAttn?.forward(hA, x, N, ctx);
    this.q.forward(be, this.qb, hA, N);
    this.k.forward(be, this.kb, hA, N);
    this.v.forward(be, this.vb, hA, N);
    const attMask = this.attMask && dropout(this.attMask, nAtt, ctx) ? this.attMask : null;
    be.attentionForward(this.yb, this.att, this.qb, this.kb, this.vb, attMask, B, T, C, NH);
    this.attnProj.forward(be, this.a, this.yb, N);
    if (this.aMask && dropout(this.aMask, N * C, ctx)) be.mul(this.a, this.a, this.aMask, N * C);
    this.outAttn?.forward(this.aOut, this.a, N, ctx);
    be.add(this.s1, x, this.aOut, N * C);
    this.postAttn?.forward(this.x1, this.s1, N, ctx);
    // MLP half
    this.preMlp?.forward(this.hM, this.x1, N, ctx);
    this.fc.forward(be, this.fcb, this.hM, N);
    this.act.forward(this.actb, this.fcb, N, ctx);
    this.mlpProj.forward(be, this.m, this.actb, N);
    if (this.mMask && dropout(this.mMask, N * C, ctx)) be.mul(this.m, this.m, this.mMask, N * C);
    this.outMlp?.forward(this.mOut, this.m, N, ctx);
    be.add(this.s2, this.x1, this.mOut, N * C);
    this.postMlp?.forward(this.y, this.s2, N, ctx);
  }

  /**
   * dx (N, C) is WRITTEN with dL/dx given dy = dL/dy. dy may be clobbered. Must follow a forward
   * with the same B, T (and a training ctx, so the dropout masks are the ones used).
   */
  backward(be: Backend, dx: F, dy: F, x: F, B: number, T: number, ctx: Ctx, g: BlockScratch, dropping: boolean): void {
    const C = this.cfg.n_embd, N = B * T, NH = this.cfg.n_head, NC = N * C;
    // ---- MLP half: y = post(s2), s2 = x1 + out(m), m = proj(act(fc(pre(x1))))
    let gs2 = dy;
    if (this.postMlp) { g.g1.fill(0, 0, NC); this.postMlp.backward(g.g1, dy, this.s2, N, ctx); gs2 = g.g1; }
    // gx1 accumulates dL/dx1: the residual path first.
    const gx1 = g.g2;
    gx1.set(gs2.subarray(0, NC));
    let gm = gs2;
    if (this.outMlp) { g.g3.fill(0, 0, NC); this.outMlp.backward(g.g3, gs2, this.m, N, ctx); gm = g.g3; }
    if (this.mMask && dropping) { be.mul(g.g4, gm, this.mMask, NC); gm = g.g4; }
    // m = proj(actb): gact = gm W_proj
    this.mlpProj.backward(be, g.gact, gm, this.actb, N, false);
    g.gfc.fill(0, 0, N * this.Hin);
    this.act.backward(g.gfc, g.gact, this.fcb, N, ctx);
    if (this.preMlp) {
      this.fc.backward(be, g.g3, g.gfc, this.hM, N, false);
      this.preMlp.backward(gx1, g.g3, this.x1, N, ctx);
    } else {
      this.fc.backward(be, gx1, g.gfc, this.hM, N, true);
    }
    // ---- attention half: x1 = post(s1), s1 = x + out(a), a = proj(attn(pre(x)))
    let gs1 = gx1;
    if (this.postAttn) { g.g1.fill(0, 0, NC); this.postAttn.backward(g.g1, gx1, this.s1, N, ctx); gs1 = g.g1; }
    dx.set(gs1.subarray(0, NC));
    let ga = gs1;
    if (this.outAttn) { g.g3.fill(0, 0, NC); this.outAttn.backward(g.g3, gs1, this.a, N, ctx); ga = g.g3; }
    if (this.aMask && dropping) { be.mul(g.g4, ga, this.aMask, NC); ga = g.g4; }
    // a = proj(yb): gy = ga W_proj
    const gy = g.g5;
    this.attnProj.backward(be, gy, ga, this.yb, N, false);
    g.gq.fill(0, 0, NC); g.gk.fill(0, 0, NC); g.gv.fill(0, 0, NC);
    be.attentionBackward(g.gq, g.gk, g.gv, g.gatt, gy, this.att, this.qb, this.kb, this.vb,
      dropping ? this.attMask : null, B, T, C, NH);
    const hA = this.preAttn ? this.hA : x;
    if (this.preAttn) {
      this.q.backward(be, g.g3, g.gq, hA, N, false);
      this.k.backward(be, g.g3, g.gk, hA, N, true);
      this.v.backward(be, g.g3, g.gv, hA, N, true);
      this.preAttn.backward(dx, g.g3, x, N, ctx);
    } else {
      this.q.backward(be, dx, g.gq, hA, N, true);
      this.k.backward(be, dx, g.gk, hA, N, true);
      this.v.backward(be, dx, g.gv, hA, N, true);
    }
  }
}
