// A variant file owns all of its implementations (docs/readme/50-development.md): outside the variants'
// own folders (src/nn/norms, src/nn/activations, src/nn/softmax: the variant files and the helpers
// several of them share) and the backends' raw kernel tables (src/engine/kernels), no code in src/ names a variant
// (a quoted registry key) or reads a variant's parameter or saved buffer (p.gain, s.rrms,
// p['activation.weight'], ...). Comments may name them. The few exceptions are listed with their reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './helpers.js';
import { norms } from '../src/nn/norms/norm-registry.js';
import { activations } from '../src/nn/activations/activation-registry.js';
import { defaultConfig } from '../src/config/config.js';
import type { Registry } from '../src/nn/variant.js';

// The variant folders (softmax variants are a family of their own, whose parameters may share names) and the kernel tables.
const OWNERS = ['src/nn/norms/', 'src/nn/activations/', 'src/nn/softmax/', 'src/engine/kernels/'];

/** "file: what" -> why it may stay. */
const ALLOWED: Record<string, string> = {
  'src/config/flags.ts: variant rmsnorm': 'the default of --norm_variant_attn / --norm_variant_output (the reference\'s)',
  'src/config/flags.ts: variant gelu': 'the default of --activation_variant (the reference\'s)',
  'src/cli/bench.ts: variant rmsnorm': 'the PyTorch baseline (tools/torch_nanogpt.py) has exactly rmsnorm and layernorm',
  'src/cli/bench.ts: variant layernorm': 'the PyTorch baseline (tools/torch_nanogpt.py) has exactly rmsnorm and layernorm',
  'src/sweep/grammar.ts: variant krmsnorm': 'an example in an error message',
  'src/nn/op-cost.ts: variant tanh': 'the operation class tanh of docs/cost.md, not the variant',
  'src/sweep/runs.ts: layernorm.mean': 'a statistic\'s mean (s.mean), not layernorm\'s saved buffer',
  'src/dashboard/public/app.js: layernorm.mean': 'a statistic\'s mean (s.mean), not layernorm\'s saved buffer',
  'src/dashboard/curves.ts: learned_spline.x_vals': 'an attention softmax variant without a declared plot range: its knots (x_vals) set it',
  'src/dashboard/curves.ts: pfla.x_vals': 'an attention softmax variant without a declared plot range: its knots (x_vals) set it',
  'src/dashboard/curves.ts: pfla_le.x_vals': 'an attention softmax variant without a declared plot range: its knots (x_vals) set it',
  'src/dashboard/curves.ts: piecewise.x_vals': 'an attention softmax variant without a declared plot range: its knots (x_vals) set it',
};

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(path.join(dir, e.name))
    : /\.(ts|js|html)$/.test(e.name) ? [path.join(dir, e.name)] : []));
}

/** The source without comments (block comments, and // comments outside strings). */
export function withoutComments(s: string): string {
  return s.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** "file: variant NAME" / "file: VARIANT.PARAM" for every place outside the owners that names one. */
export function leaks(files: [string, string][], registries: [string, Registry][]): string[] {
  const cfg = { ...defaultConfig(), bias: true } as Record<string, unknown>;
  const out = new Set<string>();
  for (const [, reg] of registries) {
    for (const [name, v] of Object.entries(reg)) {
      const quoted = new RegExp(`['"\`]${escape(name)}['"\`]`);
      const names = [...Object.keys(v.params(8, cfg as never)), ...Object.keys(v.saved(2, 8, cfg as never))];
      const access = names.map((p) => [p, new RegExp(`\\b(?:p|dp|s)\\.${escape(p)}\\b|\\[['"]${escape(p)}['"]\\]`)] as const);
      for (const [file, text] of files) {
        if (OWNERS.some((o) => file.startsWith(o))) continue;
        if (quoted.test(text)) out.add(`${file}: variant ${name}`);
        for (const [p, re] of access) if (re.test(text)) out.add(`${file}: ${name}.${p}`);
      }
    }
  }
  return [...out].sort();
}

test('leaks finds a quoted variant name and a parameter access outside the variant files, not in comments', () => {
  const files: [string, string][] = [
    ['src/engine/x.ts', withoutComments("// rmsnorm's gain\nf(p.gain, s['rrms']);")],
    ['src/cli/y.ts', withoutComments("const v = 'relu'; /* 'gelu' */")],
    ['src/nn/norms/rmsnorm.ts', "const n = 'rmsnorm'; g(p.gain);"],
  ];
  const found = leaks(files, [['norms', { rmsnorm: norms.rmsnorm }], ['activations', { relu: activations.relu, gelu: activations.gelu }]]);
  assert.deepEqual(found, ['src/cli/y.ts: variant relu', 'src/engine/x.ts: rmsnorm.gain', 'src/engine/x.ts: rmsnorm.rrms']);
});

test('no variant name or variant parameter name appears in src/ outside the variant files and the kernel tables', () => {
  const files = sources(path.join(ROOT, 'src')).map((f): [string, string] =>
    [path.relative(ROOT, f).split(path.sep).join('/'), withoutComments(fs.readFileSync(f, 'utf8'))]);
  const found = leaks(files, [['norms', norms], ['activations', activations]]);
  assert.deepEqual(found.filter((l) => !(l in ALLOWED)), []);
  assert.deepEqual(Object.keys(ALLOWED).filter((l) => !found.includes(l)), [], 'an allowed exception that no longer occurs: remove it from ALLOWED');
});
