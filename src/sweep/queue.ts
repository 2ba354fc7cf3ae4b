// Sweeps over several machines (docs/queue.md): `normlab sweep FILE --queue URL` puts every run that
// is not done on a BullMQ queue named after the sweep and follows the runs, filling the same sweep
// folder a local sweep leaves; `normlab worker --queue URL` (src/sweep/worker.ts) trains them.
//
// What travels through Redis (besides BullMQ's own keys, `bull:<queue>:...`):
//   normlab:queues                       set of the sweep queues (workers serve every one)
//   job <queue>/<run name>-<hash of argv> data {name, argv, weights}: train flags only
//   normlab:run:<queue>:<job id>         hash: gen (attempt counter), worker, action, summary (JSON), progress (bar)
//   normlab:run:<queue>:<job id>:log     list: the lines of the run's log.jsonl in this attempt
//   normlab:run:<queue>:<job id>:weights final.safetensors (only with --weights), until fetched
// The job id is deterministic, so rerunning the follower never queues a run twice.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { clearRunFolder, createRunFolder, decideAction } from './folders.js';
import { join } from 'node:path';
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { FLAGS, HelpRequested, checkTrainConfig, defaultConfig, parseFlags } from '../config/index.js';
import { appendFileChecked, writeFileAtomic } from '../util/files.js';
import { UserError } from '../engine/types.js';
import type { Plan, PlannedRun } from './plan.js';
import { safeName } from './naming.js';
import { fmtNum, makeRow, readSummary, writeResults, type ResultRow, type Summary } from './results.js';
import type { SweepOutcome } from './runner.js';
import { lockSweepDir } from './sweep-lock.js';
import { runStartLine, sweepTerminal } from './terminal.js';
import { variedValues, writeManifest } from './manifest.js';
import { openRedis, probeRedis, type RedisTarget } from './redis.js';
import { formatDuration } from '../util/format.js';

export const QUEUES_KEY = 'normlab:queues';

/** What a job carries: flags only. */
export interface RunJobData {
  name: string;
  argv: string[];
  /** Send final.safetensors back through Redis. */
  weights: boolean;
}

/** What a finished job returns. */
export interface RunJobResult {
  summary: Summary;
  worker: string;
}

export const runKey = (queue: string, jobId: string) => `normlab:run:${queue}:${jobId}`;
export const logKey = (queue: string, jobId: string) => `${runKey(queue, jobId)}:log`;
export const weightsKey = (queue: string, jobId: string) => `${runKey(queue, jobId)}:weights`;

/** A name usable as one folder (and BullMQ name: no ':'): safeName, never '.' or '..', at most 200 characters. */
export function folderName(s: string): string {
  const n = safeName(s).slice(0, 200);
  return n === '' || n === '.' || n === '..' ? `_${n}` : n;
}

/** The queue of a sweep: named after its folder. */
export function queueNameOf(sweepDir: string): string {
  const base = sweepDir.replace(/[\\/]+$/, '').split(/[\\/]/).pop() ?? '';
  return folderName(`normlab-${base}`);
}

/** Same run, same flags -> same id; other flags under the same name -> another job. */
export function jobIdOf(run: Pick<PlannedRun, 'name' | 'argv'>): string {
  return folderName(`${run.name}-${createHash('sha1').update(JSON.stringify(run.argv)).digest('hex').slice(0, 10)}`);
}

/** Flags a job may not carry: the worker decides where its runs write and read. */
const WORKER_OWNED: Record<string, string> = {
  out_dir: 'each run gets its own folder under the worker\'s --work_dir',
  data_dir: 'the worker reads datasets from its own --data_dir',
  init_from: 'a path would point into one machine\'s disk; resuming is decided by the worker',
};

/**
 * The train command's own checks (parseFlags, checkTrainConfig) plus what the queue forbids: flags
 * that name paths, and dataset names that are not a plain folder name. A UserError says which.
 */
export function checkQueueArgv(argv: unknown): { config: Record<string, unknown> } {
  if (!Array.isArray(argv) || argv.length > 2000 || !argv.every((a) => typeof a === 'string' && a.length <= 10000)) {
    throw new UserError('the job\'s flags are not a list of strings');
  }
  let parsed;
  try {
    parsed = parseFlags(argv, FLAGS, defaultConfig() as unknown as Record<string, unknown>, { maxPositional: 0 });
  } catch (e) {
    if (e instanceof HelpRequested) throw new UserError('-h/--help is not a train flag for a run');
    throw e;
  }
  const problems: string[] = [];
  for (const name of parsed.given) {
    if (name === 'init_from' && parsed.config.init_from === 'scratch') continue;
    if (name in WORKER_OWNED) problems.push(`--${name} cannot go through the queue: ${WORKER_OWNED[name]}`);
  }
  const ds = parsed.config.dataset;
  if (typeof ds !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._+=-]*$/.test(ds)) {
    problems.push(`--dataset ${JSON.stringify(ds)}: through the queue it must be a plain folder name under the worker's --data_dir`);
  }
  if (problems.length > 0) throw new UserError(problems.join('; '));
  checkTrainConfig(parsed.config);
  return { config: parsed.config };
}

/** Every run of a plan must be able to go through the queue (one error lists every problem). */
export function checkPlanForQueue(plan: Plan): void {
  const bad = new Set<string>();
  for (const r of plan.runs) {
    try { checkQueueArgv(r.argv); } catch (e) {
      if (!(e instanceof UserError)) throw e;
      bad.add(e.message);
    }
  }
  if (bad.size > 0) throw new UserError(`sweep not queued, nothing ran:\n  ${[...bad].join('\n  ')}`);
}

export interface FollowOptions {
  target: RedisTarget;
  sweepDir: string;
  /** Ask workers to send final.safetensors back. */
  weights?: boolean;
  /** Hide the runs' output lines. */
  quiet?: boolean;
  print?: (line: string) => void;
  /** Where the progress bars of the runs in training go, redrawn in place (default: stdout when it is a terminal and print is not given). */
  live?: (bar: string) => void;
  /** Abort: stop following (the runs go on, on the workers). */
  signal?: AbortSignal;
  manifest?: Record<string, unknown>;
  /** Milliseconds between two looks at the queue. */
  pollMs?: number;
  /** Once every run is finished and in the sweep folder, remove the sweep's queue and keys from Redis. */
  clean?: boolean;
}

interface Tracked {
  run: PlannedRun;
  index: number;
  id: string;
  dir: string;
  gen: string | null;
  lines: number;
  logsSeen: number;
  summaryText: string | null;
  startedAt: number | null;
  row: ResultRow | null;
  /** The run's progress bar while it trains, '' otherwise. */
  progress: string;
}

/** Enqueues what is not done and follows until every run is finished (ok or failed) or the signal aborts. */
export async function followSweep(plan: Plan, opts: FollowOptions): Promise<SweepOutcome & { queue: string; cleaned: boolean }> {
  const { print, live } = sweepTerminal(opts);
  checkPlanForQueue(plan);
  await probeRedis(opts.target);
  const unlock = lockSweepDir(opts.sweepDir, plan);
  const conn = openRedis(opts.target, (l) => print(l));
  const queueName = queueNameOf(opts.sweepDir);
  const queue = new Queue<RunJobData, RunJobResult>(queueName, { connection: conn });
  queue.on('error', () => { /* reported once per outage by openRedis */ });
  try {
    const outcome = await follow(plan, opts, print, live, conn, queue);
    const cleaned = opts.clean === true && !outcome.interrupted && await removeQueue(conn, queue, print);
    return { ...outcome, queue: queueName, cleaned };
  } finally {
    await queue.close().catch(() => {});
    conn.disconnect();
    unlock();
  }
}

async function follow(plan: Plan, opts: FollowOptions, print: (l: string) => void, live: (bar: string) => void, conn: Redis,
  queue: Queue<RunJobData, RunJobResult>): Promise<SweepOutcome> {
  const q = queue.name;
  writeManifest(opts.sweepDir, plan, { ...opts.manifest, queue: q, redis: opts.target.shown });
  await conn.sadd(QUEUES_KEY, q);

  const tracked: Tracked[] = plan.runs.map((run, index) => ({
    run, index, id: jobIdOf(run), dir: join(opts.sweepDir, run.name), gen: null, lines: 0, logsSeen: 0,
    summaryText: null, startedAt: null, row: null, progress: '',
  }));
  let skipped = 0, retried = 0, queuedNow = 0, already = 0;
  const toAdd: Tracked[] = [];
  for (const t of tracked) {
    if (decideAction(t.dir) === 'skip') {
      t.row = makeRow(t.run.name, t.dir, variedValues(t.run, plan.varied), readSummary(t.dir), 'ok', null, null);
      skipped++;
      continue;
    }
    const job = await queue.getJob(t.id);
    if (!job) { toAdd.push(t); continue; }
    const state = await job.getState();
    if (state === 'failed') {
      if (existsSync(t.dir)) clearRunFolder(t.dir); // the sweep's own copy of the failed run (refused if it did not create it)
      await job.retry('failed');
      retried++;
    } else already++;
  }
  if (toAdd.length > 0) {
    await queue.addBulk(toAdd.map((t) => ({
      name: t.run.name,
      data: { name: t.run.name, argv: t.run.argv, weights: opts.weights === true },
      opts: { jobId: t.id, attempts: 1, removeOnComplete: false, removeOnFail: false },
    })));
    queuedNow = toAdd.length;
  }
  print(`sweep: ${plan.runs.length} runs in ${opts.sweepDir} on queue ${q} at ${opts.target.shown}: ${skipped} finished, ` +
    `${queuedNow} queued now, ${already} already queued, running or done, ${retried} failed to retry`);
  if (skipped < plan.runs.length) print('waiting for workers: start them with  normlab worker --queue <the same URL>');

  const t0 = Date.now();
  const durations: number[] = [];
  const counts = { ok: 0, failed: 0, interrupted: 0, skipped };
  const rowsInOrder = () => tracked.filter((t) => t.row !== null).map((t) => t.row!);
  writeResults(opts.sweepDir, rowsInOrder(), plan.varied);
  const pollMs = opts.pollMs ?? 500;

  let warnedMissing = false;
  while (!opts.signal?.aborted) {
    const open = tracked.filter((t) => t.row === null);
    if (open.length === 0) break;
    let changed = false;
    for (const t of open) {
      const job = await queue.getJob(t.id);
      if (!job) {
        // Removed from Redis (e.g. the queue was obliterated): queue it again.
        if (!warnedMissing) print(`run ${t.run.name} is no longer on the queue: queued again`);
        warnedMissing = true;
        await queue.add(t.run.name, { name: t.run.name, argv: t.run.argv, weights: opts.weights === true },
          { jobId: t.id, attempts: 1, removeOnComplete: false, removeOnFail: false });
        continue;
      }
      const state = await job.getState();
      await syncRun(t, conn, q, queue, opts, print, plan, durations, t0);
      if (state !== 'active') t.progress = '';
      if (state === 'completed') {
        finishOk(t, job, plan.varied, print);
        await fetchWeights(t, conn, q, opts, print);
        durations.push(t.row!.wall_s ?? 0);
        counts.ok++;
        changed = true;
      } else if (state === 'failed') {
        const error = job.failedReason || 'failed';
        t.row = makeRow(t.run.name, t.dir, variedValues(t.run, plan.varied), readSummary(t.dir), 'failed', error, null);
        print(`  ${t.run.name}: failed: ${error}`);
        counts.failed++;
        changed = true;
      }
    }
    if (changed) writeResults(opts.sweepDir, rowsInOrder(), plan.varied);
    // The bars of the runs in training, on one line (the local sweep's bar, named by run).
    live(tracked.filter((t) => t.row === null && t.progress !== '').map((t) => `${t.run.name}: ${t.progress}`).join('  |  '));
    await sleep(pollMs, opts.signal);
  }
  live('');
  const rows = rowsInOrder();
  writeResults(opts.sweepDir, rows, plan.varied);
  return { rows, interrupted: tracked.some((t) => t.row === null), counts };
}

/**
 * --clean: removes a finished sweep's queue (BullMQ's keys, normlab:run:<queue>:*, its entry in
 * normlab:queues). Refused while the queue holds a run that is not finished (one queued by another
 * version of the file, say): that run would be lost. Returns whether it was removed.
 */
async function removeQueue(conn: Redis, queue: Queue<RunJobData, RunJobResult>, print: (l: string) => void): Promise<boolean> {
  const counts = await queue.getJobCounts('active', 'waiting', 'delayed', 'prioritized', 'waiting-children', 'paused');
  const open = Object.values(counts).reduce((a, b) => a + b, 0);
  if (open > 0) {
    print(`queue ${queue.name} not removed: it still holds ${open} run${open > 1 ? 's' : ''} that ${open > 1 ? 'are' : 'is'} not finished ` +
      `(${Object.entries(counts).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(', ')}), queued by another version of the file?`);
    return false;
  }
  await conn.srem(QUEUES_KEY, queue.name); // workers stop serving it
  const jobs = (await queue.getJobCounts('completed', 'failed')) as Record<string, number>;
  await queue.obliterate({ force: true });
  let keys = 0;
  let cursor = '0';
  do {
    // Queue names are folderName()s: no glob characters.
    const [next, found] = await conn.scan(cursor, 'MATCH', `${runKey(queue.name, '*')}`, 'COUNT', 500);
    if (found.length > 0) keys += await conn.del(...found);
    cursor = next;
  } while (cursor !== '0');
  print(`removed queue ${queue.name} from Redis: ${jobs.completed + jobs.failed} finished jobs, ${keys} run keys (the sweep folder has every result)`);
  return true;
}

function finishOk(t: Tracked, job: Job<RunJobData, RunJobResult>, varied: string[], print: (l: string) => void): void {
  const summary = job.returnvalue?.summary ?? readSummary(t.dir);
  createRunFolder(t.dir);
  if (summary) writeFileAtomic(join(t.dir, 'summary.json'), JSON.stringify(summary, null, 1) + '\n');
  t.row = makeRow(t.run.name, t.dir, variedValues(t.run, varied), summary, 'ok', null, null);
  const r = t.row;
  print(`  ${t.run.name}: ok in ${formatDuration(r.wall_s)}` +
    (r.best_val_loss !== null ? `, best val ${fmtNum(r.best_val_loss)} at iter ${r.best_iter ?? '?'}` : '') +
    (job.returnvalue?.worker ? ` (on ${job.returnvalue.worker})` : ''));
}

async function fetchWeights(t: Tracked, conn: Redis, q: string, opts: FollowOptions, print: (l: string) => void): Promise<void> {
  if (!opts.weights) return;
  const buf = await conn.getBuffer(weightsKey(q, t.id));
  if (buf) {
    writeFileAtomic(join(t.dir, 'final.safetensors'), buf);
    await conn.del(weightsKey(q, t.id));
  } else if (!existsSync(join(t.dir, 'final.safetensors'))) {
    print(`  ${t.run.name}: no final weights on the queue (it was queued without --weights, or fetched into another folder)`);
  }
}

/** Copies the run's live state from Redis into its folder: log.jsonl, summary.json, output lines. */
async function syncRun(t: Tracked, conn: Redis, q: string, queue: Queue<RunJobData, RunJobResult>, opts: FollowOptions,
  print: (l: string) => void, plan: Plan, durations: number[], t0: number): Promise<void> {
  const res = await conn.multi().hgetall(runKey(q, t.id)).lrange(logKey(q, t.id), t.lines, -1).exec();
  if (!res) return;
  const meta = (res[0][1] ?? {}) as Record<string, string>;
  let lines = (res[1][1] ?? []) as string[];
  if (meta.gen === undefined) return; // no worker has started it yet
  createRunFolder(t.dir);
  const logFile = join(t.dir, 'log.jsonl');
  if (meta.gen !== t.gen) {
    // A new attempt (another worker, or a resume that trimmed the log): take the whole list.
    const again = await conn.multi().hget(runKey(q, t.id), 'gen').lrange(logKey(q, t.id), 0, -1).exec();
    lines = (again?.[1][1] ?? []) as string[];
    writeFileAtomic(logFile, lines.map((l) => l + '\n').join(''));
    t.gen = (again?.[0][1] as string | null) ?? meta.gen;
    t.lines = lines.length;
    if (t.startedAt === null) t.startedAt = Date.now();
    const done = durations.length;
    const left = plan.runs.length - done;
    const mean = done > 0 ? durations.reduce((a, b) => a + b, 0) / done : null;
    print(runStartLine(t.index + 1, plan.runs.length, `${t.run.name}${meta.action === 'resume' ? ' (resuming)' : ''}${meta.worker ? ` on ${meta.worker}` : ''}`,
      (Date.now() - t0) / 1000, mean === null ? null : mean * left));
  } else if (lines.length > 0) {
    appendFileChecked(logFile, lines.map((l) => l + '\n').join(''));
    t.lines += lines.length;
  }
  t.progress = meta.progress ?? '';
  if (meta.summary && meta.summary !== t.summaryText) {
    writeFileAtomic(join(t.dir, 'summary.json'), meta.summary);
    t.summaryText = meta.summary;
  }
  if (!opts.quiet) {
    const { logs } = await queue.getJobLogs(t.id, t.logsSeen, -1);
    for (const l of logs) print(`    ${t.run.name}: ${l}`);
    t.logsSeen += logs.length;
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) { resolve(); return; }
    const done = () => { clearTimeout(timer); signal?.removeEventListener('abort', done); resolve(); };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done);
  });
}
