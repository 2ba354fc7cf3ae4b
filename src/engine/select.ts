// Picks the compute backend for --backend auto|ts|native.
import type { Backend } from './backend.js';
import { UserError } from './types.js';
import { tsBackend } from './kernels/ts/index.js';
import { loadNativeBackend, nativeBackendError } from './kernels/native/index.js';

export type BackendName = 'auto' | 'ts' | 'native';

/**
 * auto: native when its addon loads, else ts with a one-line `note` for the user to print once;
 * native: the native backend or a UserError saying why it is unavailable; ts: the TypeScript kernels.
 */
export function selectBackend(name: BackendName): { backend: Backend; note: string | null } {
  if (name === 'ts') return { backend: tsBackend, note: null };
  const native = loadNativeBackend();
  if (native) return { backend: native, note: null };
  const reason = nativeBackendError() ?? 'unknown reason';
  if (name === 'native') {
    throw new UserError(`--backend native: the native backend is not available (${reason}); ` +
      'run `npm run build:native` (needs a C compiler and libopenblas-dev, see docs/native.md), or use --backend ts');
  }
  return {
    backend: tsBackend,
    note: `native backend not built (${reason}); using the TypeScript backend: run \`npm run build:native\``,
  };
}
