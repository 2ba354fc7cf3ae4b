// Sweeps over several machines (docs/queue.md): `normlab sweep FILE --queue URL` puts every run that
// is not done on a BullMQ queue named after the sweep and follows the runs, filling the same sweep
// folder a local sweep leaves; `normlab worker --queue URL` (src/sweep/queue-worker.ts) trains them. What a
// job is and the keys it uses: src/sweep/jobs.ts. The job id is deterministic, so rerunning the
// follower never queues a run twice.
// What comes back from Redis is untrusted (docs/safety.md): a job under one of this sweep's ids that
// carries other flags is not this sweep's (it is replaced, and its results never taken); texts are
// printed through plainText; what is read per look is bounded.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { appendFileChecked, writeFileAtomic } from '../util/files.js';
import { formatDuration } from '../util/format.js';
import { UserError } from '../util/errors.js';
import { clearRunFolder, createRunFolder, decideAction } from './folders.js';
import { checkQueueArgv, jobIdOf, logKey, QUEUES_KEY, queueNameOf, runKey, weightsKey, type RunJobData, type RunJobResult } from './jobs.js';
import { variedValues, writeManifest } from './manifest.js';
import type { Plan, PlannedRun } from './plan.js';
import { isRedisFull, openRedis, probeRedis, redisFullMessage, type RedisTarget } from './redis.js';
import { fmtNum, makeRow, readSummary, writeResults, type ResultRow, type Summary } from './results.js';
import type { SweepOutcome } from './runner.js';
import { lockSweepDir } from './sweep-lock.js';
import { etaOf, plainText, runStartLine, sweepTerminal } from './terminal.js';
import { sleep } from './wait.js';

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

/** Most log lines and output lines taken from Redis per run and look. */
const MAX_LINES_PER_LOOK = 5000;

interface Tracked {
  run: PlannedRun;
  index: number;
  id: string;
  dir: string;
  gen: string | null;
  lines: number;
  logsSeen: number;
  summaryText: string | null;
  row: ResultRow | null;
  /** The run's progress bar while it trains, '' otherwise. */
  progress: string;
  /** A job of another sweep was found under this run's id (said once). */
  foreignSaid: boolean;
}

/** What following one sweep carries from look to look. */
interface Follow {
  plan: Plan;
  opts: FollowOptions;
  print: (line: string) => void;
  live: (bar: string) => void;
  conn: Redis;
  queue: Queue<RunJobData, RunJobResult>;
  tracked: Tracked[];
  durations: number[];
  counts: SweepOutcome['counts'];
  t0: number;
  warnedMissing: boolean;
}

/** Enqueues what is not done and follows until every run is finished (ok or failed) or the signal aborts. */
export async function followSweep(plan: Plan, opts: FollowOptions): Promise<SweepOutcome & { queue: string; cleaned: boolean }> {
  const term = sweepTerminal(opts);
  const print = (l: string) => term.print(plainText(l, 4000));
  checkPlanForQueue(plan);
  await probeRedis(opts.target);
  const unlock = lockSweepDir(opts.sweepDir, plan);
  const conn = openRedis(opts.target, print);
  const queue = new Queue<RunJobData, RunJobResult>(queueNameOf(opts.sweepDir), { connection: conn });
  queue.on('error', () => { /* reported once per outage by openRedis */ });
  try {
    const f: Follow = {
      plan, opts, print, live: (bar) => term.live(plainText(bar, 1000)), conn, queue, tracked: [], durations: [],
      counts: { ok: 0, failed: 0, interrupted: 0, skipped: 0 }, t0: Date.now(), warnedMissing: false,
    };
    const outcome = await follow(f);
    const cleaned = opts.clean === true && !outcome.interrupted && await removeQueue(conn, queue, print);
    return { ...outcome, queue: queue.name, cleaned };
  } catch (e) {
    if (isRedisFull(e)) throw new UserError(`${redisFullMessage(opts.target)}; the runs already queued go on, on the workers: run the same command again to follow them`);
    throw e;
  } finally {
    await queue.close().catch(() => {});
    conn.disconnect();
    unlock();
  }
}

async function follow(f: Follow): Promise<SweepOutcome> {
  const { plan, opts } = f;
  writeManifest(opts.sweepDir, plan, { ...opts.manifest, queue: f.queue.name, redis: opts.target.shown });
  await register(f);
  f.tracked = plan.runs.map((run, index) => ({
    run, index, id: jobIdOf(run), dir: join(opts.sweepDir, run.name), gen: null, lines: 0, logsSeen: 0,
    summaryText: null, row: null, progress: '', foreignSaid: false,
  }));
  await enqueue(f);
  const rowsInOrder = () => f.tracked.filter((t) => t.row !== null).map((t) => t.row!);
  writeResults(opts.sweepDir, rowsInOrder(), plan.varied);
  while (!opts.signal?.aborted) {
    const open = f.tracked.filter((t) => t.row === null);
    if (open.length === 0) break;
    await register(f);
    let changed = false;
    for (const t of open) if (await look(f, t)) changed = true;
    if (changed) writeResults(opts.sweepDir, rowsInOrder(), plan.varied);
    // The bars of the runs in training, on one line (the local sweep's bar, named by run).
    f.live(f.tracked.filter((t) => t.row === null && t.progress !== '').map((t) => `${t.run.name}: ${t.progress}`).join('  |  '));
    await sleep(opts.pollMs ?? 500, opts.signal);
  }
  f.live('');
  const rows = rowsInOrder();
  writeResults(opts.sweepDir, rows, plan.varied);
  return { rows, interrupted: f.tracked.some((t) => t.row === null), counts: f.counts };
}

/**
 * Lists the sweep's queue in normlab:queues, where workers look for queues: at the start, and again
 * whenever it is missing (a Redis restarted without its data lost the set with the jobs).
 */
async function register(f: Follow): Promise<void> {
  if (await f.conn.sismember(QUEUES_KEY, f.queue.name) === 1) return;
  await f.conn.sadd(QUEUES_KEY, f.queue.name);
  if (f.tracked.length > 0) f.print(`queue ${f.queue.name} was missing from ${QUEUES_KEY} (Redis lost its data?): listed again, so workers see its runs`);
}

const UNREADABLE = Symbol('unreadable');

/** The run's job on the queue, null when there is none, UNREADABLE when its stored fields are not JSON (written by another client). */
async function readJob(f: Follow, t: Tracked): Promise<Job<RunJobData, RunJobResult> | null | typeof UNREADABLE> {
  try {
    return (await f.queue.getJob(t.id)) ?? null;
  } catch (e) {
    if (e instanceof SyntaxError) return UNREADABLE;
    throw e;
  }
}

/** The job's data is this run's: same name, same flags. */
function isOurs(job: Job<RunJobData, RunJobResult>, t: Tracked): boolean {
  const d = job.data as Partial<RunJobData> | null;
  return d !== null && typeof d === 'object' && d.name === t.run.name && JSON.stringify(d.argv) === JSON.stringify(t.run.argv);
}

function jobOptions(f: Follow, t: Tracked) {
  return {
    name: t.run.name, data: { name: t.run.name, argv: t.run.argv, weights: f.opts.weights === true },
    opts: { jobId: t.id, attempts: 1, removeOnComplete: false, removeOnFail: false },
  };
}

/** Queues every run that is not finished in the sweep folder and not on the queue; retries failed ones. */
async function enqueue(f: Follow): Promise<void> {
  const { plan, opts } = f;
  let retried = 0, already = 0;
  const toAdd: Tracked[] = [];
  for (const t of f.tracked) {
    if (decideAction(t.dir) === 'skip') {
      t.row = makeRow(t.run.name, t.dir, variedValues(t.run, plan.varied), readSummary(t.dir), 'ok', null, null);
      f.counts.skipped++;
      continue;
    }
    const job = await readJob(f, t);
    if (!job) { toAdd.push(t); continue; }
    if (job === UNREADABLE || !isOurs(job, t)) { already++; continue; } // replaced when it can be (look)
    if (await job.getState() === 'failed') {
      if (existsSync(t.dir)) clearRunFolder(t.dir); // the sweep's own copy of the failed run (refused if it did not create it)
      await job.retry('failed');
      retried++;
    } else already++;
  }
  if (toAdd.length > 0) await f.queue.addBulk(toAdd.map((t) => jobOptions(f, t)));
  f.print(`sweep: ${plan.runs.length} runs in ${opts.sweepDir} on queue ${f.queue.name} at ${opts.target.shown}: ${f.counts.skipped} finished, ` +
    `${toAdd.length} queued now, ${already} already queued, running or done, ${retried} failed to retry`);
  if (f.counts.skipped < plan.runs.length) f.print('waiting for workers: start them with  normlab worker --queue <the same URL>');
}

/** One look at a run: its job's state, its live files; true when it finished (its row is set). */
async function look(f: Follow, t: Tracked): Promise<boolean> {
  const job = await readJob(f, t);
  if (!job) {
    // Removed from Redis (the queue was obliterated, or Redis restarted without its data): queue it again.
    if (!f.warnedMissing) f.print(`run ${t.run.name} is no longer on the queue: queued again`);
    f.warnedMissing = true;
    const j = jobOptions(f, t);
    await f.queue.add(j.name, j.data, j.opts);
    return false;
  }
  if (job === UNREADABLE || !isOurs(job, t)) { await replaceForeign(f, t); return false; }
  const state = await job.getState();
  await syncRun(f, t);
  if (state !== 'active') t.progress = '';
  if (state === 'completed') {
    finishOk(f, t, job);
    await fetchWeights(f, t);
    f.durations.push(t.row!.wall_s ?? 0);
    f.counts.ok++;
    return true;
  }
  if (state === 'failed') {
    const error = plainText(job.failedReason || 'failed', 2000);
    t.row = makeRow(t.run.name, t.dir, variedValues(t.run, f.plan.varied), readSummary(t.dir), 'failed', error, null);
    f.print(`  ${t.run.name}: failed: ${error}`);
    f.counts.failed++;
    return true;
  }
  return false;
}

/**
 * A job under this run's id whose flags are not the run's, or cannot be read (queued or changed by another client of the Redis):
 * nothing of it is taken; it is removed and the run queued in its place, or, while a worker holds
 * it, left until it ends.
 */
async function replaceForeign(f: Follow, t: Tracked): Promise<void> {
  const said = t.foreignSaid;
  t.foreignSaid = true;
  if (await f.queue.remove(t.id).catch(() => 0) !== 1) {
    if (!said) f.print(`run ${t.run.name}: the job ${t.id} on the queue is not this run's (other flags, or data that is not JSON; not queued by this sweep): its results are not taken; it is replaced once it ends`);
    return;
  }
  f.print(`run ${t.run.name}: the job ${t.id} on the queue was not this run's (other flags, or data that is not JSON; not queued by this sweep): removed, and the run queued in its place`);
  const j = jobOptions(f, t);
  await f.queue.add(j.name, j.data, j.opts);
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

/** The summary a finished job returned, if it is a summary of this job's run. */
function returnedSummary(job: Job<RunJobData, RunJobResult>, t: Tracked): Summary | null {
  const r = job.returnvalue as Partial<RunJobResult> | null;
  if (r === null || typeof r !== 'object' || (r.job !== undefined && r.job !== t.id)) return null;
  return r.summary !== null && typeof r.summary === 'object' && !Array.isArray(r.summary) ? r.summary : null;
}

function finishOk(f: Follow, t: Tracked, job: Job<RunJobData, RunJobResult>): void {
  const summary = returnedSummary(job, t) ?? readSummary(t.dir);
  createRunFolder(t.dir);
  if (summary) writeFileAtomic(join(t.dir, 'summary.json'), JSON.stringify(summary, null, 1) + '\n');
  t.row = makeRow(t.run.name, t.dir, variedValues(t.run, f.plan.varied), summary, 'ok', null, null);
  const r = t.row;
  const worker = (job.returnvalue as Partial<RunJobResult> | null)?.worker;
  f.print(`  ${t.run.name}: ok in ${formatDuration(r.wall_s)}` +
    (r.best_val_loss !== null ? `, best val ${fmtNum(r.best_val_loss)} at iter ${r.best_iter ?? '?'}` : '') +
    (typeof worker === 'string' ? ` (on ${plainText(worker, 200)})` : ''));
}

async function fetchWeights(f: Follow, t: Tracked): Promise<void> {
  if (!f.opts.weights) return;
  const q = f.queue.name;
  const buf = await f.conn.getBuffer(weightsKey(q, t.id));
  if (buf) {
    writeFileAtomic(join(t.dir, 'final.safetensors'), buf);
    await f.conn.del(weightsKey(q, t.id));
  } else if (!existsSync(join(t.dir, 'final.safetensors'))) {
    f.print(`  ${t.run.name}: no final weights on the queue (it was queued without --weights, or fetched into another folder)`);
  }
}

/** Copies the run's live state from Redis into its folder: log.jsonl, summary.json, output lines (at most MAX_LINES_PER_LOOK of each per look). */
async function syncRun(f: Follow, t: Tracked): Promise<void> {
  const q = f.queue.name;
  const res = await f.conn.multi().hgetall(runKey(q, t.id)).lrange(logKey(q, t.id), t.lines, t.lines + MAX_LINES_PER_LOOK - 1).exec();
  if (!res) return;
  const meta = (res[0][1] ?? {}) as Record<string, string>;
  const lines = (res[1][1] ?? []) as string[];
  if (meta.gen === undefined) return; // no worker has started it yet
  createRunFolder(t.dir);
  if (meta.gen !== t.gen) await newAttempt(f, t, meta);
  else if (lines.length > 0) {
    appendFileChecked(join(t.dir, 'log.jsonl'), lines.map((l) => l + '\n').join(''));
    t.lines += lines.length;
  }
  t.progress = plainText(meta.progress ?? '', 300);
  if (meta.summary && meta.summary !== t.summaryText && isJsonObject(meta.summary)) {
    writeFileAtomic(join(t.dir, 'summary.json'), meta.summary);
    t.summaryText = meta.summary;
  }
  if (!f.opts.quiet) {
    const { logs } = await f.queue.getJobLogs(t.id, t.logsSeen, t.logsSeen + MAX_LINES_PER_LOOK - 1);
    for (const l of logs) f.print(`    ${t.run.name}: ${l}`);
    t.logsSeen += logs.length;
  }
}

/** A new attempt (another worker, or a resume that trimmed the log): the log is taken again from its start. */
async function newAttempt(f: Follow, t: Tracked, meta: Record<string, string>): Promise<void> {
  const q = f.queue.name;
  const again = await f.conn.multi().hget(runKey(q, t.id), 'gen').lrange(logKey(q, t.id), 0, MAX_LINES_PER_LOOK - 1).exec();
  const lines = (again?.[1][1] ?? []) as string[];
  writeFileAtomic(join(t.dir, 'log.jsonl'), lines.map((l) => l + '\n').join(''));
  t.gen = (again?.[0][1] as string | null) ?? meta.gen;
  t.lines = lines.length;
  const left = f.plan.runs.length - f.durations.length;
  f.print(runStartLine(t.index + 1, f.plan.runs.length, `${t.run.name}${meta.action === 'resume' ? ' (resuming)' : ''}${meta.worker ? ` on ${meta.worker}` : ''}`,
    (Date.now() - f.t0) / 1000, etaOf(f.durations, left)));
}

function isJsonObject(text: string): boolean {
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v);
  } catch {
    return false;
  }
}
