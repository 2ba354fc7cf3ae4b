// `normlab bench --gemm`: GFLOP/s of every GEMM this build offers (ours, and OpenBLAS when the
// addon was built with --openblas) on every matrix product one training step of the `small` and
// `default` presets makes (forward, and both backward products of every linear layer), plus the
// machine's measured FMA peak (register-only loops, 512- and 256-bit vectors, all pool threads);
// and our bfloat16 GEMM (--dtype bfloat16, docs/dtype.md) on the same products against the measured
// vdpbf16ps peak (a register-only loop, 0 on a CPU without AVX512_BF16).
// The shapes are recorded from a real training step, not restated here. GEMMs are timed
// interleaved, round after round, and the median is reported, so a noisy shared machine skews
// the ratios less. With cpuTime, every rate is per CPU second of the process (times the threads),
// which an oversubscribed machine distorts much less than wall time (run it with NORMLAB_THREADS=1
// there: idle pool workers spinning count as CPU time too).
import { Rng } from '../engine/rng.js';
import type { Backend, MatmulOptions } from '../engine/backend.js';
import { UserError } from '../util/errors.js';
import { loadNativeBackend, nativeBackendError, nativeGemm, nativeInfo } from '../engine/kernels/native/native-backend.js';
import { closeDataset, loadDataset } from '../data/dataset.js';
import { buildModel } from '../model/build.js';
import type { TrainConfig } from '../config/config-types.js';
import { MetricCtx } from '../nn/params.js';
import { AdamW } from '../train/optimizer.js';
import { trainStep } from '../train/loop.js';

export interface GemmShape { M: number; N: number; K: number; transA: boolean; transB: boolean; accumulate: boolean }
export interface GemmRow extends GemmShape { preset: string; gflops: Record<string, number> }

const key = (s: GemmShape) => `${s.M}x${s.N}x${s.K} ${s.transA ? 'T' : 'N'}${s.transB ? 'T' : 'N'}${s.accumulate ? '+' : ''}`;

/** The distinct matmul calls of one training step of `cfg`, in call order. */
export function recordShapes(cfg: TrainConfig, native: Backend): GemmShape[] {
  const seen = new Map<string, GemmShape>();
  const rec: Backend = {
    ...native,
    matmul(out, a, b, M, N, K, o?: MatmulOptions) {
      const s = { M, N, K, transA: !!o?.transA, transB: !!o?.transB, accumulate: !!o?.accumulate };
      if (!seen.has(key(s))) seen.set(key(s), s);
      native.matmul(out, a, b, M, N, K, o);
    },
  };
  const data = loadDataset(cfg.data_dir, cfg.dataset, { blockSize: cfg.block_size });
  try {
    cfg = { ...cfg, vocab_size: data.meta.vocab_size };
    const model = buildModel(cfg, rec, { maxB: cfg.batch_size, maxT: cfg.block_size, seed: cfg.seed });
    const x = new Int32Array(cfg.batch_size * cfg.block_size), y = new Int32Array(x.length);
    trainStep(model, new AdamW(model.store), data.train, new MetricCtx(true, new Rng(cfg.seed)), x, y, cfg, cfg.learning_rate);
  } finally {
    closeDataset(data); // its two files (train.bin, val.bin): one call per preset
  }
  return [...seen.values()];
}

/** Median ms per call of each GEMM on one shape: rounds of ~budgetMs each, GEMMs interleaved. */
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

function timeShape(native: Backend, s: GemmShape, gemms: string[], rounds: number, budgetMs: number, cpuTime: boolean, threads: number): Record<string, number> {
  const clock = cpuTime ? () => cpuMs() / threads : () => performance.now();
  const gemm = nativeGemm()!, rng = new Rng(11);
  const fill = (n: number) => { const v = new Float32Array(n); for (let i = 0; i < n; i++) v[i] = rng.normal(); return v; };
  const a = fill(s.M * s.K), b = fill(s.K * s.N), out = fill(s.M * s.N);
  const times: Record<string, number[]> = {};
  for (let r = 0; r < rounds; r++) {
    for (const g of gemms) {
      const bf16 = g.endsWith(BF16);
      const call = () => native.matmul(out, a, b, s.M, s.N, s.K, { ...s, bf16 });
      gemm.select(bf16 ? g.slice(0, -BF16.length) : g);
      call(); // warm: packing buffers, caches
      let n = 0;
      const t0 = clock();
      do { call(); n++; } while (clock() - t0 < budgetMs);
      (times[g] ??= []).push((clock() - t0) / n);
    }
  }
  const out_: Record<string, number> = {};
  for (const g of gemms) {
    const t = times[g].sort((x, y) => x - y);
    out_[g] = (2 * s.M * s.N * s.K) / (t[t.length >> 1] / 1000) / 1e9;
  }
  return out_;
}

const BF16 = ' bf16'; // a column timing that GEMM's bfloat16 products

export function gemmBench(presets: [string, TrainConfig][], rounds: number, budgetMs: number, cpuTime: boolean, log: (line: string) => void): {
  threads: number; gemms: string[]; peak: { bits: number; gflops: number }[]; rows: GemmRow[];
} {
  const native = loadNativeBackend(), gemm = nativeGemm();
  if (!native || !gemm) throw new UserError(`bench --gemm needs the native backend (${nativeBackendError()}): run \`npm run build:native\``);
  const before = gemm.current(), threads = nativeInfo()!.threads;
  // Ours (the best kernel this CPU has) and OpenBLAS when linked.
  const gemms = [gemm.available.find((g) => g !== 'openblas')!, ...gemm.available.filter((g) => g === 'openblas')];
  const peak = [512, 256].map((bits) => ({ bits, gflops: gemm.fmaPeak(bits as 512 | 256, threads, cpuTime) }));
  const bfPeak = gemm.fmaPeak(16, threads, cpuTime);
  peak.push({ bits: 16, gflops: bfPeak });
  log(`FMA peak (register-only loop, ${threads} threads${cpuTime ? ', per CPU second' : ''}): ${peak.slice(0, 2).map((p) => `${p.bits}-bit ${p.gflops.toFixed(0)} GFLOP/s`).join(', ')}; ` +
    `vdpbf16ps (bfloat16 pairs, float32 accumulate): ${bfPeak > 0 ? `${bfPeak.toFixed(0)} GFLOP/s` : 'not on this CPU'}`);
  const best = Math.max(...peak.slice(0, 2).map((p) => p.gflops));
  const bf = gemms[0] + BF16, timed = [...gemms, bf];
  const rows: GemmRow[] = [];
  const head = ['preset', 'product (M x N x K, op)', ...gemms.map((g) => `${g} GFLOP/s`), ...(gemms.length > 1 ? [`${gemms[0]} / ${gemms[1]}`] : []), '% of peak',
    `bf16 GFLOP/s`, 'bf16 / float32', '% of vdpbf16ps peak'];
  log(head.join('  '));
  try {
    for (const [name, cfg] of presets) {
      gemm.select(gemms[0]);
      for (const s of recordShapes(cfg, native)) {
        const g = timeShape(native, s, timed, rounds, budgetMs, cpuTime, threads);
        rows.push({ preset: name, ...s, gflops: g });
        log([name.padEnd(7), key(s).padEnd(24), ...gemms.map((x) => g[x].toFixed(1).padStart(9)),
          ...(gemms.length > 1 ? [(g[gemms[0]] / g[gemms[1]]).toFixed(2) + 'x'] : []),
          best > 0 ? (100 * g[gemms[0]] / best).toFixed(0) + '%' : '-',
          g[bf].toFixed(1).padStart(9), (g[bf] / g[gemms[0]]).toFixed(2) + 'x', bfPeak > 0 ? (100 * g[bf] / bfPeak).toFixed(0) + '%' : '-'].join('  '));
      }
    }
  } finally {
    gemm.select(before);
  }
  return { threads, gemms, peak, rows };
}
