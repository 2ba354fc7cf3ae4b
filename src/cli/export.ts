// `normlab export --init_from CKPT --quantized [quantization flags] --out FILE`: the checkpoint's
// quantized weights as integer tensors with scale and zero point (docs/quantization.md, "Export").
import { checkFlags, checkTrainConfig, EXPORT_FLAGS } from '../config/config.js';
import type { ModelConfig } from '../config/config-types.js';
import { UserError } from '../util/errors.js';
import { writeSafetensors } from '../engine/safetensors.js';
import { exportQuantized } from '../train/quant-export.js';
import { checkpointUnderFlags } from './eval.js';
import { parseOrHelp } from './help.js';

export async function exportCommand(argv: string[]): Promise<number> {
  const parsed = parseOrHelp(argv, EXPORT_FLAGS, 'export', 'normlab export --init_from CKPT --quantized [quantization flags] --out FILE',
    'Write the quantized weights of a checkpoint as integer tensors with scale and zero point (safetensors).');
  if (!parsed) return 0;
  const o = parsed.config;
  checkFlags(EXPORT_FLAGS, o);
  const out = o.out as string | null;
  if (!o.quantized) throw new UserError('normlab export writes quantized weights only: add --quantized (and the quantization flags, e.g. --linear_variant_attn quantized_linear)');
  if (!out) throw new UserError('normlab export needs --out FILE (a .safetensors file to write)');
  const { tensors, metadata, cfg } = checkpointUnderFlags(o.init_from as string | null, parsed, 'export');
  checkTrainConfig(cfg);
  const { out: named, meta } = exportQuantized(cfg as unknown as ModelConfig, tensors, o.seed as number);
  if (Object.keys(meta).length === 0) {
    throw new UserError('nothing to export: no quantized_linear layer and no quantized table; add e.g. --linear_variant_attn quantized_linear --linear_variant_mlp quantized_linear');
  }
  writeSafetensors(out, named, { ...metadata, quantization: JSON.stringify(meta) });
  process.stderr.write(`${out}: ${Object.keys(meta).length} quantized tensors (${[...new Set(Object.values(meta).map((m) => m.storage))].join(', ')}), ${named.length} tensors in all\n`);
  return 0;
}
