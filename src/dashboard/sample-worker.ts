// The dashboard's sampling runs here, in a worker thread, so that a long generation never holds up
// the server's event loop; the server terminates the worker when the client goes away or the
// server stops (src/dashboard/server.ts). It computes with the WebAssembly backend (TypeScript when
// that is not built), never the native addon: terminating a worker in the middle of a native call
// crashed the whole server (SIGSEGV), while wasm and TypeScript code stop cleanly.
import { parentPort, workerData } from 'node:worker_threads';
import { loadWasmBackend } from '../engine/kernels/wasm/node-loader.js';
import { UserError } from '../util/errors.js';
import { sampleText, type SampleTextOptions } from '../sampling.js';

const { dir, opts } = workerData as { dir: string; opts: SampleTextOptions };
try {
  parentPort!.postMessage({ value: await sampleText(dir, { ...opts, backend: loadWasmBackend() ? 'wasm' : 'ts' }) });
} catch (e) {
  parentPort!.postMessage({ error: e instanceof Error ? e.message : String(e), user: e instanceof UserError });
}
