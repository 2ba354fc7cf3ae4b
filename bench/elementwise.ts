// The elementwise activations on the WebAssembly backend: each one's TypeScript code against its
// row of wasm/assembly/elementwise.ts (where it has one), forward then backward over the small
// preset's MLP activations (B*T = 12*64 rows of 4*128), in the same run. Prints CPU ms per
// forward+backward pair (process CPU time: meaningful on a shared machine) and the ratio. This is
// how docs/native.md ("Elementwise activations") chose which activations get a wasm row.
//   node dist/bench/elementwise.js [--reps 20]
import { activations } from '../src/nn/activations/activation-registry.js';
import { loadWasmBackend } from '../src/engine/kernels/wasm/node-loader.js';
import type { Variant, VariantKernels } from '../src/nn/variant.js';

const i = process.argv.indexOf('--reps'), reps = i > 0 ? Number(process.argv[i + 1]) : 20;
const be = loadWasmBackend();
if (!be) throw new Error('the wasm module is not built: run `npm run build:wasm`');
const N = 768, C = 512, n = N * C;
const x = new Float32Array(n).map((_, k) => Math.sin(k * 0.37) * 3), dout = new Float32Array(n).map((_, k) => Math.cos(k * 0.11));
const out = new Float32Array(n), dx = new Float32Array(n);
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const none = {} as never;

/** CPU ms of one forward + backward of k, averaged over reps after one warm-up. */
function time(k: Pick<VariantKernels, 'forward' | 'backward'>): number {
  const step = () => { k.forward(out, x, none, none, N, C, none, none); k.backward(dx, none, dout, x, none, none, N, C, none, none); };
  step();
  const t = cpuMs();
  for (let r = 0; r < reps; r++) step();
  return (cpuMs() - t) / reps;
}

console.log(`forward + backward over ${n} floats, CPU ms per pair (wasm backend, ${reps} reps)`);
console.log('activation     ts ms  wasm ms  ts/wasm');
for (const [name, v] of Object.entries(activations as Record<string, Variant>)) {
  // parameter-free, nothing saved, not gated: what a row of the elementwise tables can be
  if (v.gated || Object.keys(v.params(C, none)).length > 0 || Object.keys(v.saved(N, C, none)).length > 0) continue;
  const ts = time(v), k = v.fused?.(be);
  const w = k ? time(k) : null;
  console.log(`${name.padEnd(13)} ${ts.toFixed(2).padStart(6)}  ${w === null ? '      -' : w.toFixed(2).padStart(7)}  ${w === null ? '' : `${(ts / w).toFixed(1)}x`}`);
}
