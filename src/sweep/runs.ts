// Finds every training run below a folder and what tells them apart.
// A run folder holds summary.json, state.json or ckpt.safetensors (out_dir layout of the train
// command). Its config comes from summary.json, else state.json, else the checkpoint's safetensors
// metadata; the flags shown are those whose values differ between the runs found (out_dir and
// init_from excluded: they differ for every run, or after every resume, without changing the model).
import { existsSync, readdirSync, statSync, type Dirent } from 'node:fs';
import { join, relative } from 'node:path';
import { UserError } from '../util/errors.js';
import { readSafetensorsHeader } from '../engine/safetensors.js';
import { readJson, readSummary, runCost, sortByLoss, fmtNum } from './results.js';
import { textTable } from '../util/format.js';
import type { CostColumn } from '../model/model-cost.js';
import { groupRuns, show, stillImproving, SEED, type Group, type Metric, type RunPoint } from '../stats/groups.js';
import type { Estimate, Paired } from '../stats/stats.js';
import type { Effects } from '../stats/effects.js';
import { orderFlags, sweepOrder } from '../stats/order.js';
import { factorFlags, runFactors } from '../model/factors.js';

export interface InspectedRun {
  /** Folder relative to the inspected root ('.' for the root itself). */
  path: string;
  config: Record<string, unknown> | null;
  /** The config without the flags this run does not use (src/model/factors.ts): what tells it apart. */
  factors: Record<string, unknown> | null;
  best_val_loss: number | null;
  best_iter: number | null;
  final_val_loss: number | null;
  final_train_loss: number | null;
  iters: number | null;
  status: string;
  /** Best validation loss at the last evaluation (stats/groups.ts stillImproving); null unknown. */
  improving: boolean | null;
  /** The variants' hardware cost per token (docs/cost.md), from the config; null without one. */
  cost: Record<CostColumn, number> | null;
}

const MARKERS = ['summary.json', 'state.json', 'ckpt.safetensors'];
const NOT_FLAGS = new Set(['out_dir', 'init_from']);
const MAX_DEPTH = 8;

export function findRunDirs(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: Dirent[];
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
    if (MARKERS.some((m) => entries.some((e) => e.name === m && e.isFile()))) { out.push(dir); return; }
    if (depth >= MAX_DEPTH) return;
    // Symbolic links are not followed: a link out of the folder, or `ln -s . x` (a loop), is skipped.
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (e.name.startsWith('.') || e.name === 'node_modules' || !e.isDirectory()) continue;
      walk(join(dir, e.name), depth + 1);
    }
  };
  walk(root, 0);
  return out;
}

/** A checkpoint's metadata, or null when the file is unreadable or not safetensors (the run is listed
 * anyway). Links are not followed and a FIFO does not block (the folder may hold anything). */
function headerMetadata(path: string): Record<string, string> | null {
  try { return readSafetensorsHeader(path, { noFollow: true }).metadata; } catch { return null; }
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function inspectRun(root: string, dir: string): InspectedRun {
  const summary = readSummary(dir);
  const state = readJson<Record<string, unknown>>(join(dir, 'state.json'));
  let config = (summary?.config ?? (state?.config as Record<string, unknown> | undefined)) ?? null;
  const ckpt = join(dir, 'ckpt.safetensors');
  const meta = existsSync(ckpt) ? headerMetadata(ckpt) : null;
  if (!config && meta?.config) {
    try { config = JSON.parse(meta.config) as Record<string, unknown>; } catch { /* not JSON: no config */ }
  }
  const r: InspectedRun = {
    path: relative(root, dir) || '.',
    config,
    factors: config ? runFactors(config) : null,
    best_val_loss: num(summary?.best_val_loss) ?? num(state?.best_val_loss),
    best_iter: num(summary?.best_iter) ?? num(state?.best_iter),
    final_val_loss: num(summary?.final_val_loss),
    final_train_loss: num(summary?.final_train_loss),
    iters: num(summary?.iters) ?? num(state?.iter) ?? (meta?.iter !== undefined ? Number(meta.iter) : null),
    status: summary?.status ?? (state ? 'checkpoint' : 'weights only'),
    improving: null,
    cost: runCost(config ?? undefined),
  };
  r.improving = stillImproving(r.best_iter, r.iters, config?.eval_interval, r.status === 'ok');
  return r;
}

/** A checkpoint alone (the playground's download, a copied final.safetensors): weights, not a training run. */
export const weightsOnly = (r: InspectedRun): boolean => r.status === 'weights only';

/**
 * The factors that differ between the training runs (src/model/factors.ts): flags whose values
 * differ among the runs that use them. Weights-only folders hold a model config alone, not a run's
 * flags: they do not make every training flag differ.
 */
export function differingFlags(runs: InspectedRun[]): string[] {
  const trained = runs.filter((r) => !weightsOnly(r));
  return factorFlags((trained.length > 0 ? trained : runs).map((r) => r.config ?? {}), NOT_FLAGS);
}

export type InspectSort = 'val_loss' | 'name' | 'iter';

export function inspectDir(root: string, sort: InspectSort = 'val_loss'): { runs: InspectedRun[]; flags: string[] } {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new UserError(`'${root}' is not a folder`);
  const found = findRunDirs(root).map((d) => inspectRun(root, d));
  if (found.length === 0) throw new UserError(`no runs under '${root}' (a run folder holds summary.json, state.json or ckpt.safetensors)`);
  const runs = sort === 'name' ? [...found].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    : sort === 'iter' ? sortByLoss(found, (r) => r.best_iter)
    : sortByLoss(found, (r) => r.best_val_loss);
  return { runs, flags: differingFlags(found) };
}

export function inspectTable(runs: InspectedRun[], flags: string[]): string {
  const cell = (v: unknown) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : show(v));
  const header = ['run', ...flags, 'best val', 'ops/tok', 'iter', 'iters', 'status'];
  const body = runs.map((r) => [
    r.path, ...flags.map((k) => cell(r.factors?.[k])), fmtNum(r.best_val_loss), r.cost ? String(r.cost.cost_inference_ops) : '-',
    r.best_iter === null ? '-' : `${r.best_iter}${r.improving ? ' ↓' : ''}`, r.iters === null ? '-' : String(r.iters), r.status,
  ]);
  return textTable(header, body);
}

/** The runs as points for grouping (src/stats/groups.ts): finished means summary status ok. */
export function inspectPoints(runs: readonly InspectedRun[]): RunPoint[] {
  return runs.map((r) => ({
    id: r.path, flags: r.factors ?? {}, ok: r.status === 'ok',
    best_val_loss: r.best_val_loss, final_val_loss: r.final_val_loss, final_train_loss: r.final_train_loss, improving: r.improving,
  }));
}

/** Repeats grouped: by every differing flag but the seed. `repeated` says whether any group has two runs. */
export function inspectGroups(all: readonly InspectedRun[], flags: readonly string[], root = '.'): { by: string[]; groups: Group[]; points: RunPoint[]; repeated: boolean } {
  const trained = all.filter((r) => !weightsOnly(r));
  const runs = trained.length > 0 ? trained : all;
  // Flags in the order the sweep varies them (sweep.json), so rows and labels read like the exploration file.
  const order = sweepOrder(runs.map((r) => ({ run: r, dir: join(root, r.path) })));
  const by = orderFlags(flags, order.flags).filter((k) => k !== SEED);
  // Points in the sweep's order (not by loss): the first value of a flag is the one the file lists first.
  const points = inspectPoints(order.runs.map((o) => o.run));
  const groups = groupRuns(points, by);
  return { by, groups, points, repeated: groups.some((g) => g.seeds > 1) };
}

/** `2.4635 ± 0.0123` (the interval's half width), or the mean alone when there is no interval. */
export function fmtEstimate(e: Estimate, digits = 4): string {
  if (e.mean === null) return '-';
  return e.half === null ? fmtNum(e.mean, digits) : `${fmtNum(e.mean, digits)} ± ${fmtNum(e.half, digits)}`;
}

function fmtSigned(v: number | null, digits = 4): string {
  return v === null ? '-' : `${v >= 0 ? '+' : ''}${v.toFixed(digits)}`;
}

/**
 * The grouped table, sorted by mean best validation loss: the grouping flags, seeds finished / run,
 * best val loss and final val loss as mean ± 95% half width, the interval of best val, its sd, and,
 * with a baseline, the paired difference of `metric` (mean, 95% interval, verdict).
 */
export function groupTable(groups: readonly Group[], by: readonly string[], compare?: { baseline: Group; metric: Metric; result: Map<string, Paired> },
  opsOf?: (g: Group) => number | null): string {
  const sorted = [...groups].sort((a, b) => (a.stats.best_val_loss.mean ?? Infinity) - (b.stats.best_val_loss.mean ?? Infinity));
  const short = compare?.metric === 'final_val_loss' ? 'final val' : compare?.metric === 'final_train_loss' ? 'final train' : 'best val';
  const withImproving = groups.some((g) => g.improving > 0);
  const header = [...by, 'seeds', ...(opsOf ? ['ops/tok'] : []), 'best val (95%)', 'interval', 'sd', 'final val (95%)', ...(withImproving ? ['improving'] : []),
    ...(compare ? [`Δ ${short} vs baseline`, 'Δ interval', 'verdict'] : [])];
  const body = sorted.map((g) => {
    const b = g.stats.best_val_loss;
    const ops = opsOf?.(g);
    const row = [...by.map((k) => show(g.flags[k])), `${g.finished}/${g.seeds}`, ...(opsOf ? [ops == null ? '-' : String(ops)] : []), fmtEstimate(b),
      b.lo === null ? '-' : `[${fmtNum(b.lo)}, ${fmtNum(b.hi)}]`, b.sd === null ? '-' : fmtNum(b.sd), fmtEstimate(g.stats.final_val_loss),
      ...(withImproving ? [g.improving > 0 ? `↓ ${g.improving}/${g.finished}` : ''] : [])];
    if (compare) {
      const p = compare.result.get(g.key)!;
      if (g === compare.baseline) row.push('(baseline)', '', '');
      else row.push(fmtSigned(p.mean), p.lo === null ? '-' : `[${fmtSigned(p.lo)}, ${fmtSigned(p.hi)}]`, verdictText(p));
    }
    return row;
  });
  return textTable(header, body);
}

/** The main-effect table (src/stats/effects.ts): each level against the reference, overall and per stratum. */
export function effectTable(e: Effects): string {
  const short = e.metric === 'final_val_loss' ? 'final val' : e.metric === 'final_train_loss' ? 'final train' : 'best val';
  const header = [e.flag, `within (${e.others.join(', ') || 'nothing else varies'})`, `Δ ${short} vs ${e.reference}`, 'Δ interval (95%)', 'verdict'];
  const body = e.rows.map((r) => {
    const p = r.paired;
    return [r.level, r.stratum === 'all' ? `all (${r.strata} combination${r.strata === 1 ? '' : 's'}, averaged per seed)` : r.stratum,
      fmtSigned(p.mean), p.lo === null ? '-' : `[${fmtSigned(p.lo)}, ${fmtSigned(p.hi)}]`, verdictText(p)];
  });
  return textTable(header, body);
}

export function verdictText(p: Paired): string {
  return p.verdict === 'lower' || p.verdict === 'higher' ? `${p.verdict} (beyond seed noise, n=${p.n})`
    : p.verdict === 'within noise' ? `within seed noise (n=${p.n})` : `${p.verdict} (n=${p.n})`;
}
