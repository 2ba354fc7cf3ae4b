// The WebAssembly backend in Node: compiles wasm/build/normlab.wasm (built from wasm/assembly by
// scripts/build-wasm.mjs at install) once, and says why when it cannot. Threads: NORMLAB_THREADS
// (as the native backend), else one per core up to 8, on worker_threads that do not keep the process
// alive. Node always has shared memory, so it always runs the shared-memory build
// (normlab-threads.wasm), whose backend keeps the model's arrays in its memory (Backend.alloc).
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import type { Backend } from '../../backend.js';
import { createWasmBackend } from './wasm-backend.js';

/** Where scripts/build-wasm.mjs leaves the module (repo root/wasm/build): one-thread or shared-memory build. */
export function wasmModulePath(threads = false): string {
  // This file is dist/src/engine/kernels/wasm/node-loader.js once compiled: five levels below the root.
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '../../../../..', threads ? 'wasm/build/normlab-threads.wasm' : 'wasm/build/normlab.wasm');
}

/** Threads for the wasm backend: NORMLAB_THREADS when set (1 = no workers), else one per core, at most 8. */
export function wasmThreads(): number {
  const env = Number(process.env.NORMLAB_THREADS);
  return Number.isInteger(env) && env >= 1 ? env : Math.min(availableParallelism(), 8);
}

/** Starts a worker_threads thread serving the pool (see pool.ts); it does not keep the process alive. */
function spawnThread(module: WebAssembly.Module, memory: WebAssembly.Memory): void {
  new Worker(new URL('./thread-node.js', import.meta.url), { workerData: { module, memory } }).unref();
}

/** A wasm backend with `threads` threads (tests compare thread counts; the CLI uses loadWasmBackend). */
export function createNodeWasmBackend(threads: number): Backend {
  return createWasmBackend(new WebAssembly.Module(readFileSync(wasmModulePath(true))), { threads, shared: true, spawn: spawnThread });
}

let backend: Backend | null | undefined; // undefined: not tried yet
let loadError: string | null = null;

/** The wasm backend, or null when the module is missing or does not compile (see wasmBackendError()). */
export function loadWasmBackend(): Backend | null {
  if (backend !== undefined) return backend;
  const threads = wasmThreads(), file = wasmModulePath(true);
  backend = null;
  if (!existsSync(file)) {
    loadError = `${path.relative(path.resolve(file, '../../..'), file)} is missing: run \`npm run build:wasm\``;
  } else {
    try {
      backend = createNodeWasmBackend(threads);
    } catch (e) {
      // e.g. a runtime without WebAssembly SIMD
      loadError = `loading ${path.basename(file)} failed: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  return backend;
}

/** Why the wasm backend is unavailable, or null when it loads. */
export function wasmBackendError(): string | null {
  loadWasmBackend();
  return loadError;
}
