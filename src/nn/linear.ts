// Linear layer, torch.nn.Linear layout: y (N, out) = x (N, in) W^T + b, W stored (out, in).
// With bf16 (--dtype bfloat16, docs/dtype.md) its three products read their operands rounded to
// bfloat16 (a quantized layer's wq after its fake quantization); the bias is added in float32.
// A quantized_linear layer (docs/quantization.md) has `wq`, the fake-quantized copy of W that the
// model refreshes before each forward (Linear.quantize); forward and backward's dx use it, dW is
// the straight-through gradient dout^T x; the bias stays float.
import type { Backend, MatmulOptions } from '../engine/backend.js';
import type { F } from '../engine/types.js';
import type { Param, ParamStore } from './store.js';
import type { Ctx } from './variant.js';
import type { QSpec, Quantizer } from './quant.js';

export class Linear {
  readonly weight: Param;
  readonly bias: Param | null;
  /** The quantizer of a quantized_linear layer, and its weight as the forward uses it. */
  readonly quant: QSpec | null;
  private wq: F | null = null;
  private useQ = false;
  private readonly mm: MatmulOptions;

  constructor(store: ParamStore, name: string, readonly inF: number, readonly outF: number, bias: boolean, std: number, quant: QSpec | null = null,
    readonly bf16 = false) {
    this.mm = bf16 ? { bf16: true } : {};
    this.weight = store.declare(`${name}.weight`, [outF, inF], { normal: std });
    this.bias = bias ? store.declare(`${name}.bias`, [outF], 'zeros') : null;
    this.quant = quant;
    if (quant) this.wq = store.alloc(outF * inF);
  }

  /** The weight the forward uses: W, or its fake-quantized copy. */
  get w(): F {
    return this.useQ ? this.wq! : this.weight.data;
  }

  /** A quantized_linear layer: refresh wq from W (one tensor) when `on` (after the warm-up), else use W. */
  quantize(be: Backend, on: boolean, q: Quantizer, level: number, ctx: Ctx): void {
    this.useQ = on && this.quant !== null;
    if (this.useQ) q.apply(be, this.wq!, this.weight.data, this.outF * this.inF, this.quant!, level, ctx);
  }

  forward(be: Backend, out: F, x: F, N: number): void {
    be.matmul(out, x, this.w, N, this.outF, this.inF, { ...this.mm, transB: true });
    if (this.bias) be.addBias(out, this.bias.data, N, this.outF);
  }

  /** dW += dout^T x, db += colsum(dout), dx = (or +=, with accumulate) dout W. */
  backward(be: Backend, dx: F, dout: F, x: F, N: number, accumulate: boolean): void {
    be.matmul(this.weight.grad, dout, x, this.outF, this.inF, N, { ...this.mm, transA: true, accumulate: true });
    if (this.bias) be.biasBackward(this.bias.grad, dout, N, this.outF);
    be.matmul(dx, dout, this.w, N, this.inF, this.outF, { ...this.mm, accumulate });
  }
}
