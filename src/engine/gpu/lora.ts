/**
 * LoRA update of a linear's output in place, out += scale · (x·Aᵀ)·Bᵀ: the GPU twin of
 * cpu/ops.ts loraForward. Two matmuls through the matmul kernel: xa = x·Aᵀ (kept: it is what
 * the backward pass needs for B's gradient), then out += scale · xa·Bᵀ into the linear's column
 * range. A and B stay f32 whatever the base's format (QLoRA-style), held k-major like every
 * linear: Aᵀ [IC, r], Bᵀ [r, OC].
 *   out [T, outStride], xa [T, r], x [T, xStride]
 */
import type { Gpu } from './device';
import { destroyLinear, uploadLinear, type GpuLinear } from './linear';
import { matmulForward } from './matmul';
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
