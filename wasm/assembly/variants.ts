// Fused norm kernels: the math of src/nn/norms/{rmsnorm,layernorm}.ts. Row statistics are summed
// in double (as there), the per-element work in f32x4. (The elementwise activations: elementwise.ts.)

/** sum over c of x[c] (and of x[c]^2 when sq), in double. */
// @ts-ignore: decorator
@inline
function rowSum(x: usize, C: i32, sq: bool, shift: f32): f64 {
  let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
  const sh = f32x4.splat(shift);
  let c = 0;
  for (; c + 4 <= C; c += 4) {
    const v = f32x4.sub(v128.load(x + (<usize>c << 2)), sh);
    let lo = f64x2.promote_low_f32x4(v), hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
    if (sq) { lo = f64x2.mul(lo, lo); hi = f64x2.mul(hi, hi); }
    s0 = f64x2.add(s0, lo); s1 = f64x2.add(s1, hi);
  }
  let s = f64x2.extract_lane(s0, 0) + f64x2.extract_lane(s0, 1) + f64x2.extract_lane(s1, 0) + f64x2.extract_lane(s1, 1);
  for (; c < C; c++) { const v = <f64>(load<f32>(x + (<usize>c << 2)) - shift); s += sq ? v * v : v; }
  return s;
}

/** The four products a[i] b[i] in double (exact), summed pairwise into an f64x2. */
// @ts-ignore: decorator
@inline
function prod64(a: v128, b: v128): v128 {
  const lo = f64x2.mul(f64x2.promote_low_f32x4(a), f64x2.promote_low_f32x4(b));
  const hi = f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<f32>(a, a, 2, 3, 0, 1)), f64x2.promote_low_f32x4(v128.shuffle<f32>(b, b, 2, 3, 0, 1)));
  return f64x2.add(lo, hi);
}

// @ts-ignore: decorator
@inline
function hsum64(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

export function rmsnormForward(out: usize, rrms: usize, x: usize, gain: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) {
    const o = <usize>n * <usize>C << 2;
    const r = <f32>(1.0 / Math.sqrt(rowSum(x + o, C, true, 0) / <f64>C + 1e-6));
    store<f32>(rrms + (<usize>n << 2), r);
    const rv = f32x4.splat(r);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const e = <usize>c << 2;
      v128.store(out + o + e, f32x4.mul(f32x4.mul(v128.load(x + o + e), rv), v128.load(gain + e)));
    }
    for (; c < C; c++) {
      const e = <usize>c << 2;
      store<f32>(out + o + e, load<f32>(x + o + e) * r * load<f32>(gain + e));
    }
  }
}

export function rmsnormBackward(dx: usize, dgain: usize, dout: usize, x: usize, gain: usize, rrms: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) {
    const o = <usize>n * <usize>C << 2;
    const r = load<f32>(rrms + (<usize>n << 2)), rv = f32x4.splat(r);
    let dot: f64 = 0;
    let c = 0;
    let d2 = f64x2.splat(0);
    for (; c + 4 <= C; c += 4) {
      const e = <usize>c << 2;
      const xh = f32x4.mul(v128.load(x + o + e), rv), g = v128.load(dout + o + e);
      v128.store(dgain + e, f32x4.add(v128.load(dgain + e), f32x4.mul(g, xh)));
      d2 = f64x2.add(d2, prod64(f32x4.mul(g, v128.load(gain + e)), xh));
    }
    dot = hsum64(d2);
    for (; c < C; c++) {
      const e = <usize>c << 2;
      const xh = load<f32>(x + o + e) * r, g = load<f32>(dout + o + e);
      store<f32>(dgain + e, load<f32>(dgain + e) + g * xh);
      dot += <f64>(g * load<f32>(gain + e) * xh);
    }
    const m = f32x4.splat(<f32>(dot / <f64>C)), ms = <f32>(dot / <f64>C);
    c = 0;
    for (; c + 4 <= C; c += 4) {
      const e = <usize>c << 2;
      const xh = f32x4.mul(v128.load(x + o + e), rv);
      const t = f32x4.sub(f32x4.mul(v128.load(dout + o + e), v128.load(gain + e)), f32x4.mul(xh, m));
      v128.store(dx + o + e, f32x4.add(v128.load(dx + o + e), f32x4.mul(rv, t)));
    }
    for (; c < C; c++) {
      const e = <usize>c << 2;
      const xh = load<f32>(x + o + e) * r;
      store<f32>(dx + o + e, load<f32>(dx + o + e) + r * (load<f32>(dout + o + e) * load<f32>(gain + e) - xh * ms));
    }
  }
}

/** bias = 0 when the layer has none. */
export function layernormForward(out: usize, mean: usize, rstd: usize, x: usize, weight: usize, bias: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) {
    const o = <usize>n * <usize>C << 2;
    const m = rowSum(x + o, C, false, 0) / <f64>C;
    const mf = <f32>m;
    // variance about the float mean (the double mean's rounding error enters squared: negligible)
    const v = rowSum(x + o, C, true, mf) / <f64>C;
    const rs = <f32>(1.0 / Math.sqrt(v + 1e-5));
    store<f32>(mean + (<usize>n << 2), mf);
    store<f32>(rstd + (<usize>n << 2), rs);
    const mv = f32x4.splat(mf), rv = f32x4.splat(rs);
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const e = <usize>c << 2;
      let y = f32x4.mul(f32x4.mul(f32x4.sub(v128.load(x + o + e), mv), rv), v128.load(weight + e));
      if (bias != 0) y = f32x4.add(y, v128.load(bias + e));
      v128.store(out + o + e, y);
    }
    for (; c < C; c++) {
      const e = <usize>c << 2;
      let y = (load<f32>(x + o + e) - mf) * rs * load<f32>(weight + e);
      if (bias != 0) y += load<f32>(bias + e);
      store<f32>(out + o + e, y);
    }
  }
}

export function layernormBackward(dx: usize, dweight: usize, dbias: usize, dout: usize, x: usize, weight: usize,
  mean: usize, rstd: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) {
    const o = <usize>n * <usize>C << 2;
    const mf = load<f32>(mean + (<usize>n << 2)), rs = load<f32>(rstd + (<usize>n << 2));
    const mv = f32x4.splat(mf), rv = f32x4.splat(rs);
    let a2 = f64x2.splat(0), b2 = f64x2.splat(0);
    let mdx: f64 = 0, mdxx: f64 = 0;
    let c = 0;
    for (; c + 4 <= C; c += 4) {
      const e = <usize>c << 2;
      const xh = f32x4.mul(f32x4.sub(v128.load(x + o + e), mv), rv), g = v128.load(dout + o + e);
      v128.store(dweight + e, f32x4.add(v128.load(dweight + e), f32x4.mul(g, xh)));
      if (dbias != 0) v128.store(dbias + e, f32x4.add(v128.load(dbias + e), g));
      const w4 = v128.load(weight + e);
      a2 = f64x2.add(a2, prod64(g, w4));
      b2 = f64x2.add(b2, prod64(f32x4.mul(g, w4), xh));
    }
    mdx = hsum64(a2);
    mdxx = hsum64(b2);
    for (; c < C; c++) {
      const e = <usize>c << 2;
      const xh = (load<f32>(x + o + e) - mf) * rs, g = load<f32>(dout + o + e);
      store<f32>(dweight + e, load<f32>(dweight + e) + g * xh);
      if (dbias != 0) store<f32>(dbias + e, load<f32>(dbias + e) + g);
      const gw = g * load<f32>(weight + e);
      mdx += <f64>g * <f64>load<f32>(weight + e); mdxx += <f64>gw * <f64>xh;
    }
    const a = <f32>(mdx / <f64>C), bb = <f32>(mdxx / <f64>C);
    const av = f32x4.splat(a), bv = f32x4.splat(bb);
    c = 0;
    for (; c + 4 <= C; c += 4) {
      const e = <usize>c << 2;
      const xh = f32x4.mul(f32x4.sub(v128.load(x + o + e), mv), rv);
      const t = f32x4.sub(f32x4.sub(f32x4.mul(v128.load(dout + o + e), v128.load(weight + e)), av), f32x4.mul(xh, bv));
      v128.store(dx + o + e, f32x4.add(v128.load(dx + o + e), f32x4.mul(rv, t)));
    }
    for (; c < C; c++) {
      const e = <usize>c << 2;
      const xh = (load<f32>(x + o + e) - mf) * rs;
      store<f32>(dx + o + e, load<f32>(dx + o + e) + rs * (load<f32>(dout + o + e) * load<f32>(weight + e) - a - xh * bb));
    }
  }
}
