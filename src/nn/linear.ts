// Linear layer, torch.nn.Linear layout: y (N, out) = x (N, in) W^T + b, W stored (out, in).
// With bf16 (--dtype bfloat16, docs/dtype.md) its three products read their operands rounded to
// bfloat16; the bias is added in float32.
import type { Backend, MatmulOptions } from '../engine/backend.js';
import type { F } from '../engine/types.js';
import type { Param, ParamStore } from './store.js';

export class Linear {
  readonly weight: Param;
  readonly bias: Param | null;
  private readonly mm: MatmulOptions;

  constructor(store: ParamStore, name: string, readonly inF: number, readonly outF: number, bias: boolean, std: number,
    readonly bf16 = false) {
    this.mm = bf16 ? { bf16: true } : {};
    this.weight = store.declare(`${name}.weight`, [outF, inF], { normal: std });
    this.bias = bias ? store.declare(`${name}.bias`, [outF], 'zeros') : null;
  }

  forward(be: Backend, out: F, x: F, N: number): void {
    be.matmul(out, x, this.weight.data, N, this.outF, this.inF, { ...this.mm, transB: true });
    if (this.bias) be.addBias(out, this.bias.data, N, this.outF);
  }

  /** dW += dout^T x, db += colsum(dout), dx = (or +=, with accumulate) dout W. */
  backward(be: Backend, dx: F, dout: F, x: F, N: number, accumulate: boolean): void {
    be.matmul(this.weight.grad, dout, x, this.outF, this.inF, N, { ...this.mm, transA: true, accumulate: true });
    if (this.bias) be.biasBackward(this.bias.grad, dout, N, this.outF);
    be.matmul(dx, dout, this.weight.data, N, this.inF, this.outF, { ...this.mm, accumulate });
  }
}
