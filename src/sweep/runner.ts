// Runs a validated plan locally: one train child process at a time, each in <sweepDir>/<run name>
// (docs/sweep.md). What happens to a run is decided from its folder (src/sweep/folders.ts), so
// rerunning a sweep continues it; a folder in the way that the sweep did not create is refused
// before any run starts, and the sweep folder is locked while the sweep runs (src/sweep/sweep-lock.ts).
// The children are started by src/sweep/child.ts: Ctrl-C is forwarded once, the sweep waits for the
// child to save and exit, writes the results and stops.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDuration } from '../util/format.js';
import { defaultTrainCmd, runChild, runError, trainArgs, type ChildResult } from './child.js';
import { decideAction, prepareRunFolder, type Action } from './folders.js';
import { variedValues, writeManifest } from './manifest.js';
import type { Plan } from './plan.js';
import { fmtNum, makeRow, readSummary, writeResults, type ResultRow, type RunStatus } from './results.js';
import { CHILD_PID, lockSweepDir } from './sweep-lock.js';
import { etaOf, runStartLine, sweepTerminal, type SweepTerminal } from './terminal.js';

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

export async function runSweep(plan: Plan, opts: RunnerOptions): Promise<SweepOutcome> {
  const term = sweepTerminal(opts);
  const cmd = opts.trainCmd ?? defaultTrainCmd(opts.env ?? process.env);
  const unlock = lockSweepDir(opts.sweepDir, plan);
  try {
    return await sweepLoop(plan, opts, term, cmd);
  } finally {
    unlock();
  }
}

/** What the local loop carries from run to run. */
interface LocalSweep {
  plan: Plan;
  opts: RunnerOptions;
  term: SweepTerminal;
  cmd: string[];
  rows: ResultRow[];
  counts: SweepOutcome['counts'];
  durations: number[];
  t0: number;
}

async function sweepLoop(plan: Plan, opts: RunnerOptions, term: SweepTerminal, cmd: string[]): Promise<SweepOutcome> {
  writeManifest(opts.sweepDir, plan, opts.manifest);
  const actions = plan.runs.map((r) => decideAction(join(opts.sweepDir, r.name)));
  const n = (a: Action) => actions.filter((x) => x === a).length;
  term.print(`sweep: ${plan.runs.length} runs in ${opts.sweepDir}: ${n('skip')} finished, ${n('resume')} to resume, ` +
    `${n('retry')} failed to retry, ${n('fresh') + n('restart')} to start`);

  const s: LocalSweep = { plan, opts, term, cmd, rows: [], counts: { ok: 0, failed: 0, interrupted: 0, skipped: 0 }, durations: [], t0: Date.now() };
  let interrupted = false;
  for (let i = 0; i < plan.runs.length; i++) {
    const run = plan.runs[i];
    const dir = join(opts.sweepDir, run.name);
    if (actions[i] === 'skip') {
      s.rows.push(makeRow(run.name, dir, variedValues(run, plan.varied), readSummary(dir), 'ok', null, null));
      s.counts.skipped++;
      continue;
    }
    if (interrupted || opts.signal?.aborted) { interrupted = true; continue; } // stopped: only finished runs get rows
    const left = actions.slice(i).filter((a) => a !== 'skip').length;
    if (await trainOne(s, i, actions[i], left)) interrupted = true;
  }
  writeResults(opts.sweepDir, s.rows, plan.varied);
  return { rows: s.rows, interrupted, counts: s.counts };
}

/** Trains run i of the plan in its folder and adds its row; true when it was stopped (Ctrl-C). */
async function trainOne(s: LocalSweep, i: number, action: Action, left: number): Promise<boolean> {
  const { plan, opts, term } = s;
  const run = plan.runs[i];
  const dir = join(opts.sweepDir, run.name);
  term.print(runStartLine(i + 1, plan.runs.length, `${run.name}${action === 'resume' ? ' (resuming)' : action === 'retry' ? ' (retrying a failed run)' : ''}`,
    (Date.now() - s.t0) / 1000, etaOf(s.durations, left)));

  prepareRunFolder(dir, action);
  const start = Date.now();
  const res = await runChild(s.cmd, trainArgs(run.argv, dir, action === 'resume'), { ...opts, progressBar: !opts.quiet },
    (line) => { if (!opts.quiet) term.print(`    ${line}`); }, term.live, (pid) => writeFileSync(join(dir, CHILD_PID), String(pid)));
  rmSync(join(dir, CHILD_PID), { force: true });
  const wall = (Date.now() - start) / 1000;
  s.durations.push(wall);

  const { status, error } = outcomeOf(res, dir);
  if (status === 'failed' && opts.quiet) for (const l of res.tail) term.print(`    ${l}`);
  s.counts[status]++;
  const r = makeRow(run.name, dir, variedValues(run, plan.varied), readSummary(dir), status, error, wall);
  s.rows.push(r);
  writeResults(opts.sweepDir, s.rows, plan.varied);
  term.print(`  ${status}${error ? `: ${error}` : ''} in ${formatDuration(wall)}` +
    (r.best_val_loss !== null ? `, best val ${fmtNum(r.best_val_loss)} at iter ${r.best_iter ?? '?'}` : ''));
  return res.aborted;
}

/** ok, interrupted (Ctrl-C) or failed (with why), from the child's exit and the run's summary.json. */
function outcomeOf(res: ChildResult, dir: string): { status: RunStatus; error: string | null } {
  const summary = readSummary(dir);
  if (res.code === 0 && summary?.status === 'ok') return { status: 'ok', error: null };
  if (res.aborted || res.code === 130 || res.signal === 'SIGINT' || summary?.status === 'interrupted') return { status: 'interrupted', error: null };
  return { status: 'failed', error: runError(summary, res) };
}

