// The dashboard's HTTP server (node:http only), for one folder of runs, on a loopback address only.
//   GET  /                      the page (src/dashboard/public/index.html), /app.js, /style.css
//   GET  /vendor/uPlot.*        the chart library, served from node_modules/uplot/dist
//   GET  /playground/...        the playground (dist/playground, built by scripts/build-playground.mjs)
//   GET  /api/data              runs, curves and results table (ETag: the page polls with If-None-Match)
//   GET  /api/groups?by=&where=&baseline=&metric=&curves=   runs grouped over seeds, with intervals (src/dashboard/groups-api.ts)
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
import { UserError } from '../util/errors.js';
import { DashboardReader } from './data.js';
import type { ActivationsReply } from './curves.js';
import { dashboardGroups } from './groups-api.js';
import { servePlayground } from './playground-route.js';
import { Worker } from 'node:worker_threads';
import { checkFlags, SAMPLE_FLAGS } from '../config/config.js';
import type { SampleTextOptions } from '../sampling.js';
import { costReply } from './cost-api.js';

/** Generates text from the run in dir; a signal that aborts ends the work (the promise then rejects). */
export type SampleFn = (dir: string, opts: SampleTextOptions, signal?: AbortSignal) => Promise<string>;

/** Longest sample one dashboard request may ask for. */
export const DASHBOARD_MAX_NEW_TOKENS = 10_000;

/** Longest an activations reply may compute (its worker is ended then). */
export const ACTIVATIONS_LIMIT_MS = 30_000;

/** An error with the HTTP status the reply carries. */
class HttpError extends UserError {
  constructor(readonly status: number, message: string) { super(message); }
}

/**
 * Runs `file` (a module beside this one) in a worker thread with `data`, so that work on what a file
 * or a request holds never runs on the server's event loop; the worker answers with one message
 * {value} or {error, user}. An aborting signal, or limitMs passing, terminates it.
 */
function inWorker<T>(file: string, data: unknown, signal?: AbortSignal, limitMs?: number): Promise<T> {
  return new Promise((resolveP, reject) => {
    const worker = new Worker(new URL(file, import.meta.url), { workerData: data });
    let timer: NodeJS.Timeout | undefined;
    const end = (e?: Error) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
      void worker.terminate();
      if (e) reject(e);
    };
    const stop = () => end(new UserError('cancelled'));
    if (signal?.aborted) return stop();
    signal?.addEventListener('abort', stop, { once: true });
    if (limitMs) timer = setTimeout(() => end(new HttpError(503, `gave up after ${limitMs / 1000} s: the file asks for more work than the dashboard does in one request`)), limitMs);
    worker.once('message', (m: { value?: T; error?: string; user?: boolean }) => {
      end();
      if (m.error === undefined) resolveP(m.value as T);
      else reject(m.user ? new UserError(m.error) : new Error(m.error));
    });
    worker.once('error', (e) => end(e));
  });
}

/** sampleText of src/sampling.ts in a worker thread, terminated when signal aborts. */
export const sampleInWorker: SampleFn = (dir, opts, signal) => inWorker<string>('./sample-worker.js', { dir, opts }, signal);

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

/** What a handler needs: the request, its reply, its URL, and the server's state. */
interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  reader: DashboardReader;
  sample: SampleFn;
  /** Work to end when the server closes (samples, activation workers). */
  running: Set<AbortController>;
  state: { sampling: boolean };
}

type Handler = (c: Ctx) => Promise<void> | void;

/** GET /api/data: the whole picture, with an ETag; a matching If-None-Match costs a folder walk and no reading. */
async function apiData(c: Ctx): Promise<void> {
  const { data, json } = await c.reader.body();
  const etag = `"${data.version}"`;
  if (c.req.headers['if-none-match'] === etag) { c.res.writeHead(304, { ETag: etag, 'Cache-Control': 'no-store' }); c.res.end(); return; }
  send(c.res, 200, json, 'application/json; charset=utf-8', { ETag: etag });
}

/** Ends `cancel` when the client goes away; returns the undo. */
function cancelOnClose(c: Ctx, cancel: AbortController): () => void {
  c.running.add(cancel);
  const onClose = () => { if (!c.res.writableEnded) cancel.abort(); };
  c.res.on('close', onClose);
  return () => { c.running.delete(cancel); c.res.off('close', onClose); };
}

/** GET /api/activations?run=: computed in a worker, bounded in time (a checkpoint's metadata is not trusted). */
async function apiActivations(c: Ctx): Promise<void> {
  const run = await c.reader.findRun(c.url.searchParams.get('run') ?? '');
  if (!run) return sendJson(c.res, 404, { error: 'no such run' });
  const cancel = new AbortController(), undo = cancelOnClose(c, cancel);
  try {
    sendJson(c.res, 200, await inWorker<ActivationsReply>('./curves-worker.js', { run }, cancel.signal, ACTIVATIONS_LIMIT_MS));
  } catch (e) {
    if (!cancel.signal.aborted) throw e;
  } finally { undo(); }
}

/** The body of POST /api/sample: a JSON object, its values checked as the sample flags are. */
async function sampleRequest(c: Ctx): Promise<{ body: Record<string, unknown>; given: Record<string, number | undefined> }> {
  if (!(c.req.headers['content-type'] ?? '').startsWith('application/json')) throw new HttpError(415, 'send application/json');
  let body: unknown;
  try { body = JSON.parse(await readBody(c.req, 64 * 1024)); } catch (e) {
    throw new HttpError(400, e instanceof UserError ? e.message : 'body is not JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new HttpError(400, 'the body must be a JSON object {run, start?, max_new_tokens?, ...}');
  const b = body as Record<string, unknown>;
  const given: Record<string, number | undefined> = {
    max_new_tokens: optNum(b.max_new_tokens, 'max_new_tokens'), temperature: optNum(b.temperature, 'temperature'),
    top_k: optNum(b.top_k, 'top_k'), seed: optNum(b.seed, 'seed'),
  };
  for (const k of Object.keys(given)) if (given[k] === undefined) delete given[k];
  return { body: b, given };
}

/** POST /api/sample: one generation at a time, in a worker, ended when the client goes away. */
async function apiSample(c: Ctx): Promise<void> {
  const { body, given } = await sampleRequest(c);
  const run = await c.reader.findRun(typeof body.run === 'string' ? body.run : '');
  if (!run) return sendJson(c.res, 404, { error: 'no such run' });
  if (!run.checkpoint) return sendJson(c.res, 404, { error: 'this run has no checkpoint (yet)' });
  checkFlags(SAMPLE_FLAGS, given);
  if ((given.max_new_tokens ?? 0) > DASHBOARD_MAX_NEW_TOKENS) {
    throw new HttpError(400, `max_new_tokens is ${given.max_new_tokens}; the dashboard generates at most ${DASHBOARD_MAX_NEW_TOKENS} (use normlab sample for longer texts)`);
  }
  if (c.state.sampling) return sendJson(c.res, 409, { error: 'a sample is already being generated' });
  c.state.sampling = true;
  const cancel = new AbortController(), undo = cancelOnClose(c, cancel);
  try {
    const text = await c.sample(run.dir, {
      start: typeof body.start === 'string' ? body.start : undefined,
      maxNewTokens: given.max_new_tokens, temperature: given.temperature, topK: given.top_k, seed: given.seed,
      file: join(run.dir, run.checkpoint.file), // the plain file the listing found (links are not followed)
    }, cancel.signal);
    sendJson(c.res, 200, { text });
  } catch (e) {
    if (!cancel.signal.aborted) throw e; // else nobody is listening
  } finally {
    c.state.sampling = false;
    undo();
  }
}

/** Path -> method -> handler: the API. Other /api/ paths are 404, other methods 405. */
const ROUTES: Record<string, Partial<Record<'GET' | 'POST', Handler>>> = {
  '/api/data': { GET: apiData },
  '/api/cost': { GET: async (c) => sendJson(c.res, 200, costReply(await c.reader.read())) },
  '/api/groups': { GET: async (c) => sendJson(c.res, 200, dashboardGroups(await c.reader.read(), c.url.searchParams)) },
  '/api/activations': { GET: apiActivations },
  '/api/sample': { POST: apiSample },
};

/** Everything that is not the API: the playground and the fixed list of page files. */
function serveStatic(c: Ctx, files: Map<string, string>): void {
  const { req, res } = c, path = c.url.pathname, read = req.method === 'GET' || req.method === 'HEAD';
  if (path === '/playground') { res.writeHead(301, { Location: '/playground/' }); res.end(); return; }
  if (path.startsWith('/playground/') && read) return servePlayground(res, path);
  const file = read ? files.get(path) : undefined;
  if (!file) return send(res, 404, 'not found\n', 'text/plain; charset=utf-8');
  send(res, 200, readFileSync(file), TYPES[extname(file)] ?? 'application/octet-stream');
}

/** The Host check, the route table, then static files. */
async function route(c: Omit<Ctx, 'url'>, files: Map<string, string>): Promise<void> {
  const { req, res } = c;
  const hostHeader = (req.headers.host ?? '').replace(/:\d+$/, '');
  if (!isLoopbackHost(hostHeader)) return sendJson(res, 403, { error: `Host ${hostHeader} refused: loopback only` });
  let url: URL;
  try { url = new URL(req.url ?? '/', 'http://localhost'); } catch { return sendJson(res, 400, { error: 'bad url' }); }
  const ctx: Ctx = { ...c, url };
  const routes = Object.hasOwn(ROUTES, url.pathname) ? ROUTES[url.pathname] : undefined;
  if (routes) {
    const h = routes[req.method as 'GET' | 'POST'];
    if (!h) {
      const allow = Object.keys(routes).join(', ');
      return sendJson(res, 405, { error: allow === 'POST' ? 'POST a JSON body' : `use ${allow}` }, { Allow: allow });
    }
    return h(ctx);
  }
  if (url.pathname.startsWith('/api/')) return sendJson(res, 404, { error: 'unknown endpoint' });
  serveStatic(ctx, files);
}

/** The address to bind for `host`: a name under .localhost is the loopback address (RFC 6761), which the resolver may not know. */
export function bindAddress(host: string): string {
  const h = host.toLowerCase();
  return h !== 'localhost' && h.endsWith('.localhost') ? '127.0.0.1' : host;
}

export function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) {
    return Promise.reject(new UserError(`--host ${host} is not a loopback address: the dashboard serves only this machine (use 127.0.0.1, ::1 or localhost; reach it from elsewhere with an SSH tunnel: ssh -L 8765:127.0.0.1:8765 HOST)`));
  }
  const base = {
    reader: new DashboardReader(opts.root), sample: opts.sample ?? sampleInWorker,
    running: new Set<AbortController>(), state: { sampling: false },
  };
  const files = staticFiles();
  const server = createServer((req, res) => {
    route({ ...base, req, res }, files).catch((e: unknown) => {
      const user = e instanceof UserError;
      if (!user) console.error(e);
      if (!res.headersSent) sendJson(res, e instanceof HttpError ? e.status : user ? 400 : 500, { error: e instanceof Error ? e.message : String(e) });
      else res.end();
    });
  });
  return listen(server, opts, host, base.running);
}

function listen(server: Server, opts: DashboardOptions, host: string, running: Set<AbortController>): Promise<Dashboard> {
  return new Promise((resolveP, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EACCES') reject(new UserError(`port ${opts.port ?? 8765} needs more privileges than this user has (ports below 1024 are for root): pass --port 8765, or any port from 1024 up (--port 0 for any free port)`));
      else if (e.code === 'EADDRINUSE') reject(new UserError(`port ${opts.port ?? 8765} on ${host} is in use: pass --port N (or --port 0 for any free port)`));
      else if (e.code === 'EADDRNOTAVAIL') reject(new UserError(`--host ${host} is not an address of this machine`));
      else if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') reject(new UserError(`--host ${host}: this machine cannot resolve that name; use 127.0.0.1, ::1 or localhost`));
      else reject(e);
    });
    server.listen(opts.port ?? 8765, bindAddress(host), () => {
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
