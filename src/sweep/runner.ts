// Runs a validated plan: one train child process at a time, each in <sweepDir>/<run name>.
//
// What happens to a run is decided from its folder, so rerunning a sweep continues it:
//   summary.json status ok                      -> skip (its row comes from that summary)
//   summary.json status failed                  -> retry from scratch (folder cleared)
//   a checkpoint or resume state, summary not ok -> resume: `--init_from resume` (killed or Ctrl-C'd run)
//   anything else left in the folder            -> start over (it stopped before its first checkpoint)
// A folder is only ever cleared when the sweep created it (src/sweep/folders.ts); a folder in the way
// that it did not create is refused before any run starts. The sweep folder is locked
// (src/util/lock.ts) while the sweep runs.
// The child is `node <package root>/bin/normlab.js train <argv> --out_dir <dir>`, or the command in
// NORMLAB_TRAIN_CMD (a JSON array or a space-separated line) in place of `node .../bin/normlab.js`.
// The child runs in its own process group so a terminal Ctrl-C reaches it once, through us: the
// sweep forwards SIGINT, waits for the child to save and exit, writes the results and stops.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { makeDir } from '../util/files.js';
import { acquireLock, lockHolder } from '../util/lock.js';
import { clearRunFolder, createRunFolder, foreign, isSweepRunFolder } from './folders.js';
import { hasCheckpoint } from '../train/checkpoint.js';
import { UserError } from '../engine/types.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plan, PlannedRun } from './plan.js';
import { fmtNum, makeRow, readSummary, writeResults, type ResultRow, type RunStatus } from './results.js';
import { formatDuration } from '../util/format.js';

export type Action = 'skip' | 'fresh' | 'resume' | 'retry' | 'restart';

export interface RunnerOptions {
  sweepDir: string;
  /** Replaces `node <root>/bin/normlab.js`; default from NORMLAB_TRAIN_CMD, else the package's bin. */
  trainCmd?: string[];
  /** Environment of the children (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Abort = Ctrl-C: SIGINT to the child, then stop after it exits. */
  signal?: AbortSignal;
  /** Abort = second Ctrl-C: SIGKILL to the child. */
  killSignal?: AbortSignal;
  /** Where progress lines go (default: stdout). */
  print?: (line: string) => void;
  /** Where the current run's progress bar goes, redrawn in place (default: stdout when it is a terminal and print is not given). */
  live?: (bar: string) => void;
  /** Hide the children's output (a failed run still shows its last lines). */
  quiet?: boolean;
  /** Extra facts recorded in sweep.json. */
  manifest?: Record<string, unknown>;
}

export interface SweepOutcome {
  rows: ResultRow[];
  interrupted: boolean;
  counts: Record<RunStatus | 'skipped', number>;
}

export function defaultTrainCmd(env: NodeJS.ProcessEnv = process.env): string[] {
  const custom = env.NORMLAB_TRAIN_CMD?.trim();
  if (custom) {
    if (custom.startsWith('[')) return JSON.parse(custom) as string[];
    return custom.split(/\s+/);
  }
  // dist/src/sweep/runner.js -> <package root>/bin/normlab.js
  return [process.execPath, fileURLToPath(new URL('../../../bin/normlab.js', import.meta.url))];
}

export function decideAction(dir: string): Action {
  if (!existsSync(dir)) return 'fresh';
  const s = readSummary(dir);
  if (s?.status === 'ok') return 'skip';
  if (s?.status === 'failed') return 'retry';
  if (hasCheckpoint(dir)) return 'resume';
  return readdirSync(dir).length > 0 ? 'restart' : 'fresh';
}

/** Flag values of the varied flags, as the run gets them. */
/** Readies a run folder for `action`: cleared (retry, restart; only a folder a sweep created) or created (fresh). */
export function prepareRunFolder(dir: string, action: Action): void {
  if (action === 'retry' || action === 'restart') clearRunFolder(dir);
  else if (action === 'fresh') createRunFolder(dir);
}

export function variedValues(run: PlannedRun, varied: string[]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const k of varied) o[k] = run.config[k] ?? null;
  return o;
}

export async function runSweep(plan: Plan, opts: RunnerOptions): Promise<SweepOutcome> {
  const { print, live } = sweepTerminal(opts);
  const cmd = opts.trainCmd ?? defaultTrainCmd(opts.env ?? process.env);
  const unlock = lockSweepDir(opts.sweepDir, plan);
  try {
    return await sweepLoop(plan, opts, print, live, cmd);
  } finally {
    unlock();
  }
}

/**
 * Where a sweep (local, or followed through the queue) writes: `print` for lines, `live` for the
 * progress bar of the runs in training, redrawn in place on one line below them. On a terminal
 * (stdout, when no print is given) the bar is drawn unless quiet; elsewhere it goes to opts.live, if given.
 */
export function sweepTerminal(opts: { print?: (line: string) => void; live?: (bar: string) => void; quiet?: boolean }):
  { print: (line: string) => void; live: (bar: string) => void } {
  if (opts.print !== undefined) return { print: opts.print, live: opts.live ?? (() => {}) };
  if (process.stdout.isTTY !== true || opts.quiet) return { print: (l) => { process.stdout.write(l + '\n'); }, live: () => {} };
  let shown = false;
  return {
    print: (l) => { process.stdout.write((shown ? '\r\x1b[K' : '') + l + '\n'); shown = false; },
    live: (bar) => {
      process.stdout.write(`\r\x1b[K${bar === '' ? '' : `    ${bar.slice(0, (process.stdout.columns || 100) - 5)}`}`);
      shown = bar !== '';
    },
  };
}

/** The line a sweep prints when a run starts: `[k/N] name (note)  elapsed 1m 2s  ETA 3m`. */
export function runStartLine(k: number, total: number, label: string, elapsedS: number, etaS: number | null): string {
  return `[${k}/${total}] ${label}  elapsed ${formatDuration(elapsedS)}  ETA ${etaS === null ? '?' : formatDuration(etaS)}`;
}

/**
 * Creates the sweep folder and takes its lock (src/util/lock.ts), refusing while another sweep or
 * an orphaned run uses it, or when a run folder the sweep would clear was not created by a sweep
 * (src/sweep/folders.ts); returns the unlock.
 */
export function lockSweepDir(sweepDir: string, plan: Plan): () => void {
  makeDir(sweepDir, '--sweep_dir');
  checkNotRunning(sweepDir, plan);
  const lock = acquireLock(sweepDir, 'sweep');
  try {
    checkFolders(sweepDir, plan);
  } catch (e) {
    lock.release();
    throw e;
  }
  return lock.release;
}

/** Refuses, before anything starts, run folders the sweep would clear but did not create. */
function checkFolders(sweepDir: string, plan: Plan): void {
  const theirs = plan.runs.map((r) => join(sweepDir, r.name)).filter((dir) => {
    const a = decideAction(dir);
    return (a === 'retry' || a === 'restart') && !isSweepRunFolder(dir);
  });
  if (theirs.length) throw foreign(theirs);
}

const CHILD_PID = '.train.pid';

function alive(pidFile: string): number | null {
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

/** Refuses to start while another sweep, or a train child orphaned by a killed sweep, uses the folder. */
function checkNotRunning(sweepDir: string, plan: Plan): void {
  const other = lockHolder(sweepDir);
  if (other !== null) {
    throw new UserError(`${sweepDir} is in use by another normlab ${other.command} (process ${other.pid} on ${other.host}): wait for it or stop it first`);
  }
  for (const r of plan.runs) {
    const pid = alive(join(sweepDir, r.name, CHILD_PID));
    if (pid !== null) {
      throw new UserError(`run ${r.name} is still being trained by process ${pid} (left by a sweep that was killed): ` +
        'wait for it to finish or kill it, then run the sweep again');
    }
  }
}

async function sweepLoop(plan: Plan, opts: RunnerOptions, print: (l: string) => void, live: (seg: string) => void,
  cmd: string[]): Promise<SweepOutcome> {
  writeManifest(opts.sweepDir, plan, opts.manifest);

  const actions = plan.runs.map((r) => decideAction(join(opts.sweepDir, r.name)));
  const n = (a: Action) => actions.filter((x) => x === a).length;
  print(`sweep: ${plan.runs.length} runs in ${opts.sweepDir}: ${n('skip')} finished, ${n('resume')} to resume, ` +
    `${n('retry')} failed to retry, ${n('fresh') + n('restart')} to start`);

  const rows: ResultRow[] = [];
  const counts = { ok: 0, failed: 0, interrupted: 0, skipped: 0 };
  const durations: number[] = [];
  const t0 = Date.now();
  let interrupted = false;

  for (let i = 0; i < plan.runs.length; i++) {
    const run = plan.runs[i];
    const dir = join(opts.sweepDir, run.name);
    const flags = variedValues(run, plan.varied);
    const action = actions[i];
    if (action === 'skip') {
      rows.push(makeRow(run.name, dir, flags, readSummary(dir), 'ok', null, null));
      counts.skipped++;
      continue;
    }
    if (interrupted || opts.signal?.aborted) { interrupted = true; continue; } // stopped: only finished runs get rows

    const left = actions.slice(i).filter((a) => a !== 'skip').length;
    const mean = durations.length > 0 ? durations.reduce((a, b) => a + b, 0) / durations.length : null;
    print(runStartLine(i + 1, plan.runs.length, `${run.name}${action === 'resume' ? ' (resuming)' : action === 'retry' ? ' (retrying a failed run)' : ''}`,
      (Date.now() - t0) / 1000, mean === null ? null : mean * left));

    prepareRunFolder(dir, action);
    const args = ['train', ...(action === 'resume' ? withoutFlag(run.argv, 'init_from') : run.argv), '--out_dir', dir,
      ...(action === 'resume' ? ['--init_from', 'resume'] : [])];
    const start = Date.now();
    const res = await runChild(cmd, args, { ...opts, progressBar: !opts.quiet }, (line) => { if (!opts.quiet) print(`    ${line}`); }, live,
      (pid) => writeFileSync(join(dir, CHILD_PID), String(pid)));
    rmSync(join(dir, CHILD_PID), { force: true });
    const wall = (Date.now() - start) / 1000;
    durations.push(wall);

    const summary = readSummary(dir);
    let status: RunStatus;
    let error: string | null = null;
    if (res.code === 0 && summary?.status === 'ok') status = 'ok';
    else if (res.aborted || res.code === 130 || res.signal === 'SIGINT' || summary?.status === 'interrupted') status = 'interrupted';
    else {
      status = 'failed';
      error = summary?.status === 'failed' && summary.error ? summary.error
        : res.code === 0 ? 'exited 0 without an ok summary.json'
        : `${res.signal ? `killed by ${res.signal}` : `exit code ${res.code}`}${res.lastErr ? `: ${res.lastErr}` : ''}`;
      if (opts.quiet) for (const l of res.tail) print(`    ${l}`);
    }
    if (res.aborted) interrupted = true;
    counts[status]++;
    rows.push(makeRow(run.name, dir, flags, summary, status, error, wall));
    writeResults(opts.sweepDir, rows, plan.varied);
    const r = rows[rows.length - 1];
    print(`  ${status}${error ? `: ${error}` : ''} in ${formatDuration(wall)}` +
      (r.best_val_loss !== null ? `, best val ${fmtNum(r.best_val_loss)} at iter ${r.best_iter ?? '?'}` : ''));
  }
  writeResults(opts.sweepDir, rows, plan.varied);
  return { rows, interrupted, counts };
}

/** sweep.json: the runs and their flags, plus the facts in `manifest`. */
export function writeManifest(sweepDir: string, plan: Plan, manifest: Record<string, unknown> = {}): void {
  writeFileSync(join(sweepDir, 'sweep.json'), JSON.stringify({
    ...manifest, varied: plan.varied, runs: plan.runs.map((r) => ({ name: r.name, argv: r.argv })),
  }, null, 2) + '\n');
}

/** argv without `--name value` / `--name=value` (so a resume does not carry two --init_from). */
export function withoutFlag(argv: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) { i++; continue; }
    if (argv[i].startsWith(`--${name}=`)) continue;
    out.push(argv[i]);
  }
  return out;
}

export interface ChildResult { code: number | null; signal: string | null; aborted: boolean; tail: string[]; lastErr: string | null }

/**
 * Runs one train child, calling onLine for each output line (a '\r' progress redraw goes to onRedraw;
 * terminal escape sequences are dropped).
 * exitWithParent: the child gets a pipe as stdin and NORMLAB_EXIT_WITH_PARENT=1, so it stops when this
 * process dies, even by SIGKILL (bin/normlab.js exits when its stdin closes).
 * progressBar: the child draws its progress bar into the pipe (NORMLAB_PROGRESS=1), for onRedraw.
 */
export function runChild(cmd: string[], args: string[], opts: Pick<RunnerOptions, 'env' | 'signal' | 'killSignal'> & { exitWithParent?: boolean; progressBar?: boolean },
  onLine: (l: string) => void, onRedraw: (seg: string) => void, onStart: (pid: number) => void): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const env = {
      ...(opts.env ?? process.env), ...(opts.exitWithParent ? { NORMLAB_EXIT_WITH_PARENT: '1' } : {}), ...(opts.progressBar ? { NORMLAB_PROGRESS: '1' } : {}),
    };
    const child = spawn(cmd[0], [...cmd.slice(1), ...args], {
      stdio: [opts.exitWithParent ? 'pipe' : 'ignore', 'pipe', 'pipe'], detached: true, env,
    });
    if (child.pid !== undefined) onStart(child.pid);
    const tail: string[] = [];
    let lastErr: string | null = null;
    let aborted = false;
    const keep = (l: string, isErr: boolean) => {
      tail.push(l);
      if (tail.length > 12) tail.shift();
      if (isErr && l.trim() !== '') lastErr = l.trim();
      onLine(l);
    };
    for (const [stream, isErr] of [[child.stdout!, false], [child.stderr!, true]] as const) {
      let buf = '';
      let shownLast = ''; // the redraw shown last: if the output ends on it, it is not a line
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buf += chunk.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ''); // the bar's line clearing
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          // A progress bar redraws with '\r': keep only its last state.
          const line = buf.slice(0, nl).split('\r').filter((s) => s.trim() !== '').pop() ?? '';
          buf = buf.slice(nl + 1);
          if (line !== '') keep(line.trimEnd(), isErr);
        }
        const cr = buf.lastIndexOf('\r');
        if (cr >= 0) {
          const shown = buf.split('\r').filter((x) => x.trim() !== '').pop();
          if (shown !== undefined) onRedraw(shownLast = shown.trimEnd());
          buf = buf.slice(cr + 1);
        }
      });
      stream.on('end', () => { if (buf.trim() !== '' && buf.trimEnd() !== shownLast) keep(buf.trimEnd(), isErr); buf = ''; });
    }
    const interrupt = () => { aborted = true; if (child.exitCode === null) child.kill('SIGINT'); };
    const kill = () => { aborted = true; if (child.exitCode === null) child.kill('SIGKILL'); };
    const onExit = () => { if (child.exitCode === null) child.kill('SIGKILL'); };
    if (opts.signal?.aborted) interrupt();
    opts.signal?.addEventListener('abort', interrupt);
    opts.killSignal?.addEventListener('abort', kill);
    process.on('exit', onExit);
    child.on('error', (e) => {
      cleanup();
      reject(new UserError(`cannot start the train command '${cmd.join(' ')}': ${e.message} (check NORMLAB_TRAIN_CMD or that the package is built)`));
    });
    child.on('close', (code, signal) => {
      cleanup();
      resolve({ code, signal, aborted, tail, lastErr });
    });
    function cleanup() {
      opts.signal?.removeEventListener('abort', interrupt);
      opts.killSignal?.removeEventListener('abort', kill);
      process.removeListener('exit', onExit);
    }
  });
}
