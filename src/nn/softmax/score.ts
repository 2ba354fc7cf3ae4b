// The contract every attention softmax variant implements (--softmax_variant_attn; docs/softmax.md):
// a *score transform* over one query row of the scaled, causally masked attention scores.
//
// A row holds only its n unmasked scores (keys 0..t of query t; masked entries are never passed, and
// the caller writes 0 for them), so no formula ever sees -inf and every row reduction runs over the
// unmasked entries only. T is the key length of the call (block_size in training, shorter when
// generating): --div_by_seq_len divides by it. h is the head (per-head parameters are [n_head,1,1]).
//
//   kind(a):   'elem' (p depends on its own score only: no row pass at all) or 'row' (a row max or sum).
//   params:    what a layer's instance owns, under the framework's names
//              (transformer.h.<i>.attn.softmax_layer_attn.<name>).
//   callDecision: optional, one number per call decided from every row before any forward
//              (strongermax's overflow decision): pre(row) per row, decide(max over rows); the number
//              is passed to forward and backward as st.
//   kernel:    the same transform in the attention kernels' terms (a SCORE_KIND and its constants,
//              src/engine/kernels/ts/attention.ts ScoreKernel; native/src/softmax.h), so that native
//              and wasm run it inside their strips; with `grads`, how the kernel's per-pair sums
//              become the parameter gradients.
//   forward(P, S, o, n, ...):   writes P[o..o+n) from S[o..o+n).
//   backward(dS, dP, S, P, o, n, ..., g): WRITES dS[o..o+n) from dP (the gradient of the loss with
//              respect to P) and ADDS the parameter gradients into g[name] (float64 sums, one per
//              parameter element).
import type { F } from '../../engine/types.js';
export { EXP_SUMS, SCORE_KIND } from '../../engine/kernels/ts/attention.js';
import type { Ops } from '../op-cost.js';
import type { ParamSpec, Params, VariantConfig, VariantFlag } from '../variant.js';

export type Grads = Record<string, Float64Array>;
export type ScoreKind = 'elem' | 'row';

/** Per score (one query-key pair): operations of the forward and of the backward, and how many row
 * reductions (a max or a sum over the row's keys) each pass needs: none for the elementwise ones. */
export interface ScoreCost {
  forward: Ops;
  backward: Ops;
  reductions: { forward: number; backward: number };
}

/** Which rows a call covers: B sequences, NH heads, queries t = 0..Tq-1 of a (B, NH, Tq, T) tensor
 * whose row t holds keys 0..t0 + t (t0 = T - Tq: generation with a KV cache has Tq = 1). */
export interface RowLayout { B: number; NH: number; Tq: number; T: number }

export interface SoftmaxVariant<A = {}> {
  name: string;
  /** Its own flags (shared ones are the same objects, e.g. consmax's with its relatives). */
  flags?: readonly VariantFlag[];
  kind(a: VariantConfig<A>): ScoreKind;
  params(NH: number, a: VariantConfig<A>): Record<string, ParamSpec>;
  /** Flag combinations refused beyond each flag's own check, as a one-line message; else null. */
  check?(a: VariantConfig<A>): string | null;
  cost(a: VariantConfig<A>): ScoreCost;
  callDecision?(a: VariantConfig<A>): CallDecision | null;
  forward(P: F, S: F, o: number, n: number, T: number, h: number, p: Params, a: VariantConfig<A>, st: number): void;
  backward(dS: F, dP: F, S: F, P: F, o: number, n: number, T: number, h: number, p: Params, g: Grads,
    a: VariantConfig<A>, st: number): void;
  /** True when a row's weights depend on the call, not only on the row: T (--div_by_seq_len) or a
   * per-call decision. Generation then runs full forwards instead of the KV cache (src/model/generate.ts),
   * so that every position sees the T of the framework's generate (the whole context each token). */
  callDependent?(a: VariantConfig<A>): boolean;
  /** The kernels' form under a and the current parameters (T: the call's key length), or null (the
   * kernels then run the TypeScript definition). */
  kernel?(a: VariantConfig<A>, p: Params, NH: number, T: number): KernelForm | null;
  /** For plots: the per-score curve at x (elementwise part; pfla_softmax's y_pos) with parameters p. */
  curve?(x: number, p: Params, a: VariantConfig<A>, h: number): number;
}

/** A per-call decision: the call's value is decide(max over every row of pre(row's n scores at o)). */
export interface CallDecision {
  pre(S: ArrayLike<number>, o: number, n: number): number;
  decide(max: number): number;
}

/** A variant in the attention kernels' terms (docs/softmax.md, "Inside the attention kernel"): a
 * SCORE_KIND, its constants c (up to 8), 4 values per head, pfla_softmax's knots (ascending), and how
 * the per-pair sums the kernel writes in backward (see native/src/softmax.h) add to the gradients. */
export interface KernelForm {
  kind: number;
  c: number[];
  /** Head h's 4 values, handed to put (which writes them into the kernel's spec: no array per head). */
  hp?(h: number, put: (v0: number, v1: number, v2: number, v3: number) => void): void;
  knots?: { xs: ArrayLike<number>; ys: ArrayLike<number> };
  grads?(s: KernelSums, g: Grads): void;
}

/** The per-pair sums of one kernel backward as KernelForm.grads reads them: sum j of every (batch,
 * head) pair (how many per pair is the kind's, scoreSums), each total over the pairs in order
 * (deterministic). */
export interface KernelSums {
  /** Sum j over every pair. */
  all(j: number): number;
  /** Sum j over head h's pairs. */
  head(j: number, h: number): number;
}

/** The per-call decision of v under a over the rows of a (B, NH, Tq, T) score tensor (row t has keys
 * 0..T - Tq + t), or 0 when v makes none. */
export function decideCall(v: SoftmaxVariant<any>, a: VariantConfig<any>, S: ArrayLike<number>, rows: RowLayout): number {
  const dec = v.callDecision?.(a);
  if (!dec) return 0;
  let mx = -Infinity;
  for (let r = 0; r < rows.B * rows.NH; r++) for (let t = 0; t < rows.Tq; t++) {
    mx = Math.max(mx, dec.pre(S, (r * rows.Tq + t) * rows.T, rows.T - rows.Tq + t + 1));
  }
  return dec.decide(mx);
}

export type SoftmaxRegistry = Record<string, SoftmaxVariant<any>>;

/** The shared --div_by_seq_len flag (the variants that read it list it; it divides by T). */
export const DIV_BY_SEQ_LEN = {
  name: 'div_by_seq_len', type: 'bool', default: false,
  help: 'softmax variants: divide the attention weights by the key length T (relumax, relu2max, sigmoidmax, softplus, squareplus, polymax, vpolymax, exppolymax, saturatingconsmax, strongermax)',
} as const satisfies VariantFlag;

/** 1 / (d T) with T only under --div_by_seq_len. */
export function outScale(d: number, T: number, divBySeqLen: boolean): number {
  return 1 / (divBySeqLen ? d * T : d);
}

/** A check refusing values that are not > 0 (divisors, bases, temperatures). */
export function positiveFlag(what = ''): NonNullable<VariantFlag['check']> {
  return (v, _c, name) => (typeof v === 'number' && !(v > 0) ? `--${name} is ${v}; it must be > 0${what}` : null);
}

/** A check refusing non-finite numbers. */
export function finiteFlag(): NonNullable<VariantFlag['check']> {
  return (v, _c, name) => (typeof v === 'number' && !Number.isFinite(v) ? `--${name} is ${v}; it must be a finite number` : null);
}

/** Sum of g over the row, in double. */
export function rowDot(a: F, b: F, o: number, n: number): number {
  let s = 0;
  for (let i = o; i < o + n; i++) s += a[i] * b[i];
  return s;
}

/** The row's largest score. */
export function rowMax(S: F, o: number, n: number): number {
  let m = -Infinity;
  for (let i = o; i < o + n; i++) if (S[i] > m) m = S[i];
  return m;
}

/** The row's smallest score. */
export function rowMin(S: F, o: number, n: number): number {
  let m = Infinity;
  for (let i = o; i < o + n; i++) if (S[i] < m) m = S[i];
  return m;
}

export const SIGMOID = (x: number): number => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));

/** What a parameter-free elementwise variant states: its function, derivative and divisor. */
export interface PointwiseSpec<A> {
  name: string;
  flags: readonly VariantFlag[];
  f(x: number, a: VariantConfig<A>): number;
  df(x: number, a: VariantConfig<A>): number;
  /** d in P = f(S) / d (then / T with --div_by_seq_len). */
  divisor(a: VariantConfig<A>): number;
  /** Per score, without the final multiply by 1/(d T) (added here: one in each pass). */
  ops(a: VariantConfig<A>): { forward: Ops; backward: Ops };
  check?(a: VariantConfig<A>): string | null;
  /** The kernels' kind and its constants c1.. (c0, the scale 1/(d T'), is added here). */
  kernel(a: VariantConfig<A>): { kind: number; c: number[] };
}

/** A parameter-free elementwise variant: P = f(S) / (d T'), dS = dP f'(S) / (d T'), T' = T with
 * --div_by_seq_len (which every such variant reads), else 1. */
export function pointwise<A extends { div_by_seq_len: boolean }>(s: PointwiseSpec<A>): SoftmaxVariant<A> {
  const plusMul = (o: Ops): Ops => ({ ...o, mul: (o.mul ?? 0) + 1 });
  return {
    name: s.name,
    flags: s.flags,
    kind: () => 'elem',
    params: () => ({}),
    callDependent: (a) => a.div_by_seq_len,
    ...(s.check ? { check: s.check } : {}),
    cost(a) {
      const o = s.ops(a);
      return { forward: plusMul(o.forward), backward: plusMul(o.backward), reductions: { forward: 0, backward: 0 } };
    },
    forward(P, S, o, n, T, _h, _p, a) {
      const c = outScale(s.divisor(a), T, a.div_by_seq_len);
      for (let i = o; i < o + n; i++) P[i] = s.f(S[i], a) * c;
    },
    backward(dS, dP, S, _P, o, n, T, _h, _p, _g, a) {
      const c = outScale(s.divisor(a), T, a.div_by_seq_len);
      for (let i = o; i < o + n; i++) dS[i] = dP[i] * s.df(S[i], a) * c;
    },
    curve: (x, _p, a) => s.f(x, a) / s.divisor(a),
    kernel(a, _p, _NH, T) {
      const k = s.kernel(a);
      return { kind: k.kind, c: [outScale(s.divisor(a), T, a.div_by_seq_len), ...k.c] };
    },
  };
}

/** A divisor flag (> 0). */
export function divisorFlag<const N extends string>(name: N, def: number, variant: string) {
  return { name, type: 'float', default: def, help: `${variant}: divisor d of the weights`, check: positiveFlag() } as const;
}
