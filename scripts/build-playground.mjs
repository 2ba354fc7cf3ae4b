#!/usr/bin/env node
// Builds the playground as static files: dist/playground/{index.html, playground.js, worker.js,
// wasm-thread.js, playground.css, normlab.wasm, normlab-threads.wasm, uPlot.*, data/{train.bin,
// val.bin, meta.json}}. Served with cross-origin isolation headers (as the dashboard does) the page
// trains on one thread per core; on a plain static host on one. Any static web host
// serves the folder (nothing is fetched from elsewhere); `normlab dashboard` serves it at /playground/.
// The page and its training worker are bundled from src/dashboard/playground/*.ts with esbuild (an
// npm devDependency). Node built-ins that the bundled modules import (for their command-line
// paths) become stubs that throw if called, and `process` a minimal object with an empty env. The data is shakespeare_char, tokenized by the same
// code as `normlab prepare`. Needs `tsc` output (dist/) and the wasm module (scripts/build-wasm.mjs).
// --quiet: no output when up to date.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist/playground');
const src = path.join(root, 'src/dashboard/playground');
const wasm = path.join(root, 'wasm/build/normlab.wasm');
const quiet = process.argv.includes('--quiet');

function newestUnder(dir) {
  let t = 0;
  for (const f of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, f.name);
    t = Math.max(t, f.isDirectory() ? newestUnder(p) : statSync(p).mtimeMs);
  }
  return t;
}
const stamp = path.join(out, 'worker.js');
const inputs = Math.max(newestUnder(path.join(root, 'src')), statSync(fileURLToPath(import.meta.url)).mtimeMs, existsSync(wasm) ? statSync(wasm).mtimeMs : 0);
if (existsSync(stamp) && statSync(stamp).mtimeMs > inputs && !process.argv.includes('--force')) {
  if (!quiet) console.log('playground up to date: dist/playground');
  process.exit(0);
}
if (!existsSync(wasm)) {
  console.log('playground not built: wasm/build/normlab.wasm is missing (run `npm run build:wasm`)');
  process.exit(1);
}
const esbuild = await import('esbuild').catch(() => null);
if (!esbuild) {
  console.log('playground not built: esbuild is missing (run `npm install`)');
  process.exit(1);
}

// node:* -> an object whose every property is a function that throws when called (os.endianness
// answers 'LE', as every browser is little-endian). esbuild's CommonJS interop reads properties
// through the prototype, so named and namespace imports both reach the proxy.
const nodeStub = {
  name: 'node-stub',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (a) => ({ path: a.path, namespace: 'node-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, (a) => ({
      loader: 'js',
      contents: `module.exports = Object.create(new Proxy({}, { get: (_, k) => typeof k !== 'string' || k === 'then' || k === '__esModule' ? undefined
        : k === 'endianness' ? () => 'LE'
        : () => { throw new Error(${JSON.stringify(a.path)} + '.' + k + ' is not available in the browser'); } }));`,
    }));
  },
};

rmSync(out, { recursive: true, force: true });
mkdirSync(path.join(out, 'data'), { recursive: true });
await esbuild.build({
  entryPoints: { playground: path.join(src, 'page.ts'), worker: path.join(src, 'train-worker.ts'), 'wasm-thread': path.join(src, 'wasm-thread.ts') },
  outdir: out, bundle: true, format: 'esm', platform: 'browser', target: 'es2022', sourcemap: true,
  plugins: [nodeStub], logLevel: 'error',
  // Module-level reads of process.env (test hooks) see an empty environment.
  banner: { js: "globalThis.process ??= { env: {}, platform: 'browser', pid: 0 };" },
});
for (const f of ['index.html', 'playground.css']) cpSync(path.join(src, f), path.join(out, f));
const uplot = path.dirname(createRequire(import.meta.url).resolve('uplot'));
for (const f of ['uPlot.iife.min.js', 'uPlot.min.css']) cpSync(path.join(uplot, f), path.join(out, f));
cpSync(wasm, path.join(out, 'normlab.wasm'));
cpSync(path.join(root, 'wasm/build/normlab-threads.wasm'), path.join(out, 'normlab-threads.wasm'));

// shakespeare_char, as `normlab prepare` makes it.
const { fileSource, prepareDataset } = await import(pathToFileURL(path.join(root, 'dist/src/data/make-dataset.js')).href);
const tmp = mkdtempSync(path.join(tmpdir(), 'normlab-playground-'));
try {
  prepareDataset(fileSource(path.join(root, 'data/shakespeare_char/input.txt')), tmp, 'char');
  for (const f of ['train.bin', 'val.bin', 'meta.json']) cpSync(path.join(tmp, f), path.join(out, 'data', f));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
if (!quiet) console.log('playground built: dist/playground (open index.html through any static web server)');
