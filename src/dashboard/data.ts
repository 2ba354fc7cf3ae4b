// What the dashboard shows, read from disk: every run below a folder (a run folder holds log.jsonl
// and/or summary.json / state.json), their loss curves, and one results table (rows of the sweeps'
// results.jsonl files, plus a row from summary.json for every run no sweep lists).
// Everything here is re-read on each request; `version` (a hash of the files' sizes and mtimes)
// lets the page poll cheaply and redraw only when a run has written something.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { readFileNoFollow } from '../util/files.js';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { defaultConfig } from '../config/index.js';

const RUN_FILES = ['log.jsonl', 'summary.json', 'state.json'];
const CKPT_FILES = ['ckpt.safetensors', 'final.safetensors'];
const MAX_DEPTH = 8;
const MAX_DIRS = 5000;
const SKIP_DIRS = new Set(['node_modules', '.git', 'dist']);

/** The fixed columns of the results table, in order; varied flags follow them. */
export const TABLE_COLUMNS = ['run', 'status', 'best_val_loss', 'best_iter', 'final_train_loss', 'final_val_loss',
  'params', 'iters', 'wall_s', 'tokens_per_s', 'krmsnorm_recompute'] as const;
const NOT_FLAGS = new Set<string>([...TABLE_COLUMNS, 'name', 'out_dir', 'error', 'config', 'block_layout', 'dir', 'path']);

export interface RunInfo {
  id: string; // folder relative to the root, '/'-separated ('.' when the root itself is a run)
  dir: string; // absolute
  name: string;
  sweep: string | null; // id of the sweep folder whose results.jsonl lists it
  status: string;
  summary: Record<string, unknown> | null;
  config: Record<string, unknown> | null;
  train: { iter: number[]; loss: number[]; lr: number[] };
  evals: { iter: number[]; train_loss: (number | null)[]; val_loss: (number | null)[]; krmsnorm_recompute: (number | null)[] };
  checkpoint: { file: string; mtime: number } | null;
  /** `normlab train` with the flags that differ from the defaults and this run's folder. */
  command: string | null;
}

export interface TableRow { run: string | null; values: Record<string, unknown> }

export interface DashboardData {
  root: string;
  version: string;
  defaults: Record<string, unknown>;
  runs: RunInfo[];
  table: { columns: string[]; rows: TableRow[] };
}

interface Found { runs: string[]; sweeps: string[] }

/** Folders below root (root included) that are runs, and those that hold a results.jsonl. */
function walk(root: string): Found {
  const found: Found = { runs: [], sweeps: [] };
  let seen = 0;
  const visit = (dir: string, depth: number): void => {
    if (++seen > MAX_DIRS) return;
    let entries;
    try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return; }
    const files = new Set(entries.filter((e) => e.isFile()).map((e) => e.name));
    if (RUN_FILES.some((f) => files.has(f))) found.runs.push(dir);
    if (files.has('results.jsonl')) found.sweeps.push(dir);
    if (depth >= MAX_DEPTH) return;
    const subdirs = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.') && !SKIP_DIRS.has(e.name))
      .map((e) => e.name).sort();
    for (const d of subdirs) visit(join(dir, d), depth + 1);
  };
  visit(root, 0);
  return found;
}

function idOf(root: string, dir: string): string {
  const r = relative(root, dir);
  return r === '' ? '.' : r.split(sep).join('/');
}

function readJson(path: string, stamp: string[]): Record<string, unknown> | null {
  try {
    const st = lstatSync(path);
    stamp.push(`${path}:${st.size}:${st.mtimeMs}`);
    const v = JSON.parse(readFileNoFollow(path).toString('utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch { return null; }
}

/** One object per parseable line; a half-written last line (a run being written) is skipped. */
function readJsonl(path: string, stamp: string[]): Record<string, unknown>[] {
  let text: string;
  try {
    const st = lstatSync(path);
    stamp.push(`${path}:${st.size}:${st.mtimeMs}`);
    text = readFileNoFollow(path).toString('utf8');
  } catch { return []; }
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const v = JSON.parse(line) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) out.push(v as Record<string, unknown>);
    } catch { /* partial line */ }
  }
  return out;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function readRun(root: string, dir: string, stamp: string[]): RunInfo {
  const summary = readJson(join(dir, 'summary.json'), stamp);
  const state = readJson(join(dir, 'state.json'), stamp);
  const lines = readJsonl(join(dir, 'log.jsonl'), stamp);
  // A resumed run may log an iteration twice: the later line wins.
  const trainBy = new Map<number, Record<string, unknown>>(), evalBy = new Map<number, Record<string, unknown>>();
  for (const l of lines) {
    const it = num(l.iter);
    if (it === null) continue;
    if ('val_loss' in l || 'train_loss' in l) evalBy.set(it, l);
    else if ('loss' in l) trainBy.set(it, l);
  }
  const trainIters = [...trainBy.keys()].sort((a, b) => a - b);
  const evalIters = [...evalBy.keys()].sort((a, b) => a - b);
  let checkpoint: RunInfo['checkpoint'] = null;
  for (const f of CKPT_FILES) {
    let st: Stats;
    try { st = lstatSync(join(dir, f)); } catch { continue; }
    if (!st.isFile()) continue; // a link out of the run folder is not this run's checkpoint
    stamp.push(`${dir}/${f}:${st.size}:${st.mtimeMs}`);
    if (!checkpoint || st.mtimeMs > checkpoint.mtime) checkpoint = { file: f, mtime: st.mtimeMs };
  }
  const config = (state?.config ?? summary?.config ?? null) as Record<string, unknown> | null;
  const status = typeof summary?.status === 'string' ? summary.status : lines.length > 0 ? 'running' : 'unknown';
  return {
    id: idOf(root, dir),
    dir,
    name: basename(dir),
    sweep: null,
    status,
    summary,
    config,
    train: {
      iter: trainIters,
      loss: trainIters.map((i) => num(trainBy.get(i)!.loss) ?? NaN),
      lr: trainIters.map((i) => num(trainBy.get(i)!.lr) ?? NaN),
    },
    evals: {
      iter: evalIters,
      train_loss: evalIters.map((i) => num(evalBy.get(i)!.train_loss)),
      val_loss: evalIters.map((i) => num(evalBy.get(i)!.val_loss)),
      krmsnorm_recompute: evalIters.map((i) => num(evalBy.get(i)!.krmsnorm_recompute)),
    },
    checkpoint,
    command: null,
  };
}

/** A word as a POSIX shell reads it back unchanged. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_.,:/+=@%-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The train command line that reproduces a run: every flag whose value differs from its default, then --out_dir. */
export function reproduceCommand(config: Record<string, unknown>, dir: string, defaults: Record<string, unknown>): string {
  const argv = ['normlab', 'train'];
  for (const [k, v] of Object.entries(config)) {
    if (k === 'out_dir' || k === 'init_from' || !(k in defaults) || JSON.stringify(v) === JSON.stringify(defaults[k])) continue;
    if (typeof v === 'boolean') argv.push(v ? `--${k}` : `--no-${k}`);
    else {
      const w = v === null ? 'None' : String(v);
      if (w.startsWith('-')) argv.push(shellWord(`--${k}=${w}`)); // would read as a flag on its own
      else argv.push(`--${k}`, shellWord(w));
    }
  }
  argv.push('--out_dir', shellWord(dir));
  return argv.join(' ');
}

/** The values a summary.json gives for the fixed table columns. */
function summaryValues(run: RunInfo): Record<string, unknown> {
  const s = run.summary ?? {};
  const v: Record<string, unknown> = { run: run.id, status: run.status };
  for (const c of TABLE_COLUMNS) if (c !== 'run' && c !== 'status' && c in s) v[c] = s[c];
  if (!('best_val_loss' in v)) {
    const vals = run.evals.val_loss.filter((x): x is number => x !== null);
    if (vals.length > 0) v.best_val_loss = Math.min(...vals);
  }
  if (typeof s.error === 'string') v.error = s.error;
  return v;
}

export function readDashboard(rootIn: string): DashboardData {
  const root = resolve(rootIn);
  const stamp: string[] = [];
  const found = walk(root);
  const runs = found.runs.map((d) => readRun(root, d, stamp));
  const byDir = new Map(runs.map((r) => [r.dir, r]));

  const rows: TableRow[] = [];
  const listed = new Set<string>();
  const flagKeys = new Set<string>();
  for (const sweepDir of found.sweeps) {
    for (const row of readJsonl(join(sweepDir, 'results.jsonl'), stamp)) {
      // Which run folder a row is about: its out_dir (absolute, relative to the sweep folder, or to
      // the current directory), else sweep folder / its run name.
      const cands: string[] = [];
      if (typeof row.out_dir === 'string') {
        if (isAbsolute(row.out_dir)) cands.push(row.out_dir);
        else cands.push(resolve(sweepDir, row.out_dir), resolve(row.out_dir), resolve(sweepDir, basename(row.out_dir)));
      }
      for (const k of ['run', 'name']) if (typeof row[k] === 'string') cands.push(resolve(sweepDir, row[k] as string));
      const run = cands.map((c) => byDir.get(resolve(c))).find((r) => r !== undefined) ?? null;
      if (run && listed.has(run.dir)) continue; // a rerun sweep may list a run twice: keep the first row
      const values: Record<string, unknown> = run ? summaryValues(run) : {};
      for (const [k, v] of Object.entries(row)) {
        if (k === 'config' || v === undefined) continue;
        values[k] = v;
        if (!NOT_FLAGS.has(k)) flagKeys.add(k);
      }
      values.run = run ? run.id : String(row.run ?? row.name ?? row.out_dir ?? '?');
      if (run) { run.sweep = idOf(root, sweepDir); listed.add(run.dir); }
      rows.push({ run: run ? run.id : null, values });
    }
  }
  for (const run of runs) if (!listed.has(run.dir)) rows.push({ run: run.id, values: summaryValues(run) });

  // Flags that differ between runs become columns (out_dir always differs and says nothing).
  const configs = runs.map((r) => r.config).filter((c): c is Record<string, unknown> => c !== null);
  if (configs.length > 1) {
    for (const k of Object.keys(configs[0])) {
      if (NOT_FLAGS.has(k)) continue;
      const first = JSON.stringify(configs[0][k]);
      if (configs.some((c) => JSON.stringify(c[k]) !== first)) flagKeys.add(k);
    }
  }
  const runById = new Map(runs.map((r) => [r.id, r]));
  for (const row of rows) {
    const cfg = row.run !== null ? runById.get(row.run)?.config : null;
    for (const k of flagKeys) if (!(k in row.values) && cfg && k in cfg) row.values[k] = cfg[k];
  }
  const columns = [...TABLE_COLUMNS, ...[...flagKeys].sort()];

  const version = createHash('sha1').update(stamp.sort().join('\n')).update(runs.map((r) => r.id).join('\n')).digest('hex').slice(0, 16);
  const defaults = defaultConfig() as unknown as Record<string, unknown>;
  delete defaults.vocab_size; // from the dataset, not a flag: no default to compare with
  for (const r of runs) {
    const rel = relative(process.cwd(), r.dir);
    if (r.config) r.command = reproduceCommand(r.config, rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? r.dir : rel, defaults);
  }
  return { root, version, defaults, runs, table: { columns, rows } };
}

/** The run with this id, found by listing (never by joining a client's string onto a path). */
export function findRun(rootIn: string, id: string): RunInfo | null {
  const root = resolve(rootIn);
  const dir = walk(root).runs.find((d) => idOf(root, d) === id);
  return dir === undefined ? null : readRun(root, dir, []);
}
