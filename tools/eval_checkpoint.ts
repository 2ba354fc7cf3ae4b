// Mean loss of a normlab checkpoint on fixed batches of a split, for tools/check_checkpoint.py:
// the same batches (row r of batch b starts at offsets[b * B + r]) go through PyTorch there and
// through normlab here, so the two losses must agree to float32 rounding.
//   node dist/tools/eval_checkpoint.js <ckpt.safetensors> <split.bin> <B> <T> <offset,offset,...> [ts|native|auto]
// Prints one JSON line {"loss": mean over batches, "batches": [per-batch losses], "backend": name}.
import { selectBackend, type BackendName } from '../src/engine/select.js';
import { Rng } from '../src/engine/rng.js';
import { readTokens } from '../src/data/dataset.js';
import { buildModel } from '../src/model/build.js';
import type { ModelConfig } from '../src/config/config-types.js';
import { loadTensors, loadWeights } from '../src/train/checkpoint.js';
import { MetricCtx } from '../src/nn/params.js';

const [ckpt, split, Bs, Ts, offs, be = 'ts'] = process.argv.slice(2);
const { backend } = selectBackend(be as BackendName);
const B = Number(Bs), T = Number(Ts);
const offsets = offs.split(',').map(Number);
const { tensors, metadata } = loadTensors(ckpt);
const cfg = JSON.parse(metadata.config) as ModelConfig;
const model = buildModel(cfg, backend, { maxB: B, maxT: T, seed: 0 });
loadWeights(model, tensors, ckpt);
const data = readTokens(split);
const x = new Int32Array(B * T), y = new Int32Array(B * T);
const losses: number[] = [];
for (let b = 0; b * B < offsets.length; b++) {
  for (let r = 0; r < B; r++) {
    const o = offsets[b * B + r];
    for (let t = 0; t < T; t++) { x[r * T + t] = data[o + t]; y[r * T + t] = data[o + t + 1]; }
  }
  // evaluation mode: krmsnorm random selection still draws, from a fixed seed
  losses.push(model.forward(x, y, B, T, new MetricCtx(false, new Rng(1))));
}
console.log(JSON.stringify({ loss: losses.reduce((s, l) => s + l, 0) / losses.length, batches: losses, backend: backend.name }));
