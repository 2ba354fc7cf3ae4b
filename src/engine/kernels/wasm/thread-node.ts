// A worker thread of the wasm backend in Node (started by index.ts with worker_threads).
import { workerData } from 'node:worker_threads';
import { threadMain } from './thread-pool.js';

const { module, memory } = workerData as { module: WebAssembly.Module; memory: WebAssembly.Memory };
threadMain(module, memory);
