// `normlab bench`: training and sampling speed on a fixed configuration of shakespeare_char.
//
//   normlab bench [--preset small|default] [--iters N] [--warmup N] [--backend native,wasm,ts] [--torch]
//                 [--variants] [--quant] [--gemm] [--dtypes float32,bfloat16] [--gemms avx512,openblas] [--simds avx512,avx2] [--json FILE]
//                 [any train flag]
//
// Reports ms per iteration, tokens per second, achieved GFLOP/s (nanoGPT's model FLOPs: 6 N per
// token for the parameters plus 12 L T C for attention, times 3 for forward + backward already in
// the 6), peak memory (max RSS of the process) and sampling tokens per second (500 new tokens with
// the KV cache). Every figure that compares is a ratio against a baseline measured in the same run:
// with --torch, PyTorch (Debian's python3-torch, tools/torch_nanogpt.py, same model, 2 threads);
// with --variants, rmsnorm + gelu against every norm and every activation; with --gemms, the native
// backend once per listed GEMM (e.g. ours against OpenBLAS); with --simds, once per SIMD level of
// the kernels outside the GEMM; --gemm times the matrix products alone (bench_gemm.ts).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../engine/rng.js';
import { selectBackend, type BackendName } from '../engine/select.js';
import { UserError } from '../util/errors.js';
import { textTable } from '../util/format.js';
import { benchSoftmaxes, softmaxBenchTable } from './bench_softmax.js';
import { closeDataset, loadDataset, loadMeta, type Tokens } from '../data/dataset.js';
import { buildModel } from '../model/build.js';
import type { TrainConfig } from '../config/config-types.js';
import { Generator } from '../model/generate.js';
import type { GPT } from '../model/gpt.js';
import { estimateMemory, memoryLines, type MemoryEstimate } from '../model/memory.js';
import { MetricCtx } from '../nn/params.js';
import { norms } from '../nn/norms/norm-registry.js';
import { activations } from '../nn/activations/activation-registry.js';
import type { Registry } from '../nn/variant.js';
import { AdamW } from '../train/optimizer.js';
import { modelVocabSize, trainStep } from '../train/loop.js';
import { gemmBench } from './bench_gemm.js';
import { nativeGemm, nativeInfo, nativeSimd } from '../engine/kernels/native/native-backend.js';
import { HelpRequested, parseFlags, tableDefaults, defaultConfig, FLAGS, MODEL_FLAGS, checkValue, type FlagSpec } from '../config/config.js';
import { formatHelp } from './help.js';
import { BUILTIN_DATASETS, prepareCommand } from './prepare.js';

export const PRESETS: Record<string, Partial<TrainConfig> & { iters: number }> = {
  small: { n_layer: 4, n_head: 4, n_embd: 128, block_size: 64, batch_size: 12, iters: 50 },
  default: { n_layer: 6, n_head: 6, n_embd: 384, block_size: 256, batch_size: 64, iters: 5 },
};

const BENCH_FLAGS: FlagSpec[] = [
  { name: 'preset', type: 'str', default: 'small', choices: Object.keys(PRESETS), group: 'training', help: 'small: 4x128, block 64, batch 12; default: the reference defaults (6x384, block 256, batch 64)' },
  { name: 'iters', type: 'int', default: null, nullable: true, group: 'training', help: 'timed iterations (default: 50 small, 5 default)' },
  { name: 'warmup', type: 'int', default: 3, group: 'training', help: 'untimed iterations first' },
  { name: 'sample_tokens', type: 'int', default: 500, group: 'training', help: 'new tokens for the sampling measurement (0 skips it)' },
  { name: 'torch', type: 'bool', default: false, group: 'training', help: 'also run the PyTorch baseline (/usr/bin/python3 with torch) and print ratios' },
  { name: 'threads', type: 'int', default: 2, group: 'training', help: 'threads for PyTorch (NORMLAB_THREADS sets the native backend\'s)' },
  { name: 'softmaxes', type: 'bool', default: false, group: 'training', help: 'time one attention layer (forward + backward) with every --softmax_variant_attn against plain softmax, per backend of --backend (e.g. native,wasm)' },
  { name: 'variants', type: 'bool', default: false, group: 'training', help: 'time every norm and every activation, relative to rmsnorm + gelu' },
  { name: 'quant', type: 'bool', default: false, group: 'training', help: 'time training with every activation point quantized (--quantize_mlp_act --quantize_attn_act, int8 affine) against the float model, per backend, interleaved (docs/quantization.md)' },
  { name: 'gemm', type: 'bool', default: false, group: 'training', help: 'time the matrix products alone: our GEMM vs OpenBLAS (when linked) on every product of the small and default presets, and the FMA peak' },
  { name: 'cpu_time', type: 'bool', default: false, group: 'training', help: 'also report CPU time of the process (with --gemm: rates per CPU second) for an oversubscribed machine; best with NORMLAB_THREADS=1' },
  { name: 'dtypes', type: 'str', default: null, nullable: true, group: 'training', help: 'time training once per --dtype listed, side by side (comma-separated: float32, bfloat16)' },
  { name: 'gemms', type: 'str', default: null, nullable: true, group: 'training', help: 'native backend: time training once per GEMM listed (comma-separated: auto, avx512, avx2, neon, generic, openblas)' },
  { name: 'simds', type: 'str', default: null, nullable: true, group: 'training', help: 'native backend: time training once per SIMD level of the kernels outside the GEMM listed (comma-separated, repeats allowed: auto, avx512, avx2, generic)' },
  { name: 'memory', type: 'bool', default: false, group: 'training', help: 'report peak memory by part (the estimate of src/model/memory.ts: parameters and optimizer, activations by kind, LM head, scratch, workspace) beside the measured peak RSS' },
  { name: 'json', type: 'str', default: null, nullable: true, group: 'logging', help: 'also write the results to this JSON file' },
];

export interface BenchResult {
  label: string;
  backend: string;
  ms_per_iter: number;
  tokens_per_s: number;
  gflops: number;
  peak_rss_mb: number;
  sample_tokens_per_s: number | null;
  params: number;
  /** CPU time of this process per iteration (all threads), and sampled tokens per CPU second, for --cpu_time. */
  cpu_ms_per_iter?: number;
  sample_tokens_per_cpu_s?: number | null;
  /** The memory estimate for this run's sizes (src/model/memory.ts). */
  memory?: MemoryEstimate;
}

function flopsPerIter(cfg: TrainConfig, params: number): number {
  const perToken = 6 * params + 12 * cfg.n_layer * cfg.n_embd * cfg.block_size;
  return perToken * cfg.batch_size * cfg.block_size * cfg.gradient_accumulation_steps;
}

export function benchOnce(cfg: TrainConfig, backendName: BackendName, iters: number, warmup: number, sampleTokens: number, label: string): BenchResult {
  const { backend } = selectBackend(backendName);
  const data = loadDataset(cfg.data_dir, cfg.dataset, { blockSize: cfg.block_size, tokenizer: cfg.tokenizer });
  try {
    cfg = { ...cfg, vocab_size: modelVocabSize(data.meta.vocab_size, cfg.vocab_multiple) };
    const memory = estimateMemory(cfg, { batch: cfg.batch_size, block: cfg.block_size, training: true,
      threads: backend.name === 'native' ? nativeInfo()?.threads ?? 1 : 1 });
    const model = buildModel(cfg, backend, { maxB: cfg.batch_size, maxT: cfg.block_size, seed: cfg.seed });
    const train = timeTraining(model, data.train, cfg, iters, warmup);
    const sample = sampleTokens > 0 ? timeSampling(model, sampleTokens) : { tps: null, cpuTps: null };
    const params = model.numParams();
    model.store.release(); // the next model (another backend or variant) gets its memory
    return {
      label, backend: backend.name, ms_per_iter: train.ms,
      tokens_per_s: (cfg.batch_size * cfg.block_size * cfg.gradient_accumulation_steps) / (train.ms / 1000),
      gflops: flopsPerIter(cfg, params) / (train.ms / 1000) / 1e9,
      peak_rss_mb: process.resourceUsage().maxRSS / 1024, sample_tokens_per_s: sample.tps, params,
      cpu_ms_per_iter: train.cpuMs, sample_tokens_per_cpu_s: sample.cpuTps, memory,
    };
  } finally {
    closeDataset(data); // its two files: --variants calls this once per variant
  }
}

/** Wall and CPU milliseconds per training step, after `warmup` untimed ones. */
function timeTraining(model: GPT, tokens: Tokens, cfg: TrainConfig, iters: number, warmup: number): { ms: number; cpuMs: number } {
  const opt = new AdamW(model.store);
  const ctx = new MetricCtx(true, new Rng(cfg.seed));
  const x = new Int32Array(cfg.batch_size * cfg.block_size), y = new Int32Array(x.length);
  for (let i = 0; i < warmup; i++) trainStep(model, opt, tokens, ctx, x, y, cfg, cfg.learning_rate);
  const t0 = performance.now(), c0 = process.cpuUsage();
  for (let i = 0; i < iters; i++) trainStep(model, opt, tokens, ctx, x, y, cfg, cfg.learning_rate);
  const c1 = process.cpuUsage(c0);
  return { ms: (performance.now() - t0) / iters, cpuMs: (c1.user + c1.system) / 1000 / iters };
}

/** Sampled tokens per wall second and per CPU second (the KV cache, temperature 0.8, top-k 200). */
function timeSampling(model: GPT, sampleTokens: number): { tps: number; cpuTps: number } {
  const gen = new Generator(model);
  const ts = performance.now(), cs = process.cpuUsage();
  gen.generate([0], { maxNewTokens: sampleTokens, temperature: 0.8, topK: 200 }, new Rng(1), new MetricCtx(false, new Rng(2)));
  const tps = (sampleTokens / (performance.now() - ts)) * 1000;
  const c = process.cpuUsage(cs);
  return { tps, cpuTps: sampleTokens / ((c.user + c.system) / 1e6) };
}

function torchBench(cfg: TrainConfig, iters: number, warmup: number, threads: number, sampleTokens: number): BenchResult {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const script = path.join(root, 'tools', 'torch_nanogpt.py');
  // The model's vocabulary as normlab pads it (--vocab_multiple: GPT-2's 50304), not the dataset's.
  const args = [script, '--vocab_size', String(modelVocabSize(loadMeta(cfg.data_dir, cfg.dataset).vocab_size, cfg.vocab_multiple)), '--mode', 'bench', '--data_dir', path.join(cfg.data_dir, cfg.dataset),
    '--n_layer', String(cfg.n_layer), '--n_head', String(cfg.n_head), '--n_embd', String(cfg.n_embd),
    '--block_size', String(cfg.block_size), '--batch_size', String(cfg.batch_size), '--iters', String(iters),
    '--warmup', String(warmup), '--threads', String(threads), '--sample_tokens', String(sampleTokens),
    '--norm', cfg.norm_variant_attn === 'layernorm' ? 'layernorm' : 'rmsnorm', ...(cfg.bias ? ['--bias'] : [])];
  const r = spawnSync('/usr/bin/python3', args, { encoding: 'utf8' });
  const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  let j: { ms_per_iter: number; sample_tokens_per_s: number; params: number; peak_rss_mb?: number };
  try {
    j = JSON.parse(line);
  } catch {
    throw new UserError(`the PyTorch baseline did not run (needs Debian's python3-torch at /usr/bin/python3): ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
  }
  const tokens = cfg.batch_size * cfg.block_size;
  return {
    label: 'pytorch', backend: 'torch', ms_per_iter: j.ms_per_iter, tokens_per_s: tokens / (j.ms_per_iter / 1000),
    gflops: flopsPerIter(cfg, j.params) / (j.ms_per_iter / 1000) / 1e9, peak_rss_mb: j.peak_rss_mb ?? NaN,
    sample_tokens_per_s: sampleTokens > 0 ? j.sample_tokens_per_s : null, params: j.params,
  };
}

function table(rows: BenchResult[], base: BenchResult | null): string {
  const head = ['run', 'backend', 'ms/iter', 'tok/s', 'GFLOP/s', 'peak MB', 'sample tok/s', ...(base ? ['time vs ' + base.label, 'sampling vs ' + base.label] : [])];
  const lines = rows.map((r) => [
    r.label, r.backend, r.ms_per_iter.toFixed(1), Math.round(r.tokens_per_s).toString(), r.gflops.toFixed(1),
    Number.isFinite(r.peak_rss_mb) ? Math.round(r.peak_rss_mb).toString() : '-', r.sample_tokens_per_s?.toFixed(0) ?? '-',
    ...(base ? [(r.ms_per_iter / base.ms_per_iter).toFixed(2) + 'x',
      r.sample_tokens_per_s && base.sample_tokens_per_s ? (r.sample_tokens_per_s / base.sample_tokens_per_s).toFixed(2) + 'x' : '-'] : []),
  ]);
  return textTable(head, lines, { left: 2, rule: false });
}

/** The parsed bench flags: the train config (the preset's sizes unless given) and the bench's own options. */
interface BenchRun {
  o: Record<string, unknown>;
  cfg: TrainConfig;
  given: Set<string>;
  iters: number; warmup: number; sampleTokens: number;
  backends: BackendName[];
}

export async function benchCommand(argv: string[]): Promise<number> {
  const run = parseBench(argv);
  if (!run) return 0;
  const { o, cfg } = run;
  await prepareBuiltin(cfg);
  const ni = nativeInfo();
  if (o.gemm) return gemmMode(run);
  if (ni) console.log(`native backend: ${ni.threads} threads, GEMM ${ni.gemm} (available: ${ni.gemms}), SIMD ${ni.simd} (available: ${ni.simds})`);
  console.log(`normlab bench: preset ${o.preset} (${cfg.n_layer} layers, ${cfg.n_embd} wide, block ${cfg.block_size}, batch ${cfg.batch_size}), ` +
    `${run.iters} timed iterations after ${run.warmup} warm-up, ${run.sampleTokens} sampled tokens`);
  const rows: BenchResult[] = [];
  let base: BenchResult | null = null;
  if (o.torch) {
    base = torchBench(cfg, run.iters, run.warmup, o.threads as number, run.sampleTokens);
    rows.push(base);
    console.log(table([base], null).split('\n')[1]);
  }
  if (o.softmaxes) return softmaxesMode(run);
  if (o.variants) base = variantsMode(run, rows);
  else if (o.dtypes) dtypesMode(run, rows);
  else if (o.quant) quantMode(run, rows);
  else if (o.gemms || o.simds) levelsMode(run, rows);
  else for (const b of run.backends) rows.push(benchOnce(cfg, b, run.iters, run.warmup, run.sampleTokens, `normlab ${b}`));
  report(run, rows, base);
  return 0;
}

/** Reads the flags (null after --help): the preset's sizes and dropout 0 unless given, the backends checked. */
function parseBench(argv: string[]): BenchRun | null {
  const table_ = [...BENCH_FLAGS, ...FLAGS.filter((f) => f.name !== 'backend'),
    { name: 'backend', type: 'str', default: 'auto', group: 'training', help: 'backends to time, comma-separated: auto, native, wasm, ts' } as FlagSpec];
  let parsed;
  try {
    parsed = parseFlags(argv, table_, { ...defaultConfig(), ...tableDefaults(BENCH_FLAGS), backend: 'auto' }, { maxPositional: 0 });
  } catch (e) {
    if (e instanceof HelpRequested) {
      process.stdout.write(formatHelp('bench', table_, 'normlab bench [--preset small|default] [--torch] [--variants] [train flags]',
        'Training and sampling speed on shakespeare_char; comparisons are ratios measured in the same run.'));
      return null;
    }
    throw e;
  }
  const o = parsed.config;
  const preset = PRESETS[o.preset as string];
  for (const [k, v] of Object.entries({ ...preset, dropout: 0 })) if (!parsed.given.has(k)) o[k] = v;
  const backends = String(o.backend).split(',').map((b) => b.trim()) as BackendName[];
  for (const b of backends) if (!['auto', 'ts', 'native', 'wasm'].includes(b)) throw new UserError(`--backend ${b}: expected auto, ts, native or wasm (comma-separated for several)`);
  return {
    o, cfg: { ...(o as unknown as TrainConfig) }, given: parsed.given, backends,
    iters: (o.iters as number | null) ?? preset.iters, warmup: o.warmup as number, sampleTokens: o.sample_tokens as number,
  };
}

/** The built-in sets are made from the text shipped with normlab: a first bench prepares its own. */
async function prepareBuiltin(cfg: TrainConfig): Promise<void> {
  const dir = path.join(cfg.data_dir, cfg.dataset);
  if (cfg.dataset in BUILTIN_DATASETS && !fs.existsSync(path.join(dir, 'meta.json')) && !fs.existsSync(path.join(dir, 'train.bin'))) {
    console.log(`preparing ${cfg.dataset} in ${dir} (from the text shipped with normlab)`);
    await prepareCommand([cfg.dataset, '--data_dir', cfg.data_dir], () => {});
  }
}

/** --gemm: the matrix products alone, on the shapes of every preset (bench_gemm.ts). */
function gemmMode({ o, cfg, given }: BenchRun): number {
  const ni = nativeInfo();
  const presets = Object.keys(PRESETS).map((name): [string, TrainConfig] => {
    const c = { ...cfg } as Record<string, unknown>;
    for (const [k, v] of Object.entries({ ...PRESETS[name], dropout: 0 })) if (!given.has(k)) c[k] = v;
    return [name, c as unknown as TrainConfig];
  });
  console.log(`normlab bench --gemm: ${ni ? ni.threads : '?'} threads; GFLOP/s are medians of 5 interleaved rounds` +
    (o.cpu_time ? ', per CPU second of this process' : ''));
  const r = gemmBench(presets, 5, 60, !!o.cpu_time, (l) => console.log(l));
  if (o.json) fs.writeFileSync(o.json as string, JSON.stringify(r, null, 1) + '\n');
  return 0;
}

/** --variants: the default norm and activation (rmsnorm + gelu), then every other norm and activation
 * and the extra settings each declares (Variant.benchSettings), on the first backend; returns the baseline. */
function variantsMode({ cfg, backends, iters, warmup }: BenchRun, rows: BenchResult[]): BenchResult {
  const b = backends[0], d = defaultConfig();
  const ref = benchOnce({ ...cfg, norm_variant_attn: d.norm_variant_attn, norm_variant_output: d.norm_variant_output,
    activation_variant: d.activation_variant }, b, iters, warmup, 0, `${d.norm_variant_attn}+${d.activation_variant}`);
  rows.push(ref);
  const runs = (kind: string, r: Registry, skip: string, flags: (name: string) => Record<string, unknown>) =>
    Object.entries(r).filter(([n]) => n !== skip).flatMap(([n, v]): [string, Record<string, unknown>][] => [
      [`${kind} ${n}`, flags(n)], ...(v.benchSettings ?? []).map((x): [string, Record<string, unknown>] => [`${kind} ${n} ${x.label}`, { ...flags(n), ...x.flags }]),
    ]);
  const variantRuns = [
    ...runs('norm', norms, d.norm_variant_attn, (n) => ({ norm_variant_attn: n, norm_variant_output: n })),
    ...runs('act', activations, d.activation_variant, (n) => ({ activation_variant: n })),
  ];
  for (const [label, over] of variantRuns) {
    const r = benchOnce({ ...cfg, ...over } as TrainConfig, b, iters, warmup, 0, label);
    rows.push(r);
    process.stdout.write(`${label}: ${(r.ms_per_iter / ref.ms_per_iter).toFixed(2)}x\n`);
  }
  return ref;
}

/** --softmaxes: every attention softmax variant on each backend (bench_softmax.ts); its own table. */
function softmaxesMode({ o, cfg, backends, iters, warmup }: BenchRun): number {
  const srows = benchSoftmaxes(cfg, backends, iters, warmup);
  console.log('\n' + softmaxBenchTable(srows));
  if (o.json) fs.writeFileSync(o.json as string, JSON.stringify({ preset: o.preset, iters, warmup, softmaxes: srows }, null, 1) + '\n');
  return 0;
}

/** --dtypes float32,bfloat16: the same training once per dtype, same process (docs/dtype.md). */
function dtypesMode({ o, cfg, backends, iters, warmup, sampleTokens }: BenchRun, rows: BenchResult[]): void {
  for (const d of String(o.dtypes).split(',').map((x) => x.trim())) {
    const f = MODEL_FLAGS.find((x) => x.name === 'dtype')!, why = checkValue(f, d);
    if (why) throw new UserError(why.replace('--dtype', '--dtypes'));
    for (const b of backends) rows.push(benchOnce({ ...cfg, dtype: d as TrainConfig['dtype'] }, b, iters, warmup, sampleTokens, `${b} ${d}`));
  }
}

/** --quant: float32 and every activation point quantized to int8, alternating twice per backend; the
 * faster of each pair of runs counts (the machine's other load only ever slows a run down). */
function quantMode({ cfg, backends, iters, warmup, sampleTokens }: BenchRun, rows: BenchResult[]): void {
  const quant = { quantize_mlp_act: true, quantize_attn_act: true };
  for (const b of backends) {
    const runs: BenchResult[] = [];
    for (let round = 0; round < 2; round++) {
      runs.push(benchOnce(cfg, b, iters, warmup, sampleTokens, `float32 ${b}`));
      runs.push(benchOnce({ ...cfg, ...quant } as TrainConfig, b, iters, warmup, sampleTokens, `all activation points int8 ${b}`));
    }
    const best = (i: number) => (runs[i].ms_per_iter <= runs[i + 2].ms_per_iter ? runs[i] : runs[i + 2]);
    const f = best(0), q = best(1);
    rows.push(f, q);
    process.stdout.write(`${b}: every activation point quantized: ${(q.ms_per_iter / f.ms_per_iter).toFixed(2)}x the float32 iteration` +
      ` (${f.ms_per_iter.toFixed(1)} -> ${q.ms_per_iter.toFixed(1)} ms)\n`);
  }
}

/** --gemms / --simds: the native backend once per GEMM or SIMD level listed; the selection is restored. */
function levelsMode({ o, cfg, iters, warmup, sampleTokens }: BenchRun, rows: BenchResult[]): void {
  if (o.gemms && o.simds) throw new UserError('--gemms and --simds: give one of them (each times whole training runs)');
  const [flag, what, ctl] = o.gemms ? ['gemms', 'gemm', nativeGemm()] as const : ['simds', 'simd', nativeSimd()] as const;
  if (!ctl) throw new UserError(`--${flag} needs the native backend: run \`npm run build:native\``);
  const before = ctl.current();
  try {
    for (const g of String(o[flag]).split(',').map((x) => x.trim())) {
      try { ctl.select(g); } catch (e) { throw new UserError(`--${flag} ${g}: ${(e as Error).message.replace(/^native \w+: /, '')}`); }
      rows.push(benchOnce(cfg, 'native', iters, warmup, sampleTokens, `native ${what} ${ctl.current()}`));
    }
  } finally {
    ctl.select(before);
  }
}

/** The table, CPU time per iteration with --cpu_time (on an oversubscribed machine wall time mostly
 * measures the other programs), and the --json file. */
function report({ o, iters, warmup }: BenchRun, rows: BenchResult[], base: BenchResult | null): void {
  console.log('\n' + table(rows, base));
  if (o.memory) {
    for (const r of rows) {
      if (!r.memory) continue;
      const est = r.memory.bytes / 2 ** 20;
      console.log(`\n${r.label}: peak memory by part (estimate; docs/memory.md), measured peak RSS ${Math.round(r.peak_rss_mb)} MB, ` +
        `estimate ${Math.round(est)} MB (${(est / r.peak_rss_mb).toFixed(2)}x measured)` +
        (base && base !== r && Number.isFinite(base.peak_rss_mb) ? `; ${(r.peak_rss_mb / base.peak_rss_mb).toFixed(2)}x ${base.label}'s ${Math.round(base.peak_rss_mb)} MB` : ''));
      for (const line of memoryLines(r.memory)) console.log(line);
    }
  }
  // On an oversubscribed machine wall time mostly measures the other programs: CPU time per iteration.
  if (o.cpu_time) {
    for (const r of rows) {
      if (!r.cpu_ms_per_iter) continue;
      const s0 = rows[0].sample_tokens_per_cpu_s, s1 = r.sample_tokens_per_cpu_s;
      console.log(`${r.label}: ${r.cpu_ms_per_iter.toFixed(1)} CPU ms/iter (${(r.cpu_ms_per_iter / rows[0].cpu_ms_per_iter!).toFixed(2)}x ${rows[0].label})` +
        (s0 && s1 ? `, sampling ${s1.toFixed(0)} tokens per CPU s (${(s1 / s0).toFixed(2)}x)` : ''));
    }
  }
  if (o.json) fs.writeFileSync(o.json as string, JSON.stringify({ preset: o.preset, iters, warmup, rows }, null, 1) + '\n');
}
