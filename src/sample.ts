// TEMPORARY STUB (dashboard worktree only): the lead writes the real src/sample.ts; the merge
// takes that one. Contract signature only.
import { UserError } from './engine/types.js';

export async function sampleText(outDir: string, opts: { start?: string; maxNewTokens?: number; temperature?: number; topK?: number | null; seed?: number; dataDir?: string }): Promise<string> {
  void opts;
  throw new UserError(`sampling is not available in this build (stub): ${outDir}`);
}
