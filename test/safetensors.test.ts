// The checkpoint file format, byte for byte (what Python's safetensors.torch.load_file expects).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeSafetensors, encodeSafetensors, safetensorsBytes, safetensorsChunks, writeSafetensors } from '../src/engine/safetensors.js';
import { UserError } from '../src/util/errors.js';
import { tmpDir } from './helpers.js';

test('layout: u64 LE header length, JSON header padded to 8 bytes with spaces, raw F32 LE data in order', () => {
  const buf = encodeSafetensors([
    { name: 'a.weight', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) },
    { name: 'b', shape: [], data: Float32Array.from([0.5]) },
  ], { format: 'pt' });
  const n = Number(buf.readBigUInt64LE(0));
  assert.equal((8 + n) % 8, 0, 'data starts 8-byte aligned');
  const headerText = buf.subarray(8, 8 + n).toString('utf8');
  assert.equal(headerText.trimEnd(), '{"__metadata__":{"format":"pt"},"a.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[],"data_offsets":[16,20]}}');
  assert.match(headerText, /^[^ ]*\s*$/, 'padding is trailing spaces');
  assert.equal(buf.length, 8 + n + 20);
  const data = buf.subarray(8 + n);
  assert.deepEqual([0, 4, 8, 12, 16].map((o) => data.readFloatLE(o)), [1, 2, 3, 4, 0.5]);
});

test('round trip, and every kind of corruption is a UserError naming the file', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'x.safetensors');
  writeSafetensors(file, [{ name: 't', shape: [3], data: Float32Array.from([1, -2, 3]) }], { k: 'v' });
  const { tensors, metadata } = decodeSafetensors(fs.readFileSync(file), file);
  assert.deepEqual(Array.from(tensors.get('t')!.data), [1, -2, 3]);
  assert.deepEqual(metadata, { k: 'v' });
  assert.deepEqual(fs.readdirSync(dir), ['x.safetensors'], 'no temporary file left');
  const good = fs.readFileSync(file);
  const corruptions: Buffer[] = [
    good.subarray(0, 4), // shorter than the length field
    good.subarray(0, good.length - 4), // data cut
    Buffer.concat([Buffer.from([255, 255, 0, 0, 0, 0, 0, 0]), good.subarray(8)]), // header length too large
    Buffer.from(good).fill(0x7b, 8, 12), // header JSON broken
  ];
  for (const bad of corruptions) {
    assert.throws(() => decodeSafetensors(bad, 'ckpt.safetensors'), (e: unknown) => e instanceof UserError && /ckpt\.safetensors/.test(e.message));
  }
});

test('safetensorsChunks writes the bytes of safetensorsBytes, the weights from their own memory (no second copy)', () => {
  const a = Float32Array.from([1, -2.5, 3e-8]), b = new Float32Array(8).map((_, i) => i / 3), c = new Float64Array([0.1, 0.2]);
  const tensors = [{ name: 'a', shape: [3], data: a }, { name: 'b', shape: [2, 4], data: b.subarray(0, 8) }, { name: 'c', shape: [2], data: c as unknown as Float32Array }];
  const chunks = [...safetensorsChunks(tensors, { iter: '7' })];
  const joined = Buffer.concat(chunks.map((x) => Buffer.from(x.buffer, x.byteOffset, x.byteLength)));
  assert.deepEqual(new Uint8Array(joined), safetensorsBytes(tensors, { iter: '7' }));
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] === 1) assert.equal(chunks[1].buffer, a.buffer, 'a little-endian float32 tensor is written from its own buffer');
});
