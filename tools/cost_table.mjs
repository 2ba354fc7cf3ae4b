#!/usr/bin/env node
// Prints the README's cost table (docs/readme/45-cost.md): every norm and activation at the `small`
// preset (n_embd 128, so norms at C = 128 and activations at H = 512), per token, inference and
// training, from the same counts as `normlab cost --compare`. Run after `npm run build`:
//   node tools/cost_table.mjs
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/normlab.js', import.meta.url));
const run = (extra) => JSON.parse(execFileSync(process.execPath, [bin, 'cost', '--compare', '--n_layer', '4', '--n_head', '4', '--n_embd', '128', '--json', ...extra], { encoding: 'utf8' }));
const CLASSES = ['mul', 'add', 'div', 'sqrt', 'exp', 'erf', 'tanh', 'cmp', 'lut', 'rand'];
const ops = (o) => CLASSES.filter((k) => o[k]).map((k) => `${o[k]} ${k}`).join(', ') || '0';
const total = (o) => CLASSES.reduce((n, k) => n + (o[k] ?? 0), 0);
const red = (rs) => (rs && rs.length ? rs.map((r) => (r.bits === 32 ? `${r.length}` : `${r.length}@${r.bits}b`)).join(' + ') : '-');

const rows = [];
const add = (label, v) => rows.push(`| ${v.kind} | ${label} | ${v.params} | ${ops(v.inference.ops)} | ${red(v.inference.reductions)} | ${total(v.inference.ops)} | ${v.relInference.toFixed(2)}x | ${total(v.training.ops)} | ${v.relTraining.toFixed(2)}x |`);
for (const v of run([]).variants) add(v.name, v);
for (const [label, flags] of [['krmsnorm int8', ['--krmsnorm_quantize_type', 'int8']], ['krmsnorm recompute 0.1', ['--krmsnorm_recompute_percentage', '0.1']], ['prmsnorm pct 0.25', ['--prmsnorm_pct', '0.25']]]) {
  const name = label.split(' ')[0];
  add(label, run(flags).variants.find((v) => v.name === name && v.kind === 'norm'));
}
console.log('| kind | variant | params | inference operations per token | reductions | ops | vs base | training ops | vs base |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
