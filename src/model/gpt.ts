// GPT in the nanoGPT layout (docs/variants.md, "The model around them"):
//   x = dropout(wte[idx] + wpe[0..T)); x = block_i(x) for each layer; x = ln_f(x);
//   logits = x lm_head^T (lm_head tied to wte unless --no-wte_weight_tying); loss = cross_entropy.
// Forward keeps every activation backward needs (in the blocks); buffers are allocated once for
// up to maxB x maxT tokens and reused; smaller B, T use a prefix of them. The LM head and the
// cross-entropy are fused (docs/memory.md, "LM head"): logits exist for one block of rows at a time,
// and a training forward given its loss scale computes the head's gradient right away.
import type { Backend, MatmulOptions } from '../engine/backend.js';
import type { DType, F } from '../engine/types.js';
import { Rng } from '../engine/rng.js';
import { VariantSlot } from '../nn/slot.js';
import type { Ctx } from '../nn/variant.js';
import { norms } from '../nn/norms/norm-registry.js';
import { Block, blockRecomputes, maxMlpInput, scratchFloats, type BlockScratch, type SharedBuffers } from './block.js';
import type { ModelConfig } from '../config/config-types.js';
import { headRows } from './memory.js';
import { ParamStore, type Param } from '../nn/store.js';
import { Quantizer, quantLevel, quantPlan, type QuantPlan } from '../nn/quant.js';

export interface GPTOptions {
  dtype?: DType;
  maxB: number;
  maxT: number;
  seed: number; // parameter initialisation
  /** Rows of the LM head at once (default headRows(N, V)). */
  headRows?: number;
}

export class GPT {
  readonly store: ParamStore;
  readonly blocks: Block[];
  readonly lnF: VariantSlot;
  readonly wte: Param;
  readonly wpe: Param;
  readonly lmHead: Param; // === wte when tied
  /** The LM head's products' options: bf16 with --dtype bfloat16 (the tied head's product rounds its
   * copy of wte; the embedding lookup does not round; docs/dtype.md). */
  readonly mm: MatmulOptions;
  readonly dtype: DType;
  readonly maxB: number;
  readonly maxT: number;

  private emb: F; private embMask: F | null; private xf: F;
  /** Rows of the LM head's logits held at once (headRows x vocab_size floats: logits, then probs,
   * then their gradient, in place). */
  readonly headRows: number;
  private head: F; private losses: F;
  // The head's gradient was computed by the last forward, with this loss scale (NaN: not computed).
  private headScale = NaN;
  private g: BlockScratch; private d1: F; private d2: F;
  private lastB = 0; private lastT = 0; private lastIdx: Int32Array | null = null; private lastTargets: Int32Array | null = null;
  private dropping = false;
  /** What the model quantizes (docs/quantization.md); the fake-quantized embedding tables (or null). */
  readonly qp: QuantPlan;
  readonly quantizer = new Quantizer();
  private wteQ: F | null; private wpeQ: F | null;

  constructor(readonly cfg: ModelConfig, public be: Backend, opts: GPTOptions) {
    const dtype = (this.dtype = opts.dtype ?? 'float32');
    this.mm = cfg.dtype === 'bfloat16' ? { bf16: true } : {};
    const { maxB, maxT } = opts;
    this.maxB = maxB; this.maxT = maxT;
    const C = cfg.n_embd, V = cfg.vocab_size, N = maxB * maxT;
    const store = (this.store = new ParamStore(dtype, be));
    this.wte = store.declare('transformer.wte.weight', [V, C], { normal: 0.02 });
    this.wpe = store.declare('transformer.wpe.weight', [cfg.block_size, C], { normal: 0.02 });
    this.blocks = [];
    // The norm outputs, a and m (h), and the activation's output (hid, when recomputed; backward's
    // gfc too): one buffer each for all blocks (docs/memory.md, "What a block keeps").
    const anyRecompute = Array.from({ length: cfg.n_layer }, (_, i) => blockRecomputes(cfg, i)).some(Boolean);
    const hid = store.alloc(N * maxMlpInput(cfg));
    const shared: SharedBuffers = { h: store.alloc(N * C), act: anyRecompute ? hid : null };
    for (let i = 0; i < cfg.n_layer; i++) this.blocks.push(new Block(store, i, cfg, maxB, maxT, dtype, shared));
    this.lnF = new VariantSlot(store, 'transformer.ln_f', norms[cfg.norm_variant_output], C, cfg, N);
    this.lmHead = cfg.wte_weight_tying ? this.wte : store.declare('lm_head.weight', [V, C], { normal: 0.02 });
    store.finalize(new Rng(opts.seed));
    for (const s of this.slots()) s.bind(be);
    for (const b of this.blocks) b.softmax?.bind();

    this.emb = store.alloc(N * C);
    this.embMask = cfg.dropout > 0 ? store.alloc(N * C) : null;
    this.xf = store.alloc(N * C);
    this.headRows = Math.max(1, Math.min(N, opts.headRows ?? headRows(N, V)));
    this.head = store.alloc(this.headRows * V);
    this.losses = store.alloc(N);
    const nc = () => store.alloc(N * C);
    this.g = { gx1: nc(), r: store.alloc(scratchFloats(cfg, N)), gfc: hid };
    this.d1 = nc(); this.d2 = nc();
    this.qp = quantPlan(cfg);
    this.wteQ = this.qp.wte ? store.alloc(V * C) : null;
    this.wpeQ = this.qp.wpe ? store.alloc(cfg.block_size * C) : null;
  }

  /**
   * Before a forward, or before a run of generation steps: the embedding tables (each quantized as
   * one tensor) and the blocks' quantized_linear weights. The tied LM head reads the float wte.
   */
  prepare(ctx: Ctx): void {
    this.prepareTables(ctx);
    for (const b of this.blocks) b.prepare(this.be, ctx);
  }

  /** The quantized embedding tables (forward: the blocks prepare their own linears in Block.forward). */
  private prepareTables(ctx: Ctx): void {
    const { be, cfg, qp } = this, C = cfg.n_embd, lv = quantLevel(qp, ctx);
    if (this.wteQ) this.quantizer.apply(be, this.wteQ, this.wte.data, cfg.vocab_size * C, qp.wte!, lv, ctx);
    if (this.wpeQ) this.quantizer.apply(be, this.wpeQ, this.wpe.data, cfg.block_size * C, qp.wpe!, lv, ctx);
  }

  /** The embedding tables the forward reads: wte and wpe, or their quantized copies (after prepare()). */
  embeddings(): { wte: F; wpe: F } {
    return { wte: this.wteQ ?? this.wte.data, wpe: this.wpeQ ?? this.wpe.data };
  }

  slots(): VariantSlot[] {
    return [...this.blocks.flatMap((b) => b.slots()), this.lnF];
  }

  /** Switch backend (e.g. after loading); re-binds the fused variant kernels. */
  setBackend(be: Backend): void {
    this.be = be;
    for (const s of this.slots()) s.bind(be);
  }

  /** Fills mask with 0 or 1/(1-p) when training with dropout; returns whether it applies. */
  private dropout = (mask: F, n: number, ctx: Ctx): boolean => {
    const p = this.cfg.dropout;
    if (!ctx.training || p <= 0) return false;
    const keep = 1 / (1 - p);
    for (let i = 0; i < n; i++) mask[i] = ctx.rng.uniform() < p ? 0 : keep;
    return true;
  };

  /**
   * idx, targets: (B, T) token ids. Returns the mean cross-entropy loss over the B*T positions
   * (NaN when targets is null: then the head is not computed; logitsAt gives a row's logits). With
   * lossScale (training), the LM head's gradient for L = lossScale * loss is computed here, block by
   * block, so that backward(lossScale) starts from it; without it, backward recomputes the logits.
   */
  forward(idx: Int32Array, targets: Int32Array | null, B: number, T: number, ctx: Ctx, lossScale?: number): number {
    const { be, cfg } = this;
    const C = cfg.n_embd, N = B * T;
    if (B > this.maxB || T > this.maxT) throw new Error(`forward(${B}x${T}) exceeds the model's buffers (${this.maxB}x${this.maxT})`);
    this.prepareTables(ctx);
    const emb = this.embeddings();
    be.embeddingForward(this.emb, idx, emb.wte, emb.wpe, B, T, C);
    this.dropping = ctx.training && cfg.dropout > 0;
    if (this.embMask && this.dropout(this.embMask, N * C, ctx)) be.mul(this.emb, this.emb, this.embMask, N * C);
    let x = this.emb;
    for (const block of this.blocks) {
      block.forward(be, x, B, T, ctx, this.dropout);
      x = block.y;
    }
    this.lnF.forward(this.xf, x, N, ctx);
    this.lastB = B; this.lastT = T; this.lastIdx = idx; this.lastTargets = targets;
    this.headScale = NaN;
    if (!targets) return NaN;
    const grad = lossScale !== undefined;
    const loss = this.headPass(targets, N, grad ? lossScale : null);
    if (grad) this.headScale = lossScale;
    return loss;
  }

  /**
   * The LM head and cross-entropy over rows [0, N) of xf, headRows at a time: logits, softmax and
   * losses in place; with a scale, also dlogits = (probs - onehot) * scale / N in place, then
   * lm_head.grad += dlogits^T xf and d1 (dL/dxf) = dlogits W. Returns the mean loss.
   */
  private headPass(targets: Int32Array, N: number, scale: number | null): number {
    const { be, cfg, head } = this, C = cfg.n_embd, V = cfg.vocab_size, W = this.lmHead.data;
    let total = 0;
    for (let r0 = 0; r0 < N; r0 += this.headRows) {
      const R = Math.min(this.headRows, N - r0);
      const xf = this.xf.subarray(r0 * C, (r0 + R) * C), tg = targets.subarray(r0, r0 + R);
      be.matmul(head, xf, W, R, V, C, { ...this.mm, transB: true });
      total += R * be.crossEntropyForward(this.losses.subarray(r0, r0 + R), head, head, tg, R, V);
      if (scale === null) continue;
      be.crossEntropyBackward(head, head, tg, scale / N, R, V);
      // lm_head: dW += dlogits^T xf;  dxf = dlogits W
      be.matmul(this.lmHead.grad, head, xf, V, C, R, { ...this.mm, transA: true, accumulate: true });
      be.matmul(this.d1.subarray(r0 * C, (r0 + R) * C), head, W, R, C, V, this.mm);
    }
    return total / N;
  }

  /** out (vocab_size) = the logits of row `row` (b * T + t) of the last forward. */
  logitsAt(out: F, row: number): F {
    const C = this.cfg.n_embd;
    this.be.matmul(out, this.xf.subarray(row * C, (row + 1) * C), this.lmHead.data, 1, this.cfg.vocab_size, C, { ...this.mm, transB: true });
    return out;
  }

  /** Adds dL/dparams into the gradients, for L = lossScale * (mean loss of the last forward). */
  backward(lossScale: number, ctx: Ctx): void {
    const { be, cfg } = this;
    const B = this.lastB, T = this.lastT, C = cfg.n_embd, N = B * T;
    const idx = this.lastIdx, targets = this.lastTargets;
    if (!idx || !targets) throw new Error('backward() needs a forward() with targets first');
    if (Number.isNaN(this.headScale)) this.headPass(targets, N, lossScale);
    else if (this.headScale !== lossScale) throw new Error(`backward(${lossScale}) after a forward that computed the head's gradient for lossScale ${this.headScale}`);
    this.headScale = NaN;
    let dy = this.d1, dx = this.d2;
    const L = this.blocks.length;
    const xLast = L > 0 ? this.blocks[L - 1].y : this.emb;
    dx.fill(0, 0, N * C);
    this.lnF.backward(dx, dy, xLast, N, ctx);
    [dy, dx] = [dx, dy];
    for (let l = L - 1; l >= 0; l--) {
      const xin = l > 0 ? this.blocks[l - 1].y : this.emb;
      this.blocks[l].backward(be, dx, dy, xin, B, T, ctx, this.g, this.dropping);
      [dy, dx] = [dx, dy];
    }
    if (this.embMask && this.dropping) be.mul(dy, dy, this.embMask, N * C);
    be.embeddingBackward(this.wte.grad, this.wpe.grad, dy, idx, B, T, C);
  }

  /** Number of learned parameters (a tied lm_head counted once). */
  numParams(): number {
    return this.store.count();
  }
}

export { headRows } from './memory.js';
