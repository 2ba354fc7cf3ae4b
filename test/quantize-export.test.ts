// normlab export --quantized (src/train/quant-export.ts): the integers, scale and zero point give back
// exactly the weights the quantized forward uses; int4 packs two per byte, ternary is int8.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/engine/rng.js';
import { tsBackend } from '../src/engine/kernels/ts/ts-backend.js';
import { quantMethodId, type QuantMethod } from '../src/engine/quantize.js';
import type { LoadedTensor } from '../src/engine/safetensors.js';
import { exportQuantized, packInt4 } from '../src/train/quant-export.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { cli, tinyConfig, tinyData, tmpDir, TINY_MODEL } from './helpers.js';

test('packInt4: element 2i in the low nibble, 2i+1 in the high one, two\'s complement', () => {
  assert.deepEqual([...packInt4([1, -1, -8, 7, 3])], [0xf1, 0x78, 0x03]);
});

test('export: (q - zero_point) * scale equals the fake-quantized weight of the forward, bit for bit', () => {
  const cfg = tinyConfig({
    linear_variant_attn: 'quantized_linear', linear_variant_mlp: 'quantized_linear', quantize_linear_bits: 6,
    quantize_linear_attn_q_bits: 4, quantize_linear_attn_k_method: 'ternary_quant', quantize_linear_mlp_down_bits: 12,
    quantize_linear_attn_v_method: 'symmetric_quant',
  });
  const rng = new Rng(3), tensors = new Map<string, LoadedTensor>();
  const w = (n: number) => Float32Array.from({ length: n }, () => rng.normal() * 0.1);
  tensors.set('transformer.h.0.attn.c_attn_q.weight', { shape: [8, 8], data: w(64) });
  tensors.set('transformer.h.0.attn.c_attn_k.weight', { shape: [8, 8], data: w(64) });
  tensors.set('transformer.h.0.attn.c_attn_v.weight', { shape: [8, 8], data: w(64) });
  tensors.set('transformer.h.0.mlp.c_proj.weight', { shape: [8, 32], data: w(256) });
  tensors.set('transformer.h.0.pre_ln_attn.gain', { shape: [8], data: w(8) });
  const { out, meta } = exportQuantized(cfg, tensors, 1);
  const byName = new Map(out.map((t) => [t.name, t]));
  const want = { 'transformer.h.0.attn.c_attn_q.weight': ['affine_quant', 4, 'int4_packed'], 'transformer.h.0.attn.c_attn_k.weight': ['ternary_quant', 6, 'int8'],
    'transformer.h.0.attn.c_attn_v.weight': ['symmetric_quant', 6, 'int8'], 'transformer.h.0.mlp.c_proj.weight': ['affine_quant', 12, 'int16'] } as const;
  for (const [name, [method, bits, storage]] of Object.entries(want)) {
    assert.deepEqual(meta[name], { method, bits, storage, shape: tensors.get(name)!.shape });
    const t = byName.get(name)!, n = tensors.get(name)!.data.length;
    let ints: number[] = [...t.data];
    if (storage === 'int4_packed') ints = Array.from({ length: n }, (_, i) => (((t.data[i >> 1] >> ((i & 1) * 4)) & 0xf) ^ 8) - 8);
    const scale = byName.get(`${name}.scale`)!.data[0], zp = byName.get(`${name}.zero_point`)!.data[0];
    const back = Float32Array.from(ints, (q) => Math.fround(Math.fround(q - zp) * scale));
    const fq = new Float32Array(n);
    tsBackend.fakeQuant(fq, tensors.get(name)!.data, null, n, 0, quantMethodId(method as QuantMethod), bits, -1);
    assert.deepEqual([...back], [...fq], name);
  }
  assert.equal(byName.get('transformer.h.0.pre_ln_attn.gain')!.dtype, undefined, 'other parameters stay F32');
});

test('normlab eval --bits: a float32 row and one row per width (JSON), refusals in one line; export writes the file', () => {
  const data = tinyData(), out = tmpDir();
  const tr = cli(['train', ...TINY_MODEL, '--data_dir', data, '--max_iters', '4', '--eval_interval', '4', '--out_dir', out]);
  assert.equal(tr.code, 0, tr.stderr);
  const ckpt = path.join(out, 'ckpt.safetensors');
  const ev = cli(['eval', '--init_from', ckpt, '--data_dir', data, '--dataset', 'tiny', '--batch_size', '2', '--eval_iters', '2',
    '--quantize_mlp_act', '--linear_variant_mlp', 'quantized_linear', '--bits', '8', '2', '--json']);
  assert.equal(ev.code, 0, ev.stderr);
  const rows = ev.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((r) => r.bits), ['float32', 8, 2]);
  assert.equal(rows[0].val_diff, 0);
  assert.ok(rows[1].cost_bit_macs < rows[0].cost_bit_macs && rows[2].cost_bit_macs < rows[1].cost_bit_macs, 'narrower is cheaper');
  const bad = cli(['eval', '--init_from', ckpt, '--data_dir', data, '--dataset', 'tiny', '--quantize_mlp_act_output_bits', '4']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--quantize_mlp_act_output_bits is given but --quantize_mlp_act_output is off/);
  const file = path.join(out, 'q.safetensors');
  const ex = cli(['export', '--init_from', ckpt, '--quantized', '--linear_variant_attn', 'quantized_linear', '--quantize_linear_bits', '4', '--out', file]);
  assert.equal(ex.code, 0, ex.stderr);
  const header = JSON.parse(readFileSync(file).subarray(8, 8 + Number(readFileSync(file).readBigUInt64LE(0))).toString());
  assert.equal(header['transformer.h.0.attn.c_attn_q.weight'].dtype, 'U8');
  assert.equal(JSON.parse(header.__metadata__.quantization)['transformer.h.1.attn.c_proj.weight'].storage, 'int4_packed');
});
