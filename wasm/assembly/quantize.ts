// Per-tensor fake quantization (Backend.fakeQuant): the float32 arithmetic of fakeQuant in
// src/engine/quantize.ts operation for operation (f32 ops, each rounded once; `nearest` rounds
// half to even), so the results equal the TypeScript ones bit for bit. docs/quantization.md.

@inline function at(p: usize, i: i32): usize { return p + (<usize>i << 2); }

/** out = fake-quantized x over n (T = 0), or over the causal lower triangles of n / (T T) blocks
 * (T > 0; other entries copied). u: n uniforms (method 2), else 0. level < 0: no blend. */
export function fakeQuant(out: usize, x: usize, u: usize, n: i32, T: i32, method: i32, bits: i32, level: f64): void {
  let mn = Infinity as f32, mx = -Infinity as f32, amax: f32 = 0;
  let asum: f64 = 0;
  let count: i64 = 0;
  const blocks = T > 0 ? n / (T * T) : 1;
  for (let b = 0; b < blocks; b++) {
    const rows = T > 0 ? T : 1;
    for (let r = 0; r < rows; r++) {
      const c0 = T > 0 ? b * T * T + r * T : 0, c1 = T > 0 ? c0 + r + 1 : n;
      for (let i = c0; i < c1; i++) {
        const v = load<f32>(at(x, i)), a = abs<f32>(v);
        if (v < mn) mn = v;
        if (v > mx) mx = v;
        if (a > amax) amax = a;
        asum += <f64>a; count++;
      }
    }
  }
  if (out != x) memory.copy(out, x, <usize>n << 2);
  if (count == 0) return;
  const half = <f32>((1 << (bits - 1)) - 1), levels = <f32>((1 << bits) - 1);
  let scale: f32, zp: f32 = 0, qmin: f32 = -half - 1, qmax: f32 = half;
  if (method == 0) scale = amax / half;
  else if (method == 1) { scale = (mx - mn) / levels; zp = -nearest<f32>(mn / scale) + qmin; }
  else if (method == 2) { scale = amax / levels; qmin = -levels; qmax = levels; }
  else { const m = <f32>(asum / <f64>count), lo: f32 = 1e-5; scale = m > lo ? m : lo; qmin = -1; qmax = 1; }
  if (!(scale > 0 && isFinite<f32>(scale)) || !isFinite<f32>(zp)) return;
  const lv = <f32>level;
  for (let b = 0; b < blocks; b++) {
    const rows = T > 0 ? T : 1;
    for (let r = 0; r < rows; r++) {
      const c0 = T > 0 ? b * T * T + r * T : 0, c1 = T > 0 ? c0 + r + 1 : n;
      for (let i = c0; i < c1; i++) {
        const v = load<f32>(at(x, i));
        let q: f32;
        if (method == 2) {
          const l = (abs<f32>(v) / amax) * levels, fl = trunc<f32>(l);
          let prob = l - fl;
          prob = prob < 0 ? 0 : prob > 1 ? 1 : prob;
          q = (v > 0 ? <f32>1 : v < 0 ? <f32>-1 : <f32>0) * (fl + (load<f32>(at(u, i)) < prob ? <f32>1 : <f32>0));
        } else {
          q = nearest<f32>(v / scale) + zp;
          q = q < qmin ? qmin : q > qmax ? qmax : q;
        }
        const d = (q - zp) * scale;
        store<f32>(at(out, i), level < 0 ? d : v + lv * (d - v));
      }
    }
  }
}
