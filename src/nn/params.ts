// Filling a parameter from its ParamSpec, and building the ctx that kernels receive.
import type { F } from '../engine/types.js';
import { Rng } from '../engine/rng.js';
import type { Ctx, Init } from './variant.js';

export function fillInit(out: F, init: Init): void {
  if (init === 'ones') out.fill(1);
  else if (init === 'zeros') out.fill(0);
  else if ('fill' in init) out.fill(init.fill);
  else {
    if (init.values.length !== out.length) {
      throw new Error(`init has ${init.values.length} values for a parameter of ${out.length}`);
    }
    for (let i = 0; i < out.length; i++) out[i] = init.values[i];
  }
}

/** A Ctx that sums reported metrics; `take()` returns and clears the shares. */
export class MetricCtx implements Ctx {
  private sums = new Map<string, [number, number]>();
  iter = 0;
  constructor(public training: boolean, public rng: Rng) {}
  metric(name: string, numerator: number, denominator: number): void {
    const s = this.sums.get(name) ?? [0, 0];
    s[0] += numerator; s[1] += denominator;
    this.sums.set(name, s);
  }
  take(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, [num, den]] of this.sums) out[k] = den > 0 ? num / den : 0;
    this.sums.clear();
    return out;
  }
}
