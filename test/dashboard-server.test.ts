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
import { UserError } from '../src/engine/types.js';
import { PFLA_RUN, RUNS, SWEEP, pflaParams, writePflaCheckpoint, writeSafetensors } from '../tools/make-dashboard-fixtures.js';
import { defaultConfig } from '../src/config/index.js';
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
    const a = await res.json() as { checkpoint: string; groups: { variant: string; xs: number[]; initial: number[]; curves: { label: string; ys: number[] }[] }[]; dact_alpha: { slot: string; alpha: number }[] };
    assert.equal(a.checkpoint, 'final.safetensors');
    assert.deepEqual(a.groups.map((g) => g.variant), ['gelu_shifted', 'pfla']);
    const [shifted, inner] = a.groups;
    assert.deepEqual(shifted.curves.map((c) => c.label), ['h.0']);
    const k = shifted.xs.findIndex((x) => x > 1);
    const gelu = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));
    assert.ok(Math.abs(shifted.curves[0].ys[k] - gelu(shifted.xs[k] - 0.5)) < 1e-5, 'learned: gelu(x - shift)');
    assert.ok(Math.abs(shifted.initial[k] - gelu(shifted.xs[k])) < 1e-5, 'initial shift 0');
    assert.deepEqual(inner.curves.map((c) => c.label), ['h.0.pre_ln_attn', 'h.0.pre_ln_mlp']);
    assert.deepEqual(a.dact_alpha, [{ slot: 'h.0.pre_ln_attn', alpha: 0.75 }, { slot: 'h.0.pre_ln_mlp', alpha: 1.25 }]);
  } finally {
    await d2.close();
    rmSync(root2, { recursive: true, force: true });
  }
});
