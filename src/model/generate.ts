// Autoregressive generation with a KV cache. While the sequence fits the context (block_size),
// each new token runs the blocks on ONE row: its k and v are appended to the layer's cache and its
// query attends over the cached positions, so a token costs O(layers * (C^2 + t C)), not a full
// forward over the prompt. Past block_size the context is cropped to the last block_size tokens
// (as nanoGPT does); with absolute position embeddings every cached k, v changes then, so each
// further token is one batched forward over the cropped window.
import { alloc, type F } from '../engine/types.js';
import type { Rng } from '../engine/rng.js';
import type { Ctx } from '../nn/variant.js';
import type { GPT } from './gpt.js';

export interface SampleOptions {
  maxNewTokens: number;
  temperature: number;
  topK: number | null;
}

export class Generator {
  private kc: F[]; private vc: F[]; // per layer (block_size, C)
  private len = 0;
  private x: F; private h: F; private q: F; private k: F; private v: F; private y: F; private a: F; private t1: F; private t2: F;
  private fc: F; private act: F; private m: F; private t3: F;
  private logits: F; private probs: Float64Array; private order: Int32Array; private scores: Float64Array;

  constructor(private model: GPT) {
    const { cfg, dtype } = model;
    const C = cfg.n_embd, T = cfg.block_size;
    this.kc = model.blocks.map(() => alloc(dtype, T * C));
    this.vc = model.blocks.map(() => alloc(dtype, T * C));
    const c = () => alloc(dtype, C);
    this.x = c(); this.h = c(); this.q = c(); this.k = c(); this.v = c(); this.y = c(); this.a = c(); this.t1 = c(); this.t2 = c(); this.t3 = c(); this.m = c();
    const b0 = model.blocks[0];
    this.fc = alloc(dtype, b0 ? b0.Hin : 1);
    this.act = alloc(dtype, b0 ? b0.H : 1);
    this.logits = alloc(dtype, cfg.vocab_size);
    this.probs = new Float64Array(cfg.vocab_size);
    this.order = new Int32Array(cfg.vocab_size);
    this.scores = new Float64Array(T); // attention scores of one query over the cached positions
  }

  /** Logits (vocab_size) after feeding one more token at the next position. */
  private step(token: number, ctx: Ctx): F {
    const { model } = this, be = model.be, cfg = model.cfg, C = cfg.n_embd, NH = cfg.n_head, D = C / NH;
    const t = this.len;
    const wte = model.wte.data, wpe = model.wpe.data;
    for (let c = 0; c < C; c++) this.x[c] = wte[token * C + c] + wpe[t * C + c];
    const scale = 1 / Math.sqrt(D);
    const scores = this.scores;
    model.blocks.forEach((blk, l) => {
      const x = this.x;
      const h = blk.preAttn ? this.h : x;
      blk.preAttn?.forward(h, x, 1, ctx);
      blk.q.forward(be, this.q, h, 1);
      blk.k.forward(be, this.k, h, 1);
      blk.v.forward(be, this.v, h, 1);
      this.kc[l].set(this.k, t * C);
      this.vc[l].set(this.v, t * C);
      const kc = this.kc[l], vc = this.vc[l];
      for (let hd = 0; hd < NH; hd++) {
        const o = hd * D;
        let max = -Infinity;
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += this.q[o + d] * kc[s * C + o + d];
          scores[s] = dot * scale;
          if (scores[s] > max) max = scores[s];
        }
        let sum = 0;
        for (let s = 0; s <= t; s++) { scores[s] = Math.exp(scores[s] - max); sum += scores[s]; }
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let s = 0; s <= t; s++) acc += scores[s] * vc[s * C + o + d];
          this.y[o + d] = acc / sum;
        }
      }
      blk.attnProj.forward(be, this.a, this.y, 1);
      let a = this.a;
      if (blk.outAttn) { blk.outAttn.forward(this.t1, a, 1, ctx); a = this.t1; }
      be.add(this.t2, x, a, C);
      let x1 = this.t2;
      if (blk.postAttn) { blk.postAttn.forward(this.t3, x1, 1, ctx); x1 = this.t3; }
      const hm = blk.preMlp ? this.h : x1;
      blk.preMlp?.forward(hm, x1, 1, ctx);
      blk.fc.forward(be, this.fc, hm, 1);
      blk.act.forward(this.act, this.fc, 1, ctx);
      blk.mlpProj.forward(be, this.m, this.act, 1);
      let m = this.m;
      if (blk.outMlp) { blk.outMlp.forward(this.t1, m, 1, ctx); m = this.t1; }
      be.add(this.x, x1, m, C);
      if (blk.postMlp) { blk.postMlp.forward(this.t2, this.x, 1, ctx); this.x.set(this.t2); }
    });
    model.lnF.forward(this.h, this.x, 1, ctx);
    be.matmul(this.logits, this.h, model.lmHead.data, 1, cfg.vocab_size, C, { transB: true });
    this.len++;
    return this.logits;
  }

  /** Continue `prompt` (token ids) by opts.maxNewTokens tokens; returns only the new ones. */
  generate(prompt: number[], opts: SampleOptions, rng: Rng, ctx: Ctx, onToken?: (id: number) => void): number[] {
    const { model } = this, T = model.cfg.block_size;
    if (prompt.length === 0) throw new Error('generate needs a prompt of at least one token');
    const seq = [...prompt];
    const out: number[] = [];
    this.len = 0;
    let logits: F | null = null;
    if (seq.length <= T) for (const tok of seq) logits = this.step(tok, ctx);
    for (let i = 0; i < opts.maxNewTokens; i++) {
      if (seq.length > T || logits === null) logits = this.windowLogits(seq.slice(-T), ctx);
      const next = this.pick(logits, opts, rng);
      seq.push(next); out.push(next);
      onToken?.(next);
      if (i + 1 < opts.maxNewTokens && seq.length <= T) logits = this.step(next, ctx);
      else logits = null;
    }
    return out;
  }

  /** Logits of the last position of a full forward over `window` (cropped context). */
  private windowLogits(window: number[], ctx: Ctx): F {
    const { model } = this, V = model.cfg.vocab_size, T = window.length;
    const idx = Int32Array.from(window);
    model.forward(idx, null, 1, T, ctx);
    this.logits.set(model.logits.subarray((T - 1) * V, T * V));
    return this.logits;
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
