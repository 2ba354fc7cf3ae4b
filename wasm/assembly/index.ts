// normlab's WebAssembly kernels (AssemblyScript, 128-bit SIMD). Every function takes byte
// addresses into the module's memory and sizes; src/engine/kernels/wasm/ copies arrays in and out
// and exposes them as a Backend. No allocation happens here: scratch space (`work`) is passed in.
export { matmulPack, matmulRows, matmulWork, matmulChunkWork } from './gemm';
export { attentionForward, attentionBackward, attentionWork } from './attention';
export {
  add, mul, scale, sumSquares, addBias, biasBackward, embeddingForward, embeddingBackward,
  crossEntropyForward, crossEntropyBackward, adamw,
} from './kernels';
export { rmsnormForward, rmsnormBackward, layernormForward, layernormBackward } from './variants';
// Every row of the elementwise table: <name>Forward / <name>Backward (gelu, relu, sigmoid, ...).
export * from './elementwise';
export { fakeQuant } from './quantize';
export { roundBf16 } from './bf16';
export { attentionScoreForward, attentionScoreBackward, attentionScoreWork, attentionQuantParams } from './attention';
