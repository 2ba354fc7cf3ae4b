// `normlab inspect <dir> [--sort val_loss|name|iter] [--json]`: every run below <dir> with the flags
// that differ between runs, best validation loss and its iteration, and status (src/sweep/inspect.ts).
import { UserError } from '../engine/types.js';
import { inspectDir, inspectTable, type InspectSort } from '../sweep/inspect.js';

export const INSPECT_HELP = `usage: normlab inspect <dir> [--sort val_loss|name|iter] [--json]

Lists every run folder below <dir> (one holding summary.json, state.json or ckpt.safetensors)
with the flags that differ between the runs, the best validation loss and its iteration, the
iterations trained and the status. Sorted by best validation loss unless --sort says otherwise
(iter: by the iteration of the best validation loss). --json prints one JSON object per run.`;

const SORTS: readonly InspectSort[] = ['val_loss', 'name', 'iter'];

export async function inspectCommand(argv: string[]): Promise<number> {
  try {
    let dir: string | null = null;
    let sort: InspectSort = 'val_loss';
    let json = false;
    for (let i = 0; i < argv.length; i++) {
      const tok = argv[i];
      if (tok === '-h' || tok === '--help') { process.stdout.write(INSPECT_HELP + '\n'); return 0; }
      if (tok === '--json') { json = true; continue; }
      if (tok === '--sort' || tok.startsWith('--sort=')) {
        const v = tok.includes('=') ? tok.slice(tok.indexOf('=') + 1) : argv[++i];
        if (!SORTS.includes(v as InspectSort)) throw new UserError(`--sort: '${v ?? ''}' is not one of ${SORTS.join(', ')}`);
        sort = v as InspectSort;
        continue;
      }
      if (tok.startsWith('-')) throw new UserError(`unknown option ${tok} (see normlab inspect --help)`);
      if (dir !== null) throw new UserError(`one folder at a time: got '${dir}' and '${tok}'`);
      dir = tok;
    }
    if (dir === null) throw new UserError('which folder? usage: normlab inspect <dir> [--sort val_loss|name|iter]');
    const { runs, flags } = inspectDir(dir, sort);
    if (json) {
      for (const r of runs) {
        const o: Record<string, unknown> = { path: r.path };
        for (const k of flags) o[k] = r.config?.[k] ?? null;
        Object.assign(o, { best_val_loss: r.best_val_loss, best_iter: r.best_iter, iters: r.iters, status: r.status });
        process.stdout.write(JSON.stringify(o) + '\n');
      }
    } else {
      process.stdout.write(inspectTable(runs, flags) + '\n');
      process.stdout.write(`${runs.length} runs under ${dir}${flags.length > 0 ? `; they differ in ${flags.join(', ')}` : ''}\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof UserError) {
      process.stderr.write(`error: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
