// Autoregressive generation with a KV cache. While the sequence fits the context (block_size),
// each new token runs the blocks on ONE row, through the block's own wiring (Block.run: placement is
// decided there only): its k and v are appended to the layer's cache and its query attends over the
// cached positions, so a token costs O(layers * (C^2 + t C)), not a full
// forward over the prompt. Past block_size the context is cropped to the last block_size tokens
// (as nanoGPT does); with absolute position embeddings every cached k, v changes then, so each
// further token is one batched forward over the cropped window.
import { alloc, type F } from '../engine/types.js';
import { bf16 } from '../engine/bf16.js';
import type { Rng } from '../engine/rng.js';
import type { Ctx } from '../nn/variant.js';
import type { Attend, BlockBuffers } from './block.js';
import { quantLevel } from '../nn/quant.js';
import type { GPT } from './gpt.js';

/** attendCachedWith's operand rounding under float32: none (bfloat16 rounds with bf16). */
const same = (x: number): number => x;

export interface SampleOptions {
  maxNewTokens: number;
  temperature: number;
  topK: number | null;
}

export class Generator {
  private kc: F[]; private vc: F[]; // per layer (block_size, C)
  private len = 0;
  private x: F; private h: F;
  private bufs: BlockBuffers[]; // one row, per layer
  private attend: Attend[]; // per layer: append k, v to the cache, attend over it
  private qscores: F | null = null; private qweights: F | null = null; // (NH, t+1) scores and weights of one step
  private logits: F; private probs: Float64Array; private order: Int32Array; private scores: Float64Array;
  /** A softmax variant whose weights depend on the call (T, a per-call decision): every token is a full
   * forward over the context, as the framework's generate does (docs/softmax.md). */
  private uncached: boolean;

  constructor(private model: GPT) {
    const { cfg, dtype } = model;
    const C = cfg.n_embd, T = cfg.block_size;
    this.kc = model.blocks.map(() => alloc(dtype, T * C));
    this.vc = model.blocks.map(() => alloc(dtype, T * C));
    this.x = alloc(dtype, C); this.h = alloc(dtype, C);
    this.bufs = model.blocks.map((blk) => blk.buffers(1));
    this.attend = model.blocks.map((_, l) => (y: F, q: F, k: F, v: F, _N: number, ctx: Ctx) => {
      const blk = model.blocks[l], qa = blk.qp.attn;
      if (qa.softmax_input || qa.pv_mult_p_input || blk.softmax) this.attendCachedWith(l, y, q, k, v, ctx);
      else this.attendCached(l, y, q, k, v);
    });
    this.logits = alloc(dtype, cfg.vocab_size);
    this.probs = new Float64Array(cfg.vocab_size);
    this.order = new Int32Array(cfg.vocab_size);
    this.scores = new Float64Array(T); // attention scores of one query over the cached positions
    this.uncached = model.blocks.some((b) => b.softmax?.callDependent);
  }

  /** Layer l's attention for the token at position len: its k, v join the cache, its q attends over it. */
  private attendCached(l: number, y: F, q: F, k: F, v: F): void {
    const cfg = this.model.cfg, C = cfg.n_embd, NH = cfg.n_head, D = C / NH, t = this.len;
    const kc = this.kc[l], vc = this.vc[l], scores = this.scores, scale = 1 / Math.sqrt(D);
    kc.set(k.subarray(0, C), t * C);
    vc.set(v.subarray(0, C), t * C);
    if (cfg.dtype === 'bfloat16') { this.attendBf16(y, q, kc, vc, t, C, NH, D, scale); return; }
    for (let hd = 0; hd < NH; hd++) {
      const o = hd * D;
      let max = -Infinity;
      for (let s = 0; s <= t; s++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[o + d] * kc[s * C + o + d];
        scores[s] = dot * scale;
        if (scores[s] > max) max = scores[s];
      }
      let sum = 0;
      for (let s = 0; s <= t; s++) { scores[s] = Math.exp(scores[s] - max); sum += scores[s]; }
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let s = 0; s <= t; s++) acc += scores[s] * vc[s * C + o + d];
        y[o + d] = acc / sum;
      }
    }
  }

  /** attendCached with --dtype bfloat16: the training kernel's rounding (docs/dtype.md): q . k of
   * rounded operands, scaled; the normalized probabilities and v rounded for the weighted sum. */
  private attendBf16(y: F, q: F, kc: F, vc: F, t: number, C: number, NH: number, D: number, scale: number): void {
    const scores = this.scores;
    for (let hd = 0; hd < NH; hd++) {
      const o = hd * D;
      let max = -Infinity;
      for (let s = 0; s <= t; s++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += bf16(q[o + d]) * bf16(kc[s * C + o + d]);
        scores[s] = dot * scale;
        if (scores[s] > max) max = scores[s];
      }
      let sum = 0;
      for (let s = 0; s <= t; s++) { scores[s] = Math.exp(scores[s] - max); sum += scores[s]; }
      for (let s = 0; s <= t; s++) scores[s] = bf16(scores[s] / sum);
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let s = 0; s <= t; s++) acc += scores[s] * bf16(vc[s * C + o + d]);
        y[o + d] = acc;
      }
    }
  }

  /**
   * attendCached with a softmax variant and/or the in-attention quantization points (docs/softmax.md
   * "Generation", docs/quantization.md "Generation"): the scores of the one query over the t+1 cached
   * positions, every head; the scores' quantizer over that (NH, t+1) tensor; the variant's transform
   * (training's, src/nn/softmax/softmax-slot.ts) or softmax; the weights' quantizer; the weighted sum.
   * With --dtype bfloat16 the products' operands are rounded as in training (q, k, the weights, v).
   */
  private attendCachedWith(l: number, y: F, q: F, k: F, v: F, ctx: Ctx): void {
    const { model } = this, blk = model.blocks[l], qa = blk.qp.attn, be = model.be, variant = blk.softmax;
    const cfg = model.cfg, C = cfg.n_embd, NH = cfg.n_head, D = C / NH, t = this.len, n = t + 1, scale = 1 / Math.sqrt(D);
    const kc = this.kc[l], vc = this.vc[l], lv = quantLevel(blk.qp, ctx), rd = cfg.dtype === 'bfloat16' ? bf16 : same;
    kc.set(k.subarray(0, C), t * C);
    vc.set(v.subarray(0, C), t * C);
    const S = this.qscores ??= alloc(model.dtype, NH * cfg.block_size), P = this.qweights ??= alloc(model.dtype, NH * cfg.block_size);
    for (let hd = 0; hd < NH; hd++) {
      for (let s = 0; s < n; s++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += rd(q[hd * D + d]) * rd(kc[s * C + hd * D + d]);
        S[hd * n + s] = dot * scale;
      }
    }
    if (qa.softmax_input) blk.quantizer.apply(be, S, S, NH * n, qa.softmax_input, lv, ctx);
    if (variant) variant.transformRows(P, S, 1, NH, 1, n);
    else {
      for (let hd = 0; hd < NH; hd++) {
        let max = -Infinity, sum = 0;
        for (let s = 0; s < n; s++) if (S[hd * n + s] > max) max = S[hd * n + s];
        for (let s = 0; s < n; s++) { const e = Math.exp(S[hd * n + s] - max); P[hd * n + s] = e; sum += e; }
        for (let s = 0; s < n; s++) P[hd * n + s] /= sum;
      }
    }
    if (qa.pv_mult_p_input) blk.quantizer.apply(be, P, P, NH * n, qa.pv_mult_p_input, lv, ctx);
    for (let hd = 0; hd < NH; hd++) {
      for (let d = 0; d < D; d++) {
        let acc = 0;
        for (let s = 0; s < n; s++) acc += rd(P[hd * n + s]) * rd(vc[s * C + hd * D + d]);
        y[hd * D + d] = acc;
      }
    }
  }

  /** Logits (vocab_size) after feeding one more token at the next position: every block runs its own
   * wiring (Block.run) on this one row, with the cached attention. */
  private step(token: number, ctx: Ctx): F {
    const { model } = this, be = model.be, cfg = model.cfg, C = cfg.n_embd;
    const t = this.len;
    const { wte, wpe } = model.embeddings();
    for (let c = 0; c < C; c++) this.x[c] = wte[token * C + c] + wpe[t * C + c];
    model.blocks.forEach((blk, l) => {
      const b = this.bufs[l];
      blk.run(be, b, this.x, 1, ctx, this.attend[l], null);
      this.x.set(b.out.subarray(0, C));
    });
    model.lnF.forward(this.h, this.x, 1, ctx);
    be.matmul(this.logits, this.h, model.lmHead.data, 1, cfg.vocab_size, C, { ...model.mm, transB: true });
    this.len++;
    return this.logits;
  }

  /** Logits of the last of `tokens` (at most block_size), fed from position 0 through the KV cache. */
  cachedLogits(tokens: number[], ctx: Ctx): F {
    this.model.prepare(ctx);
    if (this.uncached) return this.windowLogits(tokens, ctx);
    this.len = 0;
    for (const tok of tokens) this.step(tok, ctx);
    return this.logits;
  }

  /** Continue `prompt` (token ids) by opts.maxNewTokens tokens; returns only the new ones. */
  generate(prompt: number[], opts: SampleOptions, rng: Rng, ctx: Ctx, onToken?: (id: number) => void): number[] {
    const { model } = this, T = model.cfg.block_size;
    if (prompt.length === 0) throw new Error('generate needs a prompt of at least one token');
    const seq = [...prompt];
    const out: number[] = [];
    this.model.prepare(ctx);
    let logits: F | null = seq.length <= T && !this.uncached ? this.cachedLogits(seq, ctx) : null;
    for (let i = 0; i < opts.maxNewTokens; i++) {
      if (seq.length > T || logits === null) logits = this.windowLogits(seq.slice(-T), ctx);
      const next = this.pick(logits, opts, rng);
      seq.push(next); out.push(next);
      onToken?.(next);
      if (i + 1 < opts.maxNewTokens && seq.length <= T && !this.uncached) logits = this.step(next, ctx);
      else logits = null;
    }
    return out;
  }

  /** Logits of the last position of a full forward over `window` (cropped context). */
  private windowLogits(window: number[], ctx: Ctx): F {
    const { model } = this, T = window.length;
    const idx = Int32Array.from(window);
    model.forward(idx, null, 1, T, ctx);
    return model.logitsAt(this.logits, T - 1);
  }

  /** Temperature, top-k, then one multinomial draw (torch.multinomial on softmax). */
  private pick(logits: F, opts: SampleOptions, rng: Rng): number {
    const V = logits.length, p = this.probs;
    const temp = Math.max(opts.temperature, 1e-8);
    for (let i = 0; i < V; i++) p[i] = logits[i] / temp;
    if (opts.topK !== null && opts.topK < V) {
      const order = this.order;
      for (let i = 0; i < V; i++) order[i] = i;
      order.sort((a, b) => p[b] - p[a]);
      const kth = p[order[Math.max(0, opts.topK - 1)]];
      for (let i = 0; i < V; i++) if (p[i] < kth) p[i] = -Infinity;
    }
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (p[i] > max) max = p[i];
    let sum = 0;
    for (let i = 0; i < V; i++) { p[i] = Math.exp(p[i] - max); sum += p[i]; }
    let u = rng.uniform() * sum;
    for (let i = 0; i < V; i++) { u -= p[i]; if (u < 0) return i; }
    for (let i = V - 1; i >= 0; i--) if (p[i] > 0) return i;
    return 0;
  }
}
