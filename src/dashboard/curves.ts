// Learned activation curves of a run, from its newest checkpoint, beside the variant's initial curve.
// MLP activations live under `transformer.h.{i}.mlp.activation_variant.*` (pfla, piecewise, pfla_le,
// learned_spline, gelu_shifted, and any other with parameters); the activation inside a norm that
// wraps one (Variant.wraps: dact) under `<slot>.<prefix>*` (e.g. `transformer.h.0.pre_ln_attn.activation.x_vals`,
// `transformer.ln_f...`), and that norm's declared scalars (dact's alpha) per slot.
// Curves are evaluated by activationCurve (the same code as training); params undefined = init.
import { join } from 'node:path';
import { checkSavedModelConfig, loadTensors, metadataConfig } from '../train/checkpoint.js';
import { activationCurve, activationVariant } from '../nn/activations/curve.js';
import { UserError } from '../util/errors.js';
import { activations } from '../nn/activations/activation-registry.js';
import { norms } from '../nn/norms/norm-registry.js';
import type { ModelConfig } from '../config/config-types.js';
import { defaultConfig } from '../config/config.js';
import { blockActivation } from '../model/block.js';
import { softmaxes } from '../nn/softmax/softmax-registry.js';
import { fillInit } from '../nn/params.js';
import { numel, type Params, type Registry, type Variant } from '../nn/variant.js';
import type { RunInfo } from './data.js';

export interface CurveGroup {
  title: string;
  variant: string;
  xs: number[];
  initial: number[];
  curves: { label: string; ys: number[] }[];
}

export interface ActivationsReply {
  run: string;
  checkpoint: string | null;
  iter: number | null;
  groups: CurveGroup[];
  /** The scalar parameters a norm around an activation declares (Variant.wraps.scalars), per slot. */
  norm_scalars: { variant: string; slot: string; name: string; value: number }[];
  /** The attention softmax variant's learned parameters per layer (docs/softmax.md), e.g. consmax's β, γ. */
  softmax_params: { layer: number; name: string; values: number[] }[];
  message: string | null;
}

const POINTS = 241;
const MLP_RE = /^transformer\.h\.(\d+)\.mlp\.activation_variant\.([A-Za-z0-9_]+)$/;
const SOFTMAX_RE = /^transformer\.h\.(\d+)\.attn\.softmax_layer_attn\.([A-Za-z0-9_]+)$/;

function short(slot: string): string { return slot.replace(/^transformer\./, ''); }

/** x range the variant asks for (Variant.plotRange: every knot, its bounds) with a margin; [-4, 4] without one. */
function xRange(groups: Record<string, Float32Array>[], cfg: ModelConfig, variant: string): number[] {
  let lo = Infinity, hi = -Infinity;
  const range = (activations as Registry)[variant]?.plotRange;
  // Without a declared range (an attention softmax variant), its knots when it has some.
  if (!range) for (const p of groups) if (p.x_vals) for (const v of p.x_vals) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  for (const p of [undefined, ...groups]) {
    if (!range) break;
    const [a, b] = range(cfg, p);
    lo = Math.min(lo, a); hi = Math.max(hi, b);
  }
  if (!(hi > lo)) { lo = -4; hi = 4; }
  const m = 0.1 * (hi - lo);
  lo -= m; hi += m;
  return Array.from({ length: POINTS }, (_, i) => lo + ((hi - lo) * i) / (POINTS - 1));
}

/**
 * The curves of one activation. The parameter shapes the config gives are compared with the file's
 * tensors before any curve is evaluated (the initial curve costs as much as the config says: a
 * hostile `lsa_num_knots` must not be believed; docs/safety.md).
 */
/**
 * Refuses parameters that disagree with what the config says variant v (of C channels) holds, before
 * any work in proportion to the config: its counts (knots, points) and C first, no larger than the
 * values the file holds for it, then the exact shapes. A hostile `lsa_num_knots` must not be believed
 * (docs/safety.md).
 */
function checkParams(v: Variant, variant: string, C: number, cfg: ModelConfig, params: Map<string, Record<string, Float32Array>>, file: string): void {
  let held = 0;
  for (const p of params.values()) for (const a of Object.values(p)) held += a.length;
  // C (the attention's heads for a softmax) may exceed the values of per-layer scalars: bounded loosely.
  if (C > Math.max(held, 1024)) throw new UserError(`${file}: its config gives ${variant} ${C} channels but the file holds ${held} values of its parameters`);
  const counts: [string, unknown][] = (v.flags ?? []).filter((f) => f.type === 'int').map((f) => [f.name, (cfg as unknown as Record<string, unknown>)[f.name]] as [string, unknown]);
  for (const [name, n] of counts) {
    if (n !== null && (typeof n !== 'number' || !Number.isSafeInteger(n) || n > Math.max(held, 1))) {
      throw new UserError(`${file}: its config gives ${variant} ${name} ${JSON.stringify(n)?.slice(0, 40)} but the file holds ${held} values of ` +
        `${variant} parameters: the metadata does not belong to these weights`);
    }
  }
  const specs = Object.entries(v.params(C, cfg));
  const wanted = specs.filter(([, spec]) => numel(spec.shape) > 0);
  if (params.size === 0 && wanted.length > 0) {
    throw new UserError(`${file}: its config says ${variant} (parameters ${wanted.map(([n]) => n).join(', ')}), but the file holds none of them: ` +
      'the metadata does not belong to these weights');
  }
  for (const [label, p] of params) {
    for (const [name, spec] of specs) {
      const got = p[name]?.length ?? 0;
      if (got !== numel(spec.shape)) {
        throw new UserError(`${file}: its config gives ${variant} parameter ${name} the shape [${spec.shape.join(', ')}] but ${label} holds ` +
          `${got} values: the metadata does not belong to these weights`);
      }
    }
  }
}

/** The curves of one activation, its parameters checked against the config first (checkParams). */
function group(title: string, variant: string, cfg: ModelConfig, params: Map<string, Record<string, Float32Array>>, file: string): CurveGroup {
  checkParams(activationVariant(variant), variant, 1, cfg, params, file);
  const xs = xRange([...params.values()], cfg, variant);
  const initial = activationCurve(variant, cfg, undefined, xs);
  const curves = [...params.entries()].map(([label, p]) => ({ label, ys: activationCurve(variant, cfg, p, xs) }));
  if (curves.length === 0) curves.push({ label: 'no learned parameters', ys: initial.slice() });
  return { title, variant, xs, initial, curves };
}

/** The attention softmax variant's weight as a function of one score, per layer (and per head for
 * per-head parameters), learned against initial (./../nn/softmax/<variant>.ts curve()). */
function softmaxGroup(cfg: ModelConfig, params: Map<string, Record<string, Float32Array>>, file: string): CurveGroup {
  const v = Object.hasOwn(softmaxes, cfg.softmax_variant_attn) ? softmaxes[cfg.softmax_variant_attn] : undefined, NH = cfg.n_head;
  if (!v) throw new UserError(`${file}: its config names an unknown attention softmax ${JSON.stringify(cfg.softmax_variant_attn)?.slice(0, 40)}`);
  checkParams(v as unknown as Variant, cfg.softmax_variant_attn, NH, cfg, params, file);
  const xs = xRange([...params.values()], cfg, 'softmax');
  const init: Params = {};
  for (const [k, spec] of Object.entries(v.params(NH, cfg))) { init[k] = new Float64Array(numel(spec.shape)); fillInit(init[k], spec.init); }
  const perHead = Object.values(v.params(NH, cfg)).some((s) => s.shape[0] === NH && s.shape.length === 3);
  const at = (p: Params, h: number) => xs.map((x) => v.curve?.(x, p, cfg, h) ?? NaN);
  const curves = [...params].flatMap(([layer, p]) => (perHead ? Array.from({ length: NH }, (_, h) => ({ label: `${layer} head ${h}`, ys: at(p, h) })) : [{ label: layer, ys: at(p, 0) }]));
  return { title: `attention softmax: ${cfg.softmax_variant_attn} (weight of one score)`, variant: cfg.softmax_variant_attn, xs, initial: at(init, 0), curves };
}

/** The norms in use (attention and output slots) that wrap an activation (Variant.wraps): the
 * activation's name, the patterns of its parameters' and of the norm's scalars' tensor names. */
function wrappers(cfg: ModelConfig) {
  const used = [...new Set([cfg.norm_variant_attn, cfg.norm_variant_output])];
  return used.flatMap((variant) => {
    const wraps = Object.hasOwn(norms, variant) ? (norms as Registry)[variant].wraps : undefined;
    if (!wraps) return [];
    const scalars = wraps.scalars?.map(escapeRe).join('|');
    return [{
      variant, activation: wraps.activation(cfg),
      innerRe: new RegExp(`^(.*)\\.${escapeRe(wraps.prefix)}([A-Za-z0-9_]+)$`),
      scalarRe: scalars ? new RegExp(`^(.*)\\.(${scalars})$`) : null,
      params: new Map<string, Record<string, Float32Array>>(),
    }];
  });
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function runActivations(run: RunInfo): ActivationsReply {
  const reply: ActivationsReply = { run: run.id, checkpoint: null, iter: null, groups: [], norm_scalars: [], softmax_params: [], message: null };
  if (!run.checkpoint) {
    reply.message = run.status === 'running' ? 'no checkpoint yet' : 'no checkpoint (ckpt.safetensors) in this run folder';
    return reply;
  }
  reply.checkpoint = run.checkpoint.file;
  const file = join(run.dir, run.checkpoint.file);
  const { tensors, metadata } = loadTensors(file);
  const metaCfg = metadata.config === undefined ? {} : metadataConfig(metadata, file);
  // The checkpoint's own model config wins; the run's train config fills the rest. Its sizes are
  // compared with the tensors before anything is computed from them (group).
  const merged = { ...defaultConfig(), ...(run.config ?? {}), ...metaCfg };
  checkSavedModelConfig(merged, metadata.config === undefined ? join(run.dir, 'state.json') : file, { typesOnly: true });
  const cfg = merged as unknown as ModelConfig;
  const iter = Number(metadata.iter);
  reply.iter = Number.isFinite(iter) ? iter : null;

  const soft = new Map<string, Record<string, Float32Array>>();
  const mlp = new Map<string, Record<string, Float32Array>>();
  const wrapped = wrappers(cfg); // norms in use that wrap an activation, with their inner parameters by slot
  for (const [name, t] of tensors) {
    const sm = SOFTMAX_RE.exec(name);
    if (sm) {
      const k = `h.${sm[1]}`;
      (soft.get(k) ?? soft.set(k, {}).get(k)!)[sm[2]] = t.data;
      if (sm[2] !== 'x_vals' && sm[2] !== 'y_vals') reply.softmax_params.push({ layer: Number(sm[1]), name: sm[2], values: [...t.data] });
      continue;
    }
    const m = MLP_RE.exec(name);
    if (m) { const k = `h.${m[1]}`; (mlp.get(k) ?? mlp.set(k, {}).get(k)!)[m[2]] = t.data; continue; }
    if (name.includes('.mlp.')) continue;
    for (const w of wrapped) {
      const inner = w.innerRe.exec(name), scalar = w.scalarRe?.exec(name);
      if (inner) { const k = short(inner[1]); (w.params.get(k) ?? w.params.set(k, {}).get(k)!)[inner[2]] = t.data; break; }
      if (scalar && t.data.length === 1) { reply.norm_scalars.push({ variant: w.variant, slot: short(scalar[1]), name: scalar[2], value: t.data[0] }); break; }
    }
  }
  const byLayer = (a: [string, unknown], b: [string, unknown]): number => a[0].localeCompare(b[0], 'en', { numeric: true });
  // One group per MLP activation in use: with --activation_variant_layerlist, each layer under its own.
  const perVariant = new Map<string, [string, Record<string, Float32Array>][]>();
  for (const entry of [...mlp].sort(byLayer)) {
    const v = blockActivation(cfg, Number(entry[0].slice(2)));
    (perVariant.get(v) ?? perVariant.set(v, []).get(v)!).push(entry);
  }
  for (const [v, entries] of perVariant) {
    const layers = cfg.activation_variant_layerlist ? ` (${entries.map(([k]) => k).join(', ')})` : '';
    reply.groups.push(group(`MLP activation: ${v}${layers}`, v, cfg, new Map(entries), file));
  }
  for (const w of wrapped) {
    reply.groups.push(group(`${w.variant} inner activation: ${w.activation}`, w.activation, cfg, new Map([...w.params].sort(byLayer)), file));
  }
  if (soft.size) reply.groups.push(softmaxGroup(cfg, new Map([...soft].sort(byLayer)), file));
  reply.softmax_params.sort((a, b) => a.layer - b.layer || a.name.localeCompare(b.name));
  if (reply.groups.length === 0) {
    const used = cfg.activation_variant_layerlist ? cfg.activation_variant_layerlist.join(', ') : cfg.activation_variant;
    reply.message = `no learned activation: ${used} has no parameters`;
  }
  return reply;
}
