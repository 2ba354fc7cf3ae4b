// Causal multi-head self-attention without T x T storage (docs/memory.md, "Attention"): per batch b
// and head h (pair i = b * NH + h), row t of the scores S[t, s] = scale q[t] . k[s] over s <= t,
//   m_t = max_s S[t, s],  Z_t = sum_s exp(S[t, s] - m_t),  P[t, s] = exp(S[t, s] - m_t) / Z_t,
//   out[t] = sum_s P[t, s] keep[t, s] v[s]
// with q, k, v, out in (B, T, C) layout, head h owning channels h*D .. h*D+D-1. Forward saves only
// the row statistics stats[2r] = m_t, stats[2r + 1] = Z_t (r = i * T + t); backward recomputes P
// from q, k and them. Dropout needs no mask either: keep[t, s] is 0 or 1/(1-p) from attnKeep, a
// counter-based hash of (seed, i, t, s) that backward evaluates again. The native and wasm kernels
// compute the same numbers strip by strip (native/src/attention.c); this file is the definition.
import type { F } from '../../types.js';
import { bf16, bf16Copy } from '../../bf16.js';
import { quantParamsOf, quantStats, quantValue, rounderOf, STOCHASTIC, type QuantParams, type QuantStats, type Rounder } from '../../quantize.js';

const same = (x: number): number => x;

/** Attention dropout: probability p, and a uint32 seed drawn once per call (per layer and step). */
export interface AttnDropout { p: number; seed: number }

/**
 * A score transform other than softmax (a softmax variant, docs/softmax.md "Inside the attention
 * kernel"), applied to the n unmasked scores S[0..n) of one row of head h (T: the key length of the
 * call): fwd writes P (normalized by the variant where it has a row pass), bwd writes dS from dP and
 * the recomputed P; neither saves anything (such rows' stats are m = 0, Z = 1). Parameter gradients
 * are the transform's own business (it accumulates them as bwd is called, rows in order). pre/decide:
 * an optional per-call decision (strongermax's overflow recompute): decide(max over every row of
 * pre(row)) gives st, which forward saves (state[ATTN_DECISION]) and every fwd/bwd call receives.
 */
export interface ScoreTransform {
  pre?(S: Float64Array, n: number): number;
  decide?(max: number): number;
  fwd(S: Float64Array, P: Float64Array, n: number, h: number, T: number, st: number): void;
  bwd(S: Float64Array, P: Float64Array, dP: Float64Array, dS: Float64Array, n: number, h: number, T: number, st: number): void;
}

/**
 * The same transform in the kernels' terms (native/src/attention.c, the wasm module): a kind
 * (SCORE_KIND), its constants c[8], 4 values per head and, for pfla_softmax, nk sorted knots:
 * spec = c | hp[4 NH] | xs[nk] | ys[nk]. Backward WRITES G parameter-gradient sums per (batch, head)
 * pair into sums (B NH G, float64), which the variant reduces (its `kernel` adapter).
 */
export interface ScoreKernel { kind: number; spec: Float32Array; nk: number; G: number; sums: Float64Array }

/** The kernels' transform kinds (docs/softmax.md, "Inside the attention kernel"). */
export const SCORE_KIND = {
  softmax: 0, exp: 1, relu: 2, relu2: 3, sigmoid: 4, softplus: 5, squareplus: 6, poly: 7, exppoly: 8,
  exprow: 9, sigsoftmax: 10, pfla: 11,
} as const;
/** Constants before the per-head values in ScoreKernel.spec. */
export const SCORE_NC = 8;
/** The exp kind's three per-pair sums (Σ dP P, Σ dP P where unclamped, Σ dP P a): spec's c[1] is the
 * mask of those the variant reads, and the kernels compute only these (the others stay 0). */
export const EXP_SUMS = { all: 1, unclamped: 2, weighted: 4 } as const;
let zeroSpec = new Float32Array(0);
/** The spec of plain softmax (kind 0, which reads none of it) for NH heads: all zeros, one array kept
 * and grown, so that the backends' calls with quantizers but no variant allocate nothing. */
export function softmaxSpec(NH: number): Float32Array {
  if (zeroSpec.length < SCORE_NC + 4 * NH) zeroSpec = new Float32Array(SCORE_NC + 4 * NH);
  return zeroSpec;
}
/** The per-pair gradient sums (G) a kind's backward writes (native/src/softmax.h score_sums). */
export function scoreSums(kind: number, nk: number): number {
  return kind === SCORE_KIND.exp ? 3 : kind === SCORE_KIND.exprow ? 2 : kind === SCORE_KIND.pfla ? 2 * nk + 1 : 0;
}

/** A fake quantizer inside attention (docs/quantization.md, "Attention"): method 0 symmetric,
 * 1 affine, 2 stochastic, 3 ternary; level < 0: no scheduler; seed: stochastic rounding's draws. */
export interface AttnQuant { method: number; bits: number; level: number; seed: number }

/** The call state (AttnOpts.state): quantizer S at ATTN_QS, P at ATTN_QP (12 doubles each: method,
 * bits, level, seed, then what forward writes: active, scale, zp, qmin, qmax, amax, levels), the
 * per-call decision at ATTN_DECISION. Forward writes it; backward reads it. */
export const ATTN_STATE = 32, ATTN_QS = 0, ATTN_QP = 12, ATTN_DECISION = 24;

/** Extensions of the kernel; absent = plain softmax.
 * bf16 (--dtype bfloat16, docs/dtype.md): every product's operands rounded to bfloat16: q, k, v and
 * dout (rounded copies), the weights P keep and dS scale (where used); scale multiplies the float32
 * q . k, and D_t = dout[t] . out[t] is not a matrix product (unrounded).
 * transform + kernel: a softmax variant (both forms always together). quantS / quantP: fake
 * quantization of the scaled scores (before the transform) and of the weights (before dropout and
 * p v), one scale per call over the causal entries of every row; straight-through in backward.
 * state: ATTN_STATE doubles the caller keeps between a forward and its backward. */
export interface AttnOpts {
  transform?: ScoreTransform; kernel?: ScoreKernel; bf16?: boolean;
  quantS?: AttnQuant | null; quantP?: AttnQuant | null; state?: Float64Array;
}

/** Whether opts asks for more than plain softmax (bf16 aside): a backend without these kernels runs
 * this file's definition. */
export function attnExtended(opts?: AttnOpts): boolean {
  return !!(opts && (opts.transform || opts.kernel || opts.quantS || opts.quantP));
}

/** Whether a call under opts needs opts.state (ATTN_STATE doubles kept from forward to backward): it
 * has quantizers or a per-call decision (the transform's pre; its kernel form decides the same). */
export function needsCallState(opts?: AttnOpts): boolean {
  return !!(opts?.quantS || opts?.quantP || opts?.transform?.pre);
}

/** A 32-bit integer mix (lowbias32), the same in C (attention.c) and AssemblyScript. */
export function mix32(x: number): number {
  x ^= x >>> 16; x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15; x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** The key of row t of pair i under seed: every element of the row is one more mix away. */
export function attnRowKey(seed: number, i: number, t: number): number {
  return mix32((mix32((seed ^ mix32(i)) >>> 0) ^ t) >>> 0);
}

/** Element s of the row with key rk: the top 24 bits of one more mix. */
function attnHash24(rk: number, s: number): number {
  return mix32((rk + Math.imul(s, 0x9e3779b9)) >>> 0) >>> 8;
}

/** Whether element s of the row with key rk is kept under dropout probability p. */
export function attnKept(rk: number, s: number, p: number): boolean {
  return attnHash24(rk, s) >= p * 16777216;
}

/** The uniform draw of stochastic rounding for score (t, s) of pair i: the dropout hash under the
 * quantizer's own seed, / 2^24. */
function attnUniform(rk: number, s: number): number {
  return attnHash24(rk, s) / 16777216;
}

/** One in-attention quantizer of a call: its parameters (null: passes unchanged), as in state. */
interface RowQuant { q: AttnQuant; p: QuantParams | null; fr: Rounder }

/** The call's quantizers into the state's headers (method, bits, level, seed; method -1: none), as
 * every backend's kernel reads them; forward fills in the rest. */
export function writeQuantHeaders(state: Float64Array, opts: AttnOpts): void {
  for (const [o, q] of [[ATTN_QS, opts.quantS], [ATTN_QP, opts.quantP]] as const) {
    if (q) { state[o] = q.method; state[o + 1] = q.bits; state[o + 2] = q.level; state[o + 3] = q.seed; } else state[o] = -1;
  }
}

function writeQuant(state: Float64Array, o: number, p: QuantParams | null): void {
  state[o + 4] = p ? 1 : 0;
  if (p) { state[o + 5] = p.scale; state[o + 6] = p.zp; state[o + 7] = p.qmin; state[o + 8] = p.qmax; state[o + 9] = p.amax; state[o + 10] = p.levels; }
}
function readQuant(state: Float64Array, o: number, q: AttnQuant, fr: Rounder): RowQuant {
  const p = state[o + 4] === 1 ? { method: q.method, scale: state[o + 5], zp: state[o + 6], qmin: state[o + 7], qmax: state[o + 8], amax: state[o + 9], levels: state[o + 10] } : null;
  return { q, p, fr };
}

/** x[0..n) of row t of pair i quantized in place (rounded to the data's precision first). */
function quantRow(x: Float64Array, n: number, rq: RowQuant, i: number, t: number): void {
  const fr = rq.fr, p = rq.p;
  for (let s = 0; s < n; s++) x[s] = fr(x[s]);
  if (!p) return;
  const rk = p.method === STOCHASTIC ? attnRowKey(rq.q.seed, i, t) : 0;
  for (let s = 0; s < n; s++) x[s] = quantValue(x[s], p, p.method === STOCHASTIC ? attnUniform(rk, s) : 0, rq.q.level, fr);
}

/** The statistics of a call's rows: order-free min, max, max|x|; sum|x| per row (s ascending), then
 * over rows in order (r = i T + t), in float64 (the kernels' order, docs/quantization.md). */
function rowStats(st: QuantStats, x: Float64Array, n: number, fr: Rounder): void {
  let rs = 0;
  for (let s = 0; s < n; s++) {
    const v = fr(x[s]), a = Math.abs(v);
    if (v < st.mn) st.mn = v;
    if (v > st.mx) st.mx = v;
    if (a > st.amax) st.amax = a;
    rs += a;
  }
  st.asum += rs; st.count += n;
}

/** What both passes share: dims, rounding, the rows' scores and the variant/quantizer steps. */
class Rows {
  readonly D: number; readonly scale: number; readonly rd: (x: number) => number;
  readonly q: F; readonly k: F; readonly v: F;
  readonly tr?: ScoreTransform; qs: RowQuant | null = null; qp: RowQuant | null = null;
  st = 0;
  constructor(q: F, k: F, v: F, readonly B: number, readonly T: number, readonly C: number, readonly NH: number, readonly opts?: AttnOpts) {
    this.D = C / NH; this.scale = 1 / Math.sqrt(this.D); this.tr = opts?.transform;
    this.rd = opts?.bf16 ? bf16 : same;
    const n3 = B * T * C;
    if (opts?.bf16) { q = bf16Copy(q, n3); k = bf16Copy(k, n3); v = bf16Copy(v, n3); }
    this.q = q; this.k = k; this.v = v;
  }
  get quantized(): boolean { return !!(this.opts?.quantS || this.opts?.quantP); }
  state(): Float64Array {
    const s = this.opts?.state;
    if (!s || s.length < ATTN_STATE) throw new RangeError(`attention: quantizers and per-call decisions need opts.state (${ATTN_STATE} doubles)`);
    return s;
  }
  /** S[0..t] = scale q[t] . k[s] for pair (b, h). */
  scores(S: Float64Array, b: number, h: number, t: number): void {
    const { q, k, C, T, D } = this, qo = (b * T + t) * C + h * this.D;
    for (let s = 0; s <= t; s++) {
      const ko = (b * T + s) * C + h * D;
      let dot = 0;
      for (let d = 0; d < D; d++) dot += q[qo + d] * k[ko + d];
      S[s] = dot * this.scale;
    }
  }
  /** S' = Q_S(S) in place (nothing without the quantizer). */
  quantS(S: Float64Array, n: number, i: number, t: number): void { if (this.qs) quantRow(S, n, this.qs, i, t); }
  /** P from S' (softmax, or the variant); the row's m and Z into stats[at], stats[at + 1] when
   * stats is given (0 and 1 under a variant). */
  transform(S: Float64Array, P: Float64Array, n: number, h: number, stats: F | null, at: number): void {
    let m = 0, Z = 1;
    if (this.tr) this.tr.fwd(S, P, n, h, this.T, this.st);
    else {
      m = -Infinity;
      for (let s = 0; s < n; s++) if (S[s] > m) m = S[s];
      Z = 0;
      for (let s = 0; s < n; s++) { const e = Math.exp(S[s] - m); P[s] = e; Z += e; }
      const inv = 1 / Z;
      for (let s = 0; s < n; s++) P[s] *= inv;
    }
    if (stats) { stats[at] = m; stats[at + 1] = Z; }
  }
  /** Calls f(b, h, i, t, n) for every row in order. */
  each(f: (b: number, h: number, i: number, t: number, n: number) => void): void {
    for (let b = 0; b < this.B; b++) for (let h = 0; h < this.NH; h++) for (let t = 0; t < this.T; t++) f(b, h, b * this.NH + h, t, t + 1);
  }
}

/** Forward's pre-passes (docs/quantization.md, "Attention"): the scores' statistics, the variant's
 * per-call decision, the weights' statistics, each over every row of the call, written to state. */
function prePasses(R: Rows, fr: Rounder): void {
  const o = R.opts, tr = R.tr;
  if (!needsCallState(o)) return;
  const state = R.state(), S = new Float64Array(R.T), P = new Float64Array(R.T);
  state.fill(0, 0, ATTN_STATE);
  writeQuantHeaders(state, o ?? {});
  if (o?.quantS) {
    const st = quantStats();
    R.each((b, h, _i, t, n) => { R.scores(S, b, h, t); rowStats(st, S, n, fr); });
    const qs = o.quantS, p = quantParamsOf(st, qs.method, qs.bits, fr);
    writeQuant(state, ATTN_QS, p);
    R.qs = { q: qs, p, fr };
  }
  if (tr?.pre) {
    let mx = -Infinity;
    R.each((b, h, i, t, n) => { R.scores(S, b, h, t); R.quantS(S, n, i, t); mx = Math.max(mx, tr.pre!(S, n)); });
    R.st = tr.decide ? tr.decide(mx) : 0;
    state[ATTN_DECISION] = R.st;
  }
  if (o?.quantP) {
    const st = quantStats();
    R.each((b, h, i, t, n) => { R.scores(S, b, h, t); R.quantS(S, n, i, t); R.transform(S, P, n, h, null, 0); rowStats(st, P, n, fr); });
    const qp = o.quantP, p = quantParamsOf(st, qp.method, qp.bits, fr);
    writeQuant(state, ATTN_QP, p);
    R.qp = { q: qp, p, fr };
  }
}

export function attentionForward(out: F, stats: F, q: F, k: F, v: F, drop: AttnDropout | null,
  B: number, T: number, C: number, NH: number, opts?: AttnOpts): void {
  const R = new Rows(q, k, v, B, T, C, NH, opts), D = R.D, rd = R.rd;
  prePasses(R, rounderOf(out));
  const S = new Float64Array(T), P = new Float64Array(T);
  const keepScale = drop ? 1 / (1 - drop.p) : 1;
  R.each((b, h, i, t, n) => {
    const qo = (b * T + t) * C + h * D, r = i * T + t;
    R.scores(S, b, h, t);
    R.quantS(S, n, i, t);
    R.transform(S, P, n, h, stats, 2 * r);
    if (R.qp) quantRow(P, n, R.qp, i, t);
    if (drop) {
      const rk = attnRowKey(drop.seed, i, t);
      for (let s = 0; s < n; s++) P[s] = attnKept(rk, s, drop.p) ? P[s] * keepScale : 0;
    }
    for (let d = 0; d < D; d++) out[qo + d] = 0;
    for (let s = 0; s < n; s++) {
      const w = rd(P[s]), vo = (b * T + s) * C + h * D;
      for (let d = 0; d < D; d++) out[qo + d] += w * R.v[vo + d];
    }
  });
}

// Backward, row t, with W = P' keep (P' = Q_P(P), or P):  dW[s] = dout[t] . v[s];  dv[s] += W[s] dout[t];
//   dP = dW keep (straight through Q_P);  softmax: dS[s] = P[s] (dP[s] - D_t) scale with
//   D_t = dout[t] . out[t] (= sum_s P[s] dP[s] without quantizers; with them the sum itself);
//   a variant: dS from its bwd; straight through Q_S;  dq[t] += sum_s dS[s] k[s];  dk[s] += dS[s] q[t].
//   dq, dk, dv are accumulated into. S', P, P' are recomputed with forward's saved state.
export function attentionBackward(dq: F, dk: F, dv: F, dout: F, out: F, stats: F, q: F, k: F, v: F,
  drop: AttnDropout | null, B: number, T: number, C: number, NH: number, opts?: AttnOpts): void {
  const R = new Rows(q, k, v, B, T, C, NH, opts), D = R.D, rd = R.rd, tr = R.tr, scale = R.scale, fr = rounderOf(out);
  const dO = opts?.bf16 ? bf16Copy(dout, B * T * C) : dout; // dO: the products' dout
  if (needsCallState(opts)) {
    const state = R.state();
    if (opts?.quantS) R.qs = readQuant(state, ATTN_QS, opts.quantS, fr);
    if (opts?.quantP) R.qp = readQuant(state, ATTN_QP, opts.quantP, fr);
    R.st = state[ATTN_DECISION];
  }
  const S = new Float64Array(T), P = new Float64Array(T), Pq = new Float64Array(T), dP = new Float64Array(T), dS = new Float64Array(T);
  const keepScale = drop ? 1 / (1 - drop.p) : 1;
  R.each((b, h, i, t, n) => {
    const to = (b * T + t) * C + h * D, r = i * T + t;
    const m = stats[2 * r], Z = stats[2 * r + 1];
    R.scores(S, b, h, t);
    R.quantS(S, n, i, t);
    if (tr) tr.fwd(S, P, n, h, T, R.st);
    else { const inv = 1 / Z; for (let s = 0; s < n; s++) P[s] = Math.exp(S[s] - m) * inv; }
    let W = P;
    if (R.qp) { Pq.set(P.subarray(0, n)); quantRow(Pq, n, R.qp, i, t); W = Pq; }
    const rk = drop ? attnRowKey(drop.seed, i, t) : 0;
    for (let s = 0; s < n; s++) {
      const so = (b * T + s) * C + h * D;
      let dw = 0;
      for (let d = 0; d < D; d++) dw += dO[to + d] * R.v[so + d];
      const keep = drop ? (attnKept(rk, s, drop.p) ? keepScale : 0) : 1;
      const w = rd(W[s] * keep);
      for (let d = 0; d < D; d++) dv[so + d] += w * dO[to + d];
      dP[s] = dw * keep;
    }
    if (tr) tr.bwd(S, P, dP, dS, n, h, T, R.st);
    else {
      let Dt = 0;
      if (R.quantized) for (let s = 0; s < n; s++) Dt += P[s] * dP[s];
      else for (let d = 0; d < D; d++) Dt += dout[to + d] * out[to + d];
      for (let s = 0; s < n; s++) dS[s] = P[s] * (dP[s] - Dt);
    }
    for (let s = 0; s < n; s++) {
      const so = (b * T + s) * C + h * D, ds = rd(dS[s] * scale);
      for (let d = 0; d < D; d++) {
        dq[to + d] += ds * R.k[so + d];
        dk[so + d] += ds * R.q[to + d];
      }
    }
  });
}
