// safetensors files (https://github.com/huggingface/safetensors): 8-byte little-endian header
// length n, n bytes of JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
// {string: string}}, then the raw little-endian tensor bytes. We write F32 (and, for normlab export, I8, U8, I16, I32), in the order given,
// and pad the header with spaces to a multiple of 8 bytes (as the Python writer does) so that the
// data is aligned. writeSafetensors replaces a file atomically (src/util/files.ts): a crash or a
// full disk leaves the previous file whole.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { writeFileAtomic } from '../util/files.js';
import { UserError } from '../util/errors.js';

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Int32Array;
  /** Written as F32 (the default; float data) or as the integer type of `data` (normlab export). */
  dtype?: 'F32' | 'I8' | 'U8' | 'I16' | 'I32';
}

export interface LoadedTensor {
  shape: number[];
  data: Float32Array;
}

const LE = os.endianness() === 'LE';
const DTYPE_BYTES: Record<string, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** Writes tensor t's values at byte pos of view, little-endian in its dtype; returns the end. */
function writeTensor(view: DataView, pos: number, t: NamedTensor): number {
  const dtype = t.dtype ?? 'F32', n = t.data.length;
  if (dtype === 'F32') for (let i = 0; i < n; i++) view.setFloat32(pos + 4 * i, t.data[i], true);
  else if (dtype === 'I8') for (let i = 0; i < n; i++) view.setInt8(pos + i, t.data[i]);
  else if (dtype === 'U8') for (let i = 0; i < n; i++) view.setUint8(pos + i, t.data[i]);
  else if (dtype === 'I16') for (let i = 0; i < n; i++) view.setInt16(pos + 2 * i, t.data[i], true);
  else for (let i = 0; i < n; i++) view.setInt32(pos + 4 * i, t.data[i], true);
  return pos + n * DTYPE_BYTES[dtype];
}

/** The file's bytes as a Uint8Array (no Node API: the playground builds checkpoints in the browser with it). */
export function safetensorsBytes(tensors: NamedTensor[], metadata: Record<string, string> = {}, headerOnly: number[] | null = null): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [i, t] of tensors.entries()) {
    const dtype = t.dtype ?? 'F32';
    const bytes = (headerOnly ? headerOnly[i] : t.data.length) * DTYPE_BYTES[dtype];
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const enc = new TextEncoder();
  let json = JSON.stringify(header);
  const pad = (8 - ((8 + enc.encode(json).length) % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = enc.encode(json);
  const out = new Uint8Array(8 + headerBytes.length + (headerOnly ? 0 : offset));
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  if (headerOnly) return out; // the header alone (safetensorsChunks writes the data)
  for (const t of tensors) pos = writeTensor(view, pos, t);
  return out;
}

/**
 * The file's bytes in chunks: the header, then each tensor (on little-endian machines a view of the
 * tensor's own memory, no copy), so that writing a checkpoint needs no second copy of the weights
 * (docs/memory.md). The bytes are those of safetensorsBytes.
 */
export function* safetensorsChunks(tensors: NamedTensor[], metadata: Record<string, string> = {}): Generator<Uint8Array> {
  yield safetensorsBytes(tensors, metadata, tensors.map((t) => t.data.length));
  for (const t of tensors) {
    if (LE && (t.dtype ?? 'F32') === 'F32' && t.data instanceof Float32Array) { yield new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength); continue; }
    const per = DTYPE_BYTES[t.dtype ?? 'F32'];
    for (let i = 0; i < t.data.length; i += 1 << 16) { // 64 Ki values at a time
      const part = { ...t, data: t.data.subarray(i, Math.min(t.data.length, i + (1 << 16))) } as NamedTensor;
      const out = new Uint8Array(part.data.length * per);
      writeTensor(new DataView(out.buffer), 0, part);
      yield out;
    }
  }
}

export function encodeSafetensors(tensors: NamedTensor[], metadata: Record<string, string> = {}): Buffer {
  const b = safetensorsBytes(tensors, metadata);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export function writeSafetensors(path: string, tensors: NamedTensor[], metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, safetensorsChunks(tensors, metadata));
}

const badFile = (what: string, why: string) => new UserError(`${what} is not a valid safetensors file: ${why}`);

/** The header length n from a file's first 8 bytes (`first`), checked against the file size. */
function headerLength(first: Buffer, fileBytes: number, what: string): number {
  if (fileBytes < 8) throw badFile(what, `only ${fileBytes} bytes`);
  const n = Number(first.readBigUInt64LE(0));
  if (n > fileBytes - 8) throw badFile(what, `header length ${n} exceeds the file (${fileBytes} bytes): truncated or corrupt`);
  return n;
}

/** One tensor of a header, checked: its dtype, shape and place in the data section. */
export interface HeaderEntry { name: string; dtype: string; shape: number[]; begin: number; end: number }

/** The most dimensions a tensor may have (PyTorch's own limit is 64). */
const MAX_DIMS = 64;

/**
 * The JSON header (n bytes), every field checked before anything is done with it (docs/safety.md,
 * "A hostile checkpoint file"): `__metadata__` a map of strings; each tensor {dtype: a known name,
 * shape: non-negative integers, data_offsets: two integers}; the tensors, in the order of their
 * offsets, lie end to end from 0 and cover the data section exactly (as the format requires), so
 * none overlaps another or reads past the file. dataLen: the bytes after the header.
 */
function parseHeader(bytes: Buffer, what: string, dataLen: number): { entries: HeaderEntry[]; metadata: Record<string, string> } {
  const bad = (why: string) => badFile(what, why);
  let header: unknown;
  try {
    header = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw bad('the JSON header does not parse');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('the header is not a JSON object');
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw bad('__metadata__ is not a map of strings');
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string') throw bad(`__metadata__ value ${JSON.stringify(k.slice(0, 60))} is not a string`);
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    const label = JSON.stringify(name.length > 80 ? name.slice(0, 77) + '...' : name);
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw bad(`entry ${label} is not an object`);
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e.dtype !== 'string' || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) {
      throw bad(`entry ${label} lacks dtype, shape or data_offsets`);
    }
    const width = DTYPE_BYTES[e.dtype];
    if (!Object.hasOwn(DTYPE_BYTES, e.dtype) || !width) throw bad(`tensor ${label} has unknown dtype ${JSON.stringify(e.dtype.slice(0, 20))}`);
    if (e.shape.length > MAX_DIMS || !e.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      throw bad(`tensor ${label}: shape must be a list of at most ${MAX_DIMS} non-negative integers`);
    }
    const offs = e.data_offsets;
    if (offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) {
      throw bad(`tensor ${label}: data_offsets must be two non-negative integers [begin, end]`);
    }
    const [begin, end] = offs as [number, number];
    if (end < begin || end > dataLen) throw bad(`tensor ${label} lies outside the file: truncated or corrupt`);
    const shape = e.shape as number[];
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * width) throw bad(`tensor ${label}: shape [${shape}] of ${e.dtype} needs ${count * width} bytes, has ${end - begin}`);
    entries.push({ name, dtype: e.dtype, shape, begin, end });
  }
  // In the order of their offsets the tensors must lie end to end, from 0 to the end of the data.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const t of sorted) {
    if (t.begin < at) throw bad(`tensor ${JSON.stringify(t.name.slice(0, 80))} overlaps another tensor`);
    if (t.begin > at) throw bad(`bytes ${at} to ${t.begin} of the data belong to no tensor`);
    at = t.end;
  }
  if (at !== dataLen) throw bad(`the tensors cover ${at} bytes of data but the file holds ${dataLen}`);
  return { entries, metadata };
}

/** Only the header of a safetensors file (its tensor table and metadata), without reading the data.
 * noFollow: refuse a symbolic link (for files found by walking folders). A FIFO or other non-file is refused, never waited on. */
export function readSafetensorsHeader(path: string, opts: { noFollow?: boolean } = {}): { entries: HeaderEntry[]; metadata: Record<string, string> } {
  const fd = openPlainFile(path, opts.noFollow);
  try {
    const first = Buffer.alloc(8), size = fs.fstatSync(fd).size;
    fs.readSync(fd, first, 0, 8, 0);
    const n = headerLength(first, size, path), head = Buffer.alloc(n);
    if (fs.readSync(fd, head, 0, n, 8) !== n) throw badFile(path, 'the header could not be read whole');
    return parseHeader(head, path, size - 8 - n);
  } finally {
    fs.closeSync(fd);
  }
}

/** Parse a safetensors file; every malformation is a UserError naming the file and the problem. */
export function decodeSafetensors(buf: Buffer, what: string): { tensors: Map<string, LoadedTensor>; metadata: Record<string, string> } {
  const bad = (why: string) => badFile(what, why);
  const n = headerLength(buf, buf.length, what);
  const dataStart = 8 + n, dataLen = buf.length - dataStart;
  const { entries, metadata } = parseHeader(buf.subarray(8, 8 + n), what, dataLen);
  const tensors = new Map<string, LoadedTensor>();
  for (const { name, dtype, shape, begin } of entries) {
    const count = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(count);
    const base = dataStart + begin;
    if (dtype === 'F32' && LE && (buf.byteOffset + base) % 4 === 0) data.set(new Float32Array(buf.buffer, buf.byteOffset + base, count));
    else if (dtype === 'F32') for (let i = 0; i < count; i++) data[i] = buf.readFloatLE(base + 4 * i);
    else if (dtype === 'F64') for (let i = 0; i < count; i++) data[i] = buf.readDoubleLE(base + 8 * i);
    else if (dtype === 'F16') for (let i = 0; i < count; i++) data[i] = halfToFloat(buf.readUInt16LE(base + 2 * i));
    else if (dtype === 'BF16') for (let i = 0; i < count; i++) data[i] = bf16ToFloat(buf.readUInt16LE(base + 2 * i));
    else throw bad(`tensor ${name} has dtype ${dtype}; normlab reads F32, F64, F16 and BF16`);
    tensors.set(name, { shape, data });
  }
  return { tensors, metadata };
}

/** Opens path for reading without blocking on a FIFO, and refuses anything but a plain file (docs/safety.md). */
function openPlainFile(path: string, noFollow = false): number {
  const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
  let fd: number;
  try {
    fd = fs.openSync(path, O_RDONLY | O_NONBLOCK | (noFollow ? O_NOFOLLOW : 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'ELOOP' ? 'it is a symbolic link' : (e as Error).message}`);
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    const kind = st.isFIFO() ? 'a FIFO (named pipe)' : st.isDirectory() ? 'a folder' : st.isSocket() ? 'a socket' : 'not a regular file';
    throw new UserError(`cannot read ${path}: it is ${kind}, not a safetensors file; remove it or point at the checkpoint file`);
  }
  return fd;
}

export function readSafetensors(path: string): { tensors: Map<string, LoadedTensor>; metadata: Record<string, string> } {
  const fd = openPlainFile(path);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(fd);
  } catch (e) {
    throw new UserError(`cannot read ${path}: ${(e as Error).message}`);
  } finally {
    fs.closeSync(fd);
  }
  return decodeSafetensors(buf, path);
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function bf16ToFloat(b: number): number {
  const f = new Float32Array(new Uint32Array([b << 16]).buffer);
  return f[0];
}
