// `normlab bench --softmaxes`: the attention alone (forward and backward of one layer) with every
// softmax variant (docs/softmax.md), against plain softmax in the same run, on each backend given.
// Every variant runs inside the backend's attention kernel (no T x T storage; docs/softmax.md "Inside
// the attention kernel"), with the options its slot (src/nn/softmax/softmax-slot.ts) gives.
import { Rng } from '../engine/rng.js';
import { selectBackend, type BackendName } from '../engine/select.js';
import type { F } from '../engine/types.js';
import { ParamStore } from '../nn/store.js';
import { softmaxes } from '../nn/softmax/softmax-registry.js';
import { SoftmaxSlot } from '../nn/softmax/softmax-slot.js';
import type { TrainConfig } from '../config/config-types.js';
import { textTable } from '../util/format.js';

/** ms: wall time per forward + backward; cpu: CPU time of the process (all threads) per pass, the
 * steadier measure on a shared machine; ratios against plain softmax of the same backend and run. */
export interface SoftmaxBenchRow { variant: string; kind: string; backend: string; ms: number; cpu: number; ratio: number; cpuRatio: number }

/** Times iters forward + backward passes of one attention layer (B, T, C, NH of cfg) per variant. */
export function benchSoftmaxes(cfg: TrainConfig, backends: BackendName[], iters: number, warmup: number): SoftmaxBenchRow[] {
  const { batch_size: B, block_size: T, n_embd: C, n_head: NH } = cfg, rows: SoftmaxBenchRow[] = [];
  for (const name of backends) {
    const { backend: be } = selectBackend(name);
    let base = NaN, cpuBase = NaN;
    for (const variant of Object.keys(softmaxes)) {
      const a = { ...cfg, softmax_variant_attn: variant } as TrainConfig;
      const store = new ParamStore('float32', be);
      const slot = variant === 'softmax' ? null : new SoftmaxSlot(store, 'attn.softmax_layer_attn', softmaxes[variant], a);
      store.finalize(new Rng(1));
      slot?.bind();
      const rng = new Rng(3), arr = (): F => { const x = store.alloc(B * T * C); for (let i = 0; i < x.length; i++) x[i] = rng.normal(); return x; };
      const q = arr(), k = arr(), v = arr(), dout = arr(), out = store.alloc(B * T * C), stats = store.alloc(B * NH * T * 2);
      const dq = store.alloc(B * T * C), dk = store.alloc(B * T * C), dv = store.alloc(B * T * C);
      const step = () => {
        const o = slot ? slot.opts({}, B, T) : undefined;
        be.attentionForward(out, stats, q, k, v, null, B, T, C, NH, o);
        slot?.beginBackward();
        be.attentionBackward(dq, dk, dv, dout, out, stats, q, k, v, null, B, T, C, NH, o);
        slot?.endBackward();
      };
      for (let i = 0; i < warmup; i++) step();
      const t0 = performance.now(), c0 = process.cpuUsage();
      for (let i = 0; i < iters; i++) step();
      const ms = (performance.now() - t0) / iters, c = process.cpuUsage(c0), cpu = (c.user + c.system) / 1000 / iters;
      if (!slot) { base = ms; cpuBase = cpu; }
      rows.push({ variant, kind: softmaxes[variant].kind(a), backend: be.name, ms, cpu, ratio: ms / base, cpuRatio: cpu / cpuBase });
      store.release();
      process.stdout.write(`${be.name} ${variant}: ${ms.toFixed(2)} ms, ${cpu.toFixed(2)} CPU ms (${(cpu / cpuBase).toFixed(2)}x softmax)\n`);
    }
  }
  return rows;
}

export function softmaxBenchTable(rows: SoftmaxBenchRow[]): string {
  return textTable(['backend', 'variant', 'kind', 'ms fwd+bwd', 'vs softmax', 'CPU ms', 'CPU vs softmax'],
    rows.map((r) => [r.backend, r.variant, r.kind, r.ms.toFixed(2), r.ratio.toFixed(2) + 'x', r.cpu.toFixed(2), r.cpuRatio.toFixed(2) + 'x']), { left: 2, rule: false });
}
