// The one contract every normalization and every activation implements (docs/readme/50-development.md
// says what adding one takes: this file's contract, one file, one registry entry).
//
// A variant may declare its own flags (`flags`, `as const`, with defaults, help and checks): the CLI
// table, --help, choice lists, checkpoint metadata and sweeps read them from there. Its config
// argument `a` is typed as the model's shape flags plus its own flags (Variant<FlagValues<typeof flags>>).
//
// Data is N rows (N = B*T) of C channels, row-major. A variant declares:
//   params: what it owns (names are the state-dict suffixes of docs/variants.md: `gain`, `weight`,
//           `x_vals`, ...; nested modules use dotted names such as `activation.x_vals`);
//   saved:  what forward keeps for backward, as buffer lengths (allocated once by the caller and
//           reused every step);
//   forward(out, x, ...):  writes out;
//   backward(dx, dp, dout, x, ...): ADDS into dx and into dp.* (the caller zeroed them).
// Gated activations (glu) declare `gated: true`: they read 2C inputs per row and write C outputs
// (x is (N, 2C), out and dout are (N, C), dx is (N, 2C)); C is always the OUTPUT width.
import type { Backend } from '../engine/backend.js';
import type { ElementwiseTable } from '../engine/kernels/native/native-backend.js';
import type { F } from '../engine/types.js';
import type { Rng } from '../engine/rng.js';
import type { FlagSpec, FlagValues } from '../util/schema.js';
import type { ModelShape } from './shape.js';
import type { DeclaredCost } from './op-cost.js';

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
  /** Report a metric the variant declares (Variant.metrics): summed numerators over summed
   * denominators become the logged value. */
  metric(name: string, numerator: number, denominator: number): void;
  /** The update this forward belongs to (training: 0 for the first; the quantization warm-up and
   * scheduler read it, docs/quantization.md). Unset: 0. */
  iter?: number;
}

/** A metric a variant reports through ctx.metric. Training logs it at every step and evaluation and
 * keeps its last evaluated value in summary.json; sweep results, the dashboard's table and its page
 * show it: all of them read this declaration. */
export interface MetricSpec {
  /** The key in log.jsonl, summary.json, results.csv (snake_case, prefixed by the variant's name). */
  name: string;
  /** What it is, for the progress line and the chart's title. */
  label: string;
  /** Column header in the sweep's end-of-run table. */
  column: string;
  /** How ctx.metric's reports become one value: 'ratio' = sum of numerators / sum of denominators,
   * over a training step or over a whole evaluation. */
  aggregate: 'ratio';
  /** How a value is shown: 'percent' (0.125 -> 12.5%) or 'number'. */
  format: 'percent' | 'number';
}

export type Params = Record<string, F>;
export type Saved = Record<string, F>;

/** A variant's own flag: a flag of the schema without its group (the registry gives it: a norm's
 * flags are listed under normalization, an activation's under activation). */
export type VariantFlag = Omit<FlagSpec, 'group'>;

/** What a variant reads from the config: the model's shape flags and its own flags A. */
export type VariantConfig<A = {}> = ModelShape & A;

/** The config type of a variant that declares `flags` (as const). */
export type ConfigOf<Fs extends readonly VariantFlag[]> = VariantConfig<FlagValues<Fs>>;

export interface VariantKernels<A = {}> {
  forward(out: F, x: F, p: Params, s: Saved, N: number, C: number, a: VariantConfig<A>, ctx: Ctx): void;
  backward(dx: F, dp: Params, dout: F, x: F, p: Params, s: Saved, N: number, C: number, a: VariantConfig<A>, ctx: Ctx): void;
}

export interface Variant<A = {}> extends VariantKernels<A> {
  name: string;
  /** Its own flags (shared ones, e.g. pfla's with pfla_le, are the same objects). */
  flags?: readonly VariantFlag[];
  /** Consumes 2C inputs per row and emits C (glu). */
  gated?: boolean;
  /** Its forward draws from ctx.rng (rrelu): the model keeps its output for backward instead of
   * recomputing it (docs/memory.md, "What a block keeps"). Read it through drawsRandom(). */
  random?: boolean;
  /** The same, when it depends on its flags (krmsnorm's random selection). */
  randomWhen?(a: VariantConfig<A>): boolean;
  /** Parameters for C channels (C = output width). */
  params(C: number, a: VariantConfig<A>): Record<string, ParamSpec>;
  /** Buffers forward keeps for backward, as element counts for N rows of C channels. */
  saved(N: number, C: number, a: VariantConfig<A>): Record<string, number>;
  /** Flag combinations this variant refuses beyond its flags' own checks (e.g. pla_left_bound >=
   * pla_right_bound, or dact with glu inside), as a message; else null. problemsOf runs both. */
  check?(a: VariantConfig<A>): string | null;
  /** The function's value at x for a curve plot (activations only; uses current parameters). */
  curve?(x: number, p: Params, a: VariantConfig<A>): number;
  /** The x interval its curve plot should cover (its knots and bounds), with learned parameters p
   * when there are some; without it the dashboard plots [-4, 4]. */
  plotRange?(a: VariantConfig<A>, p?: Params): [number, number];
  /** Settings of its own flags that `normlab bench --variants` times besides its defaults, each
   * labelled (krmsnorm: int8 quantization, a recompute threshold). */
  benchSettings?: readonly { label: string; flags: Record<string, unknown> }[];
  /** The metrics its forward or backward reports through ctx.metric. */
  metrics?: readonly MetricSpec[];
  /** A norm built around an activation (dact): the activation's registry name under config a, the
   * prefix its parameters carry inside this variant's (`activation.`: `<slot>.activation.x_vals`),
   * and this variant's own scalar parameters to show beside the curves (dact's alpha). The dashboard's
   * curves and the playground's form read it instead of naming the variant. */
  wraps?: { activation(a: VariantConfig<A>): string; prefix: string; scalars?: readonly string[] };
  /** Its fast path on a backend: VariantKernels built from that backend's raw kernels (Backend.native,
   * Backend.wasm), or undefined where the backend has none (then this file's TypeScript code runs).
   * Everything that runs for this variant, on each backend, is named here in the variant's file. */
  fused?(be: Backend): VariantKernels<A> | undefined;
  /** Operations per token for C channels (C = output width), counted by the rules of docs/cost.md
   * from this file's forward and backward; parameters and bytes are derived (./cost.ts). Every
   * registered variant declares it (test/cost.test.ts). */
  cost?(C: number, a: VariantConfig<A>, training: boolean): DeclaredCost;
}

/** Whether v's forward, configured by a, draws from ctx.rng (Variant.random): then running it
 * again would not give the same output, and the model keeps that output instead of recomputing it. */
export function drawsRandom<A>(v: Variant<A>, a: VariantConfig<A>): boolean {
  return v.random === true || (v.randomWhen?.(a) ?? false);
}

/** The backend's fast kernels for v (its own fused()), or undefined: then v's TypeScript code runs. */
export function fusedKernels<A>(v: Variant<A>, be: Backend): VariantKernels<A> | undefined {
  return v.fused?.(be);
}

/** The fast path of a parameter-free elementwise activation: the table's pair `name` (its row in
 * native/src/elementwise.h or wasm/assembly/elementwise.ts) over all N*C elements, or undefined
 * without a table (`fused: (be) => pointwise(be.native ?? be.wasm, 'gelu')`). A table that lacks
 * the row is a mistake in the variant's file (a misspelt name, or a backend it has no kernel on):
 * an error, not a silent fallback to the TypeScript code. */
export function pointwise(table: ElementwiseTable | undefined, name: string): VariantKernels | undefined {
  if (!table) return undefined;
  const k = table.elementwise(name);
  if (!k) throw new Error(`pointwise: this backend's kernel table has no elementwise row '${name}' (native/src/elementwise.h, wasm/assembly/elementwise.ts)`);
  return {
    forward: (out, x, _p, _s, N, C) => k.forward(out, x, N * C),
    backward: (dx, _dp, dout, x, _p, _s, N, C) => k.backward(dx, dout, x, N * C),
  };
}

/** A registry: CLI value -> variant (src/nn/norms/norm-registry.ts, src/nn/activations/activation-registry.ts). */
export type Registry = Record<string, Variant<any>>;

/** A check for numeric flags: refuses values below `min` ("--k is 0; it must be >= 1" + note);
 * None passes (nullable flags mean "unset" by it). */
export function atLeast(min: number, note = ''): NonNullable<VariantFlag['check']> {
  return (v, _c, name) => (typeof v === 'number' && !(v >= min) ? `--${name} is ${v}; it must be >= ${min}${note}` : null);
}

/** Problems of variant v under config a: its flags' checks and warnings, then its own check(). Run
 * when the variant is used (checkTrainConfig, buildModel); flags of unused variants are not checked. */
export function problemsOf(v: Pick<Variant<any>, 'flags' | 'check'>, a: object): { errors: string[]; warnings: string[] } {
  const c = a as Record<string, unknown>, errors: string[] = [], warnings: string[] = [];
  for (const f of v.flags ?? []) {
    const e = f.check?.(c[f.name], c, f.name), w = f.warn?.(c[f.name], c, f.name);
    if (e) errors.push(e);
    if (w) warnings.push(w);
  }
  if (errors.length === 0) {
    const e = v.check?.(a as VariantConfig);
    if (e) errors.push(e);
  }
  return { errors, warnings };
}

/** Number of elements of a shape ([] = scalar = 1). */
export function numel(shape: number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}
