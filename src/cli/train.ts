// `normlab train [flags]`.
import { defaultConfig, FLAGS, HelpRequested, parseFlags } from '../config/config.js';
import { formatHelp } from './help.js';
import { train } from '../train/loop.js';
import type { TrainConfig } from '../config/config-types.js';

export async function trainCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(argv, FLAGS, defaultConfig() as unknown as Record<string, unknown>, { maxPositional: 0 });
  } catch (e) {
    if (e instanceof HelpRequested) {
      process.stdout.write(formatHelp('train', FLAGS, 'normlab train [flags]', 'Train (or resume, or fine-tune) a GPT with the chosen norm and activation variants.'));
      return 0;
    }
    throw e;
  }
  return train(parsed.config as unknown as TrainConfig, parsed.given);
}
