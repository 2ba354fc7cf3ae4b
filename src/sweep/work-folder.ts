// A worker's run folder, <work_dir>/<queue>/<job id> (docs/queue.md), and who may use it.
// - Its name is folderName(job id): different ids give different folders (src/sweep/jobs.ts).
// - It records the job that made it (.normlab-job.json: queue, job id, hash of the flags); results,
//   checkpoints and partial runs in it are used only by that same job. A folder of another job, or one
//   without the record (made by hand or by an older normlab), is refused and left as it is.
// - It is never cleared or trained in while its lock (src/util/lock.ts) is held by a live process:
//   on this machine, a live pid; on another machine sharing the work_dir, a lock touched within
//   REMOTE_LOCK_STALE_MS (the holder touches it every LOCK_HEARTBEAT_MS). Only an older lock of
//   another machine is stale, and removed.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { isAlive, writeFileAtomic } from '../util/files.js';
import { LOCK_FILE, readLock, REMOTE_LOCK_STALE_MS } from '../util/lock.js';
import { decideAction, prepareRunFolder, RUN_MARKER, type Action } from './folders.js';
import { argvHash, folderName, type RunJobData } from './jobs.js';
import { readJson } from './results.js';

export const JOB_RECORD = '.normlab-job.json';

export interface JobRecord { queue: string; id: string; argv: string }

export type Claim =
  | { kind: 'ready'; action: Action }
  /** A live process holds the folder: the job waits and is tried again. */
  | { kind: 'busy'; why: string }
  /** The folder belongs to something else: the job fails, the folder is left as it is. */
  | { kind: 'refused'; why: string };

export function workFolder(workDir: string, queue: string, id: string): string {
  return join(workDir, folderName(queue), folderName(id));
}

export function jobRecord(queue: string, id: string, data: RunJobData): JobRecord {
  return { queue, id, argv: argvHash(data.argv) };
}

/** Who holds the folder's lock, as a sentence, or null when nobody does (a stale lock of another host is removed, said through note). */
export function liveLock(dir: string, note: (line: string) => void): string | null {
  const lock = readLock(dir);
  if (lock === null) return null;
  const { info, ageMs } = lock;
  const who = `process ${info.pid} (normlab ${String(info.command).slice(0, 20)})`;
  if (info.host === hostname()) {
    return info.pid !== process.pid && isAlive(info.pid) ? `${who} on this machine holds its lock` : null;
  }
  const age = Math.max(0, Math.round(ageMs / 1000));
  if (ageMs < REMOTE_LOCK_STALE_MS) return `${who} on ${info.host} holds its lock (touched ${age} s ago; a lock is stale after ${REMOTE_LOCK_STALE_MS / 1000} s untouched)`;
  note(`removing the folder lock of ${info.host}:${info.pid} in ${dir}: untouched for ${age} s (a live one is touched every 10 s), so its process is gone or frozen`);
  rmSync(join(dir, LOCK_FILE), { force: true });
  return null;
}

/** Whether dir holds anything besides the sweep's marker. */
function hasContents(dir: string): boolean {
  return existsSync(dir) && readdirSync(dir).some((f) => f !== RUN_MARKER);
}

/** Readies the folder of a job: checks the lock and the job record, then clears, creates or keeps it (decideAction) and records the job. */
export function claimWorkFolder(dir: string, rec: JobRecord, note: (line: string) => void): Claim {
  const held = liveLock(dir, note);
  if (held !== null) return { kind: 'busy', why: `its folder ${dir} is in use: ${held}` };
  if (hasContents(dir)) {
    const was = readJson<Partial<JobRecord>>(join(dir, JOB_RECORD));
    if (was === null) {
      return { kind: 'refused', why: `${dir} holds files but no ${JOB_RECORD} (not made by a normlab worker for this job): left as it is; move it away to train the job there` };
    }
    if (was.queue !== rec.queue || was.id !== rec.id || was.argv !== rec.argv) {
      return { kind: 'refused', why: `${dir} holds the run of another job (${JSON.stringify(String(was.queue)).slice(0, 80)}/${JSON.stringify(String(was.id)).slice(0, 120)}, flags ${String(was.argv).slice(0, 12)}): its results are not this job's; left as it is` };
    }
  }
  const action = decideAction(dir);
  prepareRunFolder(dir, action);
  writeFileAtomic(join(dir, JOB_RECORD), JSON.stringify(rec) + '\n');
  return { kind: 'ready', action };
}
