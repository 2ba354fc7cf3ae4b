#!/usr/bin/env node
// Attention's share of a `default` training iteration in CPU time (issue 27; README "Memory"):
// the native attention forward + backward alone at B 64, T 256, C 384, 6 heads (5 repetitions,
// CPU time of this process), times 6 layers, over one benchOnce iteration's CPU time (1 warm-up +
// 1 timed, layernorm + gelu, dropout 0). ROOT is a built checkout; `--tt` for one from before
// issue 27 (ec6e77e: attention kept its T x T probabilities, other signatures and paths).
//   node tools/attention_share.mjs ROOT [--tt] [--data_dir D]
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const root = path.resolve(args[0] ?? '.'), tt = args.includes('--tt');
const at = args.indexOf('--data_dir'), dataDir = at >= 0 ? args[at + 1] : 'data';
const first = (...ps) => ps.map((p) => path.join(root, 'dist/src', p)).find((p) => fs.existsSync(p));
const native = await import(first('engine/kernels/native/native-backend.js', 'engine/kernels/native/index.js'));
const { benchOnce } = await import(first('cli/bench.js'));
const { defaultConfig } = await import(first('config/config.js', 'config/index.js'));
const be = native.loadNativeBackend();
const B = 64, T = 256, C = 384, NH = 6, L = 6, n = B * T * C;
let seed = 1;
const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 4294967296 - 0.5; };
const r = () => Float32Array.from({ length: n }, rnd);
const q = r(), k = r(), v = r(), dout = r(), out = new Float32Array(n), dq = new Float32Array(n), dk = new Float32Array(n), dv = new Float32Array(n);
const cpu = (f) => { const c = process.cpuUsage(); f(); const d = process.cpuUsage(c); return (d.user + d.system) / 1000; };
let fwd, bwd;
if (tt) {
  const att = new Float32Array(B * NH * T * T), scratch = new Float32Array(att.length);
  fwd = () => be.attentionForward(out, att, q, k, v, null, B, T, C, NH);
  bwd = () => be.attentionBackward(dq, dk, dv, scratch, dout, att, q, k, v, null, B, T, C, NH);
} else {
  const stats = new Float32Array(2 * B * NH * T);
  fwd = () => be.attentionForward(out, stats, q, k, v, null, B, T, C, NH);
  bwd = () => be.attentionBackward(dq, dk, dv, dout, out, stats, q, k, v, null, B, T, C, NH);
}
fwd(); bwd();
const reps = 5;
let f = 0, b = 0;
for (let i = 0; i < reps; i++) { f += cpu(fwd); b += cpu(bwd); }
f /= reps; b /= reps;
const cfg = { ...defaultConfig(), n_layer: L, n_head: NH, n_embd: C, block_size: T, batch_size: B, dropout: 0, data_dir: dataDir,
  dataset: 'shakespeare_char', norm_variant_attn: 'layernorm', norm_variant_output: 'layernorm', activation_variant: 'gelu' };
const res = benchOnce(cfg, 'native', 1, 1, 0, tt ? 'T x T' : 'strips');
console.log(JSON.stringify({ root, attn_fwd_cpu_ms: +f.toFixed(1), attn_bwd_cpu_ms: +b.toFixed(1), iter_cpu_ms: Math.round(res.cpu_ms_per_iter),
  attn_share: +((L * (f + b)) / res.cpu_ms_per_iter).toFixed(3), peak_rss_mb: Math.round(res.peak_rss_mb) }));
