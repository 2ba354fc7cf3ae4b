// A Variant bound to one place in the model: its parameters (declared in the ParamStore under a
// prefix), its saved buffers (allocated once for up to maxN rows, by the ParamStore), and the kernels to run
// (the backend's fused replacement when it has one and the arrays are float32).
import type { Backend } from '../engine/backend.js';
import type { F } from '../engine/types.js';
import type { Param, ParamStore } from './store.js';
import { fusedKernels, type Ctx, type Params, type Saved, type Variant, type VariantConfig, type VariantKernels } from './variant.js';

export class VariantSlot {
  private handles: [string, Param][] = [];
  private p: Params = {};
  private dp: Params = {};
  private s: Saved;
  private kernels!: VariantKernels;

  constructor(store: ParamStore, readonly prefix: string, readonly variant: Variant, readonly C: number,
    readonly cfg: VariantConfig, maxN: number) {
    for (const [name, spec] of Object.entries(variant.params(C, cfg))) {
      const h = store.declare(`${prefix}.${name}`, spec.shape, spec.init,
        { learned: spec.learned ?? true, persistent: spec.persistent ?? true });
      this.handles.push([name, h]);
    }
    this.s = {};
    for (const [name, n] of Object.entries(variant.saved(maxN, C, cfg))) this.s[name] = store.alloc(n);
  }

  /** After ParamStore.finalize(): pick up the views and the kernels. */
  bind(be: Backend): void {
    for (const [name, h] of this.handles) { this.p[name] = h.data; this.dp[name] = h.grad; }
    const fused = fusedKernels(this.variant, be);
    this.kernels = fused && this.s && this.isF32() ? fused : this.variant;
  }

  private isF32(): boolean {
    for (const [, h] of this.handles) if (!(h.data instanceof Float32Array)) return false;
    return true;
  }

  get params(): Params {
    return this.p;
  }

  forward(out: F, x: F, N: number, ctx: Ctx): void {
    const k = out instanceof Float32Array ? this.kernels : this.variant;
    k.forward(out, x, this.p, this.s, N, this.C, this.cfg, ctx);
  }

  /** Adds into dx and into the parameter gradients. */
  backward(dx: F, dout: F, x: F, N: number, ctx: Ctx): void {
    const k = dx instanceof Float32Array ? this.kernels : this.variant;
    k.backward(dx, this.dp, dout, x, this.p, this.s, N, this.C, this.cfg, ctx);
  }
}
