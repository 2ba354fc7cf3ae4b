// Dashboard server without a browser: loopback-only binding, 404s, path traversal, Host header
// check, the data and activation endpoints on the fixture sweep, ETag polling, the sample endpoint.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isLoopbackHost, startDashboard, type Dashboard } from '../src/dashboard/server.js';
import { dashboardCommand, parseDashboardArgs } from '../src/cli/dashboard.js';
import { UserError } from '../src/util/errors.js';
import { PFLA_RUN, RUNS, SWEEP, pflaParams, writePflaCheckpoint, writeSafetensors } from '../tools/make-dashboard-fixtures.js';
import { defaultConfig } from '../src/config/config.js';
import { erf } from '../src/engine/math.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/runs/', import.meta.url));
let root = '';
let dash: Dashboard;
let port = 0;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'normlab-dash-'));
  cpSync(FIXTURES, root, { recursive: true });
  writePflaCheckpoint(join(root, SWEEP, PFLA_RUN));
  dash = await startDashboard({
    root, port: 0,
    sample: async (dir, o) => `sample of ${basename(dir)} seed=${o?.seed} n=${o?.maxNewTokens}`,
  });
  port = Number(new URL(dash.url).port);
});

after(async () => {
  await dash.close();
  rmSync(root, { recursive: true, force: true });
});

/** A raw request: the path is sent exactly as written (no client-side normalization). */
function raw(path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

test('loopback check', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'example.com', '::ffff:10.0.0.1', '']) assert.ok(!isLoopbackHost(h), h);
});

test('a non-loopback --host is refused with a clear error', async () => {
  await assert.rejects(startDashboard({ root, host: '0.0.0.0', port: 0 }), (e: unknown) => e instanceof UserError && /not a loopback address/.test(e.message));
  assert.throws(() => parseDashboardArgs(['out', '--host', '192.168.0.2']), (e: unknown) => e instanceof UserError && /192\.168\.0\.2 is not a loopback/.test(e.message));
  await assert.rejects(dashboardCommand([root, '--host=0.0.0.0']), UserError);
  assert.throws(() => parseDashboardArgs(['--port', '99999']), /--port 99999/);
  assert.throws(() => parseDashboardArgs(['--prot', '1']), /unknown option --prot/);
  await assert.rejects(dashboardCommand([join(root, 'missing')]), /does not exist/);
  assert.deepEqual(parseDashboardArgs(['runs', '--port=0', '--host', 'localhost']), { folder: 'runs', port: 0, host: 'localhost', help: false });
});

test('page, assets and uPlot are served', async () => {
  const page = await raw('/');
  assert.equal(page.status, 200);
  assert.match(page.body, /<title>normlab dashboard<\/title>/);
  assert.equal((await raw('/app.js')).status, 200);
  assert.equal((await raw('/style.css')).status, 200);
  const up = await raw('/vendor/uPlot.iife.min.js');
  assert.equal(up.status, 200);
  assert.match(String(up.headers['content-type']), /javascript/);
});

test('unknown paths are 404', async () => {
  for (const p of ['/nope', '/api/nope', '/vendor/uPlot.esm.js', '/vendor/', '/index.htm', '/app.js/x']) {
    assert.equal((await raw(p)).status, 404, p);
  }
  assert.equal((await raw('/api/activations?run=no-such-run')).status, 404);
});

test('path traversal is refused', async () => {
  const probes = ['/../../../../etc/passwd', '/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2f..%2fetc%2fpasswd',
    '/vendor/..%2f..%2fpackage.json', '/vendor/../../package.json', '//etc/passwd', '/%2fetc%2fpasswd',
    `/api/activations?run=${encodeURIComponent('../../../etc')}`, `/api/activations?run=${encodeURIComponent('/etc')}`,
    `/api/activations?run=${encodeURIComponent(`${SWEEP}/../${SWEEP}/${PFLA_RUN}`)}`];
  for (const p of probes) {
    const r = await raw(p);
    assert.equal(r.status, 404, p);
    assert.doesNotMatch(r.body, /root:|"name": "normlab"/, p);
  }
  const s = await raw('/api/sample', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ run: '../..' }) });
  assert.equal(s.status, 404);
});

test('a foreign Host header is refused (DNS rebinding)', async () => {
  assert.equal((await raw('/api/data', { headers: { Host: 'evil.example:8765' } })).status, 403);
  assert.equal((await raw('/api/data', { headers: { Host: `localhost:${port}` } })).status, 200);
});

test('/api/data: runs, curves, results table; ETag polling sees a new log line', async () => {
  const r = await raw('/api/data');
  assert.equal(r.status, 200);
  const d = JSON.parse(r.body);
  assert.equal(d.runs.length, 3);
  for (const run of d.runs) {
    assert.equal(run.sweep, SWEEP);
    assert.equal(run.train.iter.length, 20);
    assert.deepEqual(run.evals.iter, [0, 50, 100, 150, 200]);
  }
  const krms = d.runs.find((x: { name: string }) => x.name === RUNS[1].name);
  assert.equal(krms.evals.krmsnorm_recompute.filter((v: number | null) => v !== null).length, 5);
  assert.equal(d.runs.find((x: { name: string }) => x.name === PFLA_RUN).checkpoint.file, 'ckpt.safetensors');
  assert.equal(d.table.rows.length, 3);
  assert.ok(d.table.rows.every((row: { run: string | null }) => row.run !== null), 'every results row found its run folder');
  for (const c of ['run', 'status', 'best_val_loss', 'norm_variant_attn', 'activation_variant']) assert.ok(d.table.columns.includes(c), c);
  assert.ok(!d.table.columns.includes('out_dir'));

  const etag = String(r.headers.etag);
  assert.equal((await raw('/api/data', { headers: { 'If-None-Match': etag } })).status, 304);
  appendFileSync(join(root, SWEEP, RUNS[0].name, 'log.jsonl'), JSON.stringify({ iter: 210, loss: 1.7, lr: 1e-3, ms: 12 }) + '\n{"iter": 22');
  const r2 = await raw('/api/data', { headers: { 'If-None-Match': etag } });
  assert.equal(r2.status, 200);
  const run0 = JSON.parse(r2.body).runs.find((x: { name: string }) => x.name === RUNS[0].name);
  assert.equal(run0.train.iter.at(-1), 210, 'the complete new line is read, the half-written one skipped');
});

test('/api/activations: learned pfla curves per layer against the initial curve', async () => {
  const r = await raw(`/api/activations?run=${encodeURIComponent(`${SWEEP}/${PFLA_RUN}`)}`);
  assert.equal(r.status, 200);
  const a = JSON.parse(r.body);
  assert.equal(a.checkpoint, 'ckpt.safetensors');
  assert.equal(a.iter, 150);
  assert.equal(a.groups.length, 1);
  const g = a.groups[0];
  assert.equal(g.variant, 'pfla');
  assert.deepEqual(g.curves.map((c: { label: string }) => c.label), ['h.0', 'h.1']);
  assert.equal(g.initial.length, g.xs.length);
  // Inside the knots pfla is the line between neighbouring knots (docs/variants.md).
  const p = pflaParams(1);
  const k = g.xs.findIndex((x: number) => x > p.x_vals[3] && x < p.x_vals[4]);
  assert.ok(k >= 0);
  const t = (g.xs[k] - p.x_vals[3]) / (p.x_vals[4] - p.x_vals[3]);
  const want = p.y_vals[3] + t * (p.y_vals[4] - p.y_vals[3]);
  assert.ok(Math.abs(g.curves[1].ys[k] - want) < 1e-5, `${g.curves[1].ys[k]} vs ${want}`);
  assert.ok(Math.abs(g.curves[1].ys[k] - g.initial[k]) > 1e-3, 'the learned curve differs from the initial one');

  const none = JSON.parse((await raw(`/api/activations?run=${encodeURIComponent(`${SWEEP}/${RUNS[0].name}`)}`)).body);
  assert.equal(none.groups.length, 0);
  assert.match(none.message, /no checkpoint/);
});

test('/api/sample: POST JSON only, calls the sampler with the run folder', async () => {
  const body = JSON.stringify({ run: `${SWEEP}/${PFLA_RUN}`, seed: 7, max_new_tokens: '50' });
  const ok = await raw('/api/sample', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  assert.equal(ok.status, 200);
  assert.equal(JSON.parse(ok.body).text, `sample of ${PFLA_RUN} seed=7 n=50`);
  assert.equal((await raw('/api/sample')).status, 405);
  assert.equal((await raw('/api/sample', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body })).status, 415);
  const bad = await raw('/api/sample', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ run: `${SWEEP}/${PFLA_RUN}`, seed: 'x' }) });
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.body).error, /seed must be a number/);
});

test('/api/activations: dact inner activation per norm slot (with alpha) and gelu_shifted per layer', async () => {
  const root2 = mkdtempSync(join(tmpdir(), 'normlab-dash-'));
  const run = join(root2, 'dact_run');
  mkdirSync(run);
  const cfg = { ...defaultConfig(), vocab_size: 65, n_layer: 1, n_embd: 4, norm_variant_attn: 'dact', norm_variant_output: 'rmsnorm',
    dact_activation: 'pfla', pfla_num_points: 8, pfla_left_bound: -4, pfla_right_bound: 4, activation_variant: 'gelu_shifted' };
  writeFileSync(join(run, 'state.json'), JSON.stringify({ version: 1, config: cfg, iter: 10 }));
  const p = pflaParams(0);
  writeSafetensors(join(run, 'final.safetensors'), {
    'transformer.h.0.pre_ln_attn.alpha': { shape: [1], data: [0.75] },
    'transformer.h.0.pre_ln_attn.activation.x_vals': { shape: [8], data: p.x_vals },
    'transformer.h.0.pre_ln_attn.activation.y_vals': { shape: [8], data: p.y_vals },
    'transformer.h.0.pre_ln_mlp.alpha': { shape: [1], data: [1.25] },
    'transformer.h.0.pre_ln_mlp.activation.x_vals': { shape: [8], data: p.x_vals },
    'transformer.h.0.pre_ln_mlp.activation.y_vals': { shape: [8], data: p.y_vals },
    'transformer.h.0.mlp.activation_variant.shift': { shape: [], data: [0.5] },
  }, { format: 'pt', normlab: '1', iter: '10' });
  const d2 = await startDashboard({ root: root2, port: 0 });
  try {
    const res = await fetch(`${d2.url}api/activations?run=dact_run`);
    assert.equal(res.status, 200);
    const a = await res.json() as { checkpoint: string; groups: { variant: string; xs: number[]; initial: number[]; curves: { label: string; ys: number[] }[] }[]; norm_scalars: { variant: string; slot: string; name: string; value: number }[] };
    assert.equal(a.checkpoint, 'final.safetensors');
    assert.deepEqual(a.groups.map((g) => g.variant), ['gelu_shifted', 'pfla']);
    const [shifted, inner] = a.groups;
    assert.deepEqual(shifted.curves.map((c) => c.label), ['h.0']);
    const k = shifted.xs.findIndex((x) => x > 1);
    const gelu = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));
    assert.ok(Math.abs(shifted.curves[0].ys[k] - gelu(shifted.xs[k] - 0.5)) < 1e-5, 'learned: gelu(x - shift)');
    assert.ok(Math.abs(shifted.initial[k] - gelu(shifted.xs[k])) < 1e-5, 'initial shift 0');
    assert.deepEqual(inner.curves.map((c) => c.label), ['h.0.pre_ln_attn', 'h.0.pre_ln_mlp']);
    assert.deepEqual(a.norm_scalars, [{ variant: 'dact', slot: 'h.0.pre_ln_attn', name: 'alpha', value: 0.75 }, { variant: 'dact', slot: 'h.0.pre_ln_mlp', name: 'alpha', value: 1.25 }]);
  } finally {
    await d2.close();
    rmSync(root2, { recursive: true, force: true });
  }
});

// ---- bounded work per request (docs/safety.md, "A hostile local user") ----------------------------

import { DashboardReader, MAX_CURVE_POINTS } from '../src/dashboard/data.js';
import { spawn } from 'node:child_process';
import { BIN } from './helpers.js';

function longLog(dir: string, n: number, from = 0): void {
  mkdirSync(dir, { recursive: true });
  let text = '';
  for (let i = from; i < from + n; i++) text += JSON.stringify({ iter: i, loss: 4 - i / (n + from), lr: 1e-3, time_ms: 5 }) + '\n';
  appendFileSync(join(dir, 'log.jsonl'), text);
}

test('a long log is read once: later refreshes parse only the appended bytes, and each curve carries at most MAX_CURVE_POINTS', { timeout: 60_000 }, async () => {
  const root2 = mkdtempSync(join(tmpdir(), 'normlab-dash-'));
  try {
    const run = join(root2, 'long');
    longLog(run, 20_000);
    const reader = new DashboardReader(root2);
    const first = await reader.read();
    const t = first.runs[0].train;
    assert.equal(t.iter.length, MAX_CURVE_POINTS);
    assert.equal(t.iter[0], 0);
    assert.equal(t.iter.at(-1), 19_999, 'the last point is kept');
    assert.equal(first.runs[0].status, 'running');
    const read = reader.stats.bytesRead;
    const line = JSON.stringify({ iter: 20_000, loss: 1, lr: 1e-3 }) + '\n';
    appendFileSync(join(run, 'log.jsonl'), line);
    const second = await reader.read();
    assert.equal(reader.stats.bytesRead - read, Buffer.byteLength(line), 'only the new line was read');
    assert.equal(second.runs[0].train.iter.at(-1), 20_000);
    assert.notEqual(second.version, first.version);
    // Unchanged files: the same result, nothing read, no refresh.
    const refreshes = reader.stats.refreshes;
    assert.equal(await reader.read(), second);
    assert.equal(reader.stats.refreshes, refreshes);
    // A log replaced by a shorter one is read again from its start.
    rmSync(join(run, 'log.jsonl'));
    longLog(run, 10);
    assert.deepEqual((await reader.read()).runs[0].train.iter, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  } finally { rmSync(root2, { recursive: true, force: true }); }
});

test('concurrent requests share one refresh, and the event loop turns while a long log is read', { timeout: 60_000 }, async () => {
  const root2 = mkdtempSync(join(tmpdir(), 'normlab-dash-'));
  try {
    for (let r = 0; r < 3; r++) longLog(join(root2, `run${r}`), 30_000);
    const reader = new DashboardReader(root2);
    const order: string[] = [];
    const all = Promise.all(Array.from({ length: 200 }, () => reader.read())).then((xs) => { order.push('data'); return xs; });
    setImmediate(() => order.push('other work'));
    const results = await all;
    assert.equal(reader.stats.refreshes, 1, '200 requests, one refresh');
    assert.ok(results.every((d) => d === results[0]));
    assert.deepEqual(order, ['other work', 'data'], 'the loop ran other work during the read');
  } finally { rmSync(root2, { recursive: true, force: true }); }
});

test('If-None-Match with an unchanged folder answers 304 without reading; 100 parallel polls get one answer', { timeout: 60_000 }, async () => {
  const first = await raw('/api/data');
  const etag = String(first.headers.etag);
  const polls = await Promise.all(Array.from({ length: 100 }, () => raw('/api/data', { headers: { 'If-None-Match': etag } })));
  assert.ok(polls.every((p) => p.status === 304));
});

test('POST /api/sample with a body that is not an object is a 400 naming what is expected', async () => {
  for (const body of ['null', '[]', '"run"', '5']) {
    const r = await raw('/api/sample', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    assert.equal(r.status, 400, body);
    assert.match(JSON.parse(r.body).error, /the body must be a JSON object/);
  }
});

test('dashboard --host foo.localhost serves on the loopback address under that name', async () => {
  const d2 = await startDashboard({ root, host: 'foo.localhost', port: 0 });
  try {
    assert.match(d2.url, /^http:\/\/foo\.localhost:\d+\/$/);
    const res = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: Number(new URL(d2.url).port), path: '/', headers: { Host: new URL(d2.url).host } }, (r) => { r.resume(); resolve(r.statusCode ?? 0); });
      req.on('error', reject); req.end();
    });
    assert.equal(res, 200);
  } finally { await d2.close(); }
});

test('a malformed checkpoint gives the dashboard a 4xx with one line, and a hostile one does not hold the server', { timeout: 60_000 }, async () => {
  const root2 = mkdtempSync(join(tmpdir(), 'normlab-dash-'));
  const run = join(root2, 'bad');
  mkdirSync(run);
  writeFileSync(join(run, 'state.json'), JSON.stringify({ version: 1, config: { ...defaultConfig(), activation_variant: 'learned_spline', lsa_num_knots: 5_000_000 }, iter: 1 }));
  writeSafetensors(join(run, 'ckpt.safetensors'), {
    'transformer.h.0.mlp.activation_variant.x_vals': { shape: [2], data: [-1, 1] },
    'transformer.h.0.mlp.activation_variant.y_vals': { shape: [2], data: [-1, 1] },
  }, { format: 'pt', normlab: '1', iter: '1', config: 'not json' });
  const d2 = await startDashboard({ root: root2, port: 0 });
  try {
    const r = await fetch(`${d2.url}api/activations?run=bad`);
    assert.equal(r.status, 400);
    assert.match((await r.json() as { error: string }).error, /model config in its metadata is not JSON/);
    writeSafetensors(join(run, 'ckpt.safetensors'), {
      'transformer.h.0.mlp.activation_variant.x_vals': { shape: [2], data: [-1, 1] },
      'transformer.h.0.mlp.activation_variant.y_vals': { shape: [2], data: [-1, 1] },
    }, { format: 'pt', normlab: '1', iter: '1' });
    const [act, page] = await Promise.all([fetch(`${d2.url}api/activations?run=bad`), fetch(d2.url)]);
    assert.equal(page.status, 200);
    assert.equal(act.status, 400);
    assert.match((await act.json() as { error: string }).error, /lsa_num_knots 5000000 but the file holds 4 values/);
  } finally {
    await d2.close();
    rmSync(root2, { recursive: true, force: true });
  }
});

test('normlab dashboard stops at SIGTERM', { timeout: 60_000 }, async () => {
  const child = spawn(process.execPath, [BIN, 'dashboard', root, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve) => child.stdout.on('data', (c: Buffer) => { out += c; if (out.includes('http://')) resolve(); }));
  const code = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  child.kill('SIGTERM');
  assert.equal(await code, 0);
});
