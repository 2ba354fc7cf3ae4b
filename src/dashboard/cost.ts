// The loss-versus-cost picture: every run with a config as a point (best validation loss against one
// of the variants' hardware cost measures, docs/cost.md), and the Pareto front of each measure: the
// runs that no other run beats on both (lower or equal loss and cost, one of them strictly lower).
import { defaultConfig } from '../config/index.js';
import { COST_COLUMNS, costSummary, type CostColumn } from '../model/cost.js';
import type { ModelConfig } from '../config/types.js';
import type { DashboardData } from './data.js';

export interface CostPoint {
  run: string;
  best_val_loss: number;
  cost: Record<CostColumn, number>;
}

export interface CostReply {
  measures: { key: CostColumn; label: string }[];
  points: CostPoint[];
  /** Run ids on the front of each measure, by increasing cost. */
  pareto: Record<CostColumn, string[]>;
}

const LABELS: Record<CostColumn, string> = {
  cost_inference_ops: 'operations per token, inference',
  cost_training_ops: 'operations per token, training',
  cost_reduction_len: 'reduction length per token (inference)',
  cost_variant_params: 'variant parameters',
  cost_matmul_macs: 'matrix-product MACs per token',
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

export function costReply(data: DashboardData): CostReply {
  const points: CostPoint[] = [];
  for (const r of data.runs) {
    const loss = r.summary?.best_val_loss;
    if (!r.config || typeof loss !== 'number' || !Number.isFinite(loss)) continue;
    let cost: Record<CostColumn, number>;
    try {
      cost = costSummary({ ...defaultConfig(), ...r.config } as ModelConfig);
    } catch {
      continue; // a config this version cannot build: no point
    }
    points.push({ run: r.id, best_val_loss: loss, cost });
  }
  const pareto = {} as Record<CostColumn, string[]>;
  for (const k of COST_COLUMNS) pareto[k] = paretoFront(points.map((p) => ({ id: p.run, x: p.cost[k], y: p.best_val_loss })));
  return { measures: COST_COLUMNS.map((key) => ({ key, label: LABELS[key] })), points, pareto };
}
