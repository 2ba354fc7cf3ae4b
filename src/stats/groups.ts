// Repeats of one combination (runs that differ only in their seed) grouped, with the statistics of
// src/stats/stats.ts per group, and paired comparisons of every group against a baseline group.
// Used by `normlab inspect` and `normlab sweep` (text tables, src/sweep/runs.ts) and the dashboard's
// server (/api/groups), so the numbers the page shows are these. Only finished runs (status ok) enter the statistics; `seeds` counts
// every run of the group, `finished` the ones that count.
import { UserError } from '../util/errors.js';
import { estimate, pairedComparison, type Estimate, type Paired } from './stats.js';

export const METRICS = ['best_val_loss', 'final_val_loss', 'final_train_loss'] as const;
export type Metric = (typeof METRICS)[number];

/** The flag that tells repeats apart. */
export const SEED = 'seed';

/** One run, as both callers see it. */
export interface RunPoint {
  id: string;
  /** Flag values (the effective config); at least the grouping flags and seed. */
  flags: Record<string, unknown>;
  ok: boolean;
  best_val_loss: number | null;
  final_val_loss: number | null;
  final_train_loss: number | null;
  /** Best validation loss at the last evaluation (stillImproving); absent or null when unknown. */
  improving?: boolean | null;
}

export interface Group {
  /** JSON of the grouping flags' values, in `by` order: a stable id. */
  key: string;
  flags: Record<string, unknown>;
  /** The grouping values joined by ' · ' (see groupLabel). */
  label: string;
  runs: string[];
  seeds: number;
  finished: number;
  /** Finished runs whose best validation loss was at their last evaluation (still improving). */
  improving: number;
  stats: Record<Metric, Estimate>;
}

export const show = (v: unknown): string => (v === undefined ? '-' : v === null ? 'None' : String(v));

/**
 * `relu · krmsnorm`: string values alone, others as flag=value (a bare `2` or `true` says nothing);
 * unset values (None: a flag that only some combinations set) are left out.
 */
export function groupLabel(flags: Record<string, unknown>, by: readonly string[]): string {
  if (by.length === 0) return 'all runs';
  const parts = by.filter((k) => flags[k] !== null && flags[k] !== undefined)
    .map((k) => (typeof flags[k] === 'string' ? (flags[k] as string) : `${k}=${show(flags[k])}`));
  return parts.length > 0 ? parts.join(' · ') : 'defaults';
}

/**
 * Runs grouped by the values of the `by` flags (seed and every flag not in `by` pooled), in order
 * of first appearance; `where` keeps only runs whose flags have those values (compared as text).
 */
export function groupRuns(points: readonly RunPoint[], by: readonly string[], where: Record<string, unknown> = {}): Group[] {
  const groups = new Map<string, { flags: Record<string, unknown>; members: RunPoint[] }>();
  for (const p of points) {
    if (Object.entries(where).some(([k, v]) => show(p.flags[k]) !== show(v))) continue;
    const flags: Record<string, unknown> = {};
    for (const k of by) flags[k] = p.flags[k] ?? null;
    const key = JSON.stringify(by.map((k) => flags[k]));
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { flags, members: [] }));
    g.members.push(p);
  }
  return [...groups.entries()].map(([key, g]) => {
    const done = g.members.filter((p) => p.ok);
    const stats = {} as Record<Metric, Estimate>;
    for (const m of METRICS) stats[m] = estimate(done.map((p) => p[m]));
    return { key, flags: g.flags, label: groupLabel(g.flags, by), runs: g.members.map((p) => p.id), seeds: g.members.length, finished: done.length,
      improving: done.filter((p) => p.improving === true).length, stats };
  });
}

/** Finished runs' metric by seed; several runs with one seed (pooled flags) give their mean. */
function bySeed(points: readonly RunPoint[], ids: readonly string[], metric: Metric): Map<string, number> {
  const want = new Set(ids);
  const acc = new Map<string, number[]>();
  for (const p of points) {
    const v = p[metric];
    if (!want.has(p.id) || !p.ok || v === null || !Number.isFinite(v)) continue;
    const s = show(p.flags[SEED]);
    if (!acc.has(s)) acc.set(s, []);
    acc.get(s)!.push(v);
  }
  return new Map([...acc].map(([s, vs]) => [s, vs.reduce((a, b) => a + b, 0) / vs.length]));
}

/** Each group against the baseline on the seeds both finished (group key -> comparison). */
export function compareToBaseline(points: readonly RunPoint[], groups: readonly Group[], baseline: Group, metric: Metric = 'best_val_loss'): Map<string, Paired> {
  const base = bySeed(points, baseline.runs, metric);
  return new Map(groups.map((g) => [g.key, pairedComparison(base, bySeed(points, g.runs, metric))]));
}

/**
 * The group a user names: `relu`, `relu,krmsnorm`, `activation_variant=relu,norm_variant_attn=krmsnorm`
 * or a label `relu · krmsnorm`. Each part must match one grouping value (bare) or flag=value; exactly
 * one group may match.
 */
export function findGroup(groups: readonly Group[], by: readonly string[], spec: string): Group {
  const parts = spec.split(/\s*[,·]\s*/).map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) throw new UserError('--baseline is empty: name a combination, e.g. --baseline activation_variant=relu');
  const matches = groups.filter((g) => parts.every((p) => {
    const eq = p.indexOf('=');
    if (eq > 0) {
      const k = p.slice(0, eq).trim();
      return by.includes(k) && show(g.flags[k]) === p.slice(eq + 1).trim();
    }
    return by.some((k) => show(g.flags[k]) === p);
  }));
  const list = groups.map((g) => `  ${by.map((k) => `${k}=${show(g.flags[k])}`).join(',')}`).slice(0, 40).join('\n');
  if (matches.length === 0) throw new UserError(`--baseline ${spec} matches no combination; the combinations are:\n${list}`);
  if (matches.length > 1) {
    throw new UserError(`--baseline ${spec} matches ${matches.length} combinations (${matches.map((g) => g.label).join('; ')}): ` +
      'name every varied flag, e.g. ' + by.map((k) => `${k}=${show(matches[0].flags[k])}`).join(','));
  }
  return matches[0];
}

/** A mean curve with its 95% band: at each x, the estimate over the curves that have a point there. */
export interface MeanCurve { x: number[]; mean: number[]; lo: (number | null)[]; hi: (number | null)[]; n: number[] }

/** Curves (x ascending or not) of the repeats of one combination -> their pointwise mean and 95% interval. */
export function meanCurve(curves: readonly { x: readonly number[]; y: readonly (number | null)[] }[]): MeanCurve {
  const at = new Map<number, number[]>();
  for (const c of curves) c.x.forEach((x, i) => {
    const y = c.y[i];
    if (y === null || !Number.isFinite(y)) return;
    if (!at.has(x)) at.set(x, []);
    at.get(x)!.push(y);
  });
  const xs = [...at.keys()].sort((a, b) => a - b);
  const out: MeanCurve = { x: xs, mean: [], lo: [], hi: [], n: [] };
  for (const x of xs) {
    const e = estimate(at.get(x)!);
    out.mean.push(e.mean!);
    out.lo.push(e.lo);
    out.hi.push(e.hi);
    out.n.push(e.n);
  }
  return out;
}

/**
 * Whether the best validation loss was at the last evaluation: training evaluates every
 * `evalInterval` iterations and at the end (src/train/loop.ts), so a finished run's last evaluation
 * is at `iters`, an unfinished one's at the last multiple of the interval. Such a run was still
 * improving when it stopped: more iterations may lower its loss, and a comparison at this length
 * may rank it differently. Null when a number is missing.
 */
export function stillImproving(bestIter: number | null, iters: number | null, evalInterval: unknown, finished: boolean): boolean | null {
  if (bestIter === null || iters === null || iters <= 0) return null;
  const ei = typeof evalInterval === 'number' && evalInterval > 0 ? evalInterval : null;
  const last = finished || ei === null ? iters : Math.floor(iters / ei) * ei;
  return bestIter >= last;
}
