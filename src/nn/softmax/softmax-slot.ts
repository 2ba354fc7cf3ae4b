// A softmax variant bound to one attention layer: its parameters (declared in the ParamStore as
// `<prefix>.<name>`, prefix transformer.h.<i>.attn.softmax_layer_attn) and what the backend's
// attention kernel needs to run it inside its strips (docs/softmax.md, "Inside the attention kernel"):
// the variant's TypeScript form (a ScoreTransform: the definition, run row by row) and its kernels'
// form (KernelForm -> ScoreKernel: a kind and constants for native/src/softmax.h and the wasm module).
// No T x T array is kept: the kernel saves per-row statistics and recomputes in backward.
import type { AttnOpts, ScoreKernel, ScoreTransform } from '../../engine/backend.js';
import { ATTN_STATE, SCORE_NC, scoreSums } from '../../engine/kernels/ts/attention.js';
import type { F } from '../../engine/types.js';
import type { Param, ParamStore } from '../store.js';
import type { Params, VariantConfig } from '../variant.js';
import { decideCall, type Grads, type KernelForm, type KernelSums, type SoftmaxVariant } from './score.js';

export class SoftmaxSlot {
  private handles: [string, Param][] = [];
  private p: Params = {};
  private dp: Params = {};
  private g: Grads = {};
  /** The call state (quantizers, the per-call decision) when the block has none of its own. */
  private state = new Float64Array(ATTN_STATE);
  /** The kernels' form of the last forward, or null. */
  private form: KernelForm | null = null;
  /** Its ScoreKernel (with the per-pair sums), one object updated in place by every forward. */
  private readonly kern: ScoreKernel = { kind: 0, spec: new Float32Array(0), nk: 0, G: 0, sums: new Float64Array(0) };
  private pairs = 0;
  /** Rows the TypeScript backward ran since beginBackward (the definition ran, not the kernel's form). */
  private tsRows = 0;
  /** The transform of the last forward (the definition's), closing over this slot. */
  private readonly tr: ScoreTransform;
  /** KernelForm.hp's put: a head's 4 values into the kept spec at hpAt. */
  private hpAt = 0;
  private readonly put = (v0: number, v1: number, v2: number, v3: number): void => {
    const s = this.kern.spec, i = this.hpAt;
    s[i] = v0; s[i + 1] = v1; s[i + 2] = v2; s[i + 3] = v3;
  };
  /** The kernel's sums of the last backward as the form's grads reads them: the stride G is the
   * kernel's (scoreSums), so no variant writes it down. */
  private readonly sums: KernelSums = {
    all: (j) => {
      const { sums, G } = this.kern;
      let r = 0;
      for (let i = 0; i < this.pairs; i++) r += sums[i * G + j];
      return r;
    },
    head: (j, h) => {
      const { sums, G } = this.kern;
      let r = 0;
      for (let i = h; i < this.pairs; i += this.cfg.n_head) r += sums[i * G + j];
      return r;
    },
  };

  constructor(store: ParamStore, readonly prefix: string, readonly variant: SoftmaxVariant<any>, readonly cfg: VariantConfig) {
    for (const [name, spec] of Object.entries(variant.params(cfg.n_head, cfg))) {
      const h = store.declare(`${prefix}.${name}`, spec.shape, spec.init,
        { learned: spec.learned ?? true, persistent: spec.persistent ?? true });
      this.handles.push([name, h]);
    }
    const v = variant, a = cfg, dec = v.callDecision?.(a) ?? null;
    this.tr = {
      ...(dec ? { pre: (S: Float64Array, n: number) => dec.pre(S, 0, n), decide: dec.decide } : {}),
      fwd: (S, P, n, h, T, st) => { v.forward(P, S, 0, n, T, h, this.p, a, st); },
      bwd: (S, P, dP, dS, n, h, T, st) => { this.tsRows++; v.backward(dS, dP, S, P, 0, n, T, h, this.p, this.g, a, st); },
    };
  }

  /** After ParamStore.finalize(): pick up the views. */
  bind(): void {
    for (const [name, h] of this.handles) {
      this.p[name] = h.data; this.dp[name] = h.grad; this.g[name] = new Float64Array(h.data.length);
    }
  }

  /** The KV cache cannot give this variant's weights (see SoftmaxVariant.callDependent). */
  get callDependent(): boolean {
    return this.variant.callDependent?.(this.cfg) ?? false;
  }

  get params(): Params {
    return this.p;
  }

  /** The parameters' gradients (what backward accumulates into). */
  get paramGrads(): Params {
    return this.dp;
  }

  /** Fills o, the attention options of a forward over B sequences of T keys (bf16, quantizers, their
   * state), with this variant's two forms (and this slot's state when o has none) and returns it; the
   * same object serves the backward that follows. */
  fill(o: AttnOpts, B: number, T: number): AttnOpts {
    const NH = this.cfg.n_head;
    this.form = this.variant.kernel?.(this.cfg, this.p, NH, T) ?? null;
    this.pairs = B * NH;
    if (this.form) this.load(this.form, NH);
    o.transform = this.tr; o.kernel = this.form ? this.kern : undefined; o.state ??= this.state;
    return o;
  }

  /** The kept ScoreKernel from form f (its arrays regrown only when their size changes). */
  private load(f: KernelForm, NH: number): void {
    const nk = f.knots ? f.knots.xs.length : 0, G = scoreSums(f.kind, nk), k = this.kern;
    const need = SCORE_NC + 4 * NH + 2 * nk;
    if (k.spec.length !== need) k.spec = new Float32Array(need);
    const spec = k.spec;
    spec.fill(0);
    spec.set(f.c);
    if (f.hp) for (let h = 0; h < NH; h++) { this.hpAt = SCORE_NC + 4 * h; f.hp(h, this.put); }
    if (f.knots) { spec.set(f.knots.xs, SCORE_NC + 4 * NH); spec.set(f.knots.ys, SCORE_NC + 4 * NH + nk); }
    if (k.sums.length !== this.pairs * G) k.sums = new Float64Array(this.pairs * G);
    k.kind = f.kind; k.nk = nk; k.G = G;
  }

  /** Before the backward of the last forward: the gradient sums start at zero. */
  beginBackward(): void {
    for (const name in this.g) this.g[name].fill(0);
    this.tsRows = 0;
  }

  /** After it: the parameter gradients (from the TypeScript rows, or the kernel's per-pair sums) added. */
  endBackward(): void {
    if (this.tsRows === 0 && this.form?.grads) this.form.grads(this.sums, this.g);
    for (const name in this.g) { const d = this.dp[name], s = this.g[name]; for (let i = 0; i < d.length; i++) d[i] += s[i]; }
  }

  /** Rows of a (B, NH, Tq, T) score tensor whose row t has keys 0..T - Tq + t: P from S (masked
   * entries 0). Generation's cached rows (src/model/generate.ts). */
  transformRows(P: F, S: F, B: number, NH: number, Tq: number, T: number): void {
    const v = this.variant, a = this.cfg, p = this.p, st = decideCall(v, a, S, { B, NH, Tq, T });
    for (let r = 0; r < B * NH; r++) {
      for (let t = 0; t < Tq; t++) {
        const o = (r * Tq + t) * T, n = T - Tq + t + 1;
        v.forward(P, S, o, n, T, r % NH, p, a, st);
        for (let i = o + n; i < o + T; i++) P[i] = 0;
      }
    }
  }
}
