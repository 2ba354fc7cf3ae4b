// What a variant costs in a chip: operation counts per token, declared by each norm and activation
// beside its forward and backward (`cost` in ./variant.ts). The counting rules are stated once, in
// docs/cost.md; this file holds the vocabulary (operation classes, reductions) and the few helpers
// that apply the rules the same way everywhere. Parameter counts and bytes are not declared by the
// variants: they are derived from `params` and `saved` (variantCost below), so they cannot disagree.
import type { ParamSpec } from './variant.js';

/** Operation classes (docs/cost.md, "Operation classes"). */
export const OP_CLASSES = ['mul', 'add', 'div', 'sqrt', 'exp', 'erf', 'tanh', 'cmp', 'lut', 'rand'] as const;
export type OpClass = (typeof OP_CLASSES)[number];

/** What each class holds, for tables and --help. */
export const OP_CLASS_HELP: Record<OpClass, string> = {
  mul: 'multiplies (by a constant too)',
  add: 'adds and subtracts',
  div: 'divides and reciprocals',
  sqrt: 'square roots and reciprocal square roots',
  exp: 'exp, expm1, log, log1p',
  erf: 'erf',
  tanh: 'tanh and sigmoid',
  cmp: 'compares, selects, max/min, abs, rounding',
  lut: 'table look-ups (a segment\'s parameters fetched by index)',
  rand: 'random numbers drawn',
};

export type Ops = Partial<Record<OpClass, number>>;

/** A reduction over `length` entries (a sum of squares, a mean, a dot product) at operand width `bits`. */
export interface Reduction {
  length: number;
  bits: number;
}

/** One pass (forward or backward) per token. */
export interface PassCost {
  ops: Ops;
  /** Every reduction of the pass, in order; their adds are already in ops.add. */
  reductions?: Reduction[];
}

/** What a variant declares: per token (one row of C channels, C = its output width). */
export interface DeclaredCost {
  /** Forward; `training` says whether it runs in training (rrelu draws slopes only then). */
  forward: PassCost;
  /** Backward: dx from dout (the chain-rule product included) and the parameter gradients,
   * summed over tokens (one add per term). */
  backward: PassCost;
  /** Work done once per call, whatever the number of tokens (pwl slopes, the spline's solve, kRMSNorm's
   * random channels): not in the per-token figures, listed beside them. */
  setup?: { forward?: Ops; backward?: Ops };
}

/** The full cost of one slot: declared counts plus what is derived from params and saved. */
export interface VariantCost extends DeclaredCost {
  /** Learned parameters (numel) and all stored parameters including constants. */
  params: number;
  /** Bytes per token, float32 (4 bytes): forward reads x and writes y; training forward also writes
   * what it saves for backward; backward reads dout, x and the saved buffers and writes dx. */
  bytes: { inferenceRead: number; inferenceWrite: number; trainingRead: number; trainingWrite: number; params: number };
}

export const FLOAT_BITS = 32;

/** n multiplications by a per-element factor and their sum: a dot product or a sum of squares over
 * n entries is n multiplies and n - 1 adds (docs/cost.md, "The rules", rule 1). */
export function dot(n: number, bits = FLOAT_BITS): PassCost {
  return { ops: { mul: n, add: Math.max(0, n - 1) }, reductions: [{ length: n, bits }] };
}

/** A plain sum over n entries: n - 1 adds. A mean is sum() plus one multiply by 1/n. */
export function sum(n: number, bits = FLOAT_BITS): PassCost {
  return { ops: { add: Math.max(0, n - 1) }, reductions: [{ length: n, bits }] };
}

/** Adds passes and bare operation counts together (reductions concatenated in order). */
export function pass(...parts: (PassCost | Ops)[]): PassCost {
  const ops: Ops = {}, reductions: Reduction[] = [];
  for (const p of parts) {
    const isPass = 'ops' in p;
    const o = (isPass ? (p as PassCost).ops : p) as Ops;
    for (const k of OP_CLASSES) if (o[k]) ops[k] = (ops[k] ?? 0) + o[k]!;
    if (isPass) reductions.push(...((p as PassCost).reductions ?? []));
  }
  return reductions.length ? { ops, reductions } : { ops };
}

/** `perElement` counts applied to each of C elements (elementwise activations). */
export function times(C: number, perElement: Ops): Ops {
  const out: Ops = {};
  for (const k of OP_CLASSES) if (perElement[k]) out[k] = perElement[k]! * C;
  return out;
}

/** An elementwise variant: per-element forward and backward counts, times C. */
export function elementwise(C: number, forward: Ops, backward: Ops): DeclaredCost {
  return { forward: { ops: times(C, forward) }, backward: { ops: times(C, backward) } };
}

/** Compares to locate a value among m sorted boundaries by binary search: ceil(log2(m + 1)). */
export function searchCompares(m: number): number {
  return m <= 0 ? 0 : Math.ceil(Math.log2(m + 1));
}

/** Sum of every class (a single "operations" figure for comparisons and pictures). */
export function totalOps(o: Ops): number {
  let t = 0;
  for (const k of OP_CLASSES) t += o[k] ?? 0;
  return t;
}

export function addOps(a: Ops, b: Ops, scale = 1): Ops {
  const out: Ops = { ...a };
  for (const k of OP_CLASSES) if (b[k]) out[k] = (out[k] ?? 0) + b[k]! * scale;
  return out;
}

/** Derived figures: parameters from `params`, bytes per token from the in/out widths and the growth
 * of `saved` per row (saved(2 rows) - saved(1 row): per-call buffers such as pwl's slopes do not grow). */
export function derivedCost(
  declared: DeclaredCost, params: Record<string, ParamSpec>, savedPerRow: number, inWidth: number, outWidth: number,
): VariantCost {
  let learned = 0, stored = 0;
  for (const p of Object.values(params)) {
    const n = p.shape.reduce((a, d) => a * d, 1);
    stored += n;
    if (p.learned !== false) learned += n;
  }
  const B = 4;
  return {
    ...declared,
    params: learned,
    bytes: {
      inferenceRead: inWidth * B,
      inferenceWrite: outWidth * B,
      trainingRead: (inWidth + outWidth + inWidth + savedPerRow) * B, // forward x; backward dout, x, saved
      trainingWrite: (outWidth + savedPerRow + inWidth) * B, // forward y and saved; backward dx
      params: stored * B,
    },
  };
}
