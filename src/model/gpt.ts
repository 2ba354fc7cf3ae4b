// GPT in the nanoGPT layout (docs/variants.md, "The model around them"):
//   x = dropout(wte[idx] + wpe[0..T)); x = block_i(x) for each layer; x = ln_f(x);
//   logits = x lm_head^T (lm_head tied to wte unless --no-wte_weight_tying); loss = cross_entropy.
// Forward keeps every activation backward needs (in the blocks); buffers are allocated once for
// up to maxB x maxT tokens and reused; smaller B, T use a prefix of them.
import type { Backend, MatmulOptions } from '../engine/backend.js';
import type { DType, F } from '../engine/types.js';
import { Rng } from '../engine/rng.js';
import { VariantSlot } from '../nn/slot.js';
import type { Ctx } from '../nn/variant.js';
import { norms } from '../nn/norms/index.js';
import { Block, type BlockScratch } from './block.js';
import type { ModelConfig } from '../config/types.js';
import { ParamStore, type Param } from '../nn/store.js';

export interface GPTOptions {
  dtype?: DType;
  maxB: number;
  maxT: number;
  seed: number; // parameter initialisation
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
  readonly logits: F; private probs: F; private losses: F;
  private g: BlockScratch; private d1: F; private d2: F;
  private lastB = 0; private lastT = 0; private lastIdx: Int32Array | null = null; private lastTargets: Int32Array | null = null;
  private dropping = false;

  constructor(readonly cfg: ModelConfig, public be: Backend, opts: GPTOptions) {
    const dtype = (this.dtype = opts.dtype ?? 'float32');
    this.mm = cfg.dtype === 'bfloat16' ? { bf16: true } : {};
    const { maxB, maxT } = opts;
    this.maxB = maxB; this.maxT = maxT;
    const C = cfg.n_embd, V = cfg.vocab_size, N = maxB * maxT, NH = cfg.n_head;
    const store = (this.store = new ParamStore(dtype, be));
    this.wte = store.declare('transformer.wte.weight', [V, C], { normal: 0.02 });
    this.wpe = store.declare('transformer.wpe.weight', [cfg.block_size, C], { normal: 0.02 });
    this.blocks = [];
    for (let i = 0; i < cfg.n_layer; i++) this.blocks.push(new Block(store, i, cfg, maxB, maxT, dtype));
    this.lnF = new VariantSlot(store, 'transformer.ln_f', norms[cfg.norm_variant_output], C, cfg, N);
    this.lmHead = cfg.wte_weight_tying ? this.wte : store.declare('lm_head.weight', [V, C], { normal: 0.02 });
    store.finalize(new Rng(opts.seed));
    for (const s of this.slots()) s.bind(be);

    this.emb = store.alloc(N * C);
    this.embMask = cfg.dropout > 0 ? store.alloc(N * C) : null;
    this.xf = store.alloc(N * C);
    this.logits = store.alloc(N * V);
    this.probs = store.alloc(N * V);
    this.losses = store.alloc(N);
    const H = this.blocks[0]?.H ?? 0, Hin = this.blocks[0]?.Hin ?? 0;
    const nc = () => store.alloc(N * C);
    this.g = {
      g1: nc(), g2: nc(), g3: nc(), g4: nc(), g5: nc(), gq: nc(), gk: nc(), gv: nc(),
      gfc: store.alloc(N * Hin), gact: store.alloc(N * H), gatt: store.alloc(maxB * NH * maxT * maxT),
    };
    this.d1 = nc(); this.d2 = nc();
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
   * (NaN when targets is null: then only logits are computed).
   */
  forward(idx: Int32Array, targets: Int32Array | null, B: number, T: number, ctx: Ctx): number {
    const { be, cfg } = this;
    const C = cfg.n_embd, N = B * T, V = cfg.vocab_size;
    if (B > this.maxB || T > this.maxT) throw new Error(`forward(${B}x${T}) exceeds the model's buffers (${this.maxB}x${this.maxT})`);
    be.embeddingForward(this.emb, idx, this.wte.data, this.wpe.data, B, T, C);
    this.dropping = ctx.training && cfg.dropout > 0;
    if (this.embMask && this.dropout(this.embMask, N * C, ctx)) be.mul(this.emb, this.emb, this.embMask, N * C);
    let x = this.emb;
    for (const block of this.blocks) {
      block.forward(be, x, B, T, ctx, this.dropout);
      x = block.y;
    }
    this.lnF.forward(this.xf, x, N, ctx);
    be.matmul(this.logits, this.xf, this.lmHead.data, N, V, C, { ...this.mm, transB: true });
    this.lastB = B; this.lastT = T; this.lastIdx = idx; this.lastTargets = targets;
    if (!targets) return NaN;
    return be.crossEntropyForward(this.losses, this.probs, this.logits, targets, N, V);
  }

  /** Adds dL/dparams into the gradients, for L = lossScale * (mean loss of the last forward). */
  backward(lossScale: number, ctx: Ctx): void {
    const { be, cfg } = this;
    const B = this.lastB, T = this.lastT, C = cfg.n_embd, N = B * T, V = cfg.vocab_size;
    const idx = this.lastIdx, targets = this.lastTargets;
    if (!idx || !targets) throw new Error('backward() needs a forward() with targets first');
    const dlogits = this.logits; // overwritten: logits are not needed any more
    be.crossEntropyBackward(dlogits, this.probs, targets, lossScale / N, N, V);
    // lm_head: dW += dlogits^T xf;  dxf = dlogits W
    be.matmul(this.lmHead.grad, dlogits, this.xf, V, C, N, { ...this.mm, transA: true, accumulate: true });
    let dy = this.d1, dx = this.d2;
    be.matmul(dy, dlogits, this.lmHead.data, N, C, V, this.mm);
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
