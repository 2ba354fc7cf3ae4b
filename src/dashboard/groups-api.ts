// GET /api/groups: the runs of the dashboard's folder grouped by flags, with the statistics of
// src/stats (mean, sd, 95% interval of best / final loss, paired comparison with a baseline, mean
// curves with a band), so the page draws numbers computed once, here. Query:
//   by=flag1,flag2   grouping flags (default: every varied flag but the seed); the others are pooled
//   where=flag=value,...   keep only runs with these values (the page's "filter" choice)
//   baseline=KEY     a group's key (JSON of its values) to compare every group with, on common seeds
//   metric=M         what the comparison uses: best_val_loss (default), final_val_loss, final_train_loss
//   curves=1         add each group's mean training and validation curves with their 95% band
import { UserError } from '../util/errors.js';
import { mainEffects, type Effects } from '../stats/effects.js';
import { compareToBaseline, groupLabel, groupRuns, meanCurve, METRICS, SEED, show, stillImproving, type Group, type MeanCurve, type Metric, type RunPoint } from '../stats/groups.js';
import type { Paired } from '../stats/stats.js';
import { orderFlags, sweepOrder } from '../stats/order.js';
import type { DashboardData, RunInfo } from './data.js';
import { factorFlags, runFactors } from '../model/factors.js';

export interface GroupView extends Group {
  paired: Paired | null;
  curves?: { train: MeanCurve; val: MeanCurve };
}

export interface GroupsReply {
  /** Flags that differ between the runs' configs, seed excluded, in config order. */
  varied: string[];
  /** Each varied flag's values, in order of first appearance. */
  values: Record<string, unknown[]>;
  /** Some combination has more than one run (differing in seed only). */
  repeated: boolean;
  by: string[];
  where: Record<string, string>;
  metric: Metric;
  baseline: string | null;
  groups: GroupView[];
  /** Run id -> its label: the values of the varied flags (plus `seed N` when seeds vary). */
  labels: Record<string, string>;
  /** Run ids whose best validation loss was at their last evaluation (still improving). */
  improving: string[];
  /** With effect=FLAG (and reference=VALUE): the main effects of that factor (src/stats/effects.ts). */
  effects: Effects | null;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function lastOf(xs: readonly (number | null)[]): number | null {
  for (let i = xs.length - 1; i >= 0; i--) if (xs[i] !== null) return xs[i];
  return null;
}

/** A run as a point for grouping: numbers from summary.json, else from its log. */
export function runPoint(r: RunInfo): RunPoint {
  const s = r.summary ?? {};
  const vals = r.evals.val_loss.filter((v): v is number => v !== null);
  const evalIters = r.evals.iter.filter((_, i) => r.evals.val_loss[i] !== null);
  const bestIter = num(s.best_iter) ?? (vals.length > 0 ? evalIters[vals.indexOf(Math.min(...vals))] : null);
  // The last evaluation logged; a finished run's summary says how many iterations it trained.
  const lastEval = evalIters.length > 0 ? evalIters[evalIters.length - 1] : null;
  return {
    improving: bestIter !== null && lastEval !== null && lastEval > 0 ? bestIter >= lastEval : stillImproving(bestIter, num(s.iters), r.config?.eval_interval, r.status === 'ok'),
    id: r.id, flags: r.config ? runFactors(r.config) : {}, ok: r.status === 'ok',
    best_val_loss: num(s.best_val_loss) ?? (vals.length > 0 ? Math.min(...vals) : null),
    final_val_loss: num(s.final_val_loss) ?? lastOf(r.evals.val_loss),
    final_train_loss: num(s.final_train_loss) ?? lastOf(r.evals.train_loss),
  };
}

/**
 * The factors that differ between the runs (src/model/factors.ts: a flag a run does not use is not
 * one of its factors), with the values the runs that use them take, in order of first appearance.
 */
export function variedFlags(runs: readonly RunInfo[], skip: ReadonlySet<string>): { varied: string[]; values: Record<string, unknown[]> } {
  const configs = runs.map((r) => r.config).filter((c): c is Record<string, unknown> => c !== null);
  const varied = factorFlags(configs, skip);
  const used = configs.map(runFactors);
  const values: Record<string, unknown[]> = {};
  for (const k of varied) {
    const seen = new Map<string, unknown>();
    for (const c of used) if (k in c) seen.set(JSON.stringify(c[k] ?? null), c[k] ?? null);
    values[k] = [...seen.values()];
  }
  return { varied, values };
}

/** Keys that differ for every run without changing the model. */
const NOT_VARIED = new Set(['out_dir', 'init_from', SEED]);

export function dashboardGroups(data: DashboardData, query: URLSearchParams): GroupsReply {
  const order = sweepOrder(data.runs);
  const found = variedFlags(order.runs, NOT_VARIED);
  const varied = orderFlags(found.varied, order.flags);
  const values = found.values;
  const seeds = variedFlags(order.runs, new Set()).varied.includes(SEED);
  const list = (s: string | null) => (s ?? '').split(',').map((x) => x.trim()).filter((x) => x !== '');
  const by = query.has('by') ? list(query.get('by')) : varied;
  for (const k of by) if (!varied.includes(k)) throw new UserError(`by: ${k} is not a flag that varies here (${varied.join(', ') || 'none'})`);
  const where: Record<string, string> = {};
  for (const w of list(query.get('where'))) {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new UserError(`where: '${w}' is not flag=value`);
    where[w.slice(0, eq)] = w.slice(eq + 1);
  }
  const metric = (query.get('metric') ?? 'best_val_loss') as Metric;
  if (!METRICS.includes(metric)) throw new UserError(`metric must be one of ${METRICS.join(', ')}`);

  const withConfig = order.runs.filter((r) => r.config !== null);
  const points = withConfig.map(runPoint);
  const groups = groupRuns(points, by, where);
  const baselineKey = query.get('baseline');
  const baseline = baselineKey ? groups.find((g) => g.key === baselineKey) ?? null : null;
  const paired = baseline ? compareToBaseline(points, groups, baseline, metric) : null;
  const byId = new Map(data.runs.map((r) => [r.id, r]));
  const views: GroupView[] = groups.map((g) => {
    const v: GroupView = { ...g, paired: paired && g !== baseline ? paired.get(g.key) ?? null : null };
    if (query.get('curves') === '1') {
      const runs = g.runs.map((id) => byId.get(id)!);
      v.curves = {
        train: meanCurve(runs.map((r) => ({ x: r.train.iter, y: r.train.loss }))),
        val: meanCurve(runs.map((r) => ({ x: r.evals.iter, y: r.evals.val_loss }))),
      };
    }
    return v;
  });
  const labels: Record<string, string> = {};
  for (const r of data.runs) {
    const base = r.config ? groupLabel(runFactors(r.config), varied) : r.name;
    labels[r.id] = seeds && r.config ? `${base === 'all runs' ? '' : `${base} · `}seed ${show(r.config[SEED])}` : base === 'all runs' ? r.name : base;
  }
  const effectFlag = query.get('effect');
  let effects: Effects | null = null;
  if (effectFlag) {
    if (!varied.includes(effectFlag)) throw new UserError(`effect: ${effectFlag} is not a flag that varies here (${varied.join(', ') || 'none'})`);
    effects = mainEffects(points.filter((p) => Object.entries(where).every(([k, v]) => show(p.flags[k]) === v)), effectFlag, varied, metric, query.get('reference') || undefined);
  }
  return {
    varied, values, repeated: groups.some((g) => g.seeds > 1), by, where, metric,
    baseline: baseline ? baseline.key : null, groups: views, labels,
    improving: points.filter((p) => p.improving === true).map((p) => p.id), effects,
  };
}
