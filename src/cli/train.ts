// `normlab train [flags]`.
import { defaultConfig, FLAGS } from '../config/config.js';
import { parseOrHelp } from './help.js';
import { train } from '../train/loop.js';
import type { TrainConfig } from '../config/config-types.js';

export async function trainCommand(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(argv, FLAGS, 'train', 'normlab train [flags]', 'Train (or resume, or fine-tune) a GPT with the chosen norm and activation variants.',
    defaultConfig() as unknown as Record<string, unknown>);
  if (!parsed) return 0;
  return train(parsed.config as unknown as TrainConfig, parsed.given);
}
