// /playground/...: the static playground built by scripts/build-playground.mjs into dist/playground.
// Only files inside that folder are sent. The Content-Security-Policy allows compiling WebAssembly
// ('wasm-unsafe-eval') and nothing from other origins; the cross-origin isolation headers let the
// page use SharedArrayBuffer where a browser asks for them.
import type { ServerResponse } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8', '.wasm': 'application/wasm', '.map': 'application/json; charset=utf-8',
  '.bin': 'application/octet-stream',
};

/** dist/playground (this file is dist/src/dashboard/playground-route.js once compiled). */
export function playgroundDir(): string {
  return resolve(fileURLToPath(new URL('.', import.meta.url)), '../../playground');
}

export function servePlayground(res: ServerResponse, urlPath: string): void {
  const dir = playgroundDir();
  const headers = {
    'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:",
    'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp',
  };
  if (!existsSync(join(dir, 'index.html'))) {
    res.writeHead(404, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('the playground is not built: run `npm run build:playground`\n');
    return;
  }
  let rel: string;
  try { rel = decodeURIComponent(urlPath.slice('/playground/'.length)) || 'index.html'; } catch { rel = ''; }
  const file = resolve(dir, rel);
  const inside = relative(dir, file);
  if (!rel || inside.startsWith('..') || inside.includes(`..${sep}`) || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('not found\n');
    return;
  }
  res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
  res.end(readFileSync(file));
}
