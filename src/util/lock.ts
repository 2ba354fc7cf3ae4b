// One writer per folder: `<dir>/.normlab.lock` holds {pid, host, command, started} of the process
// that owns the folder (a training run, a sweep). It is created with O_EXCL, so of two processes
// starting at once exactly one wins. A lock whose process is gone (killed, machine rebooted) is
// stale: it is taken over. The lock is removed on release and when the process exits normally.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { diskError, isAlive, makeDir } from './files.js';
import { UserError } from './errors.js';

export const LOCK_FILE = '.normlab.lock';

export interface LockInfo { pid: number; host: string; command: string; started: string }

export interface FolderLock { file: string; release(): void }

/** Who holds the lock of `dir`, if a live process does (a stale or unreadable lock counts as free). */
export function lockHolder(dir: string): LockInfo | null {
  const file = path.join(dir, LOCK_FILE);
  let info: LockInfo;
  try {
    info = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
  } catch {
    return null;
  }
  if (info.pid === process.pid && info.host === os.hostname()) return null;
  // Another machine's lock (a shared disk) cannot be checked: it is honoured.
  if (info.host !== os.hostname()) return info;
  return isAlive(info.pid) ? info : null;
}

const pause = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void { Atomics.wait(pause, 0, 0, ms); }

/**
 * Removes `file` if it is still a stale lock. Two processes that both found the same stale lock must
 * not both remove "it": the second could delete the lock the first has just created. So the
 * check-and-remove runs only while holding `<file>.takeover` (created with O_EXCL); a process that
 * finds it taken waits a few milliseconds and the caller tries again. A takeover file left by a dead
 * process is removed the same way.
 */
function removeIfStale(file: string): void {
  const guard = `${file}.takeover`;
  try {
    fs.writeFileSync(guard, `${process.pid}\n`, { flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw diskError(e, guard);
    const owner = Number.parseInt((() => { try { return fs.readFileSync(guard, 'utf8'); } catch { return ''; } })(), 10);
    if (owner > 0 && !isAlive(owner)) fs.rmSync(guard, { force: true });
    sleepMs(5 + Math.random() * 20);
    return;
  }
  try {
    const text = fs.readFileSync(file, 'utf8');
    const again = (() => { try { return JSON.parse(text) as LockInfo; } catch { return null; } })();
    // An unreadable lock may be one being written this instant: stale only once it is a few seconds old.
    const stale = again ? again.host === os.hostname() && !isAlive(again.pid) : Date.now() - fs.statSync(file).mtimeMs > 3000;
    if (stale) fs.rmSync(file, { force: true });
    else sleepMs(5 + Math.random() * 20);
  } catch { /* gone meanwhile: the caller tries again */ } finally {
    fs.rmSync(guard, { force: true });
  }
}

/**
 * Takes the lock of `dir` (created if missing) for `command` ("train", "sweep"), or throws a
 * UserError naming the process that holds it.
 */
export function acquireLock(dir: string, command: string): FolderLock {
  makeDir(dir);
  const file = path.join(dir, LOCK_FILE);
  const info: LockInfo = { pid: process.pid, host: os.hostname(), command, started: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify(info) + '\n', { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw diskError(e, file);
      const holder = lockHolder(dir);
      if (holder) {
        throw new UserError(`${dir} is in use by another normlab ${holder.command} (process ${holder.pid} on ${holder.host}, ` +
          `since ${holder.started}): wait for it to finish or stop it, or choose another folder` +
          (holder.host !== os.hostname() ? ` (if that process is gone, delete ${file})` : ''));
      }
      if (attempt >= 400) throw new UserError(`cannot take the lock ${file}: it keeps changing; is another normlab starting in ${dir}?`);
      removeIfStale(file);
    }
  }
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    try {
      const now = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
      if (now.pid === process.pid) fs.rmSync(file, { force: true });
    } catch { /* already gone */ }
  };
  process.on('exit', release);
  return { file, release };
}
