// `normlab worker --queue URL`: trains the runs of every sweep queue on that Redis (docs/queue.md).
//
// Jobs are taken by hand from BullMQ (Worker.getNextJob), so one --concurrency limit holds across all
// the sweep queues (src/sweep/pool.ts finds them, with bounds); the worker keeps each job's lock alive
// while its run trains and runs BullMQ's stalled-job check, which gives the job of a worker that died
// (SIGKILL, power loss) to another one.
// A job is untrusted input (docs/safety.md): its payload must parse and pass the train command's own
// checks plus the queue's (src/sweep/jobs.ts), and its id must be the one its name and flags give,
// before anything runs. The run trains in <work_dir>/<queue>/<job id> (src/sweep/work-folder.ts: a
// name no other id gives, a record of the job that made it, never touched while a live process holds
// its lock):
//   summary.json ok there      -> not trained again: its results are sent
//   a checkpoint there         -> resumed (--init_from resume): a shared work_dir resumes a dead worker's run
//                                 from its last checkpoint, a stopped worker's run where it stopped
//   anything else              -> folder cleared, trained from scratch
// The run's log.jsonl and summary.json are copied to Redis as they grow (src/sweep/run-sync.ts), its
// output lines go to the job's log. SIGTERM/SIGINT: the runs stop after the current iteration, save
// their state there (the train command's own Ctrl-C handling) and go back to the queue.
// Every line printed passes through plainText: names and texts from Redis carry no terminal escapes.
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { UserError } from '../util/errors.js';
import { hasCheckpoint, RESUME_STATE, resumePoint } from '../train/checkpoint.js';
import { defaultTrainCmd, runChild, runError, trainArgs, type ChildResult } from './child.js';
import type { Action } from './folders.js';
import { checkJobData, folderName, jobIdOf, QUEUES_KEY, weightsKey, type RunJobData, type RunJobResult } from './jobs.js';
import { listQueues, payloadError, PayloadCheckingWorker } from './pool.js';
import { isRedisFull, openRedis, probeRedis, redact, redisFullMessage, type RedisTarget } from './redis.js';
import { readSummary } from './results.js';
import { RunSync } from './run-sync.js';
import { plainText } from './terminal.js';
import { bounded, orStop, sleep } from './wait.js';
import { claimWorkFolder, jobRecord, workFolder } from './work-folder.js';

export interface WorkerOptions {
  target: RedisTarget;
  workDir: string;
  dataDir: string;
  concurrency: number;
  /** Abort = stop: runs stop after their current iteration and go back to the queue. */
  signal?: AbortSignal;
  /** Abort = stop now: runs are killed and go back to the queue. */
  killSignal?: AbortSignal;
  print?: (line: string) => void;
  /** Replaces `node <root>/bin/normlab.js` (default: NORMLAB_TRAIN_CMD, else the package's bin). */
  trainCmd?: string[];
  /** Show the runs' output here too. */
  verbose?: boolean;
}

/** Lock timing: BullMQ's defaults (30 s), shorter through NORMLAB_QUEUE_LOCK_MS (tests). */
function lockMs(): number {
  const v = Number(process.env.NORMLAB_QUEUE_LOCK_MS);
  return Number.isFinite(v) && v >= 500 ? v : 30000;
}

/** A job can be taken over this many times after its worker died before BullMQ fails it. */
const MAX_STALLED = 5;
const POLL_MS = 200;
const SYNC_MS = 500;
const REFRESH_MS = 2000;
/** How long a stopping worker waits for Redis to take a run's end before it leaves it to the lock's expiry. */
const STOP_WAIT_MS = 5000;
/** A job whose folder a live process holds waits this long before it is tried again. */
const BUSY_RETRY_MS = 10_000;
/** While Redis is full, no new run is taken for this long after each refusal. */
const FULL_PAUSE_MS = 30_000;

type Stats = { done: number; failed: number; handedBack: number };

/** What a worker process shares between its runs. */
interface WorkerState {
  opts: WorkerOptions;
  conn: Redis;
  /** host:pid, the worker's name in messages and in the runs' state. */
  me: string;
  print: (line: string) => void;
  stats: Stats;
  room: RedisRoom;
  /** The folders of the runs this worker is training or stopping. */
  inUse: Set<string>;
}

/** One job being handled: the job context. */
interface JobContext {
  s: WorkerState;
  job: Job<RunJobData, RunJobResult>;
  token: string;
  queue: string;
  id: string;
  /** The job's name made safe to print. */
  name: string;
  dir: string;
  data?: RunJobData;
}

/** Says once per episode that Redis is full, and keeps the worker from taking new runs meanwhile. */
class RedisRoom {
  private until = 0;
  private said = false;
  constructor(private target: RedisTarget, private print: (line: string) => void) {}

  /** Whether e is Redis refusing a write because it is full (then said once, and new runs paused). */
  full(e: unknown): boolean {
    if (!isRedisFull(e)) return false;
    this.until = Date.now() + FULL_PAUSE_MS;
    if (!this.said) this.print(`${redisFullMessage(this.target)}. This worker takes no new run meanwhile (it tries again every ${FULL_PAUSE_MS / 1000} s)`);
    this.said = true;
    return true;
  }

  paused(): boolean { return Date.now() < this.until; }

  /** A write went through. */
  fine(): void {
    if (this.said) this.print(`Redis at ${this.target.shown} takes writes again`);
    this.said = false;
  }
}

export async function runWorker(opts: WorkerOptions): Promise<Stats> {
  const out = opts.print ?? ((l: string) => process.stdout.write(l + '\n'));
  const print = (l: string) => out(plainText(l, 4000));
  await probeRedis(opts.target);
  const me = `${hostname()}:${process.pid}`;
  const conn = openRedis(opts.target, print);
  const s: WorkerState = { opts, conn, me, print, stats: { done: 0, failed: 0, handedBack: 0 }, room: new RedisRoom(opts.target, print), inUse: new Set() };
  const pool = new QueuePool(s);
  print(`worker ${me}: serving every sweep queue at ${opts.target.shown}, ${opts.concurrency} run${opts.concurrency > 1 ? 's' : ''} at a time, ` +
    `runs in ${opts.workDir}, datasets from ${opts.dataDir}`);
  try {
    while (!opts.signal?.aborted) {
      await pool.refresh();
      if (!(await pool.takeJob())) await sleep(POLL_MS, opts.signal);
    }
    if (pool.running.size > 0) print(`stopping: ${pool.running.size} run${pool.running.size > 1 ? 's' : ''} stop after the current iteration and go back to the queue`);
    await Promise.all(pool.running);
  } finally {
    await pool.close();
    conn.disconnect();
  }
  return s.stats;
}

/** The BullMQ Workers of the queues with runs to do, and the runs in training here. */
class QueuePool {
  private workers = new Map<string, PayloadCheckingWorker>();
  private busy = new Map<string, number>(); // queue name -> runs of it training here
  readonly running = new Set<Promise<void>>();
  private lastRefresh = 0;
  private lastIgnored: string | null = null;
  private rotate = 0;
  private token = 0;
  constructor(private s: WorkerState) {}

  /** Every REFRESH_MS: a Worker for each queue with runs to do; those of the others closed. */
  async refresh(): Promise<void> {
    if (Date.now() - this.lastRefresh < REFRESH_MS) return;
    this.lastRefresh = Date.now();
    const listing = await orStop(listQueues(this.s.conn).catch((e: unknown) => {
      const why = `cannot read ${QUEUES_KEY}: ${e instanceof Error ? e.message : String(e)}`;
      if (why !== this.lastIgnored && !this.s.room.full(e)) this.s.print(why);
      this.lastIgnored = why;
      return null;
    }), this.s.opts.signal);
    if (!listing) return;
    if (listing.ignored !== this.lastIgnored && listing.ignored !== null) this.s.print(listing.ignored);
    this.lastIgnored = listing.ignored;
    for (const [name, w] of this.workers) {
      if (listing.names.includes(name) || (this.busy.get(name) ?? 0) > 0) continue;
      this.workers.delete(name);
      await bounded(w.close(true).catch(() => {}), STOP_WAIT_MS);
    }
    for (const name of listing.names) {
      if (this.workers.has(name)) continue;
      const lock = lockMs();
      const w = new PayloadCheckingWorker(name, null, {
        connection: this.s.conn, autorun: false, lockDuration: lock, stalledInterval: Math.max(250, Math.floor(lock / 2)),
        maxStalledCount: MAX_STALLED,
      });
      w.on('error', () => { /* connection trouble: reported once per outage by openRedis */ });
      await w.startStalledCheckTimer().catch((e) => { this.s.room.full(e); });
      this.workers.set(name, w);
    }
  }

  /** Takes one job, from the queues in turn, if there is room here and in Redis; whether one was taken. */
  async takeJob(): Promise<boolean> {
    const { s } = this;
    if (this.running.size >= s.opts.concurrency || this.workers.size === 0 || s.room.paused()) return false;
    const list = [...this.workers.values()];
    for (let k = 0; k < list.length; k++) {
      const w = list[(this.rotate + k) % list.length];
      const tok = `${s.me}:${this.token++}`;
      const job = await orStop(w.getNextJob(tok, { block: false }).catch((e) => { s.room.full(e); return undefined; }), s.opts.signal);
      if (!job) continue;
      s.room.fine();
      this.rotate = (this.rotate + k + 1) % list.length;
      this.busy.set(w.name, (this.busy.get(w.name) ?? 0) + 1);
      const p = runJob(s, job, tok, w.name).catch((e) => {
        if (!s.room.full(e)) s.print(`error in run ${job.id}: ${redact(e instanceof Error ? e.message : String(e), s.opts.target)}`);
      }).finally(() => { this.running.delete(p); this.busy.set(w.name, this.busy.get(w.name)! - 1); });
      this.running.add(p);
      return true;
    }
    return false;
  }

  async close(): Promise<void> {
    for (const w of this.workers.values()) await bounded(w.close(true).catch(() => {}), STOP_WAIT_MS);
  }
}

async function runJob(s: WorkerState, job: Job<RunJobData, RunJobResult>, token: string, queue: string): Promise<void> {
  const id = job.id ?? '';
  const ctx: JobContext = {
    s, job, token, queue, id, name: folderName(typeof job.data?.name === 'string' ? job.data.name : id), dir: workFolder(s.opts.workDir, queue, id),
  };
  const action = await admit(ctx);
  if (action === null) return;
  s.inUse.add(ctx.dir);
  try {
    await handle(ctx, action);
  } finally {
    s.inUse.delete(ctx.dir);
  }
}

/** Trains (or not, when it is done) the run of an admitted job and reports its end. */
async function handle(ctx: JobContext, action: Action): Promise<void> {
  const { s, queue, id } = ctx;
  s.print(`${queue}/${ctx.name}: ${action === 'resume' ? `resuming ${whereFrom(ctx.dir)}` : action === 'skip' ? 'already trained here, sending its results' : 'training'} in ${ctx.dir}`);
  const sync = new RunSync(s.conn, queue, id, ctx.dir);
  await sync.start(s.me, action);
  const keeper = new LockKeeper(ctx);
  try {
    const run = action === 'skip' ? { res: null, logChain: Promise.resolve() } : await train(ctx, action, sync, keeper);
    if (keeper.lost !== null) {
      s.print(`${queue}/${ctx.name}: ${await keeper.lost}; its run was stopped and nothing is reported from here`);
      return;
    }
    // Stopping: Redis may be away, and the stop must not wait for it (the lock then expires and
    // BullMQ hands the run to another worker).
    const finish = reportRun(ctx, run.res, run.logChain, sync);
    if (!s.opts.signal?.aborted) await finish;
    else if (!(await bounded(finish.then(() => true), STOP_WAIT_MS))) {
      s.print(`${queue}/${ctx.name}: Redis did not answer; the run goes back to the queue when its lock expires`);
    }
  } finally {
    keeper.stop();
  }
}

/**
 * Checks the job (payload, flags, id) and readies its folder; the action, or null when the job was
 * refused (failed, with the reason) or has to wait for its folder (delayed).
 */
async function admit(ctx: JobContext): Promise<Action | null> {
  const { s, job, queue, id } = ctx;
  try {
    const bad = payloadError(job);
    if (bad !== undefined) throw new UserError(bad);
    ctx.data = checkJobData(job.data);
    const want = jobIdOf(ctx.data);
    if (want !== id) throw new UserError(`its id is not the one its name and flags give (${want}): it was not queued by normlab sweep`);
    const claim = s.inUse.has(ctx.dir) ? { kind: 'busy' as const, why: `this worker is still stopping the run in ${ctx.dir}` }
      : claimWorkFolder(ctx.dir, jobRecord(queue, id, ctx.data), s.print);
    if (claim.kind === 'ready') return claim.action;
    if (claim.kind === 'refused') throw new UserError(claim.why);
    await job.moveToDelayed(Date.now() + BUSY_RETRY_MS, ctx.token);
    s.print(`${queue}/${ctx.name}: ${claim.why}; the job waits ${BUSY_RETRY_MS / 1000} s and is tried again`);
    return null;
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    await fail(ctx, `refused by worker ${s.me}: ${e.message}`);
    return null;
  }
}

async function fail(ctx: JobContext, msg: string): Promise<void> {
  await ctx.job.moveToFailed(new UnrecoverableError(msg), ctx.token, false);
  ctx.s.stats.failed++;
  ctx.s.print(`${ctx.queue}/${ctx.name}: failed: ${msg}`);
}

/** Trains the job's run in its folder; the child's end and the chain of its output lines sent to the job's log. */
async function train(ctx: JobContext, action: Action, sync: RunSync, keeper: LockKeeper): Promise<{ res: ChildResult; logChain: Promise<unknown> }> {
  const { s, job } = ctx;
  let logChain: Promise<unknown> = Promise.resolve();
  const syncTimer = setInterval(() => { void sync.push().catch(() => {}); }, SYNC_MS);
  try {
    const res = await runChild(s.opts.trainCmd ?? defaultTrainCmd(), trainArgs(ctx.data!.argv, ctx.dir, action === 'resume', ['--data_dir', s.opts.dataDir]),
      { signal: keeper.local.signal, killSignal: keeper.kill.signal, exitWithParent: true, progressBar: true },
      (line) => {
        logChain = logChain.then(() => job.log(line)).catch(() => {});
        if (s.opts.verbose) s.print(`    ${ctx.name}: ${line}`);
      }, (bar) => {
        // The first bar goes out at once, not at the next tick: a run shorter than SYNC_MS still shows one.
        const first = sync.progress === '';
        sync.progress = bar;
        if (first) void sync.push().catch(() => {});
      }, () => {});
    return { res, logChain };
  } finally {
    clearInterval(syncTimer);
  }
}

/** How the job's lock was lost. */
type Loss = { renewal: 'refused' } | { renewal: 'late'; err: unknown };

/**
 * Keeps the job's lock while the run trains. If it is lost (this process was frozen, Redis restarted
 * without its data, or another worker took the job), or cannot be renewed for as long as it lasts
 * (Redis unreachable or full), another worker may get the run: the run is killed at once.
 * Also forwards the worker's stop signals to the run.
 */
class LockKeeper {
  readonly local = new AbortController();
  readonly kill = new AbortController();
  /** Why the lock was lost, in words (asked of Redis the moment it was), or null while it is held. */
  lost: Promise<string> | null = null;
  private renewed = Date.now();
  private lastError: unknown = null;
  private timer: NodeJS.Timeout;
  constructor(private ctx: JobContext) {
    this.timer = setInterval(() => {
      if (Date.now() - this.renewed > lockMs()) { this.lose({ renewal: 'late', err: this.lastError }); return; }
      ctx.job.extendLock(ctx.token, lockMs()).then((ok) => {
        if (ok) this.renewed = Date.now();
        else this.lose({ renewal: 'refused' });
      }, (e: unknown) => { this.lastError = e; }); // counted by the age of the last renewal
    }, Math.max(200, Math.floor(lockMs() / 3)));
    const forward = (from: AbortSignal | undefined, to: AbortController) => {
      if (from?.aborted) to.abort();
      from?.addEventListener('abort', () => to.abort());
    };
    forward(ctx.s.opts.signal, this.local);
    forward(ctx.s.opts.killSignal, this.kill);
  }

  private lose(how: Loss): void {
    if (this.lost !== null) return;
    this.lost = lostWhy(this.ctx, how);
    this.kill.abort();
  }

  stop(): void { clearInterval(this.timer); }
}

/** What is known about a lost lock, in words. */
async function lostWhy(ctx: JobContext, loss: Loss): Promise<string> {
  if (loss.renewal === 'late') {
    const cause = isRedisFull(loss.err) ? 'Redis is full and refused the renewal' : 'Redis did not answer';
    return `could not renew the job's lock for ${lockMs() / 1000} s (${cause}), so BullMQ may give the job to another worker`;
  }
  const key = `bull:${ctx.queue}:${ctx.id}`;
  const seen = await bounded(Promise.all([ctx.s.conn.hget(key, 'timestamp'), ctx.s.conn.get(`${key}:lock`)]).catch(() => null), 3000);
  if (!seen) return 'lost the job\'s lock: Redis refused to renew it, and did not answer when asked why';
  const [stamp, holder] = seen;
  if (stamp === null) return 'lost the job: Redis no longer has it (Redis restarted without its data, or the job was removed; its follower queues it again)';
  if (stamp !== String(ctx.job.timestamp)) return 'lost the job: Redis lost it (restarted without its data, or the job was removed) and it was queued again since';
  if (holder !== null && holder !== ctx.token) {
    return holder.startsWith(`${ctx.s.me}:`) ? 'lost the job\'s lock: this worker took the job again under a new lock'
      : `lost the job's lock: another worker holds it now (${holder.replace(/:\d+$/, '')})`;
  }
  return 'lost the job\'s lock: it expired before this worker renewed it (this process or its link to Redis stalled); the job goes back to the queue';
}

/** Sends the end of a run: completed (with the weights if asked), handed back, or failed. */
async function reportRun(ctx: JobContext, res: ChildResult | null, logChain: Promise<unknown>, sync: RunSync): Promise<void> {
  const { s, job, token, queue, id, dir } = ctx;
  await logChain;
  await sync.push();
  const summary = readSummary(dir);
  if (summary?.status === 'ok' && (res === null || res.code === 0)) {
    if (ctx.data!.weights) {
      const f = join(dir, 'final.safetensors');
      if (existsSync(f)) await s.conn.set(weightsKey(queue, id), readFileSync(f));
    }
    await job.moveToCompleted({ summary, worker: s.me, job: id }, token, false);
    s.stats.done++;
    s.print(`${queue}/${ctx.name}: ok, best val ${summary.best_val_loss?.toFixed(4) ?? '-'}`);
  } else if (res !== null && (res.aborted || res.code === 130 || summary?.status === 'interrupted')) {
    await job.moveToWait(token);
    s.stats.handedBack++;
    s.print(`${queue}/${ctx.name}: stopped${summary?.status === 'interrupted' ? ` at iter ${summary.iters}` : ''} and handed back to the queue` +
      (hasCheckpoint(dir) ? ` (it resumes ${whereFrom(dir)} on a worker sharing this --work_dir)` : ''));
  } else {
    await fail(ctx, runError(summary, res));
  }
}

/** Where a resumed run continues, for the worker's messages. */
function whereFrom(dir: string): string {
  try {
    const { kind, state } = resumePoint(dir);
    return kind === RESUME_STATE ? `where it was stopped, at iter ${state.iter}` : `from its checkpoint at iter ${state.iter}`;
  } catch {
    return 'from its checkpoint'; // unreadable: the train command says why
  }
}
