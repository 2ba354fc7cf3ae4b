// A hostile checkpoint file (docs/safety.md): safetensors headers and checkpoint metadata are
// checked before anything is done with them, and a seeded fuzz of both never gives a stack, a hang
// or unbounded memory: each input is refused with a one-line message, or accepted and consistent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeSafetensors, encodeSafetensors, readSafetensors } from '../src/engine/safetensors.js';
import { UserError } from '../src/util/errors.js';
import { tsBackend } from '../src/engine/kernels/ts/ts-backend.js';
import { GPT } from '../src/model/gpt.js';
import { modelTensors, saveWeights } from '../src/train/checkpoint.js';
import { loadRun } from '../src/sampling.js';
import { runActivations } from '../src/dashboard/curves.js';
import type { RunInfo } from '../src/dashboard/data.js';
import { Rng } from '../src/engine/rng.js';
import { cli, tinyConfig, tmpDir } from './helpers.js';

const HANG = { timeout: 60_000 };

/** A safetensors file from a raw header object and `dataBytes` bytes of data. */
function fileOf(header: unknown, dataBytes: number): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, Buffer.alloc(dataBytes)]);
}

function refusedWith(buf: Buffer, pattern: RegExp): void {
  assert.throws(() => decodeSafetensors(buf, 'x.safetensors'), (e: unknown) => {
    assert.ok(e instanceof UserError, `a UserError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

test('safetensors: data_offsets, shapes and metadata of the wrong type are refused, naming the field', () => {
  const t = (over: Record<string, unknown>) => ({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8], ...over } });
  refusedWith(fileOf(t({ data_offsets: ['0', '8'] }), 8), /data_offsets must be two non-negative integers/);
  refusedWith(fileOf(t({ data_offsets: [0.5, 8.5] }), 9), /data_offsets must be two non-negative integers/);
  refusedWith(fileOf(t({ data_offsets: [0, 8, 16] }), 8), /data_offsets must be two/);
  refusedWith(fileOf(t({ shape: [[65], [32]] }), 8), /shape must be a list of at most 64 non-negative integers/);
  refusedWith(fileOf(t({ shape: [2.5] }), 8), /shape must be a list/);
  refusedWith(fileOf(t({ shape: [-2] }), 8), /shape must be a list/);
  refusedWith(fileOf(t({ dtype: '__proto__' }), 8), /unknown dtype/);
  refusedWith(fileOf({ ...t({}), __metadata__: { config: { n_layer: 2 } } }, 8), /__metadata__ value "config" is not a string/);
  refusedWith(fileOf({ ...t({}), __metadata__: [] }, 8), /__metadata__ is not a map of strings/);
  refusedWith(fileOf({ a: 5 }, 0), /entry "a" is not an object/);
});

test('safetensors: tensors lie end to end and cover the data exactly (no overlap, no gap, nothing after)', () => {
  const two = (b: [number, number], c: [number, number], bytes: number) =>
    fileOf({ b: { dtype: 'F32', shape: [2], data_offsets: b }, c: { dtype: 'F32', shape: [2], data_offsets: c } }, bytes);
  refusedWith(two([0, 8], [4, 12], 12), /overlaps another tensor/);
  refusedWith(two([0, 8], [0, 8], 8), /overlaps another tensor/);
  refusedWith(two([0, 8], [12, 20], 20), /bytes 8 to 12 of the data belong to no tensor/);
  refusedWith(two([0, 8], [8, 16], 24), /cover 16 bytes of data but the file holds 24/);
  // In the file's own order or not, end to end is accepted, and each tensor reads its own bytes.
  const buf = two([8, 16], [0, 8], 16);
  const n = Number(buf.readBigUInt64LE(0));
  buf.writeFloatLE(1.5, 8 + n + 8);
  buf.writeFloatLE(-3, 8 + n);
  const { tensors } = decodeSafetensors(buf, 'x.safetensors');
  assert.equal(tensors.get('b')!.data[0], 1.5);
  assert.equal(tensors.get('c')!.data[0], -3);
});

test('a FIFO or a folder in place of a safetensors file is refused at once, naming what it is', HANG, () => {
  const dir = tmpDir();
  const fifo = path.join(dir, 'resume.ckpt.safetensors');
  execFileSync('mkfifo', [fifo]);
  assert.throws(() => readSafetensors(fifo), (e: unknown) => e instanceof UserError && /is a FIFO \(named pipe\), not a safetensors file/.test(e.message));
  fs.mkdirSync(path.join(dir, 'd.safetensors'));
  assert.throws(() => readSafetensors(path.join(dir, 'd.safetensors')), /is a folder/);
});

/** A tiny whole checkpoint (weights and normlab metadata) and its run folder. */
function tinyRun(over: Record<string, unknown> = {}, meta: Record<string, string> = {}): { dir: string; file: string } {
  const dir = tmpDir();
  const cfg = tinyConfig({ activation_variant: 'learned_spline', lsa_num_knots: 6, ...over });
  const model = new GPT(cfg, tsBackend, { maxB: 1, maxT: 5, seed: 1 });
  const file = path.join(dir, 'ckpt.safetensors');
  saveWeights(file, model, 10, { chars: JSON.stringify(['\n', 'a', 'b', 'c', 'd', 'e', 'f']), ...meta });
  return { dir, file };
}

function runInfo(dir: string, config: Record<string, unknown> | null = null): RunInfo {
  return {
    id: 'r', dir, name: 'r', sweep: null, status: 'done', summary: null, config,
    train: { iter: [], loss: [], lr: [] }, evals: { iter: [], train_loss: [], val_loss: [], krmsnorm_recompute: [] },
    checkpoint: { file: 'ckpt.safetensors', mtime: 0 }, command: null,
  };
}

/** Rewrites a safetensors file's metadata key `key` with `value` (the tensors unchanged). */
function withMetadata(file: string, edit: (m: Record<string, string>) => void): void {
  const { tensors, metadata } = readSafetensors(file);
  edit(metadata);
  fs.writeFileSync(file, encodeSafetensors([...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data })), metadata));
}

test('a small checkpoint claiming lsa_num_knots 5000000 is refused by the dashboard before any curve is drawn', HANG, () => {
  const { dir, file } = tinyRun();
  const ok = runActivations(runInfo(dir));
  assert.equal(ok.groups[0].variant, 'learned_spline');
  withMetadata(file, (m) => { m.config = JSON.stringify({ ...JSON.parse(m.config), lsa_num_knots: 5_000_000 }); });
  assert.ok(fs.statSync(file).size < 64_000);
  const before = Date.now();
  assert.throws(() => runActivations(runInfo(dir)), (e: unknown) =>
    e instanceof UserError && /lsa_num_knots 5000000 but the file holds \d+ values of learned_spline parameters/.test(e.message));
  assert.ok(Date.now() - before < 20_000, 'refused without evaluating 5M knots');
  // The same claim in the run's state.json (no config in the file) is bounded the same way.
  withMetadata(file, (m) => { delete m.config; });
  assert.throws(() => runActivations(runInfo(dir, { ...tinyConfig(), activation_variant: 'learned_spline', lsa_num_knots: 5_000_000 })),
    /lsa_num_knots 5000000 but the file holds/);
  // Knots that disagree with the tensors by a little are refused too (the exact shapes are compared).
  withMetadata(file, (m) => { m.config = JSON.stringify({ ...tinyConfig(), activation_variant: 'learned_spline', lsa_num_knots: 7 }); });
  assert.throws(() => runActivations(runInfo(dir)), /parameter x_vals the shape \[7\] but h\.0 holds 6 values/);
});

test('malformed checkpoint metadata gives one line naming the file, in sample and in the dashboard', () => {
  const cases: [string, (m: Record<string, string>) => void, RegExp][] = [
    ['config not JSON', (m) => { m.config = 'not json'; }, /model config in its metadata is not JSON/],
    ['config null', (m) => { m.config = 'null'; }, /model config in its metadata is null, not an object/],
    ['config a number', (m) => { m.config = '42'; }, /model config in its metadata is a number, not an object/],
    ['config a list', (m) => { m.config = '[1]'; }, /is a list, not an object/],
    ['chars a string', (m) => { m.chars = '"abc"'; }, /vocabulary \(chars\) in its metadata is not a JSON list of strings/],
    ['n_layer a string', (m) => { m.config = JSON.stringify({ ...JSON.parse(m.config), n_layer: 'two' }); }, /n_layer:? "two"/],
  ];
  for (const [what, edit, pattern] of cases) {
    const { dir, file } = tinyRun();
    withMetadata(file, edit);
    for (const f of [() => loadRun(dir, { backend: 'ts' }), ...(what.startsWith('chars') ? [] : [() => runActivations(runInfo(dir))])]) {
      assert.throws(f, (e: unknown) => {
        assert.ok(e instanceof UserError, `${what}: a UserError, got ${String(e)}`);
        assert.match(e.message, pattern, what);
        assert.ok(e.message.includes(file), `${what}: names the file`);
        assert.ok(!e.message.includes('\n'), `${what}: one line`);
        return true;
      });
    }
  }
});

test('non-finite resume weights are reported as a corrupt file when loaded, not as divergence', () => {
  const { file } = tinyRun({ activation_variant: 'gelu' });
  const { tensors } = readSafetensors(file);
  tensors.get('transformer.h.0.mlp.c_fc.weight')!.data[3] = NaN;
  const model = new GPT(tinyConfig(), tsBackend, { maxB: 1, maxT: 5, seed: 1 });
  assert.throws(() => loadWeightsOf(model, tensors, file), (e: unknown) =>
    e instanceof UserError && /is corrupt: tensor transformer\.h\.0\.mlp\.c_fc\.weight holds NaN values \(first at index 3\)/.test(e.message));
});

import { loadWeights } from '../src/train/checkpoint.js';
const loadWeightsOf = loadWeights;

// ---- the fuzz ------------------------------------------------------------------------------------

const JUNK: unknown[] = [null, true, -1, 0, 1, 2.5, 1e300, -1e300, 2 ** 53, 5_000_000, '', 'x', '0', '8', [], [0], [[65], [32]],
  [0, 8], ['0', '8'], [8, 0], {}, { a: 1 }, '__proto__', 'F32', 'F64', 'I64', 'BF16'];

function pick<T>(rng: Rng, xs: readonly T[]): T { return xs[Math.floor(rng.uniform() * xs.length)]; }

/** One mutation of a parsed header: a field replaced by junk, removed, duplicated under another name, or the metadata edited. */
function mutateHeader(h: Record<string, Record<string, unknown>>, rng: Rng): unknown {
  const names = Object.keys(h);
  const name = pick(rng, names);
  if (typeof h[name] !== 'object' || h[name] === null) { h[name] = {}; return h; }
  const r = rng.uniform();
  if (r < 0.5) {
    const field = pick(rng, name === '__metadata__' ? Object.keys(h[name]) : ['dtype', 'shape', 'data_offsets']);
    h[name][field] = pick(rng, JUNK);
  } else if (r < 0.6) delete h[name];
  else if (r < 0.7) h[name + '.copy'] = structuredClone(h[name]);
  else if (r < 0.8) h[name] = pick(rng, JUNK) as Record<string, unknown>;
  else if (name !== '__metadata__' && Array.isArray(h[name].data_offsets)) {
    const o = h[name].data_offsets as number[];
    h[name].data_offsets = [o[0] + Math.round((rng.uniform() - 0.5) * 16), o[1] + Math.round((rng.uniform() - 0.5) * 16)];
  } else h.__metadata__ = pick(rng, JUNK) as Record<string, unknown>;
  return h;
}

/** Mutations of the model config in the metadata: a flag given a junk value. */
const CONFIG_JUNK: unknown[] = [...JUNK, 'learned_spline', 'pfla', 'dact', 'gelu', 'nope', 1e9, 65536, 100_000];

function oneLineOrConsistent(f: () => unknown, what: string): 'refused' | 'accepted' {
  try {
    f();
    return 'accepted';
  } catch (e) {
    if (!(e instanceof UserError)) throw new Error(`${what}: ${String((e as Error)?.stack ?? e)}`);
    assert.ok(!e.message.includes('\n') || /does not fit the model/.test(e.message), `${what}: one line: ${e.message}`);
    assert.ok(e.message.length < 2000, `${what}: a short message`);
    return 'refused';
  }
}

test('fuzz: 4000 seeded mutations of a safetensors file are each refused in one line or read consistently', HANG, () => {
  const { file } = tinyRun();
  const good = fs.readFileSync(file);
  const n = Number(good.readBigUInt64LE(0));
  const header = JSON.parse(good.subarray(8, 8 + n).toString('utf8')) as Record<string, Record<string, unknown>>;
  const data = good.subarray(8 + n);
  const rng = new Rng(2222);
  const seen = { refused: 0, accepted: 0 };
  for (let i = 0; i < 4000; i++) {
    let buf: Buffer;
    const kind = i % 4;
    if (kind === 0 || kind === 1) {
      let h: unknown = structuredClone(header);
      for (let k = 0; k < 1 + (i % 3); k++) if (h && typeof h === 'object') h = mutateHeader(h as Record<string, Record<string, unknown>>, rng);
      const json = Buffer.from(JSON.stringify(h) ?? 'null');
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(json.length));
      buf = Buffer.concat([len, json, data]);
    } else if (kind === 2) {
      buf = Buffer.from(good);
      for (let k = 0; k < 1 + (i % 5); k++) buf[Math.floor(rng.uniform() * Math.min(buf.length, 8 + n))] = Math.floor(rng.uniform() * 256);
    } else {
      buf = good.subarray(0, Math.floor(rng.uniform() * good.length));
    }
    const outcome = oneLineOrConsistent(() => {
      const { tensors, metadata } = decodeSafetensors(buf, 'f.safetensors');
      for (const [name, t] of tensors) {
        assert.equal(t.data.length, t.shape.reduce((a, b) => a * b, 1), `${name}: values match the shape`);
      }
      for (const v of Object.values(metadata)) assert.equal(typeof v, 'string');
    }, `mutation ${i}`);
    seen[outcome]++;
  }
  assert.ok(seen.refused > 1000 && seen.accepted > 50, `both outcomes occur: ${JSON.stringify(seen)}`);
  assert.ok(process.memoryUsage().heapUsed < 1.5e9, 'memory stays bounded');
});

test('fuzz: 1000 seeded mutations of checkpoint metadata are each refused in one line or drawn and sampled consistently', HANG, () => {
  const { dir, file } = tinyRun();
  const { tensors, metadata } = readSafetensors(file);
  const list = [...tensors].map(([name, t]) => ({ name, shape: t.shape, data: t.data }));
  const cfg0 = JSON.parse(metadata.config) as Record<string, unknown>;
  const keys = Object.keys(cfg0);
  const rng = new Rng(3333);
  const seen = { refused: 0, accepted: 0 };
  for (let i = 0; i < 1000; i++) {
    const cfg = { ...cfg0 };
    for (let k = 0; k < 1 + (i % 3); k++) cfg[pick(rng, keys)] = pick(rng, CONFIG_JUNK);
    const meta: Record<string, string> = { ...metadata, config: i % 50 === 7 ? pick(rng, ['', 'null', '{', '[]', '"x"']) : JSON.stringify(cfg) };
    if (i % 7 === 3) meta.chars = pick(rng, ['"ab"', 'null', '[1,2]', '["a"]', '{']);
    fs.writeFileSync(file, encodeSafetensors(list, meta));
    const outcome = oneLineOrConsistent(() => {
      const reply = runActivations(runInfo(dir));
      for (const g of reply.groups) {
        assert.equal(g.initial.length, g.xs.length);
        for (const c of g.curves) assert.equal(c.ys.length, g.xs.length);
      }
    }, `metadata mutation ${i} (activations) ${meta.config}`);
    seen[outcome]++;
    if (i % 10 === 0) {
      oneLineOrConsistent(() => {
        const run = loadRun(dir, { backend: 'ts' });
        assert.equal(modelTensors(run.model).length > 0, true);
      }, `metadata mutation ${i} (sample) ${meta.config}`);
    }
  }
  assert.ok(seen.refused > 100 && seen.accepted > 50, `both outcomes occur: ${JSON.stringify(seen)}`);
  assert.ok(process.memoryUsage().heapUsed < 1.5e9, 'memory stays bounded');
});

test('normlab activations --checkpoint bounds the metadata by the tensors before drawing a curve', HANG, () => {
  const { file } = tinyRun();
  withMetadata(file, (m) => { m.config = JSON.stringify({ ...JSON.parse(m.config), lsa_num_knots: 5_000_000 }); });
  const r = cli(['activations', '--checkpoint', file]);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /lsa_num_knots 5000000 but the file holds only \d+ values/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  withMetadata(file, (m) => { m.config = '[1]'; });
  const list = cli(['activations', '--checkpoint', file]);
  assert.equal(list.code, 1);
  assert.match(list.stderr, /metadata 'config' is not a JSON object/);
});
