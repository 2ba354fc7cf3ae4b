// The variant contract end to end: a throwaway activation (test/fixtures/variant/softclip.ts, one
// file with its own flag) is dropped into a copy of the compiled program together with one registry
// entry, and nothing else. As a user would: --help lists it and its flag, the parser accepts both and
// the flag's own check refuses a bad value, two training steps, the checkpoint keeps the flag,
// `sample`, the `activations` curve (initial and learned), and a sweep over its flag.
// A second one (test/fixtures/variant/signsq.ts) has a native and a wasm kernel: its file, its
// registry entry and one row per kernel table, built in the copy by the project's build scripts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { ROOT, TINY_MODEL, tinyData, tmpDir } from './helpers.js';
import { loadTensors } from '../src/train/checkpoint.js';
import { nativeBackendError } from '../src/engine/kernels/native/native-backend.js';
import type { Backend } from '../src/engine/backend.js';
import type { Variant } from '../src/nn/variant.js';

// The kernel test needs a C compiler, as the native backend does (the wasm module is always built).
const nativeSkip: string | false = nativeBackendError() ? `native backend not built (${nativeBackendError()})` : false;

/** A copy of the built program (bin/, dist/src/, package.json, and `more` folders) with the
 * activation `name` of test/fixtures/variant/<name>.ts added the way a contributor would: its file
 * (its import of the contract as it reads from src/nn/activations/) and its registry entry. */
function programWith(name: string, more: string[] = []): string {
  const root = tmpDir('normlab-variant-');
  for (const d of ['bin', 'dist/src', ...more]) fs.cpSync(path.join(ROOT, d), path.join(root, d), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(root, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  const acts = path.join(root, 'dist', 'src', 'nn', 'activations');
  const file = fs.readFileSync(path.join(ROOT, 'dist', 'test', 'fixtures', 'variant', `${name}.js`), 'utf8');
  fs.writeFileSync(path.join(acts, `${name}.js`), file.replace('../../../src/nn/variant.js', '../variant.js'));
  const index = path.join(acts, 'activation-registry.js');
  const reg = fs.readFileSync(index, 'utf8');
  assert.match(reg, /const registry = \{\n/);
  fs.writeFileSync(index, `import { ${name} } from './${name}.js';\n` + reg.replace('const registry = {\n', `const registry = {\n    ${name},\n`));
  return root;
}

test('a new variant is one file plus one registry entry: help, flags, train, checkpoint, sample, activations, sweep', () => {
  const root = programWith('softclip'), data = tinyData(), work = tmpDir();
  const run = (args: string[]) => {
    const r = spawnSync(process.execPath, [path.join(root, 'bin', 'normlab.js'), ...args], { encoding: 'utf8', cwd: work });
    return { code: r.status ?? -1, out: r.stdout + r.stderr };
  };
  try {
    const help = run(['train', '--help']);
    assert.equal(help.code, 0, help.out);
    assert.match(help.out, /--activation_variant NAME[\s\S]*softclip/);
    assert.match(help.out, /--softclip_limit FLOAT\s+softclip: output bound \(default: 3\)/);
    assert.match(help.out, /--dact_activation NAME[\s\S]*softclip/, 'dact takes it as its inner activation too');

    const bad = run(['train', '--activation_variant', 'softclip', '--softclip_limit', '-1', '--data_dir', data, ...TINY_MODEL]);
    assert.equal(bad.code, 1);
    assert.match(bad.out, /--softclip_limit is -1; it must be > 0/);
    assert.doesNotMatch(bad.out, /\n\s+at /, 'a message, not a stack trace');

    const out = path.join(work, 'run');
    const flags = ['--activation_variant', 'softclip', '--softclip_limit', '2.5', '--backend', 'ts', '--data_dir', data, ...TINY_MODEL];
    const tr = run(['train', ...flags, '--max_iters', '2', '--eval_interval', '2', '--out_dir', out]);
    assert.equal(tr.code, 0, tr.out);
    const { tensors, metadata } = loadTensors(path.join(out, 'ckpt.safetensors'));
    const saved = JSON.parse(metadata.config) as Record<string, unknown>;
    assert.equal(saved.softclip_limit, 2.5, 'the flag is in the checkpoint metadata');
    assert.equal(saved.activation_variant, 'softclip');
    const scale = tensors.get('transformer.h.0.mlp.activation_variant.scale');
    assert.ok(scale, `the learned parameter is saved (${[...tensors.keys()].join(', ')})`);

    const sample = run(['sample', '--out_dir', out, '--data_dir', data, '--num_samples', '1', '--max_new_tokens', '8', '--backend', 'ts']);
    assert.equal(sample.code, 0, sample.out);
    assert.ok(sample.out.trim().length > 0);

    const curve = run(['activations', '--checkpoint', path.join(out, 'ckpt.safetensors'), '--xmin', '-5', '--xmax', '5', '--points', '3']);
    assert.equal(curve.code, 0, curve.out);
    const [header, ...rows] = curve.out.trim().split('\n');
    assert.equal(header, 'x,initial,learned');
    assert.deepEqual(rows.map((r) => Number(r.split(',')[0])), [-5, 0, 5]);
    const [, initial, learned] = rows[2].split(',').map(Number);
    assert.ok(Math.abs(initial - 2.5 * Math.tanh(2)) < 1e-6, `initial curve at 5 uses the saved limit 2.5: ${initial}`);
    assert.ok(Math.abs(learned - scale!.data[0] * 2.5 * Math.tanh(2)) < 1e-5, `learned curve uses the saved scale: ${learned}`);
    assert.notEqual(scale!.data[0], 1, 'two AdamW steps moved the scale');

    const sweepFile = path.join(work, 'softclip.json');
    fs.writeFileSync(sweepFile, JSON.stringify({ activation_variant: 'softclip', softclip_limit: [1.5, 4] }));
    const sw = run(['sweep', sweepFile, '--sweep_dir', path.join(work, 'sweep'), '--quiet', ...flags.slice(4), '--max_iters', '2', '--eval_interval', '2']);
    assert.equal(sw.code, 0, sw.out);
    const results = fs.readFileSync(path.join(work, 'sweep', 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(results.map((r) => r.config?.softclip_limit ?? r.softclip_limit).sort(), [1.5, 4]);
  } finally {
    for (const d of [root, data, work]) fs.rmSync(d, { recursive: true, force: true });
  }
});

// The kernel rows of signsq (test/fixtures/variant/signsq.ts): one per table, as a contributor writes them.
const SIGNSQ_NATIVE_ROW = '  X(signsq, "signsq", PAR_GRAIN, 0, NOLIB, x * fabsf(x), 0, NOLIB, d + g * (2.0f * fabsf(x))) \\';
const SIGNSQ_WASM_ROW = `
@final class Signsq {
  @inline f(x: v128): v128 { return f32x4.mul(x, f32x4.abs(x)); }
  @inline b(x: v128, g: v128, d: v128): v128 { return f32x4.add(d, f32x4.mul(g, f32x4.mul(f32x4.splat(2), f32x4.abs(x)))); }
}
export function signsqForward(out: usize, x: usize, n: i32, chunk: i32, nChunks: i32): void { forward<Signsq>(out, x, n, chunk, nChunks); }
export function signsqBackward(dx: usize, dout: usize, x: usize, n: i32, chunk: i32, nChunks: i32): void { backward<Signsq>(dx, dout, x, n, chunk, nChunks); }
`;

/** A copy of the program with its sources (native/, wasm/assembly, scripts/) and signsq added: its
 * file, its registry entry and one row per kernel table; the addon and the module are built there
 * with the project's own scripts. */
function programWithSignsq(): string {
  const root = programWith('signsq', ['scripts', 'native/src', 'wasm/assembly']);
  fs.copyFileSync(path.join(ROOT, 'native', 'binding.gyp'), path.join(root, 'native', 'binding.gyp'));
  const table = path.join(root, 'native', 'src', 'elementwise.h'), h = fs.readFileSync(table, 'utf8');
  assert.match(h, /#define NL_ELEMENTWISE\(X\) \\\n/);
  fs.writeFileSync(table, h.replace('#define NL_ELEMENTWISE(X) \\\n', `#define NL_ELEMENTWISE(X) \\\n${SIGNSQ_NATIVE_ROW}\n`));
  fs.appendFileSync(path.join(root, 'wasm', 'assembly', 'elementwise.ts'), SIGNSQ_WASM_ROW);
  for (const script of ['build-native.mjs', 'build-wasm.mjs']) {
    const r = spawnSync(process.execPath, [path.join(root, 'scripts', script), '--strict', '--force'], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, `${script}: ${r.stdout}${r.stderr}`);
  }
  return root;
}

test('a new activation with a native and a wasm kernel is one file, one registry entry and one row per kernel table: both backends train with its kernels', { skip: nativeSkip }, async () => {
  const root = programWithSignsq(), data = tinyData(), work = tmpDir();
  try {
    // In this process: the copy's backends find the rows, and the kernels match the TypeScript code.
    const url = (f: string) => pathToFileURL(path.join(root, 'dist', 'src', f)).href;
    const { activations: acts } = await import(url('nn/activations/activation-registry.js'));
    const { loadNativeBackend } = await import(url('engine/kernels/native/native-backend.js'));
    const { loadWasmBackend } = await import(url('engine/kernels/wasm/node-loader.js'));
    const v = acts.signsq as Variant;
    const n = 1003, x = new Float32Array(n).map((_, i) => Math.sin(i * 0.7) * 3), dout = new Float32Array(n).map((_, i) => Math.cos(i));
    const want = new Float32Array(n), wantDx = new Float32Array(n).fill(0.5);
    v.forward(want, x, {}, {}, 1, n, {} as never, {} as never);
    v.backward(wantDx, {}, dout, x, {}, {}, 1, n, {} as never, {} as never);
    for (const be of [loadNativeBackend(), loadWasmBackend()] as Backend[]) {
      const k = v.fused!(be);
      assert.ok(k, `${be.name}: signsq has a kernel`);
      const got = new Float32Array(n), gotDx = new Float32Array(n).fill(0.5);
      k.forward(got, x, {}, {}, 1, n, {} as never, {} as never);
      k.backward(gotDx, {}, dout, x, {}, {}, 1, n, {} as never, {} as never);
      assert.deepEqual(got, want, `${be.name} forward: x |x| rounds once, as the TypeScript code`);
      for (let i = 0; i < n; i++) assert.ok(Math.abs(gotDx[i] - wantDx[i]) <= 1e-6 * (1 + Math.abs(wantDx[i])), `${be.name} backward at ${i}`);
    }
    // As a user: training on native and wasm with the TypeScript code refusing to run.
    for (const backend of ['native', 'wasm']) {
      const r = spawnSync(process.execPath, [path.join(root, 'bin', 'normlab.js'), 'train', '--activation_variant', 'signsq', '--backend', backend,
        '--data_dir', data, ...TINY_MODEL, '--max_iters', '2', '--eval_interval', '2', '--out_dir', path.join(work, backend)],
      { encoding: 'utf8', cwd: work, env: { ...process.env, NORMLAB_TEST_NO_TS_SIGNSQ: '1' } });
      assert.equal(r.status, 0, `${backend}: ${r.stdout}${r.stderr}`);
      assert.ok(fs.existsSync(path.join(work, backend, 'ckpt.safetensors')));
    }
  } finally {
    for (const d of [root, data, work]) fs.rmSync(d, { recursive: true, force: true });
  }
});
