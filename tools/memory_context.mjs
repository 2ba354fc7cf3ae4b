#!/usr/bin/env node
// The README's memory-against-context figure and table (docs/readme/42-memory.md): GPT-2 124M width
// (12 x 768, vocab 50,304) trained one iteration at block T = 256 .. 4096 with batch x block fixed at
// 4,096 tokens, native backend, 2 threads, layernorm + gelu, dropout 0. Each block size runs in its
// own `normlab bench --memory --json` process (its peak RSS is that run's alone); the estimate's
// activation parts come with it. Run after the build, from the repository root:
//   node tools/memory_context.mjs run [--data_dir D]   # the runs -> docs/img/memory-context.json (slow)
//   node tools/memory_context.mjs plot                 # docs/img/memory-context.svg + the markdown table
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const json = path.join(root, 'docs/img/memory-context.json'), svgFile = path.join(root, 'docs/img/memory-context.svg');
const BLOCKS = [256, 512, 1024, 2048, 4096], TOKENS = 4096, L = 12, NH = 12, C = 768;
const MB = 2 ** 20;
const [mode = 'plot', ...rest] = process.argv.slice(2);

function run() {
  const at = rest.indexOf('--data_dir'), dataDir = at >= 0 ? rest[at + 1] : 'data';
  const rows = [];
  for (const T of BLOCKS) {
    const out = path.join(os.tmpdir(), `normlab-memory-context-${T}.json`);
    const args = ['bin/normlab.js', 'bench', '--preset', 'default', '--n_layer', `${L}`, '--n_head', `${NH}`, '--n_embd', `${C}`,
      '--block_size', `${T}`, '--batch_size', `${TOKENS / T}`, '--data_dir', dataDir, '--dataset', 'shakespeare', '--vocab_multiple', '64',
      '--norm_variant_attn', 'layernorm', '--norm_variant_output', 'layernorm', '--activation_variant', 'gelu', '--dropout', '0',
      '--backend', 'native', '--warmup', '0', '--iters', '1', '--sample_tokens', '0', '--memory', '--json', out];
    const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) throw new Error(`block ${T}: normlab bench exited ${r.status}`);
    const row = JSON.parse(fs.readFileSync(out, 'utf8')).rows[0];
    const act = row.memory.parts.filter((p) => p.name.startsWith('activations')).reduce((s, p) => s + p.bytes, 0);
    rows.push({ block: T, batch: TOKENS / T, peak_rss_mb: Math.round(row.peak_rss_mb), estimate_mb: Math.round(row.memory.bytes / MB),
      activations_mb: Math.round(act / MB), ms_per_iter: Math.round(row.ms_per_iter), cpu_ms_per_iter: Math.round(row.cpu_ms_per_iter) });
    console.log(JSON.stringify(rows.at(-1)));
  }
  const cpu = fs.readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? os.cpus()[0]?.model;
  fs.writeFileSync(json, JSON.stringify({ command: `node tools/memory_context.mjs run --data_dir ${dataDir}`, cpu, date: new Date().toISOString(), rows }, null, 1) + '\n');
}

/** What attention would keep if it stored its probabilities (B x NH x T x T floats per layer, as before
 * issue 27), for the same runs: the line that grows with the block. */
const storedTT = (T) => (L * (TOKENS / T) * NH * T * T * 4) / MB;

function plot() {
  const { rows } = JSON.parse(fs.readFileSync(json, 'utf8'));
  const W = 720, H = 400, Lm = 70, R = 190, Tm = 20, B = 50;
  const lx = (T) => Math.log2(T), x0 = lx(BLOCKS[0]) - 0.3, x1 = lx(BLOCKS.at(-1)) + 0.3;
  const y1 = Math.ceil(Math.max(...rows.map((r) => r.peak_rss_mb + storedTT(r.block))) / 2000) * 2000;
  const X = (T) => Lm + (lx(T) - x0) / (x1 - x0) * (W - Lm - R), Y = (y) => Tm + (y1 - y) / y1 * (H - Tm - B);
  const svg = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<line x1="${Lm}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${Lm}" y1="${Tm}" x2="${Lm}" y2="${H - B}" stroke="black"/>`,
    `<text x="${(Lm + W - R) / 2}" y="${H - 12}" text-anchor="middle">block (context, tokens); batch x block = ${TOKENS}</text>`,
    `<text transform="translate(16 ${(Tm + H - B) / 2}) rotate(-90)" text-anchor="middle">MiB</text>`];
  for (const T of BLOCKS) svg.push(`<text x="${X(T)}" y="${H - B + 14}" text-anchor="middle">${T}</text>`);
  for (let y = 0; y <= y1; y += y1 / 5) {
    svg.push(`<line x1="${Lm}" y1="${Y(y)}" x2="${W - R}" y2="${Y(y)}" stroke="#ddd"/><text x="${Lm - 4}" y="${Y(y) + 4}" text-anchor="end">${Math.round(y)}</text>`);
  }
  const series = [
    ['peak RSS (measured)', '#1b7837', (r) => r.peak_rss_mb],
    ['activations (estimate)', '#2166ac', (r) => r.activations_mb],
    ['+ stored T x T probabilities', '#b2182b', (r) => r.peak_rss_mb + storedTT(r.block)],
  ];
  series.forEach(([label, color, f], i) => {
    svg.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${rows.map((r) => `${X(r.block)},${Y(f(r))}`).join(' ')}"/>`);
    for (const r of rows) svg.push(`<circle cx="${X(r.block)}" cy="${Y(f(r))}" r="3" fill="${color}"/>`);
    svg.push(`<text x="${W - R + 10}" y="${Tm + 12 + 16 * i}" fill="${color}">${label}</text>`);
  });
  svg.push(`<text x="${W - R + 10}" y="${Tm + 70}" fill="#555">GPT-2 124M width, 1 iteration,</text>`,
    `<text x="${W - R + 10}" y="${Tm + 84}" fill="#555">native, 2 threads</text></svg>`);
  fs.writeFileSync(svgFile, svg.join('\n') + '\n');
  console.log('| block | batch | peak RSS (MiB) | estimate (MiB) | activations, estimate (MiB) | stored T x T would add (MiB) |\n|---|---|---|---|---|---|');
  const f = (n) => Math.round(n).toLocaleString('en-US');
  for (const r of rows) console.log(`| ${f(r.block)} | ${r.batch} | ${f(r.peak_rss_mb)} | ${f(r.estimate_mb)} | ${f(r.activations_mb)} | ${f(storedTT(r.block))} |`);
}

if (mode === 'run') { run(); plot(); } else if (mode === 'plot') plot();
else { console.error('usage: node tools/memory_context.mjs run [--data_dir D] | plot'); process.exit(2); }
