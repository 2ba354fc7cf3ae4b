// The WebAssembly backend in Node: compiles wasm/build/normlab.wasm (built from wasm/assembly by
// scripts/build-wasm.mjs at install) once, and says why when it cannot.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Backend } from '../../backend.js';
import { createWasmBackend } from './backend.js';

/** Where scripts/build-wasm.mjs leaves the module (repo root/wasm/build). */
export function wasmModulePath(): string {
  // This file is dist/src/engine/kernels/wasm/index.js once compiled: five levels below the root.
  const here = path.dirname(fileURLToPath(import.meta.url));
  return path.resolve(here, '../../../../..', 'wasm/build/normlab.wasm');
}

let backend: Backend | null | undefined; // undefined: not tried yet
let loadError: string | null = null;

/** The wasm backend, or null when the module is missing or does not compile (see wasmBackendError()). */
export function loadWasmBackend(): Backend | null {
  if (backend !== undefined) return backend;
  const file = wasmModulePath();
  backend = null;
  if (!existsSync(file)) {
    loadError = 'wasm/build/normlab.wasm is missing: run `npm run build:wasm`';
  } else {
    try {
      backend = createWasmBackend(new WebAssembly.Module(readFileSync(file)));
    } catch (e) {
      // e.g. a runtime without WebAssembly SIMD
      loadError = `loading wasm/build/normlab.wasm failed: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  return backend;
}

/** Why the wasm backend is unavailable, or null when it loads. */
export function wasmBackendError(): string | null {
  loadWasmBackend();
  return loadError;
}
