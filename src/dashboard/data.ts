// What the dashboard shows, read from disk: every run below a folder (a run folder holds log.jsonl
// and/or summary.json / state.json), their loss curves, and one results table (rows of the sweeps'
// results.jsonl files, plus a row from summary.json for every run no sweep lists).
// Reading is incremental (docs/dashboard.md, "Reading runs"): a DashboardReader remembers, per
// JSON-lines file, the byte offset it has parsed up to and what the lines said, so each refresh
// parses only the bytes appended since the last one; small JSON files are re-read only when their
// size or modification time changed. `version` (a hash of every file's identity, size and mtime)
// is computed from `lstat` alone, so an unchanged folder costs one walk and no reading. Curves longer
// than MAX_CURVE_POINTS are thinned evenly (first and last points kept) so that what one response
// carries stays bounded however long a log grows.
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readSync, type Stats } from 'node:fs';
import { open as openAsync } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { defaultConfig } from '../config/config.js';
import { METRICS } from '../nn/metrics.js';
import type { MetricSpec } from '../nn/variant.js';

const RUN_FILES = ['log.jsonl', 'summary.json', 'state.json'];
const CKPT_FILES = ['ckpt.safetensors', 'final.safetensors'];
const MAX_DEPTH = 8;
const MAX_DIRS = 5000;
const SKIP_DIRS = new Set(['node_modules', '.git', 'dist']);

/** The fixed columns of the results table, in order (then each declared metric, src/nn/metrics.ts); varied flags follow them. */
export const TABLE_COLUMNS: readonly string[] = ['run', 'status', 'best_val_loss', 'best_iter', 'final_train_loss', 'final_val_loss',
  'params', 'iters', 'wall_s', 'tokens_per_s', ...METRICS.map((m) => m.name)];
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
  /** Per evaluation: the losses and each declared metric (by its name; null where not reported). */
  evals: { iter: number[]; train_loss: (number | null)[]; val_loss: (number | null)[]; [metric: string]: (number | null)[] };
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
  /** The declared metrics (name, label, format): the page formats and plots them from here. */
  metrics: readonly MetricSpec[];
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

/** Longest curve one response carries (points per curve); longer ones are thinned evenly. */
export const MAX_CURVE_POINTS = 2000;
/** summary.json and state.json larger than this are not read (a run writes a few kilobytes). */
const MAX_JSON_BYTES = 8 << 20;
/** Bytes read at a time from a growing log (the server's event loop runs between two reads). */
const READ_CHUNK = 1 << 20;
/** Bytes of a file's start remembered to tell an appended file from a rewritten one. */
const HEAD_BYTES = 64;

/** A file's identity, size and time: equal stamps, equal contents (as far as the dashboard cares). */
const stampOf = (path: string, st: Stats): string => `${path}:${st.ino}:${st.size}:${st.mtimeMs}`;

function openPlain(path: string): number {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  if (!fstatSync(fd).isFile()) { closeSync(fd); throw new Error(`${path} is not a regular file`); }
  return fd;
}

function readRangeSync(path: string, start: number, end: number): Buffer {
  const fd = openPlain(path);
  try {
    const buf = Buffer.alloc(end - start);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally { closeSync(fd); }
}

async function readRangeAsync(path: string, start: number, end: number, onChunk: (b: Buffer) => void): Promise<void> {
  const fh = await openAsync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    if (!(await fh.stat()).isFile()) throw new Error(`${path} is not a regular file`);
    for (let at = start; at < end;) {
      const want = Math.min(READ_CHUNK, end - at);
      const { bytesRead, buffer } = await fh.read(Buffer.alloc(want), 0, want, at);
      if (bytesRead === 0) break;
      onChunk(buffer.subarray(0, bytesRead));
      at += bytesRead;
    }
  } finally { await fh.close(); }
}

/** A small JSON file (summary.json, state.json), re-read only when its stamp changes. */
class JsonFile {
  private stamp = '';
  value: Record<string, unknown> | null = null;
  constructor(readonly path: string) {}

  /** Adds the file's stamp to `stamps` and re-reads it if it changed. */
  update(stamps: string[]): void {
    let st: Stats;
    try { st = lstatSync(this.path); } catch { this.stamp = ''; this.value = null; return; }
    const stamp = stampOf(this.path, st);
    stamps.push(stamp);
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    this.value = null;
    if (!st.isFile() || st.size > MAX_JSON_BYTES) return;
    try {
      const v = JSON.parse(readRangeSync(this.path, 0, st.size).toString('utf8')) as unknown;
      this.value = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
    } catch { /* unreadable or half-written: shown as absent */ }
  }
}

/**
 * A JSON-lines file read incrementally: `add` sees each complete line's object once, in order; a
 * file replaced or rewritten (another inode, shorter, or a different start) is read again from the
 * start after `reset`. A last line without its newline is parsed when it is whole JSON (a finished
 * file), else kept until the rest arrives (a line being written).
 */
class JsonlFile {
  private ino = -1;
  private size = 0;
  private mtimeMs = -1;
  private head = Buffer.alloc(0);
  private pending = Buffer.alloc(0);
  /** Objects parsed so far. */
  count = 0;
  constructor(readonly path: string, private readonly reset: () => void, private readonly add: (row: Record<string, unknown>) => void,
    private readonly stats: ReaderStats) {}

  /** What changed since the last read: null when nothing, else the byte range to read (from 0 after a rewrite). */
  private plan(st: Stats): { start: number; end: number } | null {
    if (st.ino === this.ino && st.size === this.size && st.mtimeMs === this.mtimeMs) return null;
    const appended = st.ino === this.ino && st.size >= this.size && this.head.length > 0 &&
      (this.head.length === HEAD_BYTES ? readRangeSync(this.path, 0, HEAD_BYTES).equals(this.head) : false);
    if (!appended) {
      this.reset();
      this.count = 0; this.pending = Buffer.alloc(0); this.head = Buffer.alloc(0); this.size = 0;
    }
    this.ino = st.ino; this.mtimeMs = st.mtimeMs;
    const start = this.size;
    this.size = st.size;
    return { start, end: st.size };
  }

  private consume(chunk: Buffer, at: number): void {
    this.stats.bytesRead += chunk.length;
    if (at < HEAD_BYTES && this.head.length < HEAD_BYTES) {
      this.head = Buffer.concat([this.head, chunk.subarray(0, HEAD_BYTES - this.head.length)]);
    }
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let from = 0;
    for (let nl = buf.indexOf(10, from); nl >= 0; nl = buf.indexOf(10, from)) {
      this.line(buf.toString('utf8', from, nl));
      from = nl + 1;
    }
    buf = buf.subarray(from);
    this.pending = Buffer.from(buf);
  }

  /** At the end of the bytes there are: a whole last line without its newline counts. */
  private finish(): void {
    if (this.pending.length && this.line(this.pending.toString('utf8'))) this.pending = Buffer.alloc(0);
  }

  private line(text: string): boolean {
    if (!text.trim()) return true;
    try {
      const v = JSON.parse(text) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) { this.add(v as Record<string, unknown>); this.count++; }
      return true;
    } catch { return false; /* a line being written */ }
  }

  private stat(stamps: string[]): Stats | null {
    let st: Stats;
    try { st = lstatSync(this.path); } catch { if (this.ino !== -1) { this.reset(); this.ino = -1; this.count = 0; this.size = 0; this.head = Buffer.alloc(0); this.pending = Buffer.alloc(0); } return null; }
    stamps.push(stampOf(this.path, st));
    return st.isFile() ? st : null;
  }

  updateSync(stamps: string[]): void {
    const st = this.stat(stamps);
    if (!st) return;
    try {
      const r = this.plan(st);
      if (!r) return;
      this.consume(readRangeSync(this.path, r.start, r.end), r.start);
      this.finish();
    } catch { this.ino = -1; /* unreadable now: tried again at the next refresh */ }
  }

  async update(stamps: string[]): Promise<void> {
    const st = this.stat(stamps);
    if (!st) return;
    try {
      const r = this.plan(st);
      if (!r) return;
      let at = r.start;
      await readRangeAsync(this.path, r.start, r.end, (b) => { this.consume(b, at); at += b.length; });
      this.finish();
    } catch { this.ino = -1; }
  }
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** Indices 0..n-1 thinned to at most max, evenly, first and last kept. */
export function thinIndices(n: number, max = MAX_CURVE_POINTS): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: max }, (_, i) => Math.round((i * (n - 1)) / (max - 1)));
}

/** One run folder's files, read incrementally. */
/** What a reader has done, for tests and figures: refreshes that read files, and bytes of logs read. */
export interface ReaderStats { refreshes: number; bytesRead: number }

class RunFiles {
  readonly summary: JsonFile;
  readonly state: JsonFile;
  readonly log: JsonlFile;
  /** Iteration -> [loss, lr] of training lines, and the whole line of evaluations (the later line wins: a resumed run logs an iteration twice). */
  private train = new Map<number, [number, number]>();
  private evals = new Map<number, Record<string, unknown>>();
  /** Whether the maps' keys (in insertion order) are ascending: a log written by one run is, so no sort is needed. */
  private trainSorted = true;
  private evalsSorted = true;
  private lastTrain = -Infinity;
  private lastEval = -Infinity;

  constructor(readonly dir: string, stats: ReaderStats) {
    this.summary = new JsonFile(join(dir, 'summary.json'));
    this.state = new JsonFile(join(dir, 'state.json'));
    this.log = new JsonlFile(join(dir, 'log.jsonl'), () => {
      this.train = new Map(); this.evals = new Map();
      this.trainSorted = this.evalsSorted = true; this.lastTrain = this.lastEval = -Infinity;
    }, (l) => {
      const it = num(l.iter);
      if (it === null) return;
      if ('val_loss' in l || 'train_loss' in l) {
        if (!this.evals.has(it) && it < this.lastEval) this.evalsSorted = false;
        this.lastEval = Math.max(this.lastEval, it);
        this.evals.set(it, l);
      } else if ('loss' in l) {
        if (!this.train.has(it) && it < this.lastTrain) this.trainSorted = false;
        this.lastTrain = Math.max(this.lastTrain, it);
        this.train.set(it, [num(l.loss) ?? NaN, num(l.lr) ?? NaN]);
      }
    }, stats);
  }

  /** The run as the dashboard shows it, curves thinned to MAX_CURVE_POINTS. */
  info(root: string, stamps: string[]): RunInfo {
    const summary = this.summary.value, state = this.state.value;
    const trainIters = [...this.train.keys()], evalIters = [...this.evals.keys()];
    if (!this.trainSorted) trainIters.sort((a, b) => a - b);
    if (!this.evalsSorted) evalIters.sort((a, b) => a - b);
    const ti = thinIndices(trainIters.length).map((i) => trainIters[i]);
    // Thinned evaluations keep the best one (the table's best_val_loss falls back on it).
    let best = -1;
    evalIters.forEach((it, i) => { const v = num(this.evals.get(it)!.val_loss); if (v !== null && (best < 0 || v < num(this.evals.get(evalIters[best])!.val_loss)!)) best = i; });
    const keep = thinIndices(evalIters.length);
    if (best >= 0 && !keep.includes(best)) { keep.push(best); keep.sort((a, b) => a - b); }
    const ei = keep.map((i) => evalIters[i]);
    let checkpoint: RunInfo['checkpoint'] = null;
    for (const f of CKPT_FILES) {
      let st: Stats;
      try { st = lstatSync(join(this.dir, f)); } catch { continue; }
      if (!st.isFile()) continue; // a link out of the run folder is not this run's checkpoint
      stamps.push(stampOf(`${this.dir}/${f}`, st));
      if (!checkpoint || st.mtimeMs > checkpoint.mtime) checkpoint = { file: f, mtime: st.mtimeMs };
    }
    const cfgOf = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null);
    const config = cfgOf(state?.config) ?? cfgOf(summary?.config);
    const status = typeof summary?.status === 'string' ? summary.status : this.log.count > 0 ? 'running' : 'unknown';
    return {
      id: idOf(root, this.dir),
      dir: this.dir,
      name: basename(this.dir),
      sweep: null,
      status,
      summary,
      config,
      train: { iter: ti, loss: ti.map((i) => this.train.get(i)![0]), lr: ti.map((i) => this.train.get(i)![1]) },
      evals: {
        iter: ei,
        train_loss: ei.map((i) => num(this.evals.get(i)!.train_loss)),
        val_loss: ei.map((i) => num(this.evals.get(i)!.val_loss)),
        ...Object.fromEntries(METRICS.map((m) => [m.name, ei.map((i) => num(this.evals.get(i)![m.name]))])),
      },
      checkpoint,
      command: null,
    };
  }
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

/** Every file a refresh looks at, for the version stamp (lstat only, nothing read). */
function stampFolder(found: Found, stamps: string[]): void {
  for (const dir of found.runs) {
    for (const f of [...RUN_FILES, ...CKPT_FILES]) {
      try { stamps.push(stampOf(join(dir, f), lstatSync(join(dir, f)))); } catch { /* absent */ }
    }
  }
  for (const dir of found.sweeps) {
    try { stamps.push(stampOf(join(dir, 'results.jsonl'), lstatSync(join(dir, 'results.jsonl')))); } catch { /* absent */ }
  }
}

/**
 * The runs below one folder, read incrementally and kept between refreshes (the dashboard's server
 * holds one). `read()` shares one refresh among the requests that arrive while it runs, reads logs
 * in chunks without holding the event loop, and returns the previous result, untouched, when no
 * file's stamp changed.
 */
export class DashboardReader {
  readonly root: string;
  private readonly runs = new Map<string, RunFiles>();
  private readonly results = new Map<string, { file: JsonlFile; rows: Record<string, unknown>[] }>();
  private last: DashboardData | null = null;
  private lastJson: string | null = null;
  private inflight: Promise<DashboardData> | null = null;
  readonly stats: ReaderStats = { refreshes: 0, bytesRead: 0 };

  constructor(root: string) { this.root = resolve(root); }

  /** The files of the folders found now (readers of folders that are gone are dropped). */
  private filesOf(found: Found): { runs: RunFiles[]; sweeps: [string, { file: JsonlFile; rows: Record<string, unknown>[] }][] } {
    for (const d of this.runs.keys()) if (!found.runs.includes(d)) this.runs.delete(d);
    for (const d of this.results.keys()) if (!found.sweeps.includes(d)) this.results.delete(d);
    const runs = found.runs.map((d) => this.runs.get(d) ?? this.runs.set(d, new RunFiles(d, this.stats)).get(d)!);
    const sweeps = found.sweeps.map((d) => {
      let r = this.results.get(d);
      if (!r) {
        const rows: Record<string, unknown>[] = [];
        r = { rows, file: new JsonlFile(join(d, 'results.jsonl'), () => { rows.length = 0; }, (row) => { rows.push(row); }, this.stats) };
        this.results.set(d, r);
      }
      return [d, r] as [string, typeof r];
    });
    return { runs, sweeps };
  }

  /** The folder's stamp now: the last result when nothing changed, else the files to update. */
  private look(): DashboardData | { version: string; runs: RunFiles[]; sweeps: [string, { file: JsonlFile; rows: Record<string, unknown>[] }][] } {
    const found = walk(this.root), stamps: string[] = [];
    stampFolder(found, stamps);
    const version = versionOf(stamps, found, this.root);
    if (this.last?.version === version) return this.last;
    this.stats.refreshes++;
    return { version, ...this.filesOf(found) };
  }

  /** What changed, read now, blocking (tests, and `readDashboard`). */
  readSync(): DashboardData {
    const l = this.look();
    if ('root' in l) return l;
    const ignored: string[] = [];
    for (const r of l.runs) { r.summary.update(ignored); r.state.update(ignored); r.log.updateSync(ignored); }
    for (const [, r] of l.sweeps) r.file.updateSync(ignored);
    return this.keep(assemble(this.root, l.version, l.runs, l.sweeps));
  }

  /** The data now; concurrent callers share one refresh. */
  read(): Promise<DashboardData> {
    this.inflight ??= this.refresh().finally(() => { this.inflight = null; });
    return this.inflight;
  }

  /** The data and its JSON text (serialized once per version). */
  async body(): Promise<{ data: DashboardData; json: string }> {
    const data = await this.read();
    if (this.last !== data || this.lastJson === null) return { data, json: JSON.stringify(data) };
    return { data, json: this.lastJson };
  }

  private async refresh(): Promise<DashboardData> {
    const l = this.look();
    if ('root' in l) return l;
    const ignored: string[] = [];
    for (const r of l.runs) { r.summary.update(ignored); r.state.update(ignored); await r.log.update(ignored); }
    for (const [, r] of l.sweeps) await r.file.update(ignored);
    return this.keep(assemble(this.root, l.version, l.runs, l.sweeps));
  }

  private keep(data: DashboardData): DashboardData {
    this.last = data;
    this.lastJson = JSON.stringify(data);
    return data;
  }

  /** The run with this id among those the last refresh found (never by joining a client's string onto a path). */
  async findRun(id: string): Promise<RunInfo | null> {
    return (await this.read()).runs.find((r) => r.id === id) ?? null;
  }
}

function versionOf(stamps: string[], found: Found, root: string): string {
  return createHash('sha1').update(stamps.sort().join('\n')).update(found.runs.map((d) => idOf(root, d)).join('\n')).digest('hex').slice(0, 16);
}

function assemble(root: string, version: string, files: RunFiles[], sweeps: [string, { rows: Record<string, unknown>[] }][]): DashboardData {
  const runs = files.map((f) => f.info(root, []));
  const byDir = new Map(runs.map((r) => [r.dir, r]));

  const rows: TableRow[] = [];
  const listed = new Set<string>();
  const flagKeys = new Set<string>();
  for (const [sweepDir, results] of sweeps) {
    for (const row of results.rows) {
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

  const defaults = defaultConfig() as unknown as Record<string, unknown>;
  delete defaults.vocab_size; // from the dataset, not a flag: no default to compare with
  for (const r of runs) {
    const rel = relative(process.cwd(), r.dir);
    if (r.config) r.command = reproduceCommand(r.config, rel === '' ? '.' : rel.startsWith('..') || isAbsolute(rel) ? r.dir : rel, defaults);
  }
  return { root, version, defaults, runs, table: { columns, rows }, metrics: METRICS };
}

/** Everything below rootIn, read now (a reader of its own: nothing is kept). */
export function readDashboard(rootIn: string): DashboardData {
  return new DashboardReader(rootIn).readSync();
}

/** The run with this id, found by listing (never by joining a client's string onto a path). */
export function findRun(rootIn: string, id: string): RunInfo | null {
  return readDashboard(rootIn).runs.find((r) => r.id === id) ?? null;
}
