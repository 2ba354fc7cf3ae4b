// One transformer block and its residual wiring. Placement of the norms is decided here and only
// here (Block.run, which training, evaluation and KV-cache generation all run; docs/variants.md,
// "Where the norms sit"):
//   h = pre_ln_attn(x) if pre;  a = attn(h);  a = out_ln_attn(a) if peri;  x1 = x + a;  x1 = post_ln_attn(x1) if post
//   h = pre_ln_mlp(x1) if pre;  m = mlp(h);   m = out_ln_mlp(m) if peri;   y = x1 + m;   y = post_ln_mlp(y) if post
// Attention: separate q, k, v projections, causal softmax, c_proj. MLP: c_proj(act(c_fc(h))).
// Dropout (when training with dropout > 0): on attention probabilities and on both c_proj outputs.
import type { AttnDropout, AttnOpts, Backend } from '../engine/backend.js';
import { alloc, type DType, type F } from '../engine/types.js';
import { ATTN_STATE } from '../engine/kernels/ts/attention.js';
import { Linear } from '../nn/linear.js';
import { VariantSlot } from '../nn/slot.js';
import { drawsRandom, type Ctx } from '../nn/variant.js';
import { norms } from '../nn/norms/norm-registry.js';
import { activations } from '../nn/activations/activation-registry.js';
import { softmaxes } from '../nn/softmax/softmax-registry.js';
import { SoftmaxSlot } from '../nn/softmax/softmax-slot.js';
import type { ActivationName, ModelConfig, NormName } from '../config/config-types.js';
import type { ParamStore } from '../nn/store.js';
import { attnQuant, Quantizer, quantLayout, quantLevel, quantPlan, weightsQuantized, type QSpec, type QuantPlan } from '../nn/quant.js';
import { variantTag } from './label.js';

export type Dropout = (mask: F, n: number, ctx: Ctx) => boolean;

/** The attention core: writes y (N, C) from the projections q, k, v (N, C) of N rows. Training runs
 * causal attention over the batch; generation attends one row over its KV cache (generate.ts). */
export type Attend = (y: F, q: F, k: F, v: F, N: number, ctx: Ctx) => void;

/** The arrays one forward pass of a block writes, for up to `rows` rows. Arrays a layer does not
 * need alias the one they would copy (aOut = a without peri-LN, x1 = s1 without post-LN, ...). */
export interface BlockBuffers {
  hA: F | null; q: F; k: F; v: F; y: F; a: F; aOut: F; s1: F; x1: F; hM: F; fc: F; act: F; m: F; mOut: F; s2: F;
  /** The quantized inputs of attention and of the MLP (--quantize_attn_act_input, --quantize_mlp_act_input), or null. */
  hAq: F | null; hMq: F | null;
  /** p v quantized into c_proj (--quantize_attn_act_pv_mult_output), or null: y itself stays float,
   * the attention kernel's backward reads its own output. */
  yq: F | null;
  /** The block's output: s2, or post_ln_mlp(s2). */
  out: F;
  aMask: F | null; mMask: F | null;
}

/** Forward buffers every block may use in turn because backward does not read them, or recomputes
 * what it reads (docs/memory.md, "What a block keeps"). h (N, C): the pre-LN norm outputs hA and hM
 * when backward recomputes them (or reads only their quantized copies), the attention projection's
 * output a and the MLP's m when no peri-LN reads them back; one forward uses it for each in turn (hA,
 * a, hM, m), each dead before the next is written. act (N, >= H): the activation's output when
 * backward recomputes it (GPT also makes it backward's gfc, written after the output's last read). */
export interface SharedBuffers { h: F; act: F | null }

/** Whether backward recomputes activation act's output from its input instead of keeping it: every
 * activation but those whose forward draws random numbers (rrelu). */
function recomputesActivation(act: ActivationName, cfg: ModelConfig): boolean {
  return !drawsRandom(activations[act], cfg);
}

/** Whether block i's backward recomputes its pre-LN norm outputs (hA, hM) from their inputs, one
 * norm forward each, instead of keeping them: with pre-LN, for every norm whose forward draws no
 * random numbers (krmsnorm with random selection and dact around rrelu do). */
export function blockRecomputesNorm(cfg: ModelConfig, i: number): boolean {
  return cfg.use_pre_ln && !drawsRandom(norms[blockNorm(cfg, i)], cfg);
}

/** Whether block i's backward recomputes its activation's output: the activation allows it and no
 * fake quantization of that output (--quantize_mlp_act_output) has to be repeated. */
export function blockRecomputes(cfg: ModelConfig, i: number, qp: QuantPlan = quantPlan(cfg)): boolean {
  return recomputesActivation(blockActivation(cfg, i), cfg) && !qp.mlp.activation_output;
}

/** Scratch buffers shared by all blocks during backward (one block is processed at a time); with
 * the caller's dy and dx they hold every gradient of a block (Block.backward says which is where). */
export interface BlockScratch {
  gx1: F; // (N, C): dL/dx1
  r: F; // (N, max(H, 2C)): gact in the MLP half; two (N, C) halves in the attention half
  gfc: F; // (N, Hin): dL/dfc (the shared activation output's buffer, dead by then)
}

/** Floats of BlockScratch.r for N rows. */
export function scratchFloats(cfg: ModelConfig, N: number): number {
  return N * Math.max(mlpHidden(cfg), 2 * cfg.n_embd);
}

/** The widest MLP input of any block (2H where a block's activation is gated). */
export function maxMlpInput(cfg: ModelConfig): number {
  return Array.from({ length: cfg.n_layer }, (_, i) => blockMlpInput(cfg, i)).reduce((a, b) => Math.max(a, b), mlpHidden(cfg));
}

export function mlpHidden(cfg: ModelConfig): number {
  return cfg.mlp_size ?? cfg.mlp_expansion_factor * cfg.n_embd;
}

/** Width Hin of block i's MLP input (c_fc's output): 2H where its activation is gated, else H. */
export function blockMlpInput(cfg: ModelConfig, i: number): number {
  const H = mlpHidden(cfg);
  return activations[blockActivation(cfg, i)].gated ? 2 * H : H;
}

/** Value i of a per-layer list (it repeats when shorter than n_layer), else the every-layer flag. */
function perLayer<T>(list: readonly T[] | null | undefined, all: T, i: number): T {
  return list && list.length > 0 ? list[i % list.length] : all;
}

/** The norm of every norm slot of block i (--norm_variant_attn_layerlist, else --norm_variant_attn). */
export function blockNorm(cfg: ModelConfig, i: number): NormName {
  return perLayer(cfg.norm_variant_attn_layerlist, cfg.norm_variant_attn, i);
}

/** The MLP activation of block i (--activation_variant_layerlist, else --activation_variant). */
export function blockActivation(cfg: ModelConfig, i: number): ActivationName {
  return perLayer(cfg.activation_variant_layerlist, cfg.activation_variant, i);
}

/** The norm slots of a block, by placement, in the order the block runs them (checkpoint names). */
export function normSlotNames(cfg: ModelConfig): string[] {
  return [
    ...(cfg.use_pre_ln ? ['pre_ln_attn'] : []), ...(cfg.use_peri_ln ? ['out_ln_attn'] : []), ...(cfg.use_post_ln ? ['post_ln_attn'] : []),
    ...(cfg.use_pre_ln ? ['pre_ln_mlp'] : []), ...(cfg.use_peri_ln ? ['out_ln_mlp'] : []), ...(cfg.use_post_ln ? ['post_ln_mlp'] : []),
  ];
}

/** The wiring as one line, e.g. `block: x = x + attn(pre_ln[rmsnorm](x)); ...; final: ln_f[rmsnorm]`;
 * with per-layer variants, one `block i:` part per layer. */
export function blockLayout(cfg: ModelConfig): string {
  const one = (name: string, act: string) => {
    const n = variantTag('norm', name, cfg);
    const pre = cfg.use_pre_ln ? `pre_ln[${n}](x)` : 'x';
    const inner = (f: string) => (cfg.use_peri_ln ? `out_ln[${n}](${f}(${pre}))` : `${f}(${pre})`);
    const half = (f: string) => `x = x + ${inner(f)}` + (cfg.use_post_ln ? ` -> post_ln[${n}]` : '');
    return `${half('attn')}; ${half(act)}`;
  };
  const q = quantLayout(quantPlan(cfg));
  const final = `final: ln_f[${variantTag('norm', cfg.norm_variant_output, cfg)}]` + (q ? `; ${q}` : '');
  if (!cfg.norm_variant_attn_layerlist && !cfg.activation_variant_layerlist) return `block: ${one(cfg.norm_variant_attn, 'mlp')}; ${final}`;
  const layers = Array.from({ length: cfg.n_layer }, (_, i) => `block ${i}: ${one(blockNorm(cfg, i), `mlp[${variantTag('activation', blockActivation(cfg, i), cfg)}]`)}`);
  return `${layers.join(' | ')} | ${final}`;
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
  /** Attention's options, one object for every call: bf16 with --dtype bfloat16 (docs/dtype.md), the
   * call state, and what trainAttend and the softmax slot fill in per call (the quantizers, the
   * variant's forms); backward reads those of the last training forward. */
  readonly attnOpts: AttnOpts;
  readonly act: VariantSlot;
  /** The attention's softmax variant (docs/softmax.md); null for plain softmax (the backend's kernel). */
  readonly softmax: SoftmaxSlot | null;
  readonly H: number; readonly Hin: number;
  /** What this block quantizes (docs/quantization.md); the attention kernel quantizes its scores and
   * weights itself (AttnOpts.quantS, quantP), with this call state between forward and backward. */
  readonly qp: QuantPlan;
  readonly quantizer = new Quantizer();
  private attnState: Float64Array | null;

  // Activations kept for backward, sized for maxN = maxB * maxT rows.
  private b: BlockBuffers;
  private stats: F; // attention's row statistics (B, NH, T, 2): no T x T array (docs/memory.md)
  private attDrop: AttnDropout | null = null; // the dropout of the last training forward (its seed)
  readonly y: F; // block output (N, C)
  // The backend and batch shape of the forward in progress, for trainAttend (no closure per call).
  private be: Backend | null = null; private B = 0; private T = 0;

  /** Whether backward recomputes the activation's output (b.act is then the shared buffer). */
  readonly recompute: boolean;
  /** Whether backward recomputes hA and hM (each the shared h, unless only its quantized copy is read). */
  readonly recomputeNorm: boolean;

  constructor(store: ParamStore, readonly i: number, readonly cfg: ModelConfig, maxB: number, maxT: number, private dtype: DType,
    shared: SharedBuffers | null = null) {
    const C = cfg.n_embd, N = maxB * maxT, NH = cfg.n_head;
    const pfx = `transformer.h.${i}`;
    const qp = (this.qp = quantPlan(cfg)), ql = qp.linear;
    const norm = norms[blockNorm(cfg, i)];
    const slot = (name: string) => new VariantSlot(store, `${pfx}.${name}`, norm, C, cfg, N);
    this.preAttn = cfg.use_pre_ln ? slot('pre_ln_attn') : null;
    this.preMlp = cfg.use_pre_ln ? slot('pre_ln_mlp') : null;
    this.postAttn = cfg.use_post_ln ? slot('post_ln_attn') : null;
    this.postMlp = cfg.use_post_ln ? slot('post_ln_mlp') : null;
    this.outAttn = cfg.use_peri_ln ? slot('out_ln_attn') : null;
    this.outMlp = cfg.use_peri_ln ? slot('out_ln_mlp') : null;
    const projStd = 0.02 / Math.sqrt(2 * cfg.n_layer), bf16 = cfg.dtype === 'bfloat16';
    this.attnOpts = bf16 ? { bf16: true } : {};
    this.q = new Linear(store, `${pfx}.attn.c_attn_q`, C, C, cfg.bias, 0.02, ql.attn_q, bf16);
    this.k = new Linear(store, `${pfx}.attn.c_attn_k`, C, C, cfg.bias, 0.02, ql.attn_k, bf16);
    this.v = new Linear(store, `${pfx}.attn.c_attn_v`, C, C, cfg.bias, 0.02, ql.attn_v, bf16);
    this.attnProj = new Linear(store, `${pfx}.attn.c_proj`, C, C, cfg.bias, projStd, ql.attn_proj, bf16);
    this.softmax = cfg.softmax_variant_attn === 'softmax' ? null
      : new SoftmaxSlot(store, `${pfx}.attn.softmax_layer_attn`, softmaxes[cfg.softmax_variant_attn], cfg);
    const act = activations[blockActivation(cfg, i)];
    this.H = mlpHidden(cfg);
    this.Hin = blockMlpInput(cfg, i);
    this.fc = new Linear(store, `${pfx}.mlp.c_fc`, C, this.Hin, cfg.bias, 0.02, ql.mlp_up, bf16);
    this.act = new VariantSlot(store, `${pfx}.mlp.activation_variant`, act, this.H, cfg, N);
    this.mlpProj = new Linear(store, `${pfx}.mlp.c_proj`, this.H, C, cfg.bias, projStd, ql.mlp_down, bf16);

    const drop = cfg.dropout > 0;
    const mem = (n: number) => store.alloc(n);
    this.recompute = shared?.act != null && blockRecomputes(cfg, i, qp);
    this.recomputeNorm = shared !== null && blockRecomputesNorm(cfg, i);
    this.b = this.buffers(N, drop, mem, shared);
    this.y = this.b.out;
    this.stats = mem(maxB * NH * maxT * 2);
    this.attnState = qp.attn.softmax_input || qp.attn.pv_mult_p_input ? new Float64Array(ATTN_STATE) : null;
    if (this.attnState) this.attnOpts.state = this.attnState;
  }

  /** Before a forward (or a run of generation steps): the quantized_linear layers' weights, quantized
   * from update --quantization_warmup_iters on (always in evaluation). */
  prepare(be: Backend, ctx: Ctx): void {
    const on = weightsQuantized(this.qp, ctx), lv = quantLevel(this.qp, ctx);
    for (const l of [this.q, this.k, this.v, this.attnProj, this.fc, this.mlpProj]) l.quantize(be, on, this.quantizer, lv, ctx);
  }

  /**
   * Buffers for a forward over up to `rows` rows (with dropout masks when `dropout`), from `mem`
   * (the model's own are in its ParamStore; others are ordinary arrays).
   */
  buffers(rows: number, dropout = false, mem = (n: number): F => alloc(this.dtype, n), shared: SharedBuffers | null = null): BlockBuffers {
    const nc = () => mem(rows * this.cfg.n_embd);
    const h = shared?.h ?? null, qa = this.qp.attn, qm = this.qp.mlp;
    // A norm output backward does not read (it recomputes it, or reads its quantized copy) is h.
    const norm = (quantized: boolean) => (h && (this.recomputeNorm || quantized) ? h : nc());
    const a = h && !this.outAttn ? h : nc(), s1 = nc(), m = h && !this.outMlp ? h : nc(), s2 = nc();
    const x1 = this.postAttn ? nc() : s1;
    return {
      hA: this.preAttn ? norm(qa.input !== null) : null, q: nc(), k: nc(), v: nc(), y: nc(), a, aOut: this.outAttn ? nc() : a, s1, x1,
      hM: this.preMlp ? norm(qm.input !== null) : x1, fc: mem(rows * this.Hin), act: this.recompute && shared?.act ? shared.act : mem(rows * this.H), m,
      mOut: this.outMlp ? nc() : m, s2, out: this.postMlp ? nc() : s2,
      aMask: dropout ? nc() : null, mMask: dropout ? nc() : null,
      hAq: qa.input ? nc() : null, hMq: qm.input ? nc() : null, yq: qa.pv_mult_output ? nc() : null,
    };
  }

  slots(): VariantSlot[] {
    return [this.preAttn, this.preMlp, this.postAttn, this.postMlp, this.outAttn, this.outMlp, this.act]
      .filter((s): s is VariantSlot => s !== null);
  }

  /** Training and evaluation: causal attention over B sequences of T tokens; output in this.y. */
  forward(be: Backend, x: F, B: number, T: number, ctx: Ctx, dropout: Dropout): void {
    this.be = be; this.B = B; this.T = T;
    this.prepare(be, ctx);
    this.run(be, this.b, x, B * T, ctx, this.trainAttend, dropout);
  }

  private trainAttend: Attend = (y, q, k, v, _N, ctx) => {
    const { B, T } = this, C = this.cfg.n_embd, NH = this.cfg.n_head;
    // Attention dropout: one uint32 seed from the run's generator per call (so a resumed run repeats
    // it); the kernels derive every keep decision from it (docs/memory.md, "Attention dropout").
    const p = this.cfg.dropout;
    this.attDrop = ctx.training && p > 0 ? { p, seed: ctx.rng.nextU32() } : null;
    // The softmax variant and the quantizers of the scores and weights run inside the kernel's strips.
    const o = this.attnOpts;
    if (this.attnState) {
      const qa = this.qp.attn, lv = quantLevel(this.qp, ctx);
      o.quantS = attnQuant(qa.softmax_input, lv, ctx); o.quantP = attnQuant(qa.pv_mult_p_input, lv, ctx);
    }
    this.softmax?.fill(o, B, T);
    this.be!.attentionForward(y, this.stats, q, k, v, this.attDrop, B, T, C, NH, o);
  };

  /**
   * The block's residual wiring, the one place that decides where the norms sit (see the header):
   * N rows of x into b.out, with `attend` for the attention core. Generation runs this too, one
   * row at a time with an attend over its KV cache (generate.ts).
   */
  run(be: Backend, b: BlockBuffers, x: F, N: number, ctx: Ctx, attend: Attend, dropout: Dropout | null): void {
    const C = this.cfg.n_embd, qa = this.qp.attn, qm = this.qp.mlp, lv = quantLevel(this.qp, ctx);
    // Fake quantization at a point (docs/quantization.md), one scale for the n values of this forward.
    const Q = (q: QSpec | null, out: F, src: F, n: number) => { if (q) this.quantizer.apply(be, out, src, n, q, lv, ctx); };
    // attention half
    let hA = b.hA ?? x;
    this.preAttn?.forward(hA, x, N, ctx);
    if (b.hAq) { Q(qa.input, b.hAq, hA, N * C); hA = b.hAq; }
    this.q.forward(be, b.q, hA, N);
    this.k.forward(be, b.k, hA, N);
    this.v.forward(be, b.v, hA, N);
    Q(qa.qk_mult_q_input, b.q, b.q, N * C);
    Q(qa.qk_mult_k_input, b.k, b.k, N * C);
    Q(qa.pv_mult_v_input, b.v, b.v, N * C);
    attend(b.y, b.q, b.k, b.v, N, ctx);
    if (b.yq) Q(qa.pv_mult_output, b.yq, b.y, N * C);
    this.attnProj.forward(be, b.a, b.yq ?? b.y, N);
    Q(qa.output, b.a, b.a, N * C);
    if (b.aMask && dropout?.(b.aMask, N * C, ctx)) be.mul(b.a, b.a, b.aMask, N * C);
    this.outAttn?.forward(b.aOut, b.a, N, ctx);
    be.add(b.s1, x, b.aOut, N * C);
    this.postAttn?.forward(b.x1, b.s1, N, ctx);
    // MLP half
    this.preMlp?.forward(b.hM, b.x1, N, ctx);
    if (b.hMq) Q(qm.input, b.hMq, b.hM, N * C);
    this.fc.forward(be, b.fc, b.hMq ?? b.hM, N);
    Q(qm.activation_input, b.fc, b.fc, N * this.Hin);
    this.act.forward(b.act, b.fc, N, ctx);
    Q(qm.activation_output, b.act, b.act, N * this.H);
    this.mlpProj.forward(be, b.m, b.act, N);
    Q(qm.output, b.m, b.m, N * C);
    if (b.mMask && dropout?.(b.mMask, N * C, ctx)) be.mul(b.m, b.m, b.mMask, N * C);
    this.outMlp?.forward(b.mOut, b.m, N, ctx);
    be.add(b.s2, b.x1, b.mOut, N * C);
    this.postMlp?.forward(b.out, b.s2, N, ctx);
  }

  /**
   * dx (N, C) is WRITTEN with dL/dx given dy = dL/dy. dy is clobbered. Must follow a forward with the
   * same B, T (and a training ctx, so the dropout masks are the ones used). Where each gradient lives
   * (docs/memory.md, "Backward's buffers"): MLP half: dx holds post-LN's gradient, dy or dx peri-LN's,
   * g.gx1 dL/dx1, g.r gact then fc's dx, g.gfc dL/dfc; attention half: the two halves of g.r hold
   * post/peri-LN's and then q/k/v's dx (r0) and gy (r1), dq dk dv go to gx1, r0, dy (all dead by then).
   */
  backward(be: Backend, dx: F, dy: F, x: F, B: number, T: number, ctx: Ctx, g: BlockScratch, dropping: boolean): void {
    const C = this.cfg.n_embd, N = B * T, NH = this.cfg.n_head, NC = N * C, b = this.b;
    // Recomputed forwards report no metric a second time (they repeat the forward's values); without
    // them nothing reads quiet, and it is ctx itself (no object per backward).
    const quiet: Ctx = this.recompute || this.recomputeNorm ? { training: ctx.training, rng: ctx.rng, iter: ctx.iter, metric: () => {} } : ctx;
    // ---- MLP half: y = post(s2), s2 = x1 + out(m), m = proj(actb), actb = act(fc(pre(x1)))
    let gs2 = dy;
    if (this.postMlp) { dx.fill(0, 0, NC); this.postMlp.backward(dx, dy, b.s2, N, ctx); gs2 = dx; }
    // gx1 accumulates dL/dx1: the residual path first.
    const gx1 = g.gx1;
    gx1.set(gs2.subarray(0, NC));
    let gm = gs2;
    if (this.outMlp) { gm = gs2 === dy ? dx : dy; gm.fill(0, 0, NC); this.outMlp.backward(gm, gs2, b.m, N, ctx); }
    if (b.mMask && dropping) be.mul(gm, gm, b.mMask, NC); // in place: gs2's value is in gx1
    // m = proj(actb): gact = gm W_proj (act recomputed from fc first when it is not kept)
    if (this.recompute) this.act.forward(b.act, b.fc, N, quiet);
    const gact = g.r;
    this.mlpProj.backward(be, gact, gm, b.act, N, false);
    g.gfc.fill(0, 0, N * this.Hin);
    this.act.backward(g.gfc, gact, b.fc, N, ctx);
    if (this.preMlp && !b.hMq && this.recomputeNorm) this.preMlp.forward(b.hM, b.x1, N, quiet);
    const hM = b.hMq ?? b.hM, r0 = g.r.subarray(0, NC), r1 = g.r.subarray(NC, 2 * NC);
    if (this.preMlp) {
      this.fc.backward(be, r0, g.gfc, hM, N, false);
      this.preMlp.backward(gx1, r0, b.x1, N, ctx);
    } else {
      this.fc.backward(be, gx1, g.gfc, hM, N, true);
    }
    // ---- attention half: x1 = post(s1), s1 = x + out(a), a = proj(attn(pre(x)))
    let gs1 = gx1;
    if (this.postAttn) { r0.fill(0); this.postAttn.backward(r0, gx1, b.s1, N, ctx); gs1 = r0; }
    dx.set(gs1.subarray(0, NC));
    let ga = gs1;
    if (this.outAttn) { ga = dy; ga.fill(0, 0, NC); this.outAttn.backward(ga, gs1, b.a, N, ctx); }
    if (b.aMask && dropping) be.mul(ga, ga, b.aMask, NC); // in place: gs1's value is in dx
    // a = proj(yb): gy = ga W_proj
    const gy = r1;
    this.attnProj.backward(be, gy, ga, b.yq ?? b.y, N, false);
    const gq = gx1, gk = r0, gv = dy;
    gq.fill(0, 0, NC); gk.fill(0); gv.fill(0, 0, NC);
    const drop = dropping ? this.attDrop : null;
    this.softmax?.beginBackward();
    be.attentionBackward(gq, gk, gv, gy, b.y, this.stats, b.q, b.k, b.v, drop, B, T, C, NH, this.attnOpts);
    this.softmax?.endBackward();
    if (this.preAttn && !b.hAq && this.recomputeNorm) this.preAttn.forward(b.hA!, x, N, quiet);
    const hA = b.hAq ?? b.hA ?? x;
    if (this.preAttn) {
      const gh = r1; // gy is dead
      this.q.backward(be, gh, gq, hA, N, false);
      this.k.backward(be, gh, gk, hA, N, true);
      this.v.backward(be, gh, gv, hA, N, true);
      this.preAttn.backward(dx, gh, x, N, ctx);
    } else {
      this.q.backward(be, dx, gq, hA, N, true);
      this.k.backward(be, dx, gk, hA, N, true);
      this.v.backward(be, dx, gv, hA, N, true);
    }
  }
}
