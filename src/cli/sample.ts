// `normlab sample [flags]`: text from a run's checkpoint (nanoGPT's sample.py flags).
import { readFileSync } from 'node:fs';
import { checkFlags, SAMPLE_FLAGS } from '../config/config.js';
import { UserError } from '../util/errors.js';
import { blockLayout } from '../model/block.js';
import { parseOrHelp } from './help.js';
import { generateText, loadRun } from '../sampling.js';

export async function sampleCommand(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(argv, SAMPLE_FLAGS, 'sample', 'normlab sample [flags]', 'Generate text from a checkpoint.');
  if (!parsed) return 0;
  const cfg = parsed.config;
  checkFlags(SAMPLE_FLAGS, cfg);
  const start = promptOf(cfg.start as string);
  const run = loadRun(cfg.out_dir as string, { dataDir: cfg.data_dir as string, backend: cfg.backend as 'auto' });
  // Which model this is goes to stderr, so stdout stays the generated text alone.
  process.stderr.write(`${run.file}: ${blockLayout(run.model.cfg)}\n`);
  const n = cfg.num_samples as number;
  for (let i = 0; i < n; i++) {
    const text = generateText(run, {
      start, maxNewTokens: cfg.max_new_tokens as number, temperature: cfg.temperature as number,
      topK: cfg.top_k as number | null, seed: (cfg.seed as number) + i,
    });
    process.stdout.write(text + '\n---------------\n');
  }
  return 0;
}

/** --start: the prompt, or with FILE:path the contents of that file (as nanoGPT's sample.py). */
export function promptOf(start: string): string {
  if (!start.startsWith('FILE:')) return start;
  const file = start.slice(5);
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`--start FILE:${file}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give the path of a text file`);
  }
}
