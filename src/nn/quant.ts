// Where the model fake-quantizes, with what, and how strongly (docs/quantization.md): the points of
// the reference's flags (src/config/quantization.ts declares them), resolved once per model into a
// QuantPlan, the scheduler's level, and `Quantizer`, which runs Backend.fakeQuant on one point (with
// the uniforms of stochastic rounding drawn from the run's seeded generator, so runs reproduce and resume).
import type { AttnQuant, Backend } from '../engine/backend.js';
import { alloc, type F } from '../engine/types.js';
import { quantMethodId, STOCHASTIC, type QuantMethod } from '../engine/quantize.js';
import type { Ctx } from './variant.js';

export const MLP_POINTS = ['input', 'activation_input', 'activation_output', 'output'] as const;
export const ATTN_POINTS = ['input', 'qk_mult_q_input', 'qk_mult_k_input', 'softmax_input', 'pv_mult_p_input',
  'pv_mult_v_input', 'pv_mult_output', 'output'] as const;
export type MlpPoint = typeof MLP_POINTS[number];
export type AttnPoint = typeof ATTN_POINTS[number];

export const LINEAR_VARIANTS = ['linear', 'quantized_linear'] as const;
/** The linear layers of a block: the quantize_linear_<key>_* flags, the linear_variant_<variant> override
 * and the group flag it falls back to (linear_variant_attn or linear_variant_mlp). */
export const LINEAR_LAYERS = [
  { key: 'attn_q', variant: 'q', group: 'attn' }, { key: 'attn_k', variant: 'k', group: 'attn' },
  { key: 'attn_v', variant: 'v', group: 'attn' }, { key: 'attn_proj', variant: 'attn_proj', group: 'attn' },
  { key: 'mlp_up', variant: 'mlp_up', group: 'mlp' }, { key: 'mlp_down', variant: 'mlp_down', group: 'mlp' },
] as const;
export type LinearKey = typeof LINEAR_LAYERS[number]['key'];

/** One quantizer: kernel method number, bits, and the method's name (for the layout line). */
export interface QSpec { method: number; bits: number; name: QuantMethod }

export interface QuantPlan {
  mlp: Record<MlpPoint, QSpec | null>;
  attn: Record<AttnPoint, QSpec | null>;
  linear: Record<LinearKey, QSpec | null>;
  wte: QSpec | null; wpe: QSpec | null;
  scheduler: 'static' | 'linear' | null; start: number; full: number | null;
  warmup: number;
  /** Whether anything is quantized at all. */
  any: boolean;
}

/** The config keys read here (all declared in src/config/quantization.ts); a loose record so that
 * configs from older checkpoints (without them) read as "nothing quantized". */
type Cfg = Record<string, unknown>;

const spec = (method: unknown, bits: unknown): QSpec => ({ method: quantMethodId(method as QuantMethod), bits: bits as number, name: method as QuantMethod });

/** Whether point p of group g ('mlp' or 'attn') is on: its own flag or the group's. */
export function pointOn(c: Cfg, g: 'mlp' | 'attn', p: string): boolean {
  return c[`quantize_${g}_act`] === true || c[`quantize_${g}_act_${p}`] === true;
}

/** The linear variant of a layer: its override, else its group's flag (else linear). */
export function linearVariant(c: Cfg, l: typeof LINEAR_LAYERS[number]): string {
  return (c[`linear_variant_${l.variant}`] as string | null | undefined) ?? (c[`linear_variant_${l.group}`] as string | undefined) ?? 'linear';
}

export function quantPlan(cfg: object): QuantPlan {
  const c = cfg as Cfg;
  const act = <P extends string>(g: 'mlp' | 'attn', points: readonly P[]) => Object.fromEntries(points.map((p) => [p,
    pointOn(c, g, p) ? spec(c.activations_quant_method ?? 'affine_quant', c[`quantize_${g}_act_${p}_bits`] ?? c[`quantize_${g}_act_bits`] ?? 8) : null])) as Record<P, QSpec | null>;
  const linear = Object.fromEntries(LINEAR_LAYERS.map((l) => [l.key, linearVariant(c, l) === 'quantized_linear'
    ? spec(c[`quantize_linear_${l.key}_method`] ?? c.quantize_linear_method ?? 'affine_quant', c[`quantize_linear_${l.key}_bits`] ?? c.quantize_linear_bits ?? 8)
    : null])) as Record<LinearKey, QSpec | null>;
  const emb = (e: string) => (c[`quantize_${e}`] === true ? spec(c[`quantize_${e}_method`] ?? 'affine_quant', c[`quantize_${e}_bits`] ?? 8) : null);
  const plan: QuantPlan = {
    mlp: act('mlp', MLP_POINTS), attn: act('attn', ATTN_POINTS), linear, wte: emb('wte'), wpe: emb('wpe'),
    scheduler: (c.quant_scheduler as QuantPlan['scheduler']) ?? null, start: (c.start_quant_level as number) ?? 0,
    full: (c.full_quant_iteration as number | null) ?? null, warmup: (c.quantization_warmup_iters as number) ?? 100, any: false,
  };
  plan.any = [...Object.values(plan.mlp), ...Object.values(plan.attn), ...Object.values(plan.linear), plan.wte, plan.wpe].some((q) => q !== null);
  return plan;
}

/**
 * The scheduler's level at the forward in progress: -1 without a scheduler (the output is x'),
 * else x + level (x' - x) with level = start (static) or start + (1 - start) iter / full capped at 1
 * (linear; the reference's iter / full + full start grows past 1 for any start > 0); evaluation: 1.
 */
export function quantLevel(plan: QuantPlan, ctx: Ctx): number {
  if (!plan.scheduler) return -1;
  if (!ctx.training) return 1;
  if (plan.scheduler === 'static') return plan.start;
  const full = plan.full ?? 1, it = ctx.iter ?? 0;
  return Math.min(1, plan.start + (1 - plan.start) * it / full);
}

/** Whether quantized_linear layers use quantized weights now: from update --quantization_warmup_iters
 * on in training (updates 0 .. warmup-1 use float weights), always in evaluation. */
export function weightsQuantized(plan: QuantPlan, ctx: Ctx): boolean {
  return !ctx.training || (ctx.iter ?? 0) >= plan.warmup;
}

/** Runs Backend.fakeQuant on one point; keeps one buffer of uniforms for stochastic rounding. */
export class Quantizer {
  private u: F | null = null;

  /** Floats it holds (the uniforms of the largest stochastic point so far; src/model/memory.ts counts them). */
  get floats(): number {
    return this.u?.length ?? 0;
  }

  /** out = Q(x) over n entries (one tensor), at the level of `level`. */
  apply(be: Backend, out: F, x: F, n: number, q: QSpec, level: number, ctx: Ctx): void {
    let u: F | null = null;
    if (q.method === STOCHASTIC) {
      if (!this.u || this.u.length < n) this.u = alloc(out instanceof Float64Array ? 'float64' : 'float32', n);
      u = this.u;
      for (let i = 0; i < n; i++) u[i] = ctx.rng.uniform();
    }
    be.fakeQuant(out, x, u, n, 0, q.method, q.bits, level);
  }
}

/** An in-attention quantizer of one call (AttnQuant, src/engine/kernels/ts/attention.ts): stochastic
 * rounding's draws come from a hash of one seed per call from the run's generator (drawn only for it). */
export function attnQuant(q: QSpec | null, level: number, ctx: Ctx): AttnQuant | null {
  return q ? { method: q.method, bits: q.bits, level, seed: q.method === STOCHASTIC ? ctx.rng.nextU32() : 0 } : null;
}

/** "int8 affine" and the like, for the layout line. */
export function qLabel(q: QSpec): string {
  return q.name === 'ternary_quant' ? 'ternary' : `int${q.bits} ${q.name.replace('_quant', '')}`;
}

/** The quantized points of a plan as one layout part, e.g. `quant: mlp.input int8 affine, ...; wte int8 affine`
 * (empty when nothing is quantized). */
export function quantLayout(plan: QuantPlan): string {
  const parts: string[] = [];
  for (const [g, rec] of [['mlp', plan.mlp], ['attn', plan.attn], ['linear', plan.linear]] as const) {
    for (const [p, q] of Object.entries(rec as Record<string, QSpec | null>)) if (q) parts.push(`${g}.${p} ${qLabel(q)}`);
  }
  if (plan.wte) parts.push(`wte ${qLabel(plan.wte)}`);
  if (plan.wpe) parts.push(`wpe ${qLabel(plan.wpe)}`);
  if (parts.length === 0) return '';
  const sched = plan.scheduler ? `; scheduler ${plan.scheduler} from ${plan.start} to 1 at iter ${plan.full}` : '';
  const warm = Object.values(plan.linear).some((q) => q) ? `; weights quantized from update ${plan.warmup}` : '';
  return `quant: ${parts.join(', ')}${warm}${sched}`;
}
