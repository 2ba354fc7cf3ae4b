// Picks the compute backend for --backend auto|ts|native|wasm.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend } from './backend.js';
import { UserError } from '../util/errors.js';
import { tsBackend } from './kernels/ts/ts-backend.js';
import { loadNativeBackend, nativeBackendError, nativeInfo } from './kernels/native/native-backend.js';
import { loadWasmBackend, wasmBackendError } from './kernels/wasm/node-loader.js';

export type BackendName = 'auto' | 'ts' | 'native' | 'wasm';

/**
 * How to build the native backend here: from a checkout (it has tsconfig.json) `npm run
 * build:native`; from an installed package, npm's rebuild runs the package's install script
 * (README, "Installing the package").
 */
export function buildNativeHint(): string {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..'); // dist/src/engine -> root
  return existsSync(path.join(root, 'tsconfig.json')) ? 'run `npm run build:native`'
    : `run \`npm rebuild normlab\` in the folder normlab is installed in (-g for a global install; where npm holds back install scripts, first \`npm install-scripts approve normlab\`)`;
}

/**
 * auto: native when its addon loads, else wasm (with a one-line `note` for the user to print once),
 * else ts with a note; native / wasm: that backend or a UserError saying why it is unavailable;
 * ts: the TypeScript kernels.
 */
export function selectBackend(name: BackendName): { backend: Backend; note: string | null } {
  if (name === 'ts') return { backend: tsBackend, note: null };
  if (name === 'wasm') {
    const wasm = loadWasmBackend();
    if (wasm) return { backend: wasm, note: null };
    throw new UserError(`--backend wasm: the WebAssembly backend is not available (${wasmBackendError()}), or use --backend ts`);
  }
  const native = loadNativeBackend();
  if (native) return { backend: native, note: null };
  const reason = nativeBackendError() ?? 'unknown reason';
  if (name === 'native') {
    throw new UserError(`--backend native: the native backend is not available (${reason}); ` +
      `${buildNativeHint()} (needs only a C compiler, make and python3, see docs/native.md), or use --backend ts`);
  }
  const wasm = loadWasmBackend();
  return {
    backend: wasm ?? tsBackend,
    note: `native backend not built (${reason}); using the ${wasm ? 'WebAssembly' : 'TypeScript'} backend: ${buildNativeHint()}`,
  };
}

/** The line training prints once with --dtype bfloat16: how this backend computes the bfloat16
 * products (docs/dtype.md): vdpbf16ps, or the same numbers from float32 FMAs (slower), or emulated. */
export function bf16Note(backend: Backend['name']): string {
  if (backend !== 'native') return `--dtype bfloat16: products emulated by the ${backend} backend on operands rounded to bfloat16 (same rounding as native, slower than float32)`;
  const k = nativeInfo()?.gemmBf16;
  return k === 'avx512bf16'
    ? '--dtype bfloat16: products with vdpbf16ps (AVX512_BF16)'
    : `--dtype bfloat16: this CPU (or the selected GEMM) has no vdpbf16ps; the products use float32 FMAs on rounded operands (${k}): the same numbers, slower than float32`;
}
