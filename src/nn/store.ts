// All parameters of a model in two blocks of memory (values, gradients), with named views.
// Layout: learned tensors with weight decay first, then learned tensors without, then constants,
// so that AdamW runs as two contiguous calls and the gradient norm is one sum over a prefix.
import { alloc, type DType, type F } from '../engine/types.js';
import type { Rng } from '../engine/rng.js';
import type { Backend } from '../engine/backend.js';
import { fillInit } from './params.js';
import { numel, type Init } from './variant.js';

export type ParamInit = Init | { normal: number };

export interface Param {
  name: string; // full state-dict name, e.g. transformer.h.0.attn.c_attn_q.weight
  shape: number[];
  init: ParamInit;
  decay: boolean; // AdamW weight decay (tensors of 2 or more dimensions)
  learned: boolean;
  persistent: boolean; // written to checkpoints
  data: F; // views, set by ParamStore.finalize()
  grad: F;
  offset: number;
}

export class ParamStore {
  readonly params: Param[] = [];
  private byName = new Map<string, Param>();
  data!: F;
  grad!: F;
  /** Elements [0, decayEnd) decay, [decayEnd, learnedEnd) are learned without decay, the rest are constants. */
  decayEnd = 0;
  learnedEnd = 0;

  private owned: Float32Array[] = [];

  /** be: where the model's arrays live when it has its own memory (Backend.alloc); else ordinary arrays. */
  constructor(readonly dtype: DType, private readonly be?: Backend) {}

  /**
   * A zeroed array of n elements for the model (parameters, gradients, optimizer moments,
   * activations): in the backend's memory when it offers one (the wasm kernels then work on it in
   * place), else an ordinary array. Valid until release().
   */
  alloc(n: number): F {
    const a = this.dtype === 'float32' ? this.be?.alloc?.(n) ?? null : null;
    if (!a) return alloc(this.dtype, n);
    this.owned.push(a);
    return a;
  }

  /**
   * Gives the arrays alloc() placed in the backend's memory back to it: the model (and its optimizer)
   * must not be used afterwards. Without it they stay until the backend is dropped; call it when a
   * process builds one model after another on the same backend (bench, the playground).
   */
  release(): void {
    for (const a of this.owned) this.be?.free?.(a);
    this.owned = [];
  }

  declare(name: string, shape: number[], init: ParamInit, opts: { learned?: boolean; persistent?: boolean } = {}): Param {
    if (this.byName.has(name)) throw new Error(`parameter ${name} declared twice`);
    const learned = opts.learned ?? true;
    const p: Param = {
      name, shape, init, learned, persistent: opts.persistent ?? true,
      decay: learned && shape.length >= 2,
      data: undefined as unknown as F, grad: undefined as unknown as F, offset: 0,
    };
    this.params.push(p);
    this.byName.set(name, p);
    return p;
  }

  get(name: string): Param | undefined {
    return this.byName.get(name);
  }

  /** Allocate the blocks and initialise every parameter, in declaration order, from rng. */
  finalize(rng: Rng): void {
    const order = [
      ...this.params.filter((p) => p.decay),
      ...this.params.filter((p) => p.learned && !p.decay),
      ...this.params.filter((p) => !p.learned),
    ];
    let total = 0;
    for (const p of order) {
      p.offset = total;
      total += numel(p.shape);
      if (p.decay) this.decayEnd = total;
      if (p.learned) this.learnedEnd = total;
    }
    if (this.learnedEnd < this.decayEnd) this.learnedEnd = this.decayEnd;
    this.data = this.alloc(total);
    this.grad = this.alloc(total);
    for (const p of order) {
      const n = numel(p.shape);
      p.data = this.data.subarray(p.offset, p.offset + n);
      p.grad = this.grad.subarray(p.offset, p.offset + n);
    }
    for (const p of this.params) {
      const init = p.init;
      if (typeof init === 'object' && 'normal' in init) {
        for (let i = 0; i < p.data.length; i++) p.data[i] = rng.normal() * init.normal;
      } else fillInit(p.data, init);
    }
  }

  zeroGrad(): void {
    this.grad.fill(0);
  }

  /** Number of learned elements. */
  count(): number {
    return this.learnedEnd;
  }
}
