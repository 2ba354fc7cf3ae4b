// safetensors files (https://github.com/huggingface/safetensors): 8-byte little-endian header
// length n, n bytes of JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
// {string: string}}, then the raw little-endian tensor bytes. We write F32 (and, for normlab export, I8, U8, I16, I32), in the order given,
// and pad the header with spaces to a multiple of 8 bytes (as the Python writer does) so that the
// data is aligned. writeSafetensors replaces a file atomically (src/util/files.ts): a crash or a
// full disk leaves the previous file whole.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { writeFileAtomic } from '../util/files.js';
import { UserError } from './types.js';

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

/** The file's bytes as a Uint8Array (no Node API: the playground builds checkpoints in the browser with it). */
export function safetensorsBytes(tensors: NamedTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const dtype = t.dtype ?? 'F32';
    const bytes = t.data.length * DTYPE_BYTES[dtype];
    header[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const enc = new TextEncoder();
  let json = JSON.stringify(header);
  const pad = (8 - ((8 + enc.encode(json).length) % 8)) % 8;
  json += ' '.repeat(pad);
  const headerBytes = enc.encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const t of tensors) {
    const dtype = t.dtype ?? 'F32', n = t.data.length;
    if (dtype === 'F32') for (let i = 0; i < n; i++) view.setFloat32(pos + 4 * i, t.data[i], true);
    else if (dtype === 'I8') for (let i = 0; i < n; i++) view.setInt8(pos + i, t.data[i]);
    else if (dtype === 'U8') for (let i = 0; i < n; i++) view.setUint8(pos + i, t.data[i]);
    else if (dtype === 'I16') for (let i = 0; i < n; i++) view.setInt16(pos + 2 * i, t.data[i], true);
    else for (let i = 0; i < n; i++) view.setInt32(pos + 4 * i, t.data[i], true);
    pos += n * DTYPE_BYTES[dtype];
  }
  return out;
}

export function encodeSafetensors(tensors: NamedTensor[], metadata: Record<string, string> = {}): Buffer {
  const b = safetensorsBytes(tensors, metadata);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export function writeSafetensors(path: string, tensors: NamedTensor[], metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

const badFile = (what: string, why: string) => new UserError(`${what} is not a valid safetensors file: ${why}`);

/** The header length n from a file's first 8 bytes (`first`), checked against the file size. */
function headerLength(first: Buffer, fileBytes: number, what: string): number {
  if (fileBytes < 8) throw badFile(what, `only ${fileBytes} bytes`);
  const n = Number(first.readBigUInt64LE(0));
  if (n > fileBytes - 8) throw badFile(what, `header length ${n} exceeds the file (${fileBytes} bytes): truncated or corrupt`);
  return n;
}

/** The JSON header (n bytes); `__metadata__` taken out as the metadata. */
function parseHeader(bytes: Buffer, what: string): { header: Record<string, unknown>; metadata: Record<string, string> } {
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw badFile(what, 'the JSON header does not parse');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw badFile(what, 'the header is not a JSON object');
  const { __metadata__: meta, ...rest } = header;
  return { header: rest, metadata: (meta ?? {}) as Record<string, string> };
}

/** Only the header of a safetensors file (its tensor table and metadata), without reading the data.
 * noFollow: refuse a symbolic link, and do not block on a FIFO (for files found by walking folders). */
export function readSafetensorsHeader(path: string, opts: { noFollow?: boolean } = {}): { header: Record<string, unknown>; metadata: Record<string, string> } {
  const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fs.constants;
  const fd = fs.openSync(path, opts.noFollow ? O_RDONLY | O_NOFOLLOW | O_NONBLOCK : 'r');
  try {
    const first = Buffer.alloc(8), size = fs.fstatSync(fd).size;
    fs.readSync(fd, first, 0, 8, 0);
    const n = headerLength(first, size, path), head = Buffer.alloc(n);
    if (fs.readSync(fd, head, 0, n, 8) !== n) throw badFile(path, 'the header could not be read whole');
    return parseHeader(head, path);
  } finally {
    fs.closeSync(fd);
  }
}

/** Parse a safetensors file; every malformation is a UserError naming the file and the problem. */
export function decodeSafetensors(buf: Buffer, what: string): { tensors: Map<string, LoadedTensor>; metadata: Record<string, string> } {
  const bad = (why: string) => badFile(what, why);
  const n = headerLength(buf, buf.length, what);
  const { header, metadata } = parseHeader(buf.subarray(8, 8 + n), what);
  const dataStart = 8 + n, dataLen = buf.length - dataStart;
  const tensors = new Map<string, LoadedTensor>();
  for (const [name, entry] of Object.entries(header)) {
    const e = entry as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    if (!e || typeof e.dtype !== 'string' || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) {
      throw bad(`entry ${name} lacks dtype, shape or data_offsets`);
    }
    const [begin, end] = e.data_offsets;
    const count = e.shape.reduce((a, b) => a * b, 1);
    const width = DTYPE_BYTES[e.dtype];
    if (!width) throw bad(`tensor ${name} has unknown dtype ${e.dtype}`);
    if (!(begin >= 0 && end >= begin && end <= dataLen)) throw bad(`tensor ${name} lies outside the file: truncated or corrupt`);
    if (end - begin !== count * width) throw bad(`tensor ${name}: shape [${e.shape}] of ${e.dtype} needs ${count * width} bytes, has ${end - begin}`);
    const data = new Float32Array(count);
    const base = dataStart + begin;
    if (e.dtype === 'F32' && LE && (buf.byteOffset + base) % 4 === 0) data.set(new Float32Array(buf.buffer, buf.byteOffset + base, count));
    else if (e.dtype === 'F32') for (let i = 0; i < count; i++) data[i] = buf.readFloatLE(base + 4 * i);
    else if (e.dtype === 'F64') for (let i = 0; i < count; i++) data[i] = buf.readDoubleLE(base + 8 * i);
    else if (e.dtype === 'F16') for (let i = 0; i < count; i++) data[i] = halfToFloat(buf.readUInt16LE(base + 2 * i));
    else if (e.dtype === 'BF16') for (let i = 0; i < count; i++) data[i] = bf16ToFloat(buf.readUInt16LE(base + 2 * i));
    else throw bad(`tensor ${name} has dtype ${e.dtype}; normlab reads F32, F64, F16 and BF16`);
    tensors.set(name, { shape: e.shape, data });
  }
  return { tensors, metadata };
}

export function readSafetensors(path: string): { tensors: Map<string, LoadedTensor>; metadata: Record<string, string> } {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(path);
  } catch (e) {
    throw new UserError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
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
