// The dashboard's HTTP server (node:http only), for one folder of runs, on a loopback address only.
//   GET  /                      the page (src/dashboard/public/index.html), /app.js, /style.css
//   GET  /vendor/uPlot.*        the chart library, served from node_modules/uplot/dist
//   GET  /playground/...        the playground (dist/playground, built by scripts/build-playground.mjs)
//   GET  /api/data              runs, curves and results table (ETag: the page polls with If-None-Match)
//   GET  /api/groups?by=&where=&baseline=&metric=&curves=   runs grouped over seeds, with intervals (src/dashboard/groups.ts)
//   GET  /api/cost              best validation loss against the variants' hardware cost, Pareto fronts
//   GET  /api/activations?run=  learned activation curves of one run, from its checkpoint
//   POST /api/sample            {run, start?, max_new_tokens?, temperature?, top_k?, seed?} -> {text}
//                               (a blank or missing option takes sampleText's default, as `normlab sample` does;
//                               values are checked as the sample flags are, max_new_tokens at most
//                               DASHBOARD_MAX_NEW_TOKENS). Generation runs in a worker thread
//                               (sample-worker.ts), ended when the client disconnects or the server closes.
// Nothing is read by joining a request's string onto a path: static files come from a fixed list,
// runs are looked up by id among the folders found below the root. Requests whose Host header is
// not a loopback name are refused (a DNS-rebinding page cannot read the data); POST must be JSON
// (a cross-site form cannot start sampling).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../engine/types.js';
import { findRun, readDashboard } from './data.js';
import { runActivations } from './activations.js';
import { dashboardGroups } from './groups.js';
import { servePlayground } from './playground-route.js';
import { Worker } from 'node:worker_threads';
import { checkFlags, SAMPLE_FLAGS } from '../config/index.js';
import type { SampleTextOptions } from '../sample.js';
import { costReply } from './cost.js';

/** Generates text from the run in dir; a signal that aborts ends the work (the promise then rejects). */
export type SampleFn = (dir: string, opts: SampleTextOptions, signal?: AbortSignal) => Promise<string>;

/** Longest sample one dashboard request may ask for. */
export const DASHBOARD_MAX_NEW_TOKENS = 10_000;

/** sampleText of src/sample.ts in a worker thread, terminated when signal aborts. */
export const sampleInWorker: SampleFn = (dir, opts, signal) => new Promise((resolveP, reject) => {
  const worker = new Worker(new URL('./sample-worker.js', import.meta.url), { workerData: { dir, opts } });
  const stop = () => { void worker.terminate(); reject(new UserError('sampling cancelled')); };
  if (signal?.aborted) return stop();
  signal?.addEventListener('abort', stop, { once: true });
  worker.once('message', (m: { text?: string; error?: string; user?: boolean }) => {
    signal?.removeEventListener('abort', stop);
    void worker.terminate();
    if (m.text !== undefined) resolveP(m.text);
    else reject(m.user ? new UserError(m.error ?? 'sampling failed') : new Error(m.error));
  });
  worker.once('error', (e) => { signal?.removeEventListener('abort', stop); reject(e); });
});

export interface DashboardOptions {
  root: string;
  host?: string; // default 127.0.0.1
  port?: number; // default 8765; 0 = any free port
  /** Sampling function (tests inject one); default sampleInWorker. */
  sample?: SampleFn;
}

export interface Dashboard { server: Server; url: string; close(): Promise<void> }

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon',
};

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

/** Page assets: beside this file when copied next to the build, else the source folder (dist/src/dashboard -> src/dashboard). */
export function publicDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const cands = [join(here, 'public'), resolve(here, '../../../src/dashboard/public')];
  const dir = cands.find((d) => existsSync(join(d, 'index.html')));
  if (!dir) throw new Error(`dashboard page assets not found (looked in ${cands.join(', ')})`);
  return dir;
}

function uplotDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('uplot')); // node_modules/uplot/dist
}

/** URL path -> file, built once: the only files the server ever sends. */
function staticFiles(): Map<string, string> {
  const m = new Map<string, string>();
  const pub = publicDir();
  for (const f of readdirSync(pub)) if (statSync(join(pub, f)).isFile()) m.set(`/${f}`, join(pub, f));
  m.set('/', join(pub, 'index.html'));
  m.set('/favicon.ico', join(pub, 'favicon.svg'));
  const up = uplotDir();
  m.set('/vendor/uPlot.iife.min.js', join(up, 'uPlot.iife.min.js'));
  m.set('/vendor/uPlot.min.css', join(up, 'uPlot.min.css'));
  return m;
}

function send(res: ServerResponse, status: number, body: string | Buffer, type: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
    ...extra,
  });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, v: unknown, extra: Record<string, string> = {}): void {
  send(res, status, JSON.stringify(v), 'application/json; charset=utf-8', extra);
}

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new UserError('request body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const optNum = (v: unknown, what: string): number | undefined => {
  if (v === undefined || v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UserError(`${what} must be a number, got ${JSON.stringify(v)}`);
  return n;
};

export function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) {
    return Promise.reject(new UserError(`--host ${host} is not a loopback address: the dashboard serves only this machine (use 127.0.0.1, ::1 or localhost; reach it from elsewhere with an SSH tunnel: ssh -L 8765:127.0.0.1:8765 HOST)`));
  }
  const root = resolve(opts.root);
  const sample = opts.sample ?? sampleInWorker;
  const running = new Set<AbortController>();
  const files = staticFiles();
  let sampling = false;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const hostHeader = (req.headers.host ?? '').replace(/:\d+$/, '');
    if (!isLoopbackHost(hostHeader)) return sendJson(res, 403, { error: `Host ${hostHeader} refused: loopback only` });
    let url: URL;
    try { url = new URL(req.url ?? '/', 'http://localhost'); } catch { return sendJson(res, 400, { error: 'bad url' }); }
    const path = url.pathname;

    if (req.method === 'GET' && path === '/api/data') {
      const data = readDashboard(root);
      const etag = `"${data.version}"`;
      if (req.headers['if-none-match'] === etag) { res.writeHead(304, { ETag: etag, 'Cache-Control': 'no-store' }); res.end(); return; }
      return sendJson(res, 200, data, { ETag: etag });
    }
    if (req.method === 'GET' && path === '/api/cost') return sendJson(res, 200, costReply(readDashboard(root)));
    if (req.method === 'GET' && path === '/api/groups') return sendJson(res, 200, dashboardGroups(readDashboard(root), url.searchParams));
    if (req.method === 'GET' && path === '/api/activations') {
      const run = findRun(root, url.searchParams.get('run') ?? '');
      if (!run) return sendJson(res, 404, { error: 'no such run' });
      return sendJson(res, 200, runActivations(run));
    }
    if (path === '/api/sample') {
      if (req.method !== 'POST') return sendJson(res, 405, { error: 'POST a JSON body' }, { Allow: 'POST' });
      if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return sendJson(res, 415, { error: 'send application/json' });
      let body: Record<string, unknown>;
      try { body = JSON.parse(await readBody(req, 64 * 1024)) as Record<string, unknown>; } catch (e) {
        return sendJson(res, 400, { error: e instanceof UserError ? e.message : 'body is not JSON' });
      }
      const run = findRun(root, typeof body.run === 'string' ? body.run : '');
      if (!run) return sendJson(res, 404, { error: 'no such run' });
      if (!run.checkpoint) return sendJson(res, 404, { error: 'this run has no checkpoint (yet)' });
      const given: Record<string, number | undefined> = {
        max_new_tokens: optNum(body.max_new_tokens, 'max_new_tokens'), temperature: optNum(body.temperature, 'temperature'),
        top_k: optNum(body.top_k, 'top_k'), seed: optNum(body.seed, 'seed'),
      };
      for (const k of Object.keys(given)) if (given[k] === undefined) delete given[k];
      checkFlags(SAMPLE_FLAGS, given);
      if ((given.max_new_tokens ?? 0) > DASHBOARD_MAX_NEW_TOKENS) {
        return sendJson(res, 400, { error: `max_new_tokens is ${given.max_new_tokens}; the dashboard generates at most ${DASHBOARD_MAX_NEW_TOKENS} (use normlab sample for longer texts)` });
      }
      if (sampling) return sendJson(res, 409, { error: 'a sample is already being generated' });
      sampling = true;
      // The client going away (or the server closing) ends the generation.
      const cancel = new AbortController();
      running.add(cancel);
      const onClose = () => { if (!res.writableEnded) cancel.abort(); };
      res.on('close', onClose);
      try {
        const text = await sample(run.dir, {
          start: typeof body.start === 'string' ? body.start : undefined,
          maxNewTokens: given.max_new_tokens, temperature: given.temperature, topK: given.top_k, seed: given.seed,
          file: join(run.dir, run.checkpoint.file), // the plain file the listing found (links are not followed)
        }, cancel.signal);
        return sendJson(res, 200, { text });
      } catch (e) {
        if (cancel.signal.aborted) return; // nobody is listening
        throw e;
      } finally {
        sampling = false;
        running.delete(cancel);
        res.off('close', onClose);
      }
    }
    if (path.startsWith('/api/')) return sendJson(res, 404, { error: 'unknown endpoint' });

    if (path === '/playground') { res.writeHead(301, { Location: '/playground/' }); res.end(); return; }
    if (path.startsWith('/playground/') && (req.method === 'GET' || req.method === 'HEAD')) return servePlayground(res, path);
    const file = req.method === 'GET' || req.method === 'HEAD' ? files.get(path) : undefined;
    if (!file) return send(res, 404, 'not found\n', 'text/plain; charset=utf-8');
    return send(res, 200, readFileSync(file), TYPES[extname(file)] ?? 'application/octet-stream');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const user = e instanceof UserError;
      if (!user) console.error(e);
      if (!res.headersSent) sendJson(res, user ? 400 : 500, { error: e instanceof Error ? e.message : String(e) });
      else res.end();
    });
  });

  return new Promise((resolveP, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EACCES') reject(new UserError(`port ${opts.port ?? 8765} needs more privileges than this user has (ports below 1024 are for root): pass --port 8765, or any port from 1024 up (--port 0 for any free port)`));
      else if (e.code === 'EADDRINUSE') reject(new UserError(`port ${opts.port ?? 8765} on ${host} is in use: pass --port N (or --port 0 for any free port)`));
      else if (e.code === 'EADDRNOTAVAIL') reject(new UserError(`--host ${host} is not an address of this machine`));
      else reject(e);
    });
    server.listen(opts.port ?? 8765, host, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : opts.port ?? 8765;
      const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
      resolveP({
        server,
        url: `http://${h}:${port}/`,
        close: () => new Promise<void>((r) => {
          for (const c of running) c.abort();
          server.closeAllConnections(); server.close(() => r());
        }),
      });
    });
  });
}
