// TensorBoard event files, written without TensorFlow: `out_dir/events.out.tfevents.<time>.<host>`.
//
// The file is a TFRecord stream. Each record is
//   uint64 LE  length of data
//   uint32 LE  masked_crc32c(the 8 length bytes)
//   data       one serialized tensorflow.Event protobuf
//   uint32 LE  masked_crc32c(data)
// with masked_crc32c(b) = rotr15(crc32c(b)) + 0xa282ead8 (mod 2^32), crc32c = CRC-32 Castagnoli
// (reflected polynomial 0x82f63b78). The first record is Event{wall_time, file_version: "brain.Event:2"};
// every scalar is Event{wall_time, step, summary: Summary{value: [Value{tag, simple_value}]}}.
//
// The protobuf fields used (tensorflow/core/util/event.proto, summary.proto), hand-encoded:
//   Event:         1 wall_time double (wire type 1), 2 step int64 (varint), 3 file_version string,
//                  5 summary message
//   Summary:       1 value repeated message
//   Summary.Value: 1 tag string, 2 simple_value float (wire type 5)
//
// Records are buffered and appended to the file whole, with one write per flush: every few seconds,
// when the buffer grows, on close(), and on process exit. A crash loses at most the records not yet
// flushed; the file never holds half a record except when the OS itself dies mid-write (TensorBoard
// skips a truncated last record).
import { closeSync, existsSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { diskError } from '../util/files.js';
import { hostname } from 'node:os';
import { join } from 'node:path';

const FLUSH_MS = 2000;
const FLUSH_BYTES = 64 * 1024;

// crc32c lookup table, built once.
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32c(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function maskedCrc32c(b: Uint8Array): number {
  const c = crc32c(b);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: length, masked crc of the length, data, masked crc of the data. */
export function tfRecord(data: Uint8Array): Buffer {
  const rec = Buffer.alloc(8 + 4 + data.length + 4);
  rec.writeBigUInt64LE(BigInt(data.length), 0);
  rec.writeUInt32LE(maskedCrc32c(rec.subarray(0, 8)), 8);
  rec.set(data, 12);
  rec.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return rec;
}

// Minimal protobuf writer: only the wire types the Event message needs.
class Pb {
  private parts: number[] = [];
  varint(v: bigint): this {
    let u = BigInt.asUintN(64, v); // int64 negatives are 10-byte two's-complement varints
    do {
      let byte = Number(u & 0x7fn);
      u >>= 7n;
      if (u !== 0n) byte |= 0x80;
      this.parts.push(byte);
    } while (u !== 0n);
    return this;
  }
  key(field: number, wire: number): this { return this.varint(BigInt((field << 3) | wire)); }
  double(field: number, v: number): this {
    const b = Buffer.alloc(8); b.writeDoubleLE(v);
    this.key(field, 1).parts.push(...b);
    return this;
  }
  float(field: number, v: number): this {
    const b = Buffer.alloc(4); b.writeFloatLE(v);
    this.key(field, 5).parts.push(...b);
    return this;
  }
  int64(field: number, v: number): this { return this.key(field, 0).varint(BigInt(Math.trunc(v))); }
  bytes(field: number, b: Uint8Array): this {
    this.key(field, 2).varint(BigInt(b.length)).parts.push(...b);
    return this;
  }
  string(field: number, s: string): this { return this.bytes(field, Buffer.from(s, 'utf8')); }
  finish(): Uint8Array { return Uint8Array.from(this.parts); }
}

export function encodeVersionEvent(wallTime: number): Uint8Array {
  return new Pb().double(1, wallTime).string(3, 'brain.Event:2').finish();
}

export function encodeScalarEvent(wallTime: number, step: number, tag: string, value: number): Uint8Array {
  const val = new Pb().string(1, tag).float(2, value).finish();
  const summary = new Pb().bytes(1, val).finish();
  return new Pb().double(1, wallTime).int64(2, step).bytes(5, summary).finish();
}

export class TensorBoardWriter {
  /** Path of the event file this writer appends to. */
  readonly path: string;
  private fd: number | null;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private lastFlush = Date.now();
  private readonly onExit = (): void => { try { this.flush(); } catch { /* exiting: the error was reported */ } };

  constructor(logDir: string) {
    mkdirSync(logDir, { recursive: true });
    const now = Date.now() / 1000;
    // A resumed run gets a new file; TensorBoard reads every event file of a folder in order.
    const base = join(logDir, `events.out.tfevents.${Math.floor(now)}.${hostname()}`);
    let path = base;
    for (let k = 1; existsSync(path); k++) path = `${base}.${k}`;
    this.path = path;
    this.fd = openSync(path, 'a');
    this.pending.push(tfRecord(encodeVersionEvent(now)));
    this.flush();
    process.on('exit', this.onExit);
  }

  /** Queue one scalar; written at the next flush (at most a few seconds later). */
  scalar(tag: string, step: number, value: number): void {
    if (this.fd === null) throw new Error(`TensorBoardWriter: scalar('${tag}') after close()`);
    const rec = tfRecord(encodeScalarEvent(Date.now() / 1000, step, tag, value));
    this.pending.push(rec);
    this.pendingBytes += rec.length;
    if (this.pendingBytes >= FLUSH_BYTES || Date.now() - this.lastFlush >= FLUSH_MS) this.flush();
  }

  /** Append every queued record to the file, in one write. */
  flush(): void {
    this.lastFlush = Date.now();
    if (this.fd === null || this.pending.length === 0) return;
    const buf = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    let off = 0;
    try {
      while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
    } catch (e) {
      throw diskError(e, this.path, buf.length);
    }
  }

  close(): void {
    if (this.fd === null) return;
    this.flush();
    closeSync(this.fd);
    this.fd = null;
    process.removeListener('exit', this.onExit);
  }
}
