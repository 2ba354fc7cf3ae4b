#!/usr/bin/env node
// The README's softmax sweep figure and table (docs/readme/25-softmax.md): per variant of
// --softmax_variant_attn, the best validation loss over the seeds (mean and 95% t interval) against
// its operations per score (forward, docs/cost.md counts, src/nn/softmax/<variant>.ts) and its row
// reductions. Reads a sweep folder's results.jsonl and sweep.json; writes docs/img/softmax_sweep.svg
// and prints the markdown table; copies the sweep's results.csv to docs/img/softmax_sweep_results.csv.
// --earlier CSV adds a column with another sweep's results (a results.csv), e.g. a shorter run's.
// Run after `npx tsc -p .`:
//   node tools/softmax_sweep_report.mjs sweeps/softmax_variants --earlier docs/img/softmax_sweep_results_150.csv
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { softmaxes } = await import(path.join(root, 'dist/src/nn/softmax/softmax-registry.js'));
const { estimate } = await import(path.join(root, 'dist/src/stats/stats.js'));
const { defaultConfig } = await import(path.join(root, 'dist/src/config/config.js'));
const { totalOps } = await import(path.join(root, 'dist/src/nn/op-cost.js'));

const args = process.argv.slice(2), at = args.indexOf('--earlier');
const earlierCsv = at >= 0 ? args.splice(at, 2)[1] : null;
const dir = args[0] ?? 'sweeps/softmax_variants';
const rows = fs.readFileSync(path.join(dir, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.status === 'ok');
const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'sweep.json'), 'utf8'));
const cfgOf = (name) => ({ ...defaultConfig(), ...(manifest.runs?.find((r) => r.name === name)?.config ?? {}) });
const by = new Map();
for (const r of rows) {
  const v = r.softmax_variant_attn;
  if (!by.has(v)) by.set(v, { losses: [], cfg: cfgOf(r.name) });
  by.get(v).losses.push(r.best_val_loss);
}
const table = [...by].map(([v, { losses, cfg }]) => {
  const c = softmaxes[v].cost(cfg), e = estimate(losses);
  return { v, kind: softmaxes[v].kind(cfg), ops: totalOps(c.forward), red: c.reductions.forward, n: e.n, mean: e.mean, lo: e.lo, hi: e.hi, half: e.half };
}).sort((a, b) => a.mean - b.mean);

// An earlier sweep's results.csv: best val loss per variant (mean, 95% half-width) and its iterations.
const earlier = new Map();
let earlierIters = null;
if (earlierCsv) {
  const [head, ...lines] = fs.readFileSync(earlierCsv, 'utf8').trim().split('\n').map((l) => l.split(','));
  const col = (n) => head.indexOf(n);
  for (const l of lines.filter((l) => l[col('status')] === 'ok')) {
    const v = l[col('softmax_variant_attn')];
    earlier.set(v, [...(earlier.get(v) ?? []), Number(l[col('best_val_loss')])]);
    earlierIters = Number(l[col('iters')]);
  }
}

// SVG: x = operations per score, y = loss; a bar for the interval; labels.
const W = 760, H = 420, L = 60, R = 150, T = 20, B = 50;
const xs = table.map((t) => t.ops), ys = table.flatMap((t) => [t.lo ?? t.mean, t.hi ?? t.mean]);
const x0 = 0, x1 = Math.max(...xs) + 1, y0 = Math.min(...ys) - 0.01, y1 = Math.max(...ys) + 0.01;
const X = (x) => L + (x - x0) / (x1 - x0) * (W - L - R), Y = (y) => T + (y1 - y) / (y1 - y0) * (H - T - B);
const svg = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
  `<rect width="${W}" height="${H}" fill="white"/>`,
  `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
  `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">operations per score (forward; row variants also pay their row reductions)</text>`,
  `<text transform="translate(14 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">best val loss (mean, 95% interval)</text>`];
for (let x = 0; x <= x1; x += 2) svg.push(`<text x="${X(x)}" y="${H - B + 14}" text-anchor="middle">${x}</text>`);
for (let k = 0; k <= 5; k++) { const y = y0 + (y1 - y0) * k / 5; svg.push(`<text x="${L - 4}" y="${Y(y) + 4}" text-anchor="end">${y.toFixed(3)}</text>`); }
table.forEach((t, i) => {
  const color = t.kind === 'elem' ? '#1b7837' : '#762a83', jx = X(t.ops) + ((i % 3) - 1) * 4;
  if (t.lo !== null) svg.push(`<line x1="${jx}" y1="${Y(t.lo)}" x2="${jx}" y2="${Y(t.hi)}" stroke="${color}"/>`);
  svg.push(`<circle cx="${jx}" cy="${Y(t.mean)}" r="3.5" fill="${color}"/>`);
  svg.push(`<text x="${jx + 6}" y="${Y(t.mean) + 4}" fill="${color}">${t.v}</text>`);
});
svg.push(`<text x="${W - R + 10}" y="${T + 10}" fill="#1b7837">elementwise</text><text x="${W - R + 10}" y="${T + 26}" fill="#762a83">row reduction</text></svg>`);
fs.mkdirSync(path.join(root, 'docs/img'), { recursive: true });
fs.writeFileSync(path.join(root, 'docs/img/softmax_sweep.svg'), svg.join('\n') + '\n');
fs.copyFileSync(path.join(dir, 'results.csv'), path.join(root, 'docs/img/softmax_sweep_results.csv'));
const iters = Math.max(...rows.map((r) => r.iters));
const fmt = (e) => `${e.mean.toFixed(4)} ± ${e.half === null ? '-' : e.half.toFixed(4)}`;
const extra = earlierCsv ? ` ${earlierIters} iterations (earlier sweep) |` : '';
console.log(`| variant | kind | ops per score | row reductions | seeds | best val loss after ${iters} iterations (mean ± 95% half-width) |${extra}`);
console.log(`|---|---|---|---|---|---|${earlierCsv ? '---|' : ''}`);
for (const t of table) {
  const e = earlier.get(t.v);
  console.log(`| \`${t.v}\` | ${t.kind} | ${t.ops} | ${t.red} | ${t.n} | ${fmt(t)} |${earlierCsv ? ` ${e ? fmt(estimate(e)) : '-'} |` : ''}`);
}
