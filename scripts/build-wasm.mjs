#!/usr/bin/env node
// Builds the WebAssembly backend: wasm/assembly/*.ts (AssemblyScript) -> wasm/build/normlab.wasm
// (one thread, ordinary memory) and wasm/build/normlab-threads.wasm (the same code on shared memory,
// for worker threads), with the `asc` compiler from node_modules (an npm devDependency).
// Run by `npm install` / `npm ci` (the "prepare" script), by `npm test` when a source is newer than
// the module (--quiet: silent when up to date), and by `npm run build:wasm` (--force). The binary is
// not committed: it is always built from its source here. On failure this exits 1 with the
// compiler's message (the TypeScript and native backends do not need it, but the tests do).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'wasm/build/normlab.wasm');
const outThreads = path.join(root, 'wasm/build/normlab-threads.wasm');
const asc = path.join(root, 'node_modules/assemblyscript/bin/asc.js');
if (!existsSync(asc)) {
  console.log('wasm backend not built: node_modules/assemblyscript is missing (run `npm install`)');
  process.exit(1);
}
// Up to date when newer than every source file.
const srcDir = path.join(root, 'wasm/assembly');
const newest = Math.max(...readdirSync(srcDir).map((f) => statSync(path.join(srcDir, f)).mtimeMs), statSync(fileURLToPath(import.meta.url)).mtimeMs);
if (existsSync(out) && existsSync(outThreads) && Math.min(statSync(out).mtimeMs, statSync(outThreads).mtimeMs) > newest && !process.argv.includes('--force')) {
  if (!process.argv.includes('--quiet')) console.log('wasm backend up to date: wasm/build/normlab.wasm');
  process.exit(0);
}
mkdirSync(path.dirname(out), { recursive: true });
// --importMemory: the JavaScript side owns the memory (and grows it); the module's own data (the
// tables of Math.log and Math.pow) stays below 64 KiB, where the JavaScript arena begins.
const base = [asc, 'wasm/assembly/index.ts', '-O3', '--enable', 'simd', '--runtime', 'stub', '--noAssert', '--importMemory',
  '--initialMemory', '2', '--memoryBase', '0'];
// Shared memory needs a declared maximum: 2 GiB (reserved address space, not allocated).
for (const [file, extra] of [[out, []], [outThreads, ['--sharedMemory', '--enable', 'threads', '--maximumMemory', '32768']]]) {
  const r = spawnSync(process.execPath, [...base, '--outFile', path.relative(root, file), ...extra], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0 || !existsSync(file)) {
    console.log(`wasm backend not built: ${(r.stderr || r.stdout || String(r.error)).trim().slice(0, 2000)}`);
    process.exit(1);
  }
}
console.log(`wasm backend built: wasm/build/normlab.wasm, normlab-threads.wasm (${statSync(out).size} bytes)`);
