// STUB (activations branch): a minimal stand-in for the lead's src/train/checkpoint.ts, written only
// so that src/cli/activations.ts and its test compile and run before the merge. The merge keeps the
// lead's file and drops this one; nothing else here depends on more than the signature below.
// Reads a standard safetensors file (u64 little-endian header length, JSON header, raw data); F32 only.
import { readFileSync } from 'node:fs';
import { UserError } from '../engine/types.js';

export function loadTensors(path: string): {
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
  metadata: Record<string, string>;
} {
  let buf: Buffer;
  try { buf = readFileSync(path); } catch { throw new UserError(`cannot read checkpoint ${path}`); }
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, unknown>;
  const base = 8 + headerLen;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') { metadata = info as Record<string, string>; continue; }
    const { dtype, shape, data_offsets: [b, e] } = info as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (dtype !== 'F32') throw new UserError(`${path}: tensor ${name} has dtype ${dtype}; only F32 is supported`);
    const data = new Float32Array(buf.buffer.slice(buf.byteOffset + base + b, buf.byteOffset + base + e));
    tensors.set(name, { shape, data });
  }
  return { tensors, metadata };
}
