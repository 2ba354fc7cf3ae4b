// Backend selection: --backend ts | native | auto (native when it loads, else ts with a note).
import type { Backend } from './backend.js';
import { tsBackend } from './kernels/ts/index.js';
import { UserError } from './types.js';

export function selectBackend(name: 'auto' | 'ts' | 'native'): { backend: Backend; note: string | null } {
  if (name === 'native') throw new UserError('the native backend is not available in this build; use --backend ts');
  return { backend: tsBackend, note: null };
}
