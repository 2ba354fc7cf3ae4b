// Writing files so that nothing is lost (docs/safety.md):
//   writeFileAtomic  every byte written (short writes continued, counts checked), fsync of the file,
//                    rename over the target, fsync of the folder; any failure removes the temporary
//                    file, leaves the target as it was, and throws a DiskError naming the file, the
//                    disk it is on and, for a full disk, the space needed and left.
//   writeFileDurable the same without the rename: for the files of a checkpoint generation, which
//                    are switched in together (src/train/checkpoint.ts).
//   cleanTemporaries removes what a killed writer left (`<name>.tmp-<pid>` of a dead process).
// Every writer of normlab goes through these (checkpoints, summaries, results, datasets, logs).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from './errors.js';

/** A write that failed: the message names the file, the disk and what to do. The target is unchanged. */
export class DiskError extends UserError {
  constructor(message: string, readonly code: string | undefined) {
    super(message);
    this.name = 'DiskError';
  }
}

/** Test hook: NORMLAB_FAIL_WRITES=<bytes> makes every write fail with ENOSPC once that many bytes have been written by this process. */
let injectLeft = process.env.NORMLAB_FAIL_WRITES ? Number(process.env.NORMLAB_FAIL_WRITES) : Infinity;

/** The mount point holding `p` (walks up while the device stays the same). */
export function diskOf(p: string): string {
  let dir = path.resolve(p);
  while (!fs.existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  try {
    const dev = fs.statSync(dir).dev;
    for (let up = path.dirname(dir); up !== dir; dir = up, up = path.dirname(dir)) {
      if (fs.statSync(up).dev !== dev) break;
    }
  } catch { /* keep the deepest folder reached */ }
  return dir;
}

function freeBytes(p: string): number | null {
  try {
    const s = fs.statfsSync(diskOf(p));
    return s.bavail * s.bsize;
  } catch {
    return null;
  }
}

export function formatBytes(n: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return i === 0 ? `${n} bytes` : `${n.toFixed(n < 10 ? 2 : 1)} ${units[i]}`;
}

/** The DiskError for error `e` met while writing `file` (of `bytes` bytes, when known). */
export function diskError(e: unknown, file: string, bytes?: number): DiskError {
  if (e instanceof DiskError) return e;
  const err = e as NodeJS.ErrnoException;
  const code = err?.code;
  const disk = diskOf(file);
  let why: string;
  switch (code) {
    case 'ENOSPC': case 'EDQUOT': {
      const free = freeBytes(file);
      why = `the disk ${disk} is full (${free === null ? 'unknown' : formatBytes(free)} free` +
        `${bytes !== undefined ? `, ${formatBytes(bytes)} needed` : ''}): free some space or choose a folder on another disk`;
      break;
    }
    case 'EROFS': why = `the disk ${disk} is read-only: choose a folder on a writable disk`; break;
    case 'EACCES': case 'EPERM': why = `permission denied on ${disk}: choose a folder you can write to`; break;
    case 'ENOTDIR': case 'EEXIST': why = `a part of the path is a file, not a folder: choose another folder`; break;
    case 'EISDIR': why = 'it is a folder: choose another file name'; break;
    default: why = `${err?.message ?? String(e)} (disk ${disk})`;
  }
  return new DiskError(`cannot write ${file}: ${why}`, code);
}

function writeAll(fd: number, buf: Uint8Array, file: string): void {
  let off = 0;
  while (off < buf.length) {
    let want = buf.length - off;
    if (want > injectLeft) {
      want = injectLeft;
      if (want === 0) throw Object.assign(new Error('ENOSPC: no space left on device (injected)'), { code: 'ENOSPC' });
    }
    const n = fs.writeSync(fd, buf, off, want);
    if (injectLeft !== Infinity) injectLeft -= n;
    if (n <= 0) throw Object.assign(new Error(`write returned ${n}`), { code: 'EIO' });
    off += n;
  }
  if (off !== buf.length) throw Object.assign(new Error(`wrote ${off} of ${buf.length} bytes to ${file}`), { code: 'EIO' });
}

/** fsync of a folder, so that a rename or a new name in it survives a power cut (not supported everywhere). */
export function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM') throw diskError(e, dir);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

/**
 * Write `file` completely and fsync it, with no rename: the caller switches it in. On failure the
 * partial file is removed and a DiskError thrown. `data` may be a sequence of chunks (written in
 * order), so that a large file (a checkpoint) never exists whole in memory.
 */
export function writeFileDurable(file: string, data: Uint8Array | string | Iterable<Uint8Array>): void {
  let fd: number | undefined, bytes = 0;
  try {
    fd = fs.openSync(file, 'w');
    const chunks = typeof data === 'string' || data instanceof Uint8Array ? [toBytes(data)] : data;
    for (const buf of chunks) { writeAll(fd, buf, file); bytes += buf.length; }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
  } catch (e) {
    if (fd !== undefined) try { fs.closeSync(fd); } catch { /* already failing */ }
    fs.rmSync(file, { force: true });
    throw diskError(e, file, bytes);
  }
}

/** The temporary name writeFileAtomic uses for `file` (cleanTemporaries recognises it). */
export function tempName(file: string): string {
  return `${file}.tmp-${process.pid}`;
}

/** Write atomically: a temporary file in the same folder, every byte, fsync, rename, fsync of the folder. */
export function writeFileAtomic(file: string, data: Uint8Array | string | Iterable<Uint8Array>): void {
  const tmp = tempName(file);
  writeFileDurable(tmp, data);
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw diskError(e, file);
  }
  syncDir(path.dirname(file));
}

/** Append to a log file; a failure is a DiskError naming the file and disk. */
export function appendFileChecked(file: string, data: string): void {
  const buf = Buffer.from(data, 'utf8');
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'a');
    writeAll(fd, buf, file);
  } catch (e) {
    throw diskError(e, file, buf.length);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes `*.tmp-<pid>` files in `dir` whose writer process is gone (a kill mid-write); returns
 * their names. Files of live processes (another writer at work) are left alone.
 */
export function cleanTemporaries(dir: string): string[] {
  let names: string[];
  try { names = fs.readdirSync(dir); } catch { return []; }
  const removed: string[] = [];
  for (const name of names) {
    const m = /\.tmp-(\d+)$/.exec(name);
    if (!m || (Number(m[1]) !== process.pid && isAlive(Number(m[1])))) continue;
    fs.rmSync(path.join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

/** mkdir -p, with a message instead of a stack trace when the path cannot be a folder. */
export function makeDir(dir: string, what = 'folder'): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (first) {
    // A recursive mkdir reports some failures (a read-only disk) as ENOENT: retry the first missing
    // folder alone for the real reason.
    let e = first, missing = path.resolve(dir);
    while (!fs.existsSync(path.dirname(missing)) && path.dirname(missing) !== missing) missing = path.dirname(missing);
    try { fs.mkdirSync(missing); } catch (again) { e = again; }
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') {
      throw new DiskError(`cannot use ${dir} as the ${what}: ${fs.existsSync(dir) ? 'it is a file' : 'a part of the path is a file'}; choose a folder`, code);
    }
    throw diskError(e, dir);
  }
  if (!fs.statSync(dir).isDirectory()) throw new DiskError(`cannot use ${dir} as the ${what}: it is a file; choose a folder`, 'ENOTDIR');
}

/**
 * Reads a regular file, refusing a symbolic link (ELOOP) and anything that is not a plain file:
 * for servers and scanners that must not be led out of a folder by a link placed in it.
 */
export function readFileNoFollow(file: string): Buffer {
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  try {
    if (!fs.fstatSync(fd).isFile()) throw Object.assign(new Error(`${file} is not a regular file`), { code: 'EINVAL' });
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
