// One writer per folder: `<dir>/.normlab.lock` holds {pid, host, command, started} of the process
// that owns the folder (a training run, a sweep). It is created with O_EXCL, so of two processes
// starting at once exactly one wins. A lock whose process is gone (killed, machine rebooted) is
// stale: it is taken over. The lock is removed on release and when the process exits normally.
// Anything else standing at the lock's name (a FIFO, a folder, a link) is refused with what it is,
// never waited on (docs/safety.md, "A hostile local user").
// While held, the lock file is touched every LOCK_HEARTBEAT_MS, so a process on another machine
// sharing the folder, which cannot check the pid, can tell a live lock (touched recently) from one
// whose holder is gone or frozen (docs/queue.md: a worker takes over another host's lock only when it
// has not been touched for REMOTE_LOCK_STALE_MS).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { diskError, isAlive, makeDir } from './files.js';
import { UserError } from './errors.js';

export const LOCK_FILE = '.normlab.lock';

export interface LockInfo { pid: number; host: string; command: string; started: string }

export interface FolderLock { file: string; release(): void }

/** A small regular file's text, without following a link or blocking on a FIFO; null when it is not one (or absent). */
function readPlain(file: string): string | null {
  let fd: number;
  try { fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK); } catch { return null; }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > 1 << 16) return null;
    return fs.readFileSync(fd, 'utf8');
  } catch { return null; } finally { fs.closeSync(fd); }
}

/** A UserError saying what stands at `file` when it is not a regular file (a lock normlab writes is one); null otherwise. */
export function notALock(file: string): UserError | null {
  let st: fs.Stats;
  try { st = fs.lstatSync(file); } catch { return null; }
  if (st.isFile()) return null;
  let what = 'not a regular file';
  if (st.isSymbolicLink()) {
    let target = '?';
    try { target = fs.readlinkSync(file); } catch { /* keep ? */ }
    what = `a symbolic link (to ${target}${fs.existsSync(file) ? '' : ', which does not exist'})`;
  } else if (st.isDirectory()) what = 'a folder';
  else if (st.isFIFO()) what = 'a FIFO (named pipe)';
  else if (st.isSocket()) what = 'a socket';
  return new UserError(`${file} is ${what}, not a lock file normlab wrote: remove it (rm ${st.isDirectory() ? '-r ' : ''}${file}) and start again`);
}

/** The command line of a live local process, when this system shows it (Linux: /proc). */
function commandOf(pid: number): string | null {
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return cmd ? (cmd.length > 120 ? cmd.slice(0, 117) + '...' : cmd) : null;
  } catch { return null; }
}

/** How often a held lock's file is touched (its mtime is the holder's heartbeat). */
export const LOCK_HEARTBEAT_MS = 10_000;
/** Another machine's lock untouched for this long is stale. The machines' clocks must agree to well within it. */
export const REMOTE_LOCK_STALE_MS = 120_000;

/** The lock of `dir` as written, and how long ago it was last touched; null when there is none or it is unreadable. */
export function readLock(dir: string): { info: LockInfo; ageMs: number } | null {
  const file = path.join(dir, LOCK_FILE);
  try {
    const st = fs.lstatSync(file);
    if (!st.isFile() || st.size > 4096) return null;
    const info = JSON.parse(readPlain(file) ?? '') as LockInfo;
    if (typeof info !== 'object' || info === null || typeof info.host !== 'string' || !Number.isInteger(info.pid)) return null;
    return { info, ageMs: Date.now() - st.mtimeMs };
  } catch {
    return null;
  }
}

/** Who holds the lock of `dir`, if a live process does (a stale or unreadable lock counts as free). */
export function lockHolder(dir: string): LockInfo | null {
  const file = path.join(dir, LOCK_FILE);
  let info: LockInfo;
  try {
    info = JSON.parse(readPlain(file) ?? '') as LockInfo;
  } catch {
    return null;
  }
  if (!info || typeof info !== 'object') return null;
  if (info.pid === process.pid && info.host === os.hostname()) return null;
  // Another machine's lock (a shared disk) cannot be checked: it is honoured.
  if (info.host !== os.hostname()) return info;
  return isAlive(info.pid) ? info : null;
}

/** Why `dir` cannot be locked: who holds it, and how to proceed. */
function heldMessage(dir: string, file: string, holder: LockInfo): string {
  const local = holder.host === os.hostname();
  const cmd = local ? commandOf(holder.pid) : null;
  const head = `${dir} is in use by another normlab ${holder.command} (process ${holder.pid} on ${holder.host}, since ${holder.started}` +
    `${cmd ? `; its command: ${cmd}` : ''})`;
  if (cmd && !/normlab/.test(cmd)) {
    return `${head}. That process does not look like normlab: the lock was probably left by a normlab that was killed, and its ` +
      `process number was reused. If no normlab works in ${dir}, remove ${file} and start again`;
  }
  return `${head}: wait for it to finish or stop it, or choose another folder` + (local ? '' : ` (if that process is gone, delete ${file})`);
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
    const odd = notALock(guard);
    if (odd) throw odd;
    const owner = Number.parseInt(readPlain(guard) ?? '', 10);
    if (owner > 0 && !isAlive(owner)) fs.rmSync(guard, { force: true });
    sleepMs(5 + Math.random() * 20);
    return;
  }
  try {
    const text = readPlain(file);
    if (text === null) return; // gone meanwhile (or not a file: the caller says so)
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
      const odd = notALock(file);
      if (odd) throw odd;
      const holder = lockHolder(dir);
      if (holder) throw new UserError(heldMessage(dir, file, holder));
      if (attempt >= 400) throw new UserError(`cannot take the lock ${file}: it keeps changing; is another normlab starting in ${dir}?`);
      removeIfStale(file);
    }
  }
  let held = true;
  const beat = setInterval(() => {
    try {
      const now = JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
      if (now.pid === process.pid && now.host === info.host) { const t = new Date(); fs.utimesSync(file, t, t); }
    } catch { /* gone: nothing to keep alive */ }
  }, LOCK_HEARTBEAT_MS);
  beat.unref();
  const release = (): void => {
    if (!held) return;
    held = false;
    clearInterval(beat);
    process.off('exit', release);
    try {
      const now = JSON.parse(readPlain(file) ?? '') as LockInfo;
      if (now.pid === process.pid) fs.rmSync(file, { force: true });
    } catch { /* already gone */ }
  };
  process.on('exit', release);
  return { file, release };
}
