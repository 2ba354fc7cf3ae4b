// `normlab eval --init_from CKPT [quantization flags] [--bits 16 8 6 4 3 2] [--json]`: a trained
// checkpoint's val and train loss under quantization flags, without training, beside the float32
// model's on the same batches; with --bits one row per width (docs/quantization.md).
import { existsSync } from 'node:fs';
import { checkFlags, EVAL_FLAGS } from '../config/config.js';
import { QUANT_FLAGS } from '../config/quantization.js';
import type { ModelConfig } from '../config/config-types.js';
import { UserError } from '../util/errors.js';
import { selectBackend } from '../engine/select.js';
import { closeDataset, loadDataset } from '../data/dataset.js';
import { blockLayout } from '../model/block.js';
import { loadTensors } from '../train/checkpoint.js';
import { floatConfig, quantEval } from '../train/quant-eval.js';
import { checkSavedConfig } from '../sampling.js';
import { textTable } from '../util/format.js';
import { parseOrHelp } from './help.js';

/**
 * The checkpoint of --init_from (checked as sample checks it) and its config under the quantization
 * flags of the command line: those given replace the checkpoint's own; without any, it stays as trained.
 */
export function checkpointUnderFlags(file: string | null, parsed: { config: Record<string, unknown>; given: Set<string> }, what: string) {
  if (!file) throw new UserError(`normlab ${what} needs --init_from CKPT, a .safetensors checkpoint written by normlab train`);
  if (!existsSync(file)) throw new UserError(`--init_from ${file}: no such file`);
  const { tensors, metadata } = loadTensors(file);
  let saved: ModelConfig;
  try {
    saved = JSON.parse(metadata.config ?? '');
  } catch {
    throw new UserError(`${file} has no normlab model config in its metadata: give a checkpoint written by normlab train`);
  }
  checkSavedConfig(saved, tensors, file);
  const quantGiven = QUANT_FLAGS.some((f) => parsed.given.has(f.name));
  const cfg: Record<string, unknown> = quantGiven ? { ...floatConfig(saved) } : { ...saved };
  if (quantGiven) for (const f of QUANT_FLAGS) if (parsed.given.has(f.name)) cfg[f.name] = parsed.config[f.name];
  return { file, tensors, metadata, saved, cfg };
}

export async function evalCommand(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(argv, EVAL_FLAGS, 'eval', 'normlab eval --init_from CKPT [quantization flags] [--bits 16 8 6 4 3 2] [--json]',
    'Loss of a checkpoint under quantization flags (no training), beside its float32 loss on the same batches.');
  if (!parsed) return 0;
  const o = parsed.config;
  checkFlags(EVAL_FLAGS, o);
  const { file, tensors, saved, cfg } = checkpointUnderFlags(o.init_from as string | null, parsed, 'eval');
  const { backend } = selectBackend(o.backend as 'auto');
  const data = loadDataset(o.data_dir as string, o.dataset as string, { blockSize: saved.block_size });
  const widths = o.bits as number[] | null;
  process.stderr.write(`${file}: ${blockLayout(cfg as unknown as ModelConfig)}\n`);
  let rows;
  try {
    rows = quantEval(cfg as unknown as ModelConfig, widths, {
      be: backend, tensors, file, val: data.val, train: data.train,
      batchSize: o.batch_size as number, iters: o.eval_iters as number, seed: o.seed as number,
    });
  } finally {
    closeDataset(data);
  }
  if (o.json) {
    for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
    return 0;
  }
  const f4 = (v: number) => v.toFixed(4);
  process.stdout.write(textTable(['bits', 'val loss', 'vs float32', 'train loss', 'bit-MACs/token', 'bits/weight'],
    rows.map((r) => [r.bits === null ? 'as given' : String(r.bits), f4(r.val_loss), (r.val_diff >= 0 ? '+' : '') + f4(r.val_diff),
      f4(r.train_loss), Math.round(r.cost_bit_macs), r.weight_bits.toFixed(2)])) + '\n');
  return 0;
}
