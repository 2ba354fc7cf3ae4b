// Results of a sweep: one row per run, read from the run's summary.json (the train command's
// contract), written as results.csv (header row) and results.jsonl, and printed as a table sorted
// by best validation loss. Also the text-table helper that `normlab inspect` uses.
import { existsSync } from 'node:fs';
import { readFileNoFollow, writeFileAtomic } from '../util/files.js';
import { join } from 'node:path';
import { defaultConfig } from '../config/config.js';
import { unusedFlags } from '../model/factors.js';
import { costSummary, COST_COLUMNS, type CostColumn } from '../model/model-cost.js';
import type { ModelConfig } from '../config/config-types.js';
import { csvLine, formatDuration, textTable } from '../util/format.js';
import { METRICS, formatMetric } from '../nn/metrics.js';

/** summary.json as the train command writes it (every field optional: the file may be partial), with
 * one key per declared metric (src/nn/metrics.ts). */
export interface Summary {
  status?: 'running' | 'ok' | 'failed' | 'interrupted';
  error?: string;
  best_val_loss?: number | null;
  best_iter?: number | null;
  final_train_loss?: number | null;
  final_val_loss?: number | null;
  iters?: number | null;
  params?: number | null;
  wall_s?: number | null;
  tokens_per_s?: number | null;
  config?: Record<string, unknown>;
  block_layout?: string;
}

export type RunStatus = 'ok' | 'failed' | 'interrupted';

export interface ResultRow {
  name: string;
  /** Effective value of every varied flag. */
  flags: Record<string, unknown>;
  status: RunStatus;
  error: string | null;
  best_val_loss: number | null;
  best_iter: number | null;
  final_train_loss: number | null;
  final_val_loss: number | null;
  iters: number | null;
  params: number | null;
  wall_s: number | null;
  tokens_per_s: number | null;
  /** The last evaluated value of every declared metric (src/nn/metrics.ts), by name. */
  metrics: Record<string, number | null>;
  out_dir: string;
  /** The variants' hardware cost per token (docs/cost.md), from the run's config; null without one. */
  cost: Record<CostColumn, number> | null;
  /** Flags of `flags` the run does not use (src/model/factors.ts): blank in CSV and tables, not factors. */
  unused?: string[];
}

/** The row's varied flags without those it does not use (what tells it apart). */
export function rowFactors(r: ResultRow): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r.flags)) if (!r.unused?.includes(k)) out[k] = v;
  return out;
}

/** costSummary of a run's saved config (defaults fill flags an older version did not save). */
export function runCost(config: Record<string, unknown> | undefined): Record<CostColumn, number> | null {
  if (!config) return null;
  try {
    return costSummary({ ...defaultConfig(), ...config } as ModelConfig);
  } catch {
    return null; // a config this version cannot build (a variant since removed): no cost columns
  }
}

export function readJson<T>(path: string): T | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileNoFollow(path).toString('utf8')) as T;
  } catch {
    return null; // half-written, corrupt, or a link out of the folder: treated as absent
  }
}

export function readSummary(dir: string): Summary | null {
  return readJson<Summary>(join(dir, 'summary.json'));
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function makeRow(name: string, outDir: string, flags: Record<string, unknown>, summary: Summary | null,
  status: RunStatus, error: string | null, measuredWallS: number | null): ResultRow {
  const s = summary ?? {};
  return {
    name, flags, status, error,
    best_val_loss: num(s.best_val_loss), best_iter: num(s.best_iter),
    final_train_loss: num(s.final_train_loss), final_val_loss: num(s.final_val_loss),
    iters: num(s.iters), params: num(s.params),
    wall_s: num(s.wall_s) ?? measuredWallS, tokens_per_s: num(s.tokens_per_s),
    metrics: Object.fromEntries(METRICS.map((m) => [m.name, num((s as Record<string, unknown>)[m.name])])),
    out_dir: outDir,
    cost: runCost(s.config),
    unused: s.config ? [...unusedFlags(s.config)].filter((k) => k in flags) : [],
  };
}

const RUN_COLUMNS = ['best_val_loss', 'best_iter', 'final_train_loss', 'final_val_loss', 'iters', 'params',
  'wall_s', 'tokens_per_s'] as const;
const END_COLUMNS = ['status', 'error', 'out_dir'] as const;
/** The columns after a run's name and varied flags: its figures, each declared metric, its status. */
const METRIC_COLUMNS = [...RUN_COLUMNS, ...METRICS.map((m) => m.name), ...END_COLUMNS];

/** Flat objects: name, the varied flags, then the metrics (same columns in CSV and JSONL). */
export function flatRows(rows: ResultRow[], varied: string[]): Record<string, unknown>[] {
  return rows.map((r) => {
    const o: Record<string, unknown> = { name: r.name };
    const f = rowFactors(r);
    for (const k of varied) o[k] = f[k] ?? null;
    for (const k of RUN_COLUMNS) o[k] = r[k];
    for (const m of METRICS) o[m.name] = r.metrics[m.name] ?? null;
    for (const k of END_COLUMNS) o[k] = r[k];
    for (const k of COST_COLUMNS) o[k] = r.cost?.[k] ?? null;
    return o;
  });
}

export function toCsv(rows: ResultRow[], varied: string[]): string {
  const header = ['name', ...varied, ...METRIC_COLUMNS, ...COST_COLUMNS];
  const lines = [header.join(',')];
  for (const o of flatRows(rows, varied)) lines.push(csvLine(header.map((h) => o[h])));
  return lines.join('\n') + '\n';
}

export function toJsonl(rows: ResultRow[], varied: string[]): string {
  return flatRows(rows, varied).map((o) => JSON.stringify(o)).join('\n') + (rows.length > 0 ? '\n' : '');
}

/** Writes results.csv and results.jsonl (each atomically: src/util/files.ts). */
export function writeResults(sweepDir: string, rows: ResultRow[], varied: string[]): void {
  for (const [file, text] of [['results.csv', toCsv(rows, varied)], ['results.jsonl', toJsonl(rows, varied)]] as const) {
    const path = join(sweepDir, file);
    writeFileAtomic(path, text);
  }
}

/** Ascending by the key; rows without a value go last, in their original order. */
export function sortByLoss<T>(rows: T[], key: (r: T) => number | null): T[] {
  return rows.map((r, i) => ({ r, i, v: key(r) }))
    .sort((a, b) => (a.v === null ? (b.v === null ? a.i - b.i : 1) : b.v === null ? -1 : a.v - b.v || a.i - b.i))
    .map((x) => x.r);
}

export function fmtNum(v: number | null, digits = 4): string {
  return v === null ? '-' : v.toFixed(digits);
}

/** The end-of-sweep table, sorted by best validation loss; a declared metric's column only when a run reported it. */
export function resultsTable(rows: ResultRow[]): string {
  const shown = METRICS.filter((m) => rows.some((r) => r.metrics[m.name] != null));
  const header = ['#', 'run', 'best val', 'iter', 'train', 'params', 'ops/tok', 'wall', 'tok/s', ...shown.map((m) => m.column), 'status'];
  const body = sortByLoss(rows, (r) => r.best_val_loss).map((r, i) => [
    String(i + 1), r.name, fmtNum(r.best_val_loss), r.best_iter === null ? '-' : String(r.best_iter),
    fmtNum(r.final_train_loss), r.params === null ? '-' : String(r.params),
    r.cost ? String(r.cost.cost_inference_ops) : '-', formatDuration(r.wall_s),
    r.tokens_per_s === null ? '-' : String(Math.round(r.tokens_per_s)),
    ...shown.map((m) => { const v = r.metrics[m.name]; return v == null ? '-' : formatMetric(m, v); }),
    r.status === 'ok' ? 'ok' : `${r.status}${r.error ? `: ${r.error}` : ''}`,
  ]);
  return textTable(header, body);
}
