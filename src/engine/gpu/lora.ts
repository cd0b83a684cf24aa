/**
 * LoRA update of a linear's output in place, out += scale · (x·Aᵀ)·Bᵀ: the GPU twin of
 * cpu/ops.ts loraForward. Two matmuls through the matmul kernel: xa = x·Aᵀ (kept: it is what
 * the backward pass needs for B's gradient), then out += scale · xa·Bᵀ into the linear's column
 * range. A and B stay f32 whatever the base's format (QLoRA-style), held k-major like every
 * linear: Aᵀ [IC, r], Bᵀ [r, OC]. The backward (loraBackward) reverses both matmuls: gradients of
 * A and B (dense row-major, PEFT's layout) and of x.
 *   out [T, outStride], xa [T, r], x [T, xStride]
 */
import type { Gpu } from './device';
import { destroyLinear, packSlice, uploadLinear, type GpuLinear } from './linear';
import { matmulBackward, matmulForward } from './matmul';
import type { Binding, Recorder } from './program';

export interface GpuLoraLinear {
  rank: number;
  a: GpuLinear; // A [r, IC]
  b: GpuLinear; // B [OC, r]
}

export function uploadLoraLinear(gpu: Gpu, a: Float32Array, b: Float32Array, rank: number, IC: number, OC: number, label: string): GpuLoraLinear {
  return {
    rank,
    a: uploadLinear(gpu, { dtype: 'f32', shape: [rank, IC], data: a }, `${label}.lora_A`, 'lora'),
    b: uploadLinear(gpu, { dtype: 'f32', shape: [OC, rank], data: b }, `${label}.lora_B`, 'lora'),
  };
}

/** Writes new A and B (same shapes) into the buffers of an uploaded pair: an optimizer step. */
export function writeLoraLinear(gpu: Gpu, l: GpuLoraLinear, a: Float32Array, b: Float32Array): void {
  for (const [lin, data] of [
    [l.a, a],
    [l.b, b],
  ] as const) {
    for (const s of lin.slices) gpu.write(s.data.buffer, 0, packSlice({ dtype: 'f32', shape: [lin.OC, lin.IC], data }, lin.IC, s.o0, s.n, s.np).data);
  }
}

export function destroyLoraLinear(gpu: Gpu, l: GpuLoraLinear): void {
  destroyLinear(gpu, l.a);
  destroyLinear(gpu, l.b);
}

export interface LoraLayout {
  xStride?: number;
  xOffset?: number;
  outStride?: number;
  outOffset?: number;
}

export function loraForward(rec: Recorder, out: Binding, xa: Binding, x: Binding, lora: GpuLoraLinear, scale: number, T: number, layout: LoraLayout = {}): void {
  matmulForward(rec, xa, x, lora.a, T, { xStride: layout.xStride, xOffset: layout.xOffset });
  matmulForward(rec, out, xa, lora.b, T, { accumulate: true, alpha: scale, outStride: layout.outStride, outOffset: layout.outOffset });
}

export interface LoraBackwardLayout {
  /** x and dx: [T, xStride], columns xOffset.. */
  xStride?: number;
  xOffset?: number;
  /** dout: the gradient of the whole linear's output, [T, doutStride], columns doutOffset.. */
  doutStride?: number;
  doutOffset?: number;
}

/**
 * Backward of loraForward: dx += …, and with `grads` dA [r, IC] += …, dB [OC, r] += … (an adapter
 * applied but not trained passes null and only hands dx on; dx null: nothing below needs it).
 * dxa [T, r] is scratch.
 *   out += scale · xa·Bᵀ  ⇒  dxa = scale · dout·B,  dB += scale · doutᵀ·xa
 *   xa = x·Aᵀ            ⇒  dx += dxa·A,          dA += dxaᵀ·x
 */
export function loraBackward(
  rec: Recorder,
  dx: Binding | null,
  grads: { a: Binding; b: Binding } | null,
  dout: Binding,
  x: Binding,
  xa: Binding,
  dxa: Binding,
  lora: GpuLoraLinear,
  scale: number,
  T: number,
  layout: LoraBackwardLayout = {},
): void {
  const r = lora.rank;
  matmulBackward(rec, dxa, grads?.b ?? null, dout, xa, lora.b, T, { alpha: scale, doutStride: layout.doutStride, doutOffset: layout.doutOffset, xStride: r });
  const xl = { xStride: layout.xStride, xOffset: layout.xOffset, dxStride: layout.xStride, dxOffset: layout.xOffset };
  matmulBackward(rec, dx, grads?.a ?? null, dxa, x, lora.a, T, { accumulate: true, doutStride: r, ...xl });
}
