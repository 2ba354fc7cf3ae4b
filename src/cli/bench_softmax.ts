// `normlab bench --softmaxes`: the attention alone (forward and backward of one layer) with every
// softmax variant (docs/softmax.md), against plain softmax timed beside it in the same run (rounds
// alternating, the fastest of each side), on each backend given.
// Every variant runs inside the backend's attention kernel (no T x T storage; docs/softmax.md "Inside
// the attention kernel"), with the options its slot (src/nn/softmax/softmax-slot.ts) gives.
import { Rng } from '../engine/rng.js';
import { selectBackend, type BackendName } from '../engine/select.js';
import type { F } from '../engine/types.js';
import type { AttnOpts, Backend } from '../engine/backend.js';
import { ParamStore } from '../nn/store.js';
import { softmaxes } from '../nn/softmax/softmax-registry.js';
import { SoftmaxSlot } from '../nn/softmax/softmax-slot.js';
import type { TrainConfig } from '../config/config-types.js';
import { textTable } from '../util/format.js';

/** ms: wall time per forward + backward; cpu: CPU time of the process (all threads) per pass, the
 * steadier measure on a shared machine; ratios against plain softmax of the same backend and run. */
export interface SoftmaxBenchRow { variant: string; kind: string; backend: string; ms: number; cpu: number; ratio: number; cpuRatio: number }

/** A variant's attention layer on a backend, ready to time: pass() runs one forward + backward. */
function attentionPass(cfg: TrainConfig, be: Backend, variant: string): { pass: () => void; release: () => void } {
  const { batch_size: B, block_size: T, n_embd: C, n_head: NH } = cfg;
  const a = { ...cfg, softmax_variant_attn: variant } as TrainConfig;
  const store = new ParamStore('float32', be);
  const slot = variant === 'softmax' ? null : new SoftmaxSlot(store, 'attn.softmax_layer_attn', softmaxes[variant], a);
  store.finalize(new Rng(1));
  slot?.bind();
  const rng = new Rng(3), arr = (): F => { const x = store.alloc(B * T * C); for (let i = 0; i < x.length; i++) x[i] = rng.normal(); return x; };
  const q = arr(), k = arr(), v = arr(), dout = arr(), out = store.alloc(B * T * C), stats = store.alloc(B * NH * T * 2);
  const dq = store.alloc(B * T * C), dk = store.alloc(B * T * C), dv = store.alloc(B * T * C);
  const o: AttnOpts = {};
  const pass = () => {
    slot?.fill(o, B, T);
    be.attentionForward(out, stats, q, k, v, null, B, T, C, NH, o);
    slot?.beginBackward();
    be.attentionBackward(dq, dk, dv, dout, out, stats, q, k, v, null, B, T, C, NH, o);
    slot?.endBackward();
  };
  return { pass, release: () => store.release() };
}

/** Wall and CPU milliseconds per pass over iters passes (after warmup). */
function timePasses(pass: () => void, iters: number, warmup: number): { ms: number; cpu: number } {
  for (let i = 0; i < warmup; i++) pass();
  const t0 = performance.now(), c0 = process.cpuUsage();
  for (let i = 0; i < iters; i++) pass();
  const c = process.cpuUsage(c0);
  return { ms: (performance.now() - t0) / iters, cpu: (c.user + c.system) / 1000 / iters };
}

/** Rounds of softmax and a variant, alternating: other jobs on the machine only ever slow a run down, so
 * each side's fastest round counts (as `bench --quant` does) and the variant is compared with the
 * softmax rounds timed beside it, not with one run at the start. */
const ROUNDS = 4;

/** Times iters forward + backward passes of one attention layer (B, T, C, NH of cfg) per variant,
 * alternating ROUNDS times with plain softmax; the softmax row is its fastest round over the run. */
export function benchSoftmaxes(cfg: TrainConfig, backends: BackendName[], iters: number, warmup: number): SoftmaxBenchRow[] {
  const rows: SoftmaxBenchRow[] = [];
  for (const name of backends) {
    const { backend: be } = selectBackend(name);
    const base = attentionPass(cfg, be, 'softmax'), kind = (v: string) => softmaxes[v].kind({ ...cfg, softmax_variant_attn: v } as TrainConfig);
    const best = { ms: Infinity, cpu: Infinity }, out: SoftmaxBenchRow[] = [];
    for (const variant of Object.keys(softmaxes).filter((v) => v !== 'softmax')) {
      const cur = attentionPass(cfg, be, variant), b = { ms: Infinity, cpu: Infinity }, c = { ms: Infinity, cpu: Infinity };
      for (let r = 0; r < ROUNDS; r++) {
        for (const [pass, m] of [[base.pass, b], [cur.pass, c]] as const) {
          const t = timePasses(pass, iters, warmup);
          m.ms = Math.min(m.ms, t.ms); m.cpu = Math.min(m.cpu, t.cpu);
        }
      }
      cur.release();
      best.ms = Math.min(best.ms, b.ms); best.cpu = Math.min(best.cpu, b.cpu);
      out.push({ variant, kind: kind(variant), backend: be.name, ms: c.ms, cpu: c.cpu, ratio: c.ms / b.ms, cpuRatio: c.cpu / b.cpu });
      process.stdout.write(`${be.name} ${variant}: ${c.ms.toFixed(2)} ms, ${c.cpu.toFixed(2)} CPU ms (${(c.cpu / b.cpu).toFixed(2)}x softmax beside it, ${b.cpu.toFixed(2)})\n`);
    }
    base.release();
    rows.push({ variant: 'softmax', kind: kind('softmax'), backend: be.name, ms: best.ms, cpu: best.cpu, ratio: 1, cpuRatio: 1 }, ...out);
  }
  return rows;
}

export function softmaxBenchTable(rows: SoftmaxBenchRow[]): string {
  return textTable(['backend', 'variant', 'kind', 'ms fwd+bwd', 'vs softmax', 'CPU ms', 'CPU vs softmax'],
    rows.map((r) => [r.backend, r.variant, r.kind, r.ms.toFixed(2), r.ratio.toFixed(2) + 'x', r.cpu.toFixed(2), r.cpuRatio.toFixed(2) + 'x']), { left: 2, rule: false });
}
