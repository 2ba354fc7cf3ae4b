// TEMPORARY STUB (dashboard worktree only): the lead writes the real src/train/checkpoint.ts; the
// merge takes that one. Only the contract signature the dashboard calls is here: a plain
// safetensors reader (8-byte LE header length, JSON header, raw float32 data).
import { readFileSync } from 'node:fs';
import { UserError } from '../engine/types.js';

export function loadTensors(path: string): { tensors: Map<string, { shape: number[]; data: Float32Array }>; metadata: Record<string, string> } {
  const buf = readFileSync(path);
  if (buf.length < 8) throw new UserError(`${path}: not a safetensors file (too short)`);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, unknown>;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') { metadata = info as Record<string, string>; continue; }
    const t = info as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (t.dtype !== 'F32') throw new UserError(`${path}: tensor ${name} is ${t.dtype}, expected F32`);
    const bytes = buf.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]);
    const data = new Float32Array(bytes.length / 4);
    for (let i = 0; i < data.length; i++) data[i] = bytes.readFloatLE(4 * i);
    tensors.set(name, { shape: t.shape, data });
  }
  return { tensors, metadata };
}
