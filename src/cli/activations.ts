// `normlab activations`: print (or write as CSV) an activation's curve, at its initial parameters
// and, given a checkpoint, with the parameters learned in one layer's MLP.
//
//   normlab activations --activation_variant pfla [variant flags] [--checkpoint out/ckpt.safetensors]
//                       [--layer 0] [--xmin -5 --xmax 5 --points 201] [--csv FILE]
//
// Columns: x, initial[, learned]. With --checkpoint, the activation and its flags come from the
// checkpoint's saved config (metadata key `config`); flags given here must agree with it.
import { writeFileSync } from 'node:fs';
import { UserError } from '../util/errors.js';
import type { ModelConfig } from '../config/config-types.js';
import { blockActivation } from '../model/block.js';
import { activationCurve, activationVariant } from '../nn/activations/curve.js';
import { problemsOf, numel, type Params, type Variant } from '../nn/variant.js';
import { checkSavedModelConfig, loadTensors } from '../train/checkpoint.js';
import { defaultConfig, FLAGS, type FlagSpec } from '../config/config.js';
import { parseOrHelp } from './help.js';

const OWN_FLAGS: FlagSpec[] = [
  { name: 'checkpoint', type: 'str', default: null, nullable: true, group: 'activation', help: 'a .safetensors checkpoint: adds the learned curve' },
  { name: 'layer', type: 'int', default: 0, group: 'activation', help: 'which block\'s MLP activation: its variant (with --activation_variant_layerlist) and, from a checkpoint, its learned parameters' },
  { name: 'xmin', type: 'float', default: -5, group: 'activation', help: 'first x' },
  { name: 'xmax', type: 'float', default: 5, group: 'activation', help: 'last x' },
  { name: 'points', type: 'int', default: 201, group: 'activation', help: 'number of x values, evenly spaced' },
  { name: 'csv', type: 'str', default: null, nullable: true, group: 'activation', help: 'write the table to this file instead of printing it' },
];
const ACT_FLAGS = FLAGS.filter((f) => f.group === 'activation');

/**
 * The activation's counts (knots, points) in a checkpoint's config may not exceed the values the file
 * holds: a 2 KB file claiming five million knots is refused before the curve is evaluated (the exact
 * shapes are compared by learnedParams). The file may hold the activation's tensors alone, so only
 * the layer's activation's own counts are bounded here.
 */
function boundActivationCounts(v: Variant, cfg: ModelConfig, tensors: Map<string, { data: Float32Array }>, path: string): void {
  let held = 0;
  for (const t of tensors.values()) held += t.data.length;
  for (const f of v.flags ?? []) {
    const n = (cfg as unknown as Record<string, unknown>)[f.name];
    if (f.type === 'int' && typeof n === 'number' && n > Math.max(held, 1)) {
      throw new UserError(`${path}: its model config gives ${f.name} ${n} but the file holds only ${held} values in all: ` +
        'the metadata does not belong to these weights (corrupt or edited file)');
    }
  }
}

/** The learned parameters of layer `layer`'s MLP activation, as doubles. */
function learnedParams(tensors: Map<string, { shape: number[]; data: Float32Array }>, cfg: ModelConfig, layer: number, path: string): Params {
  const name = blockActivation(cfg, layer), v = activationVariant(name);
  const p: Params = {}, missing: string[] = [];
  for (const [pname, spec] of Object.entries(v.params(1, cfg))) {
    const key = `transformer.h.${layer}.mlp.activation_variant.${pname}`, t = tensors.get(key);
    if (!t) { missing.push(key); continue; }
    if (t.data.length !== numel(spec.shape)) {
      throw new UserError(`${path}: ${key} has shape [${t.shape.join(', ')}], expected [${spec.shape.join(', ')}]`);
    }
    p[pname] = Float64Array.from(t.data);
  }
  if (missing.length) throw new UserError(`${path} lacks ${missing.join(', ')} (is it a model with ${name} in layer ${layer}?)`);
  return p;
}

function fmt(v: number): string {
  return String(Number(v.toPrecision(12)));
}

/** Most x values one curve gets (a CSV of about 3 MB per curve). */
const MAX_POINTS = 100_000;

/** The config a checkpoint was trained with (the activation flags given must agree with it) and the
 * learned parameters of layer `layer`'s activation, each bounded by the tensors the file holds. */
async function fromCheckpoint(ckpt: string, layer: number, given: Map<string, unknown>, actFlags: string[]): Promise<{ cfg: ModelConfig; learned: Params | undefined }> {
  const { tensors, metadata } = await loadTensors(ckpt);
  if (!metadata?.config) throw new UserError(`${ckpt} has no saved config (metadata key 'config')`);
  let saved: Partial<ModelConfig>;
  try { saved = JSON.parse(metadata.config) as Partial<ModelConfig>; } catch { throw new UserError(`${ckpt}: metadata 'config' is not valid JSON`); }
  if (saved === null || typeof saved !== 'object' || Array.isArray(saved)) throw new UserError(`${ckpt}: metadata 'config' is not a JSON object`);
  // The file's metadata is not believed before it is bounded by the tensors it holds (docs/safety.md).
  checkSavedModelConfig(saved as Record<string, unknown>, ckpt, { typesOnly: true });
  const cfg: ModelConfig = { ...defaultConfig(), ...saved };
  for (const k of actFlags) {
    if (!given.has(k)) continue;
    const want = given.get(k), have = (cfg as unknown as Record<string, unknown>)[k];
    if (want !== have) throw new UserError(`--${k} ${String(want)} disagrees with the checkpoint, which was trained with ${String(have)}; drop the flag`);
  }
  if (!Number.isInteger(layer) || layer < 0 || layer >= cfg.n_layer) {
    throw new UserError(`--layer ${layer} is out of range: the checkpoint has ${cfg.n_layer} layers (0..${cfg.n_layer - 1})`);
  }
  boundActivationCounts(activationVariant(blockActivation(cfg, layer)), cfg, tensors, ckpt);
  const [problem] = problemsOf(activationVariant(blockActivation(cfg, layer)), cfg).errors;
  if (problem) throw new UserError(problem);
  return { cfg, learned: learnedParams(tensors, cfg, layer, ckpt) };
}

export async function activationsCommand(argv: string[]): Promise<number> {
  const table = [...ACT_FLAGS, ...OWN_FLAGS];
  const parsed = parseOrHelp(argv, table, 'activations',
    'normlab activations --activation_variant NAME [variant flags] [--checkpoint FILE] [--layer 0] [--xmin -5 --xmax 5 --points 201] [--csv FILE]',
    'Prints an activation curve as CSV: x, initial (initial parameters), learned (with --checkpoint).');
  if (!parsed) return 0;
  const given = new Map([...parsed.given].map((k) => [k, parsed.config[k]]));
  const opt = (k: string) => parsed.config[k];
  let cfg: ModelConfig = defaultConfig();
  const actFlags = ACT_FLAGS.map((f) => f.name as string);
  for (const k of actFlags) if (given.has(k)) (cfg as unknown as Record<string, unknown>)[k] = given.get(k);

  const ckpt = opt('checkpoint') as string | null, layer = opt('layer') as number;
  if (layer < 0) throw new UserError(`--layer ${layer} is out of range: layers count from 0`);
  let learned: Params | undefined;
  if (ckpt !== null) ({ cfg, learned } = await fromCheckpoint(ckpt, layer, given, actFlags));

  const xmin = opt('xmin') as number, xmax = opt('xmax') as number, P = opt('points') as number;
  if (!(xmin < xmax)) throw new UserError(`--xmin (${xmin}) must be less than --xmax (${xmax})`);
  if (P < 2 || P > MAX_POINTS) throw new UserError(`--points is ${P}; it must be from 2 to ${MAX_POINTS}`);
  const xs = Array.from({ length: P }, (_, i) => (xmin * (P - 1 - i) + xmax * i) / (P - 1));
  const name = blockActivation(cfg, layer); // the layer's own with --activation_variant_layerlist
  const initial = activationCurve(name, cfg, undefined, xs);
  const learnedCurve = learned ? activationCurve(name, cfg, learned, xs) : null;

  const lines = [learnedCurve ? 'x,initial,learned' : 'x,initial'];
  for (let i = 0; i < P; i++) {
    lines.push([xs[i], initial[i], ...(learnedCurve ? [learnedCurve[i]] : [])].map(fmt).join(','));
  }
  const text = lines.join('\n') + '\n';
  const csv = opt('csv') as string | null;
  if (csv !== null) {
    try { writeFileSync(csv, text); } catch (e) { throw new UserError(`cannot write ${csv}: ${(e as Error).message}`); }
    console.log(`wrote ${P} points of ${name} to ${csv}`);
  } else {
    process.stdout.write(text);
  }
  return 0;
}
