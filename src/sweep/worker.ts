// `normlab worker --queue URL`: trains the runs of every sweep queue on that Redis (docs/queue.md).
//
// Jobs are taken by hand from BullMQ (Worker.getNextJob), so one --concurrency limit holds across all
// the sweep queues; the worker keeps each job's lock alive while its run trains and runs BullMQ's
// stalled-job check, which gives the job of a worker that died (SIGKILL, power loss) to another one.
// A job carries train flags only; they pass the train command's own checks (checkQueueArgv) before
// anything runs, and the run trains in <work_dir>/<queue>/<job id>, a name made safe for a folder:
//   summary.json ok there      -> not trained again: its results are sent
//   a checkpoint there         -> resumed (--init_from resume): a shared work_dir resumes a dead worker's run
//                                 from its last checkpoint, a stopped worker's run where it stopped
//   anything else              -> folder cleared, trained from scratch
// The run's log.jsonl and summary.json are copied to Redis as they grow, its output lines go to
// the job's log. SIGTERM/SIGINT: the runs stop after the current iteration, save their state there
// (the train command's own Ctrl-C handling) and go back to the queue.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { LOCK_FILE, lockHolder } from '../util/lock.js';
import { UserError } from '../engine/types.js';
import { hasCheckpoint, RESUME_STATE, resumePoint } from '../train/checkpoint.js';
import { readSummary } from './results.js';
import { defaultTrainCmd, runChild, type ChildResult } from './child.js';
import { decideAction, prepareRunFolder } from './folders.js';
import { openRedis, probeRedis, redact, type RedisTarget } from './redis.js';
import {
  QUEUES_KEY, checkQueueArgv, folderName, logKey, runKey, sleep, weightsKey, type RunJobData, type RunJobResult,
} from './queue.js';

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
/** How long a stopping worker waits for Redis to take a run's end before it leaves it to the lock's expiry. */
const STOP_WAIT_MS = 5000;

export async function runWorker(opts: WorkerOptions): Promise<{ done: number; failed: number; handedBack: number }> {
  const print = opts.print ?? ((l: string) => process.stdout.write(l + '\n'));
  await probeRedis(opts.target);
  const me = `${hostname()}:${process.pid}`;
  const conn = openRedis(opts.target, print);
  const workers = new Map<string, Worker<RunJobData, RunJobResult>>();
  const running = new Set<Promise<void>>();
  const busy = new Map<string, number>(); // queue name -> runs of it training here
  const stats = { done: 0, failed: 0, handedBack: 0 };
  let token = 0;
  let rotate = 0;
  print(`worker ${me}: serving every sweep queue at ${opts.target.shown}, ${opts.concurrency} run${opts.concurrency > 1 ? 's' : ''} at a time, ` +
    `runs in ${opts.workDir}, datasets from ${opts.dataDir}`);
  let lastRefresh = 0;
  try {
    while (!opts.signal?.aborted) {
      if (Date.now() - lastRefresh > 2000) {
        lastRefresh = Date.now();
        const listed = await orStop(conn.smembers(QUEUES_KEY).catch(() => null), opts.signal);
        const names = listed ?? [];
        // A queue removed from the set (sweep --clean) is no longer served.
        for (const [name, w] of listed ? workers : []) {
          if (names.includes(name) || (busy.get(name) ?? 0) > 0) continue;
          workers.delete(name);
          await bounded(w.close(true).catch(() => {}), STOP_WAIT_MS);
        }
        for (const name of names) {
          if (workers.has(name) || folderName(name) !== name) continue;
          const lock = lockMs();
          const w = new Worker<RunJobData, RunJobResult>(name, null, {
            connection: conn, autorun: false, lockDuration: lock, stalledInterval: Math.max(250, Math.floor(lock / 2)),
            maxStalledCount: MAX_STALLED,
          });
          w.on('error', () => { /* connection trouble: reported once per outage by openRedis */ });
          await w.startStalledCheckTimer();
          workers.set(name, w);
        }
      }
      let took = false;
      if (running.size < opts.concurrency && workers.size > 0) {
        const list = [...workers.values()];
        for (let k = 0; k < list.length && !took; k++) {
          const w = list[(rotate + k) % list.length];
          const tok = `${me}:${token++}`;
          const job = await orStop(w.getNextJob(tok, { block: false }).catch(() => undefined), opts.signal);
          if (!job) continue;
          took = true;
          rotate = (rotate + k + 1) % list.length;
          busy.set(w.name, (busy.get(w.name) ?? 0) + 1);
          const p = runJob(job, tok, w.name, conn, opts, print, me, stats).catch((e) => {
            print(`error in run ${job.id}: ${redact(e instanceof Error ? e.message : String(e), opts.target)}`);
          }).finally(() => { running.delete(p); busy.set(w.name, busy.get(w.name)! - 1); });
          running.add(p);
        }
      }
      if (!took) await sleep(POLL_MS, opts.signal);
    }
    if (running.size > 0) print(`stopping: ${running.size} run${running.size > 1 ? 's' : ''} stop after the current iteration and go back to the queue`);
    await Promise.all(running);
  } finally {
    for (const w of workers.values()) await bounded(w.close(true).catch(() => {}), STOP_WAIT_MS);
    conn.disconnect();
  }
  return stats;
}

async function runJob(job: Job<RunJobData, RunJobResult>, token: string, queue: string, conn: Redis, opts: WorkerOptions,
  print: (l: string) => void, me: string, stats: { done: number; failed: number; handedBack: number }): Promise<void> {
  const id = job.id ?? '';
  const name = typeof job.data?.name === 'string' ? folderName(job.data.name) : id;
  const fail = async (msg: string, unrecoverable: boolean) => {
    await job.moveToFailed(unrecoverable ? new UnrecoverableError(msg) : new Error(msg), token, false);
    stats.failed++;
    print(`${queue}/${name}: failed: ${msg}`);
  };
  try {
    checkQueueArgv(job.data?.argv);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    await fail(`refused by worker ${me}: ${e.message}`, true);
    return;
  }
  const argv = job.data.argv;
  const dir = join(opts.workDir, folderName(queue), folderName(id));
  const action = decideAction(dir);
  try {
    // Only a folder this worker created (it holds the sweep marker) is ever cleared.
    prepareRunFolder(dir, action);
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    await fail(`refused by worker ${me}: ${e.message}`, true);
    return;
  }
  print(`${queue}/${name}: ${action === 'resume' ? `resuming ${whereFrom(dir)}` : action === 'skip' ? 'already trained here, sending its results' : 'training'} in ${dir}`);

  // This worker holds the job, so a folder lock left by another machine (one that died, sharing
  // this work_dir) is stale: the previous holder lost the job and stopped its run (above).
  const holder = lockHolder(dir);
  if (holder && holder.host !== hostname()) {
    print(`${queue}/${name}: removing the folder lock of ${holder.host}:${holder.pid}, which lost this run`);
    rmSync(join(dir, LOCK_FILE), { force: true });
  }
  const sync = new RunSync(conn, queue, id, dir);
  await sync.start(me, action);

  // Keep the job's lock while the run trains. If it is lost (this process was frozen, or Redis
  // refuses it), or cannot be renewed for as long as it lasts (Redis unreachable from here), another
  // worker may have the run: stop at once and report nothing.
  const local = new AbortController(), kill = new AbortController();
  let lost = false, renewed = Date.now();
  const loseIt = () => { if (!lost) { lost = true; kill.abort(); } };
  const lockTimer = setInterval(() => {
    if (Date.now() - renewed > lockMs()) { loseIt(); return; }
    job.extendLock(token, lockMs()).then((ok) => {
      if (ok) renewed = Date.now();
      else loseIt();
    }, () => { /* counted by the age of the last renewal */ });
  }, Math.max(200, Math.floor(lockMs() / 3)));
  const forward = (from: AbortSignal | undefined, to: AbortController) => {
    if (from?.aborted) to.abort();
    from?.addEventListener('abort', () => to.abort());
  };
  forward(opts.signal, local);
  forward(opts.killSignal, kill);
  let res: ChildResult | null = null;
  let logChain: Promise<unknown> = Promise.resolve();
  try {
    if (action !== 'skip') {
      const syncTimer = setInterval(() => { void sync.push().catch(() => {}); }, SYNC_MS);
      try {
        const args = ['train', ...argv, '--out_dir', dir, '--data_dir', opts.dataDir, ...(action === 'resume' ? ['--init_from', 'resume'] : [])];
        res = await runChild(opts.trainCmd ?? defaultTrainCmd(), args,
          { signal: local.signal, killSignal: kill.signal, exitWithParent: true, progressBar: true },
          (line) => {
            logChain = logChain.then(() => job.log(line)).catch(() => {});
            if (opts.verbose) print(`    ${name}: ${line}`);
          }, (bar) => { sync.progress = bar; }, () => {});
      } finally {
        clearInterval(syncTimer);
      }
    }
    if (lost) { print(`${queue}/${name}: lost its lock (another worker has the run now); stopped`); return; }
    // Stopping: Redis may be away, and the stop must not wait for it (the lock then expires and
    // BullMQ hands the run to another worker).
    const finish = reportRun(job, token, queue, name, dir, res, logChain, sync, conn, me, stats, print, fail);
    if (!opts.signal?.aborted) await finish;
    else if (!(await bounded(finish.then(() => true), STOP_WAIT_MS))) {
      print(`${queue}/${name}: Redis did not answer; the run goes back to the queue when its lock expires`);
    }
  } finally {
    clearInterval(lockTimer);
  }
}

/** Sends the end of a run: completed (with the weights if asked), handed back, or failed. */
async function reportRun(job: Job<RunJobData, RunJobResult>, token: string, queue: string, name: string, dir: string,
  res: ChildResult | null, logChain: Promise<unknown>, sync: RunSync, conn: Redis, me: string,
  stats: { done: number; handedBack: number }, print: (l: string) => void, fail: (msg: string, unrecoverable: boolean) => Promise<void>): Promise<void> {
  const id = job.id ?? '';
  await logChain;
  await sync.push();
  const summary = readSummary(dir);
  if (summary?.status === 'ok' && (res === null || res.code === 0)) {
    if (job.data.weights) {
      const f = join(dir, 'final.safetensors');
      if (existsSync(f)) await conn.set(weightsKey(queue, id), readFileSync(f));
    }
    await job.moveToCompleted({ summary, worker: me }, token, false);
    stats.done++;
    print(`${queue}/${name}: ok, best val ${summary.best_val_loss?.toFixed(4) ?? '-'}`);
  } else if (res !== null && (res.aborted || res.code === 130 || summary?.status === 'interrupted')) {
    await job.moveToWait(token);
    stats.handedBack++;
    print(`${queue}/${name}: stopped${summary?.status === 'interrupted' ? ` at iter ${summary.iters}` : ''} and handed back to the queue` +
      (hasCheckpoint(dir) ? ` (it resumes ${whereFrom(dir)} on a worker sharing this --work_dir)` : ''));
  } else {
    const error = summary?.status === 'failed' && summary.error ? summary.error
      : res?.code === 0 ? 'exited 0 without an ok summary.json'
      : `${res?.signal ? `killed by ${res.signal}` : `exit code ${res?.code}`}${res?.lastErr ? `: ${res.lastErr}` : ''}`;
    await fail(error, true);
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

/** p's value, or undefined after ms milliseconds. */
function bounded<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<undefined>((r) => { timer = setTimeout(() => r(undefined), ms); })])
    .finally(() => clearTimeout(timer));
}

/** p's value, or undefined once signal aborts. */
function orStop<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (!signal) return p;
  if (signal.aborted) return Promise.resolve(undefined);
  let off = () => {};
  return Promise.race([p, new Promise<undefined>((r) => {
    const on = () => r(undefined);
    signal.addEventListener('abort', on);
    off = () => signal.removeEventListener('abort', on);
  })]).finally(() => off());
}

/**
 * Mirrors a run folder's log.jsonl and summary.json, and the run's progress bar, into Redis. Each
 * attempt bumps `gen` and starts the list again from the file, and so does a change that is not an
 * append (a resumed run trims its log), so a follower that sees a new gen re-reads the whole list.
 */
class RunSync {
  private sent: string[] = [];
  private summary: string | null = null;
  /** The latest state of the run's progress bar (from its output's '\r' redraws). */
  progress = '';
  private progressSent = '';
  private busy: Promise<void> = Promise.resolve();
  constructor(private conn: Redis, private queue: string, private id: string, private dir: string) {}

  async start(worker: string, action: string): Promise<void> {
    await this.conn.hset(runKey(this.queue, this.id), { worker, action, progress: '' });
    await this.reset();
  }

  private fileLines(): string[] {
    let text = '';
    try { text = readFileSync(join(this.dir, 'log.jsonl'), 'utf8'); } catch { return []; }
    const lines = text.split('\n');
    lines.pop(); // the part after the last newline is not complete yet
    return lines;
  }

  private async reset(): Promise<void> {
    const lines = this.fileLines();
    const m = this.conn.multi().hincrby(runKey(this.queue, this.id), 'gen', 1).del(logKey(this.queue, this.id));
    if (lines.length > 0) m.rpush(logKey(this.queue, this.id), ...lines);
    await m.exec();
    this.sent = lines;
  }

  /** Sends what changed; calls are serialized. */
  push(): Promise<void> {
    this.busy = this.busy.then(() => this.pushNow(), () => this.pushNow());
    return this.busy;
  }

  private async pushNow(): Promise<void> {
    const lines = this.fileLines();
    const isAppend = lines.length >= this.sent.length && this.sent.every((l, i) => l === lines[i]);
    if (!isAppend) await this.reset();
    else if (lines.length > this.sent.length) {
      await this.conn.rpush(logKey(this.queue, this.id), ...lines.slice(this.sent.length));
      this.sent = lines;
    }
    if (this.progress !== this.progressSent) {
      const bar = this.progress;
      await this.conn.hset(runKey(this.queue, this.id), 'progress', bar);
      this.progressSent = bar;
    }
    let s: string | null = null;
    try { s = readFileSync(join(this.dir, 'summary.json'), 'utf8'); } catch { /* not written yet */ }
    if (s !== null && s !== this.summary) {
      try { JSON.parse(s); } catch { return; } // caught mid-write
      await this.conn.hset(runKey(this.queue, this.id), 'summary', s);
      this.summary = s;
    }
  }
}
