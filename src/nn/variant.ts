// The one contract every normalization and every activation implements.
//
// Data is N rows (N = B*T) of C channels, row-major. A variant declares:
//   params: what it owns (names are the state-dict suffixes of spec/variants.md: `gain`, `weight`,
//           `x_vals`, ...; nested modules use dotted names such as `activation.x_vals`);
//   saved:  what forward keeps for backward, as buffer lengths (allocated once by the caller and
//           reused every step);
//   forward(out, x, ...):  writes out;
//   backward(dx, dp, dout, x, ...): ADDS into dx and into dp.* (the caller zeroed them).
// Gated activations (glu) declare `gated: true`: they read 2C inputs per row and write C outputs
// (x is (N, 2C), out and dout are (N, C), dx is (N, 2C)); C is always the OUTPUT width.
import type { F } from '../engine/types.js';
import type { Rng } from '../engine/rng.js';
import type { ModelConfig } from '../model/config.js';

export type Init =
  | 'ones'
  | 'zeros'
  | { fill: number }
  | { values: ArrayLike<number> };

export interface ParamSpec {
  shape: number[]; // [] for a scalar (one element)
  init: Init;
  /** false: a constant the optimizer never changes (no weight decay, no update). Default true. */
  learned?: boolean;
  /** false: not written to checkpoints (e.g. a constant radius). Default true. */
  persistent?: boolean;
}

/** What a forward or backward call may need besides its arrays. */
export interface Ctx {
  training: boolean;
  /** The run's seeded generator (krmsnorm random selection, rrelu). */
  rng: Rng;
  /** Report a metric for the log, e.g. ctx.metric('krmsnorm_recompute', recomputed, total): summed
   * numerators over summed denominators become the logged share. */
  metric(name: string, numerator: number, denominator: number): void;
}

export type Params = Record<string, F>;
export type Saved = Record<string, F>;

export interface VariantKernels {
  forward(out: F, x: F, p: Params, s: Saved, N: number, C: number, a: ModelConfig, ctx: Ctx): void;
  backward(dx: F, dp: Params, dout: F, x: F, p: Params, s: Saved, N: number, C: number, a: ModelConfig, ctx: Ctx): void;
}

export interface Variant extends VariantKernels {
  name: string;
  /** Consumes 2C inputs per row and emits C (glu). */
  gated?: boolean;
  /** Parameters for C channels (C = output width). */
  params(C: number, a: ModelConfig): Record<string, ParamSpec>;
  /** Buffers forward keeps for backward, as element counts for N rows of C channels. */
  saved(N: number, C: number, a: ModelConfig): Record<string, number>;
  /** Flag combinations this variant refuses, as a message (e.g. dact with glu inside); else null. */
  check?(a: ModelConfig): string | null;
  /** The function's value at x for a curve plot (activations only; uses current parameters). */
  curve?(x: number, p: Params, a: ModelConfig): number;
}

/** Number of elements of a shape ([] = scalar = 1). */
export function numel(shape: number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}
