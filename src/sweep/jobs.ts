// What a sweep's job is on the Redis queue (docs/queue.md), and the checks a worker applies to one
// before anything runs. Anything on that Redis may have been written by any of its clients, so a job
// is treated as untrusted input: its payload is parsed with bounds (parseJobPayload), its train flags
// pass the train command's own checks plus the queue's (checkQueueArgv), and the names made from it
// (folders, queues) are an injective function of what it says (folderName), so no job can name
// another job's folder.
//
// Keys (besides BullMQ's own, `bull:<queue>:...`):
//   normlab:queues                       set of the sweep queues (workers serve every one that has runs to do)
//   job <queue>/<run name>-<hash of argv> data {name, argv, weights}: train flags only
//   normlab:run:<queue>:<job id>         hash: gen (attempt counter), worker, action, summary (JSON), progress (bar)
//   normlab:run:<queue>:<job id>:log     list: the lines of the run's log.jsonl in this attempt
//   normlab:run:<queue>:<job id>:weights final.safetensors (only with --weights), until fetched
import { createHash } from 'node:crypto';
import { FLAGS, HelpRequested, checkTrainConfig, defaultConfig, parseFlags } from '../config/config.js';
import { UserError } from '../util/errors.js';
import type { PlannedRun } from './plan.js';
import type { Summary } from './results.js';

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
  /** The id of the job that trained it (a follower accepts results only from its own job). */
  job?: string;
}

export const runKey = (queue: string, jobId: string) => `normlab:run:${queue}:${jobId}`;
export const logKey = (queue: string, jobId: string) => `${runKey(queue, jobId)}:log`;
export const weightsKey = (queue: string, jobId: string) => `${runKey(queue, jobId)}:weights`;

/** The longest folder (and queue) name made by folderName. */
export const MAX_FOLDER_NAME = 200;
const KEEP = /[A-Za-z0-9._+=-]/;

/**
 * A name usable as one folder (and BullMQ name: no ':'), different for every different s (injective):
 * characters outside [A-Za-z0-9._+=-] become %XX (their UTF-8 bytes), and so does a leading '.', so
 * '.' and '..' cannot come out; a name longer than 200 characters keeps its first 180 and ends in
 * '~' and a hash of the whole of s ('~' is always escaped, so only such names hold one). A readable
 * name (letters, digits, ._+=-) is its own folder name.
 */
export function folderName(s: string): string {
  let out = '';
  for (const ch of s) {
    if (KEEP.test(ch) && !(out === '' && ch === '.')) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    if (out.length > MAX_FOLDER_NAME) break;
  }
  if (out === '') return '%';
  if (out.length <= MAX_FOLDER_NAME) return out;
  return `${out.slice(0, 180)}~${createHash('sha256').update(s).digest('hex').slice(0, 16)}`;
}

/** Whether name is one folderName can give (the names of sweep queues; any other name in normlab:queues is ignored). */
export function isQueueName(name: string): boolean {
  return name.length <= MAX_FOLDER_NAME && /^[A-Za-z0-9_+=%~-][A-Za-z0-9._+=%~-]*$/.test(name);
}

/** The queue of a sweep: named after its folder. */
export function queueNameOf(sweepDir: string): string {
  const base = sweepDir.replace(/[\\/]+$/, '').split(/[\\/]/).pop() ?? '';
  return folderName(`normlab-${base}`);
}

/** Same run, same flags -> same id; other flags under the same name -> another job. */
export function jobIdOf(run: Pick<PlannedRun, 'name' | 'argv'>): string {
  return folderName(`${run.name}-${argvHash(run.argv)}`);
}

/** The first 10 hex digits of the SHA-1 of the argv as JSON. */
export function argvHash(argv: string[]): string {
  return createHash('sha1').update(JSON.stringify(argv)).digest('hex').slice(0, 10);
}

/** Flags a job may not carry: the worker decides where its runs write and read. */
const WORKER_OWNED: Record<string, string> = {
  out_dir: 'each run gets its own folder under the worker\'s --work_dir',
  data_dir: 'the worker reads datasets from its own --data_dir',
  init_from: 'a path would point into one machine\'s disk; resuming is decided by the worker',
};

/** What the worker appends to a job's flags (src/sweep/child.ts trainArgs), with stand-in values. */
const APPENDED: Record<string, string> = { out_dir: 'normlab-appended-out', data_dir: 'normlab-appended-data' };

function parseArgv(argv: string[]) {
  try {
    return parseFlags(argv, FLAGS, defaultConfig() as unknown as Record<string, unknown>, { maxPositional: 0 });
  } catch (e) {
    if (e instanceof HelpRequested) throw new UserError('-h/--help is not a train flag for a run');
    throw e;
  }
}

/**
 * The train command's own checks (parseFlags, checkTrainConfig) plus what the queue forbids: flags
 * that name paths, dataset names that are not a plain folder name, and flags that would read what
 * the worker appends (--out_dir, --data_dir, --init_from resume) as something else (a final `--`
 * makes them positional arguments). A UserError says which.
 */
export function checkQueueArgv(argv: unknown): { config: Record<string, unknown> } {
  if (!Array.isArray(argv) || argv.length > 2000 || !argv.every((a) => typeof a === 'string' && a.length <= 10000)) {
    throw new UserError('the job\'s flags are not a list of strings (at most 2000, each at most 10000 characters)');
  }
  if (argv.includes('--')) throw new UserError('the job\'s flags hold "--", after which the flags the worker adds (--out_dir ...) would not be read as flags: remove it');
  const parsed = parseArgv(argv);
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
  checkAppendedReadAsGiven(argv, parsed.config);
  checkTrainConfig(parsed.config);
  return { config: parsed.config };
}

/** The flags the worker appends must be read as those flags, and change nothing else. */
function checkAppendedReadAsGiven(argv: string[], config: Record<string, unknown>): void {
  const extra = Object.entries(APPENDED).flatMap(([k, v]) => [`--${k}`, v]);
  for (const tail of [extra, [...extra, '--init_from', 'resume']]) {
    let whole: Record<string, unknown>;
    try {
      whole = parseArgv([...argv, ...tail]).config;
    } catch (e) {
      if (!(e instanceof UserError)) throw e;
      throw new UserError(`the job's flags do not take the flags the worker adds (${tail.join(' ')}): ${e.message}`);
    }
    const want: Record<string, unknown> = { ...config, ...APPENDED, ...(tail.length > extra.length ? { init_from: 'resume' } : {}) };
    const differs = Object.keys(want).filter((k) => JSON.stringify(whole[k]) !== JSON.stringify(want[k]));
    if (differs.length > 0) {
      throw new UserError(`the job's flags would be read differently once the worker adds ${tail.join(' ')} (${differs.map((k) => `--${k}`).join(', ')} change): refused`);
    }
  }
}

/** The longest job payload a worker reads (a real one is well under 100 kB). */
export const MAX_PAYLOAD = 1 << 20;

/**
 * A job's data as it arrived (already parsed from JSON), checked: {name: string, argv: flags that
 * pass checkQueueArgv, weights: boolean}, nothing else. Throws a one-line UserError naming the problem.
 */
export function checkJobData(data: unknown): RunJobData {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new UserError(`the job's data is ${data === null ? 'null' : Array.isArray(data) ? 'a list' : `a ${typeof data}`}, not {name, argv, weights}`);
  }
  const d = data as Record<string, unknown>;
  const extra = Object.keys(d).filter((k) => k !== 'name' && k !== 'argv' && k !== 'weights');
  if (extra.length > 0) throw new UserError(`the job's data has fields a sweep job does not have: ${extra.slice(0, 5).map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}`);
  if (typeof d.name !== 'string' || d.name === '' || d.name.length > 1000) throw new UserError('the job\'s name is not a string of 1 to 1000 characters');
  if (d.weights !== undefined && typeof d.weights !== 'boolean') throw new UserError('the job\'s "weights" is not true or false');
  checkQueueArgv(d.argv);
  return { name: d.name, argv: [...d.argv as string[]], weights: d.weights === true };
}

/** A job payload as BullMQ stores it (JSON text), parsed and checked (checkJobData); bounded in size. */
export function parseJobPayload(text: unknown): RunJobData {
  if (typeof text !== 'string') throw new UserError('the job has no data');
  if (text.length > MAX_PAYLOAD) throw new UserError(`the job's data is ${text.length} characters, more than ${MAX_PAYLOAD}: not a sweep job`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new UserError('the job\'s data is not JSON (it was not queued by normlab sweep)');
  }
  return checkJobData(data);
}
