// Run folders of a sweep (docs/sweep.md): a sweep creates each run's folder with a marker file in it,
// and only ever deletes a folder that carries its marker. A folder of the same name that the sweep
// did not create (a project folder, a run trained by hand) is refused before anything starts.
// Also used by other sweep front ends (a distributed queue, seeds), so they share the same rules.
//
// What happens to a run is decided from its folder, so rerunning a sweep continues it:
//   summary.json status ok                      -> skip (its row comes from that summary)
//   summary.json status failed                  -> retry from scratch (folder cleared)
//   a checkpoint or resume state, summary not ok -> resume: `--init_from resume` (killed or Ctrl-C'd run)
//   anything else left in the folder            -> start over (it stopped before its first checkpoint)
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeDir, writeFileAtomic } from '../util/files.js';
import { UserError } from '../util/errors.js';
import { hasCheckpoint } from '../train/checkpoint.js';
import { readSummary } from './results.js';

export type Action = 'skip' | 'fresh' | 'resume' | 'retry' | 'restart';

export function decideAction(dir: string): Action {
  if (!existsSync(dir)) return 'fresh';
  const s = readSummary(dir);
  if (s?.status === 'ok') return 'skip';
  if (s?.status === 'failed') return 'retry';
  if (hasCheckpoint(dir)) return 'resume';
  return readdirSync(dir).length > 0 ? 'restart' : 'fresh';
}

/** Readies a run folder for `action`: cleared (retry, restart; only a folder a sweep created) or created (fresh). */
export function prepareRunFolder(dir: string, action: Action): void {
  if (action === 'retry' || action === 'restart') clearRunFolder(dir);
  else if (action === 'fresh') createRunFolder(dir);
}

export const RUN_MARKER = '.normlab-sweep-run';

/** Whether a sweep created dir (it holds the marker). */
export function isSweepRunFolder(dir: string): boolean {
  return existsSync(join(dir, RUN_MARKER));
}

/** Creates dir for a run, marked as the sweep's; an empty folder is adopted, one with contents is left unmarked. */
export function createRunFolder(dir: string): void {
  makeDir(dir, 'run folder');
  if (!isSweepRunFolder(dir) && readdirSync(dir).length === 0) {
    writeFileAtomic(join(dir, RUN_MARKER), 'created by a normlab sweep: the sweep may clear this folder to rerun it\n');
  }
}

/** Empties a run folder the sweep created, to run it again from scratch; refuses any other folder. */
export function clearRunFolder(dir: string): void {
  if (!isSweepRunFolder(dir)) throw foreign([dir]);
  for (const name of readdirSync(dir)) if (name !== RUN_MARKER) rmSync(join(dir, name), { recursive: true, force: true });
}

/** The error for folders in the way of a sweep that it did not create. */
export function foreign(dirs: string[]): UserError {
  return new UserError(`${dirs.length === 1 ? `${dirs[0]} exists` : `these folders exist: ${dirs.join(', ')}`} but ` +
    `${dirs.length === 1 ? 'was' : 'were'} not created by a normlab sweep (no ${RUN_MARKER} file), and the sweep would have to ` +
    'clear them to run there. Nothing was changed: move them away or choose another --sweep_dir.');
}
