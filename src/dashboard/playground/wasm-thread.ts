// A worker thread of the wasm backend in the browser (started by worker.ts when the page is
// cross-origin isolated, so SharedArrayBuffer exists): receives the module and the shared memory.
import { threadMain } from '../../engine/kernels/wasm/thread-pool.js';

self.onmessage = (ev: MessageEvent) => {
  const { module, memory } = ev.data as { module: WebAssembly.Module; memory: WebAssembly.Memory };
  threadMain(module, memory);
};
