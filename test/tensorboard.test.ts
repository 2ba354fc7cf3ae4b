// TensorBoard event files read back by an independent reader written here: its own bitwise CRC32C
// (no table, unlike the writer), its own protobuf decoder, its own TFRecord framing checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TensorBoardWriter } from '../src/train/tensorboard.js';
import { Rng } from '../src/engine/rng.js';

// ---- independent reader ----

/** CRC-32C, bit by bit: reflected Castagnoli polynomial 0x82f63b78. */
function crc32cBitwise(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc & 1) !== 0 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function mask(crc: number): number {
  const rot = ((crc >>> 15) | (crc << 17)) >>> 0;
  return (rot + 0xa282ead8) % 0x100000000;
}

interface Field { num: number; wire: number; value: bigint | Uint8Array }

function readVarint(b: Uint8Array, pos: { i: number }): bigint {
  let v = 0n, shift = 0n;
  for (;;) {
    const byte = b[pos.i++];
    assert.ok(byte !== undefined, 'varint runs past the end');
    v |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return v;
    shift += 7n;
  }
}

function decodeMessage(b: Uint8Array): Field[] {
  const out: Field[] = [];
  const pos = { i: 0 };
  while (pos.i < b.length) {
    const key = Number(readVarint(b, pos));
    const num = key >> 3, wire = key & 7;
    if (wire === 0) out.push({ num, wire, value: readVarint(b, pos) });
    else if (wire === 1) { out.push({ num, wire, value: b.slice(pos.i, pos.i + 8) }); pos.i += 8; }
    else if (wire === 5) { out.push({ num, wire, value: b.slice(pos.i, pos.i + 4) }); pos.i += 4; }
    else if (wire === 2) {
      const len = Number(readVarint(b, pos));
      out.push({ num, wire, value: b.slice(pos.i, pos.i + len) });
      pos.i += len;
    } else assert.fail(`unexpected wire type ${wire}`);
  }
  assert.equal(pos.i, b.length, 'message overruns its bytes');
  return out;
}

interface Ev { wallTime?: number; step?: number; fileVersion?: string; scalars: { tag: string; value: number }[] }

function view(b: Uint8Array): DataView { return new DataView(b.buffer, b.byteOffset, b.byteLength); }

function decodeEvent(b: Uint8Array): Ev {
  const ev: Ev = { scalars: [] };
  for (const f of decodeMessage(b)) {
    if (f.num === 1) { assert.equal(f.wire, 1); ev.wallTime = view(f.value as Uint8Array).getFloat64(0, true); }
    else if (f.num === 2) { assert.equal(f.wire, 0); ev.step = Number(BigInt.asIntN(64, f.value as bigint)); }
    else if (f.num === 3) { assert.equal(f.wire, 2); ev.fileVersion = new TextDecoder().decode(f.value as Uint8Array); }
    else if (f.num === 5) {
      assert.equal(f.wire, 2);
      for (const v of decodeMessage(f.value as Uint8Array)) {
        assert.equal(v.num, 1, 'Summary has only repeated field 1 (value)');
        let tag = '', value = NaN;
        for (const g of decodeMessage(v.value as Uint8Array)) {
          if (g.num === 1) tag = new TextDecoder().decode(g.value as Uint8Array);
          if (g.num === 2) { assert.equal(g.wire, 5, 'simple_value is a float32'); value = view(g.value as Uint8Array).getFloat32(0, true); }
        }
        ev.scalars.push({ tag, value });
      }
    } else assert.fail(`unexpected Event field ${f.num}`);
  }
  return ev;
}

/** Split a TFRecord file, checking both masked CRCs of every record; the file must end on a record boundary. */
function readRecords(file: Uint8Array): Uint8Array[] {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const recs: Uint8Array[] = [];
  let i = 0;
  while (i < file.length) {
    assert.ok(i + 12 <= file.length, 'truncated record header');
    const len = Number(dv.getBigUint64(i, true));
    assert.equal(dv.getUint32(i + 8, true), mask(crc32cBitwise(file.slice(i, i + 8))), 'length crc');
    assert.ok(i + 12 + len + 4 <= file.length, 'truncated record data');
    const data = file.slice(i + 12, i + 12 + len);
    assert.equal(dv.getUint32(i + 12 + len, true), mask(crc32cBitwise(data)), 'data crc');
    recs.push(data);
    i += 12 + len + 4;
  }
  return recs;
}

function eventsIn(dir: string): { name: string; events: Ev[] } {
  const names = readdirSync(dir).filter((n) => n.startsWith('events.out.tfevents.'));
  assert.equal(names.length, 1, `one event file in ${dir}: ${names.join(', ')}`);
  return { name: names[0], events: readRecords(new Uint8Array(readFileSync(join(dir, names[0])))).map(decodeEvent) };
}

// ---- tests ----

test('crc32c reference value (bitwise reader): "123456789" -> 0xe3069283', () => {
  assert.equal(crc32cBitwise(new TextEncoder().encode('123456789')), 0xe3069283);
});

test('event file: framing, masked CRCs, brain.Event:2 first, then tags, steps and float32 values', () => {
  const dir = mkdtempSync(join(tmpdir(), 'normlab-tb-'));
  try {
    const rng = new Rng(7);
    const written: { tag: string; step: number; value: number }[] = [];
    const w = new TensorBoardWriter(dir);
    for (let it = 0; it < 40; it++) {
      const loss = 4 * rng.nextU32() / 2 ** 32 + 0.5;
      w.scalar('train/loss', it, loss); written.push({ tag: 'train/loss', step: it, value: loss });
      if (it % 10 === 0) {
        w.scalar('val/loss', it, loss + 0.1); written.push({ tag: 'val/loss', step: it, value: loss + 0.1 });
        w.scalar('lr', it, 1e-3 * it); written.push({ tag: 'lr', step: it, value: 1e-3 * it });
        w.scalar('krmsnorm_recompute', it, 0.25); written.push({ tag: 'krmsnorm_recompute', step: it, value: 0.25 });
      }
    }
    w.scalar('train/loss', 2 ** 40 + 3, -1.5); written.push({ tag: 'train/loss', step: 2 ** 40 + 3, value: -1.5 });
    w.close();
    w.close(); // idempotent

    const { name, events } = eventsIn(dir);
    assert.match(name, /^events\.out\.tfevents\.\d{10}\..+/);
    assert.equal(events[0].fileVersion, 'brain.Event:2');
    assert.equal(events[0].scalars.length, 0);
    const now = Date.now() / 1000;
    assert.ok(Math.abs((events[0].wallTime ?? 0) - now) < 3600, 'wall_time is seconds since the epoch');
    assert.equal(events.length, 1 + written.length);
    events.slice(1).forEach((ev, k) => {
      assert.equal(ev.scalars.length, 1);
      assert.equal(ev.step, written[k].step);
      assert.equal(ev.scalars[0].tag, written[k].tag);
      assert.equal(ev.scalars[0].value, Math.fround(written[k].value));
      assert.ok((ev.wallTime ?? 0) >= (events[0].wallTime ?? 0) - 1e-3);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a crashing process leaves whole records only (queued scalars flushed on exit)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'normlab-tb-'));
  try {
    const mod = fileURLToPath(new URL('../src/train/tensorboard.js', import.meta.url));
    const script = `import(${JSON.stringify(mod)}).then(({ TensorBoardWriter }) => {
      const w = new TensorBoardWriter(${JSON.stringify(dir)});
      for (let i = 0; i < 5; i++) w.scalar('train/loss', i, 3 - i / 10);
      throw new Error('simulated crash');
    });`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.notEqual(r.status, 0, 'the child crashed');
    const { events } = eventsIn(dir);
    assert.equal(events[0].fileVersion, 'brain.Event:2');
    assert.deepEqual(events.slice(1).map((e) => e.step), [0, 1, 2, 3, 4]);
    assert.equal(events[5].scalars[0].value, Math.fround(2.6));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('two writers in the same second get two files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'normlab-tb-'));
  try {
    const a = new TensorBoardWriter(dir), b = new TensorBoardWriter(dir);
    assert.notEqual(a.path, b.path);
    a.close(); b.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
