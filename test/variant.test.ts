// The variant contract end to end: a throwaway activation (test/fixtures/variant/softclip.ts, one
// file with its own flag) is dropped into a copy of the compiled program together with one registry
// entry, and nothing else. As a user would: --help lists it and its flag, the parser accepts both and
// the flag's own check refuses a bad value, two training steps, the checkpoint keeps the flag,
// `sample`, the `activations` curve (initial and learned), and a sweep over its flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT, TINY_MODEL, tinyData, tmpDir } from './helpers.js';
import { loadTensors } from '../src/train/checkpoint.js';

/** A copy of the built program (bin/, dist/src/) with softclip added the way a contributor would. */
function programWithSoftclip(): string {
  const root = tmpDir('normlab-variant-');
  fs.cpSync(path.join(ROOT, 'bin'), path.join(root, 'bin'), { recursive: true });
  fs.cpSync(path.join(ROOT, 'dist', 'src'), path.join(root, 'dist', 'src'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(root, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  const acts = path.join(root, 'dist', 'src', 'nn', 'activations');
  // The one file (its import of the contract as it reads from src/nn/activations/)...
  const file = fs.readFileSync(path.join(ROOT, 'dist', 'test', 'fixtures', 'variant', 'softclip.js'), 'utf8');
  fs.writeFileSync(path.join(acts, 'softclip.js'), file.replace('../../../src/nn/variant.js', '../variant.js'));
  // ...and the registry entry.
  const index = path.join(acts, 'activation-registry.js');
  const reg = fs.readFileSync(index, 'utf8');
  assert.match(reg, /const registry = \{\n/);
  fs.writeFileSync(index, `import { softclip } from './softclip.js';\n` + reg.replace('const registry = {\n', 'const registry = {\n    softclip,\n'));
  return root;
}

test('a new variant is one file plus one registry entry: help, flags, train, checkpoint, sample, activations, sweep', () => {
  const root = programWithSoftclip(), data = tinyData(), work = tmpDir();
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
