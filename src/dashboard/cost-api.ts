// The loss-versus-cost picture (docs/cost.md, "Loss against cost"): one point per combination of the
// varied factors (its seeds pooled), x = one of the variants' hardware cost measures, y = the mean
// best validation loss, each with its 95% interval over the seeds where it varies (src/stats). The
// Pareto front is taken over the means (the line drawn), and dominance is also judged with the
// intervals: a combination is off the front only when another costs no more and its loss interval
// lies wholly below this one's (with one seed, the means decide); those left are ringed. So two lucky
// seeds do not make a front, and a combination the seeds cannot tell from the front stays ringed.
import { defaultConfig } from '../config/config.js';
import type { ModelConfig } from '../config/config-types.js';
import { COST_COLUMNS, costSummary, type CostColumn } from '../model/model-cost.js';
import { groupRuns, SEED } from '../stats/groups.js';
import { estimate, type Estimate } from '../stats/stats.js';
import { sweepOrder, orderFlags } from '../stats/order.js';
import type { DashboardData } from './data.js';
import { runPoint, variedFlags } from './groups-api.js';

export interface CostPoint {
  run: string;
  best_val_loss: number;
  cost: Record<CostColumn, number>;
}

export interface CostCombo {
  /** The group's key (src/stats/groups.ts): JSON of its factor values. */
  key: string;
  label: string;
  runs: string[];
  /** Best validation loss over the finished seeds: mean and 95% interval. */
  loss: Estimate;
  /** Each cost measure over the same runs: mean and interval (half 0 or null where it does not vary). */
  cost: Record<CostColumn, Estimate>;
}

export interface CostReply {
  measures: { key: CostColumn; label: string }[];
  /** The factors the combinations are told apart by (seed pooled). */
  by: string[];
  points: CostPoint[];
  combos: CostCombo[];
  /** Combination keys that no other beats beyond the intervals (intervalFront), by increasing mean cost. */
  pareto: Record<CostColumn, string[]>;
  /** The Pareto front of the means alone (paretoFront; a subset of pareto): the line drawn. */
  meanFront: Record<CostColumn, string[]>;
}

const LABELS: Record<CostColumn, string> = {
  cost_inference_ops: 'operations per token, inference',
  cost_training_ops: 'operations per token, training',
  cost_reduction_len: 'reduction length per token (inference)',
  cost_reduction_bits: 'reduction length × operand bits per token (inference)',
  cost_variant_params: 'variant parameters',
  cost_matmul_macs: 'matrix-product MACs per token',
  cost_bit_macs: 'matrix-product MACs per token at their bit widths (float32 MAC = 1)',
  cost_weight_bits: 'bits per stored weight',
};

/** Ids of the points no other point dominates (both coordinates minimized), by increasing x. */
export function paretoFront(points: readonly { id: string; x: number; y: number }[]): string[] {
  const sorted = [...points].sort((a, b) => a.x - b.x || a.y - b.y);
  const front: string[] = [];
  let bestY = Infinity;
  for (const p of sorted) {
    if (p.y < bestY) { front.push(p.id); bestY = p.y; }
  }
  return front;
}

/**
 * The front with dominance judged with the loss intervals: b is dominated when some a has
 * a.x <= b.x and a's loss interval wholly below b's (a.hi < b.lo; without an interval, the mean
 * stands for both ends), and, at equal cost and equal loss, the first listed stays. By increasing x.
 */
export function intervalFront(points: readonly { id: string; x: number; y: number; lo: number | null; hi: number | null }[]): string[] {
  const hi = (p: (typeof points)[number]) => p.hi ?? p.y, lo = (p: (typeof points)[number]) => p.lo ?? p.y;
  const kept = points.filter((b, j) => !points.some((a, i) => i !== j && a.x <= b.x &&
    (hi(a) < lo(b) || (a.x === b.x && a.y === b.y && a.lo === b.lo && a.hi === b.hi && i < j))));
  return kept.sort((a, b) => a.x - b.x || a.y - b.y).map((p) => p.id);
}

export function costReply(data: DashboardData): CostReply {
  const points: CostPoint[] = [];
  const order = sweepOrder(data.runs);
  const costOf = new Map<string, Record<CostColumn, number>>();
  for (const r of order.runs) {
    let cost: Record<CostColumn, number>;
    try {
      if (!r.config) continue;
      cost = costSummary({ ...defaultConfig(), ...r.config } as ModelConfig);
    } catch {
      continue; // a config this version cannot build: no point
    }
    costOf.set(r.id, cost);
    const loss = r.summary?.best_val_loss;
    if (typeof loss === 'number' && Number.isFinite(loss)) points.push({ run: r.id, best_val_loss: loss, cost });
  }
  const withCost = order.runs.filter((r) => costOf.has(r.id));
  const by = orderFlags(variedFlags(withCost, new Set(['out_dir', 'init_from', SEED])).varied, order.flags);
  const combos: CostCombo[] = [];
  for (const g of groupRuns(withCost.map(runPoint), by)) {
    const done = g.runs.filter((id) => points.some((p) => p.run === id));
    if (done.length === 0) continue;
    const cost = {} as Record<CostColumn, Estimate>;
    for (const k of COST_COLUMNS) cost[k] = estimate(done.map((id) => costOf.get(id)![k]));
    const loss = estimate(done.map((id) => points.find((p) => p.run === id)!.best_val_loss));
    combos.push({ key: g.key, label: g.label, runs: done, loss, cost });
  }
  const pareto = {} as Record<CostColumn, string[]>, meanFront = {} as Record<CostColumn, string[]>;
  for (const k of COST_COLUMNS) {
    const pts = combos.map((c) => ({ id: c.key, x: c.cost[k].mean!, y: c.loss.mean!, lo: c.loss.lo, hi: c.loss.hi }));
    pareto[k] = intervalFront(pts);
    meanFront[k] = paretoFront(pts);
  }
  return { measures: COST_COLUMNS.map((key) => ({ key, label: LABELS[key] })), by, points, combos, pareto, meanFront };
}
