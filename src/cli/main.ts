// `normlab <command>`: dispatch, and the one place errors become messages and exit codes.
import { UserError } from '../util/errors.js';

const COMMANDS: Record<string, { help: string; run: () => Promise<(argv: string[]) => Promise<number>> }> = {
  prepare: { help: 'build data/<dataset>/ (shakespeare_char ships with normlab; --input FILE for any text)', run: async () => (await import('./prepare.js')).prepareCommand },
  train: { help: 'train, resume or fine-tune a model', run: async () => (await import('./train.js')).trainCommand },
  sample: { help: 'generate text from a checkpoint', run: async () => (await import('./sample.js')).sampleCommand },
  sweep: { help: 'train every combination of an exploration file (JSON or YAML); results table', run: async () => (await import('./sweep.js')).sweepCommand },
  worker: { help: 'train the runs of sweeps queued on Redis (normlab sweep FILE --queue URL), on this machine', run: async () => (await import('./worker.js')).workerCommand },
  activations: { help: 'print or write as CSV the curve of an activation, initial or learned in a checkpoint', run: async () => (await import('./activations.js')).activationsCommand },
  eval: { help: 'loss of a checkpoint under quantization flags, at several bit widths (no training)', run: async () => (await import('./eval.js')).evalCommand },
  export: { help: 'write a checkpoint\'s quantized linear weights as integer tensors with scale and zero point (safetensors)', run: async () => (await import('./export.js')).exportCommand },
  cost: { help: 'hardware cost per token of the configured norms and activations (operations by class, reductions, parameters)', run: async () => (await import('./cost.js')).costCommand },
  bench: { help: 'training and sampling speed (ratios against PyTorch or rmsnorm+gelu, measured in the same run)', run: async () => (await import('./bench.js')).benchCommand },
  dashboard: { help: 'serve a local web page with every run below a folder: curves, results, learned activations', run: async () => (await import('./dashboard.js')).dashboardCommand },
  inspect: { help: 'list the runs below a folder: differing flags, best val loss', run: async () => (await import('./inspect.js')).inspectCommand },
};

function usage(): string {
  const lines = ['usage: normlab <command> [flags]   (normlab <command> --help for its flags)', '', 'commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(12)}${c.help}`);
  return lines.join('\n') + '\n';
}

/** A reader that stopped reading (`normlab inspect DIR --json | head -1`): the output is done, not failed. */
function quietOnClosedPipe(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

export async function main(argv: string[]): Promise<number> {
  quietOnClosedPipe();
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '-h' || cmd === '--help' || cmd === 'help') {
    process.stdout.write(usage());
    return cmd ? 0 : 1;
  }
  const entry = COMMANDS[cmd];
  if (!entry) {
    process.stderr.write(`normlab: unknown command '${cmd}'\n\n${usage()}`);
    return 1;
  }
  return runCommand(await entry.run(), rest);
}

/** Runs one command: a UserError (a mistake the user can fix) becomes `error: <message>` on stderr
 * and exit code 1, never a stack trace. The one place this happens. */
export async function runCommand(command: (argv: string[]) => Promise<number>, argv: string[]): Promise<number> {
  try {
    return await command(argv);
  } catch (e) {
    if (e instanceof UserError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
