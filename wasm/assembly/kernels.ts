// The small kernels of the Backend interface (src/engine/backend.ts), same arithmetic as
// src/engine/kernels/ts: float32 additions and products are exact roundings of the double ones,
// so f32x4 gives the TypeScript results bit for bit; where the TypeScript code multiplies by a
// double (scale, cross-entropy gradient, AdamW) the arithmetic here is double too.
import { vexp } from './vmath';

/** out = a + b over n (out may alias a or b). */
export function add(out: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(a + o) + load<f32>(b + o));
  }
}

/** out = x * m over n. */
export function mul(out: usize, x: usize, m: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.mul(v128.load(x + o), v128.load(m + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(out + o, load<f32>(x + o) * load<f32>(m + o));
  }
}

/** x *= s over n, the product in double. */
export function scale(x: usize, s: f64, n: i32): void {
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, <f32>(<f64>load<f32>(x + o) * s));
  }
}

/** Sum of x^2 in double (float products are exact in double). */
export function sumSquares(x: usize, n: i32): f64 {
  let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    const lo = f64x2.promote_low_f32x4(v), hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
    s0 = f64x2.add(s0, f64x2.mul(lo, lo));
    s1 = f64x2.add(s1, f64x2.mul(hi, hi));
  }
  let s = f64x2.extract_lane(s0, 0) + f64x2.extract_lane(s0, 1) + f64x2.extract_lane(s1, 0) + f64x2.extract_lane(s1, 1);
  for (; i < n; i++) { const v = <f64>load<f32>(x + (<usize>i << 2)); s += v * v; }
  return s;
}

/** out (N, C) += bias on every row. */
export function addBias(out: usize, bias: usize, N: i32, C: i32): void {
  for (let n = 0; n < N; n++) add(out + (<usize>n * <usize>C << 2), out + (<usize>n * <usize>C << 2), bias, C);
}

/** dbias (C) += column sums of dout (N, C), rows in order (the TypeScript rounding sequence). */
export function biasBackward(dbias: usize, dout: usize, N: i32, C: i32): void {
  let c = 0;
  for (; c + 4 <= C; c += 4) {
    const o = <usize>c << 2;
    let acc = v128.load(dbias + o);
    for (let n = 0; n < N; n++) acc = f32x4.add(acc, v128.load(dout + (<usize>n * <usize>C << 2) + o));
    v128.store(dbias + o, acc);
  }
  for (; c < C; c++) {
    const o = <usize>c << 2;
    let acc = load<f32>(dbias + o);
    for (let n = 0; n < N; n++) acc += load<f32>(dout + (<usize>n * <usize>C << 2) + o);
    store<f32>(dbias + o, acc);
  }
}

export function embeddingForward(out: usize, idx: usize, wte: usize, wpe: usize, B: i32, T: i32, C: i32): void {
  const row = <usize>C << 2;
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
    const bt = <usize>(b * T + t);
    const e = <usize>load<i32>(idx + (bt << 2));
    add(out + bt * row, wte + e * row, wpe + <usize>t * row, C);
  }
}

export function embeddingBackward(dwte: usize, dwpe: usize, dout: usize, idx: usize, B: i32, T: i32, C: i32): void {
  const row = <usize>C << 2;
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
    const bt = <usize>(b * T + t);
    const e = <usize>load<i32>(idx + (bt << 2));
    add(dwte + e * row, dwte + e * row, dout + bt * row, C);
    add(dwpe + <usize>t * row, dwpe + <usize>t * row, dout + bt * row, C);
  }
}

/**
 * Softmax cross-entropy over rows of logits (N, V): probs written, losses written, mean returned.
 * Exponentials are the vector exp; their sum and the log-sum-exp are in double.
 */
export function crossEntropyForward(losses: usize, probs: usize, logits: usize, targets: usize, N: i32, V: i32): f64 {
  let total: f64 = 0;
  for (let n = 0; n < N; n++) {
    const lo = logits + (<usize>n * <usize>V << 2), po = probs + (<usize>n * <usize>V << 2);
    const target = load<f32>(lo + (<usize>load<i32>(targets + (<usize>n << 2)) << 2)); // probs may alias logits
    let mx: f32 = -Infinity;
    for (let i = 0; i < V; i++) mx = max(mx, load<f32>(lo + (<usize>i << 2)));
    const mv = f32x4.splat(mx);
    let sum: f64 = 0;
    let i = 0;
    for (; i + 4 <= V; i += 4) {
      const e = vexp(f32x4.sub(v128.load(lo + (<usize>i << 2)), mv));
      v128.store(po + (<usize>i << 2), e);
      sum += <f64>f32x4.extract_lane(e, 0) + <f64>f32x4.extract_lane(e, 1) + <f64>f32x4.extract_lane(e, 2) + <f64>f32x4.extract_lane(e, 3);
    }
    for (; i < V; i++) {
      const e = f32x4.extract_lane(vexp(f32x4.splat(load<f32>(lo + (<usize>i << 2)) - mx)), 0);
      store<f32>(po + (<usize>i << 2), e);
      sum += e;
    }
    const inv = 1.0 / sum;
    for (let j = 0; j < V; j++) store<f32>(po + (<usize>j << 2), <f32>(<f64>load<f32>(po + (<usize>j << 2)) * inv));
    const loss = Math.log(sum) + <f64>mx - <f64>target;
    store<f32>(losses + (<usize>n << 2), <f32>loss);
    total += loss;
  }
  return total / <f64>N;
}

/** dlogits (N, V) WRITTEN: (probs - onehot(target)) * scale, in double. */
export function crossEntropyBackward(dlogits: usize, probs: usize, targets: usize, scale: f64, N: i32, V: i32): void {
  for (let n = 0; n < N; n++) {
    const o = <usize>n * <usize>V << 2;
    for (let i = 0; i < V; i++) store<f32>(dlogits + o + (<usize>i << 2), <f32>(<f64>load<f32>(probs + o + (<usize>i << 2)) * scale));
    const t = dlogits + o + (<usize>load<i32>(targets + (<usize>n << 2)) << 2);
    store<f32>(t, <f32>(<f64>load<f32>(t) - scale));
  }
}

/**
 * One AdamW step over chunk `chunk` of nChunks of n elements, the double arithmetic of
 * src/engine/kernels/ts/adamw.ts two elements at a time (f64x2: the same correctly rounded
 * operations, so the same results; threads split the elements).
 */
export function adamw(param: usize, grad: usize, m: usize, v: usize, n0: i32, lr: f64, beta1: f64, beta2: f64,
  eps: f64, weightDecay: f64, step: f64, chunk: i32, nChunks: i32): void {
  const bc1 = 1 - Math.pow(beta1, step), bc2 = 1 - Math.pow(beta2, step);
  const decay = 1 - lr * weightDecay, stepSize = lr / bc1, rbc2 = 1 / Math.sqrt(bc2);
  const b1 = f64x2.splat(beta1), c1 = f64x2.splat(1 - beta1), b2 = f64x2.splat(beta2), c2 = f64x2.splat(1 - beta2);
  const dec = f64x2.splat(decay), ss = f64x2.splat(stepSize), rb = f64x2.splat(rbc2), ep = f64x2.splat(eps);
  let i = <i32>(<i64>n0 * chunk / nChunks);
  const n = <i32>(<i64>n0 * (chunk + 1) / nChunks);
  for (; i + 2 <= n; i += 2) {
    const o = <usize>i << 2;
    const g = f64x2.promote_low_f32x4(v128.load64_zero(grad + o));
    const mi = f32x4.demote_f64x2_zero(f64x2.add(f64x2.mul(b1, f64x2.promote_low_f32x4(v128.load64_zero(m + o))), f64x2.mul(c1, g)));
    const vi = f32x4.demote_f64x2_zero(f64x2.add(f64x2.mul(b2, f64x2.promote_low_f32x4(v128.load64_zero(v + o))), f64x2.mul(f64x2.mul(c2, g), g)));
    v128.store64_lane(m + o, mi, 0);
    v128.store64_lane(v + o, vi, 0);
    const den = f64x2.add(f64x2.mul(f64x2.sqrt(f64x2.promote_low_f32x4(vi)), rb), ep);
    const p = f64x2.sub(f64x2.mul(f64x2.promote_low_f32x4(v128.load64_zero(param + o)), dec), f64x2.div(f64x2.mul(ss, f64x2.promote_low_f32x4(mi)), den));
    v128.store64_lane(param + o, f32x4.demote_f64x2_zero(p), 0);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const g = <f64>load<f32>(grad + o);
    const mi = <f32>(beta1 * <f64>load<f32>(m + o) + (1 - beta1) * g);
    const vi = <f32>(beta2 * <f64>load<f32>(v + o) + (1 - beta2) * g * g);
    store<f32>(m + o, mi);
    store<f32>(v + o, vi);
    store<f32>(param + o, <f32>(<f64>load<f32>(param + o) * decay - stepSize * <f64>mi / (Math.sqrt(<f64>vi) * rbc2 + eps)));
  }
}
