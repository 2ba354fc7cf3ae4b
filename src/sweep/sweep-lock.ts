// One sweep per sweep folder (docs/sweep.md): the folder is locked (src/util/lock.ts) while a sweep
// runs or follows its queue, a train child orphaned by a killed sweep keeps it busy (its pid is in
// <run>/.train.pid while it trains), and a run folder the sweep would clear but did not create is
// refused before anything starts (src/sweep/folders.ts).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDir } from '../util/files.js';
import { acquireLock, lockHolder } from '../util/lock.js';
import { UserError } from '../util/errors.js';
import { decideAction, foreign, isSweepRunFolder } from './folders.js';
import type { Plan } from './plan.js';

/** The file holding the pid of a run's train child while it trains. */
export const CHILD_PID = '.train.pid';

/**
 * Creates the sweep folder and takes its lock, refusing while another sweep or an orphaned run uses
 * it, or when a run folder the sweep would clear was not created by a sweep; returns the unlock.
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
