// `normlab cost [train flags]`: what the configured model's norms and activations cost in a chip,
// per token, by operation class (docs/cost.md): each slot (norm slots, the MLP activation, ln_f),
// each layer and the total, with the matrix products alongside for scale. With quantization flags, the
// products also at their operand widths (docs/cost.md, "Bit widths": cost_bit_macs, cost_weight_bits).
//
//   normlab cost --n_layer 4 --n_embd 128 --norm_variant_attn krmsnorm --krmsnorm_quantize_type int8
//   normlab cost --activation_variant_layerlist relu gelu learned_spline --training
//   normlab cost --compare                 every norm and activation, relative to rmsnorm and gelu
//   normlab cost --compare relu pfla krmsnorm --json
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultConfig, FLAGS, type FlagSpec, HelpRequested, parseFlags, checkTrainConfig } from '../config/config.js';
import { loadMeta } from '../data/dataset.js';
import { UserError } from '../util/errors.js';
import type { ModelConfig } from '../config/config-types.js';
import { mlpHidden } from '../model/block.js';
import { bitMatmuls, costSummary, modelCost, variantCost, type ModelCost } from '../model/model-cost.js';
import { variantTag } from '../model/label.js';
import { activations } from '../nn/activations/activation-registry.js';
import { OP_CLASSES, pass, totalOps, type Ops, type Reduction } from '../nn/op-cost.js';
import { norms } from '../nn/norms/norm-registry.js';
import { formatHelp } from './help.js';
import { modelVocabSize } from '../train/loop.js';
import { csvLine, textTable } from '../util/format.js';

const OWN_FLAGS: FlagSpec[] = [
  { name: 'compare', type: 'str', list: true, default: null, nullable: true, group: 'cost', help: 'compare variants side by side, relative to rmsnorm and gelu: the names to list, or none for every variant' },
  { name: 'training', type: 'bool', default: false, group: 'cost', help: 'show training (forward + backward) counts by class instead of inference' },
  { name: 'json', type: 'bool', default: false, group: 'cost', help: 'print JSON (every figure, both passes)' },
  { name: 'csv', type: 'bool', default: false, group: 'cost', help: 'print CSV (one row per slot or variant)' },
];
// Every train flag is accepted (a train command line works with `cost` in place of `train`); the
// model, norm and activation flags and the dataset (for vocab_size) are the ones that count.
const TABLE = [...FLAGS, ...OWN_FLAGS];
const DEFAULT_VOCAB = 65; // shakespeare_char's, when no prepared dataset says otherwise

const USAGE = 'normlab cost [train flags] [--training] [--compare [NAME ...]] [--json | --csv]';

function fmtReductions(rs: Reduction[]): string {
  return rs.length ? rs.map((r) => (r.bits === 32 ? `${r.length}` : `${r.length}@${r.bits}b`)).join('+') : '-';
}

/** The configuration the flags describe; vocab_size from the prepared dataset when there is one. */
function configFrom(c: Record<string, unknown>): { cfg: ModelConfig; note: string | null } {
  let vocab = DEFAULT_VOCAB, note: string | null = null;
  const dir = join(c.data_dir as string, c.dataset as string);
  if (existsSync(join(dir, 'meta.json'))) vocab = loadMeta(c.data_dir as string, c.dataset as string).vocab_size;
  else note = `no prepared dataset at ${dir}: the LM head is counted with vocab_size ${DEFAULT_VOCAB} (shakespeare_char)`;
  // The model's vocabulary, as training sizes it (--vocab_multiple pads it).
  return { cfg: { ...(c as unknown as ModelConfig), vocab_size: modelVocabSize(vocab, c.vocab_multiple as number | null) }, note };
}

type BitMatmul = ReturnType<typeof bitMatmuls>[number];

/** The matrix products at their operand widths, when a quantization flag narrows any of them; else null. */
function quantizedProducts(cfg: ModelConfig): BitMatmul[] | null {
  const bm = bitMatmuls(cfg);
  return bm.some((m) => m.aBits !== 32 || m.wBits !== 32) ? bm : null;
}

/** Bit-weighted MACs per token (docs/cost.md, "Bit widths") of layer i's products, or of the LM head (i < 0). */
function bitMacs(bm: BitMatmul[], layer: number): number {
  const mine = bm.filter((m) => (layer < 0 ? !m.name.startsWith('h.') : m.name.startsWith(`h.${layer}.`)));
  return mine.reduce((n, m) => n + (m.macs * m.aBits * m.wBits) / 1024, 0);
}

function modelRows(mc: ModelCost, mode: 'inference' | 'training', cfg: ModelConfig, bm: BitMatmul[] | null): (string | number)[][] {
  const rows: (string | number)[][] = [];
  const opsCells = (o: Ops) => OP_CLASSES.map((k) => o[k] ?? 0);
  for (const layer of mc.layers) {
    const slots = mc.slots.filter((s) => s.layer === layer.layer);
    for (const s of slots) {
      const head = layer.layer < 0 && s === slots[slots.length - 1]; // the LM head's products on ln_f's row
      rows.push([s.layer < 0 ? 'final' : String(s.layer), s.slot, variantTag(s.kind, s.variant, cfg), s.width, s.params, ...opsCells(s[mode]), totalOps(s[mode]),
        fmtReductions(s.reductions[mode]), head ? mc.matmuls.filter((m) => m.layer < 0).reduce((n, m) => n + m.macs, 0) : '',
        ...(bm ? [head ? bitMacs(bm, -1) : ''] : [])]);
    }
    if (layer.layer >= 0) {
      rows.push([String(layer.layer), 'layer total', '', '', layer.params, ...opsCells(layer[mode]), totalOps(layer[mode]), '', layer.matmulMacs,
        ...(bm ? [bitMacs(bm, layer.layer)] : [])]);
    }
  }
  rows.push(['all', 'model total', '', '', mc.total.params, ...opsCells(mc.total[mode]), totalOps(mc.total[mode]), '', mc.total.matmulMacs,
    ...(bm ? [costSummary(cfg).cost_bit_macs] : [])]);
  return rows;
}

/** Every variant (or the named ones) at the model's widths, with ratios to rmsnorm and gelu. */
function compareRows(cfg: ModelConfig, names: string[] | null) {
  const C = cfg.n_embd, H = mlpHidden(cfg);
  const entries: { kind: 'norm' | 'activation'; name: string }[] = [
    ...Object.keys(norms).map((name) => ({ kind: 'norm' as const, name })),
    ...Object.keys(activations).map((name) => ({ kind: 'activation' as const, name })),
  ];
  if (names && names.length) {
    const unknown = names.filter((n) => !entries.some((e) => e.name === n));
    if (unknown.length) throw new UserError(`--compare: ${unknown.join(', ')} is not a norm or an activation; choose among: ${entries.map((e) => e.name).join(', ')}`);
  }
  const picked = names && names.length ? entries.filter((e) => names.includes(e.name)) : entries;
  const one = (kind: 'norm' | 'activation', name: string) => {
    const v = (kind === 'norm' ? norms : activations)[name], W = kind === 'norm' ? C : H;
    const c = variantCost(v, W, cfg);
    const train = pass(c.training.forward, c.training.backward);
    return { kind, name, width: W, params: c.training.params, inference: c.inference.forward, training: train, setup: c.training.setup ?? {} };
  };
  const d = defaultConfig(); // the baseline: the default norm and activation (rmsnorm, gelu)
  const base = { norm: one('norm', d.norm_variant_attn), activation: one('activation', d.activation_variant) };
  return picked.map(({ kind, name }) => {
    const r = one(kind, name), b = base[kind];
    return {
      ...r,
      relInference: totalOps(r.inference.ops) / totalOps(b.inference.ops),
      relTraining: totalOps(r.training.ops) / totalOps(b.training.ops),
    };
  });
}

export async function costCommand(argv: string[]): Promise<number> {
  // A bare --compare (no names after it) means every variant.
  const args = argv.flatMap((a, i) => (a === '--compare' && (i + 1 >= argv.length || argv[i + 1].startsWith('--')) ? ['--compare', 'all'] : [a]));
  let parsed;
  try {
    parsed = parseFlags(args, TABLE, { ...defaultConfig(), compare: null, training: false, json: false, csv: false } as Record<string, unknown>, { maxPositional: 0 });
  } catch (e) {
    if (!(e instanceof HelpRequested)) throw e;
    process.stdout.write(formatHelp('cost', TABLE, USAGE,
      'Operation counts per token of the configured model\'s norms and activations (docs/cost.md says how each is counted), ' +
      'by class: ' + OP_CLASSES.join(', ') + '; reductions as lengths (@bits when quantized); the matrix products alongside, as multiply-accumulates, ' +
      'and with quantization flags also bit-weighted (bit MACs, cost_bit_macs, cost_weight_bits).'));
    return 0;
  }
  const { compare: cmp, training, json, csv, ...c } = parsed.config;
  const compare = cmp as string[] | null, mode = training ? 'training' : 'inference';
  checkTrainConfig(c);
  const { cfg, note } = configFrom(c);

  if (compare !== null) {
    const rows = compareRows(cfg, compare.includes('all') ? null : compare);
    if (json) { process.stdout.write(JSON.stringify({ widths: { norm: cfg.n_embd, activation: mlpHidden(cfg) }, variants: rows }, null, 2) + '\n'); return 0; }
    const head = ['kind', 'variant', 'width', 'params', ...OP_CLASSES, 'ops', 'reductions', 'ops / rmsnorm or gelu'];
    const body = rows.map((r) => {
      const p = mode === 'training' ? r.training : r.inference;
      return [r.kind, r.name, r.width, r.params, ...OP_CLASSES.map((k) => p.ops[k] ?? 0), totalOps(p.ops), fmtReductions(p.reductions ?? []),
        (mode === 'training' ? r.relTraining : r.relInference).toFixed(2)];
    });
    if (csv) { process.stdout.write([csvLine(head), ...body.map(csvLine)].join('\n') + '\n'); return 0; }
    console.log(`${mode} operations per token (norms at C = ${cfg.n_embd}, activations at H = ${mlpHidden(cfg)}); last column: total operations relative to rmsnorm (norms) or gelu (activations)`);
    console.log(textTable(head, body, { left: 2, rule: false }));
    return 0;
  }

  const mc = modelCost(cfg), bm = quantizedProducts(cfg), summary = costSummary(cfg);
  const bits = { cost_bit_macs: summary.cost_bit_macs, cost_weight_bits: summary.cost_weight_bits, matmuls: bitMatmuls(cfg) };
  if (json) { process.stdout.write(JSON.stringify({ config: cfg, ...mc, bits }, null, 2) + '\n'); return 0; }
  const head = ['layer', 'slot', 'variant', 'width', 'params', ...OP_CLASSES, 'ops', 'reductions', 'matmul MACs', ...(bm ? ['bit MACs'] : [])];
  const rows = modelRows(mc, mode, cfg, bm);
  if (csv) { process.stdout.write([csvLine(head), ...rows.map(csvLine)].join('\n') + '\n'); return 0; }
  if (note) console.log(`note: ${note}`);
  console.log(`${mode === 'training' ? 'training (forward + backward)' : 'inference (forward)'} operations per token; reductions as lengths; ` +
    `matrix products as multiply-accumulates per token (x3 in training), attention over a ${cfg.block_size}-token context`);
  console.log(textTable(head, rows, { left: 3, rule: false }));
  const t = mc.total, share = totalOps(t[mode]) / (totalOps(t[mode]) + 2 * t.matmulMacs * (mode === 'training' ? 3 : 1));
  console.log(`norms and activations: ${totalOps(t[mode])} operations per token, ${(100 * share).toFixed(2)}% of all arithmetic ` +
    `(matrix products: ${t.matmulMacs * (mode === 'training' ? 3 : 1)} MACs); ${t.params} variant parameters`);
  if (bm) {
    const narrow = bm.filter((m) => m.macs > 0 && (m.aBits !== 32 || m.wBits !== 32));
    const widths = [...new Set(narrow.map((m) => `${m.name.replace(/^h\.\d+\./, '')} ${m.aBits}x${m.wBits}`))];
    console.log(`quantized (docs/cost.md, "Bit widths"): cost_bit_macs ${+bits.cost_bit_macs.toFixed(2)} bit-weighted MACs per token ` +
      `(a b_a x b_w-bit MAC counts b_a b_w / 32^2; float32: ${t.matmulMacs}), cost_weight_bits ${+bits.cost_weight_bits.toFixed(2)} ` +
      `(mean bits per stored weight); narrowed products (activation x weight bits): ${widths.length ? widths.join(', ') : 'none (weights only)'}`);
  }
  return 0;
}
