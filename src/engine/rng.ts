// Seeded pseudo-random generator: xoshiro128** (Blackman & Vigna), 32-bit state words, so it is
// exact in JavaScript integers. Its state is four uint32 numbers, saved in checkpoints so that a
// resumed run draws the same batches, dropout masks and random selections as an uninterrupted one.
export class Rng {
  private s: Uint32Array;
  private spareNormal: number | null = null;
  private pool = new Int32Array(0); // choose()'s scratch

  constructor(seed: number) {
    this.s = new Uint32Array(4);
    // splitmix32 expands the seed into the four state words (never all zero).
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  /** Next uint32. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 random bits. */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal (Box-Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fisher-Yates: k distinct indices from [0, n), in draw order. */
  choose(n: number, k: number, out: Int32Array = new Int32Array(k)): Int32Array {
    if (this.pool.length < n) this.pool = new Int32Array(n); // reused: called at every kRMSNorm forward
    const pool = this.pool;
    for (let i = 0; i < n; i++) pool[i] = i;
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      const t = pool[i]; pool[i] = pool[j]; pool[j] = t;
      out[i] = pool[i];
    }
    return out;
  }

  getState(): { s: number[]; spare: number | null } {
    return { s: Array.from(this.s), spare: this.spareNormal };
  }

  setState(state: { s: number[]; spare: number | null }): void {
    this.s = Uint32Array.from(state.s);
    this.spareNormal = state.spare;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
