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
//   prepare:   optional, once per call over every row before any forward (strongermax's one
//              overflow decision per call); its number is passed back to forward and backward.
//   forward(P, S, o, n, ...):   writes P[o..o+n) from S[o..o+n).
//   backward(dS, dP, S, P, o, n, ..., g): WRITES dS[o..o+n) from dP (the gradient of the loss with
//              respect to P) and ADDS the parameter gradients into g[name] (float64 sums, one per
//              parameter element).
import type { F } from '../../engine/types.js';
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
  prepare?(S: F, rows: RowLayout, p: Params, a: VariantConfig<A>): number;
  forward(P: F, S: F, o: number, n: number, T: number, h: number, p: Params, a: VariantConfig<A>, st: number): void;
  backward(dS: F, dP: F, S: F, P: F, o: number, n: number, T: number, h: number, p: Params, g: Grads,
    a: VariantConfig<A>, st: number): void;
  /** True when a row's weights depend on the call, not only on the row: T (--div_by_seq_len) or a
   * per-call decision. Generation then runs full forwards instead of the KV cache (src/model/generate.ts),
   * so that every position sees the T of the framework's generate (the whole context each token). */
  callDependent?(a: VariantConfig<A>): boolean;
  /** The native fused form under a and the current parameters (elementwise variants), or null. */
  native?(a: VariantConfig<A>, p: Params, NH: number, T: number): ElemKernel | null;
  /** For plots: the per-score curve at x (elementwise part; pfla_softmax's y_pos) with parameters p. */
  curve?(x: number, p: Params, a: VariantConfig<A>, h: number): number;
}

/** The transform kinds of the native fused elementwise attention (native/src/softmax.c). */
export const ELEM_KIND = { exp: 1, relu: 2, relu2: 3, sigmoid: 4, softplus: 5, squareplus: 6, poly: 7, exppoly: 8 } as const;

/** An elementwise variant in the native fused attention's terms (its `native` adapter): a kind, its
 * constants c[0..5], and for the exp kind per head [β, amax, g] (P = e^(c0 min(S - β, amax)) g) and
 * the parameter gradients from the per-head sums of dP P (all entries, and the unclamped ones). */
export interface ElemKernel {
  kind: number;
  c: number[];
  hp?(h: number): [number, number, number];
  grads?(all: Float64Array, unclamped: Float64Array, g: Grads): void;
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
  /** The native kind and its constants c1.. (c0, the scale 1/(d T'), is added here). */
  native(a: VariantConfig<A>): { kind: number; c: number[] };
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
    native(a, _p, _NH, T) {
      const k = s.native(a);
      return { kind: k.kind, c: [outScale(s.divisor(a), T, a.div_by_seq_len), ...k.c] };
    },
  };
}

/** A divisor flag (> 0). */
export function divisorFlag<const N extends string>(name: N, def: number, variant: string) {
  return { name, type: 'float', default: def, help: `${variant}: divisor d of the weights`, check: positiveFlag() } as const;
}
