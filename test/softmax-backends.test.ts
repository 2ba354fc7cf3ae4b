// Softmax variants on the fast backends (docs/softmax.md): one forward and backward of a small GPT
// with each variant gives the same loss and gradients on the TypeScript backend and on native (the
// variant inside its strip attention, docs/softmax.md "Inside the attention kernel") and wasm. Float32
// everywhere: differences are rounding only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/engine/rng.js';
import type { Backend } from '../src/engine/backend.js';
import { tsBackend } from '../src/engine/kernels/ts/ts-backend.js';
import { loadNativeBackend, nativeBackendError } from '../src/engine/kernels/native/native-backend.js';
import { loadWasmBackend } from '../src/engine/kernels/wasm/node-loader.js';
import { defaultConfig } from '../src/config/config.js';
import type { TrainConfig } from '../src/config/config-types.js';
import { buildModel } from '../src/model/build.js';
import { MetricCtx } from '../src/nn/params.js';
import { VARIANT_CASES } from './softmax-cases.js';

const native = loadNativeBackend();

function grads(be: Backend, cfg: TrainConfig, dropout: boolean): { loss: number; grad: Float32Array } {
  const model = buildModel(cfg, be, { maxB: 2, maxT: cfg.block_size, seed: 3 });
  const rng = new Rng(11), n = 2 * cfg.block_size;
  const x = Int32Array.from({ length: n }, () => Math.floor(rng.uniform() * cfg.vocab_size));
  const y = Int32Array.from({ length: n }, () => Math.floor(rng.uniform() * cfg.vocab_size));
  const ctx = new MetricCtx(dropout, new Rng(5));
  model.store.grad.fill(0);
  const loss = model.forward(x, y, 2, cfg.block_size, ctx);
  model.backward(1, ctx);
  return { loss, grad: Float32Array.from(model.store.grad) };
}

const cfgOf = (o: Partial<TrainConfig>, dropout: number): TrainConfig =>
  ({ ...defaultConfig(), vocab_size: 17, n_layer: 2, n_head: 2, n_embd: 16, block_size: 70, dropout, ...o } as TrainConfig);

for (const [fastName, fast, skip] of [['native', native, native ? false : `native not built (${nativeBackendError()})`], ['wasm', loadWasmBackend(), false]] as const) {
  for (const [name, over] of VARIANT_CASES) {
    test(`${name} ${JSON.stringify(over)}: loss and gradients agree between ts and ${fastName} (float32), with and without attention dropout`, { skip }, () => {
      for (const dropout of [0, 0.2]) {
        const cfg = cfgOf({ softmax_variant_attn: name as TrainConfig['softmax_variant_attn'], ...over }, dropout);
        const a = grads(tsBackend, cfg, dropout > 0), b = grads(fast!, cfg, dropout > 0);
        assert.ok(Math.abs(a.loss - b.loss) <= 1e-5 * Math.abs(a.loss), `loss ${a.loss} vs ${b.loss}`);
        // Gradients: float32 rounding of different summation orders (GEMM blocks vs loops), relative
        // to the largest gradient entry.
        let scale = 0, worst = 0, at = -1;
        for (let i = 0; i < a.grad.length; i++) scale = Math.max(scale, Math.abs(a.grad[i]));
        for (let i = 0; i < a.grad.length; i++) { const d = Math.abs(a.grad[i] - b.grad[i]); if (d > worst) { worst = d; at = i; } }
        assert.ok(worst <= 2e-4 * scale, `dropout ${dropout}: gradient ${at}: ${a.grad[at]} vs ${b.grad[at]} (max |g| ${scale})`);
      }
    });
  }
}
