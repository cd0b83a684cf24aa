/**
 * How a weight matrix lives on the GPU. A linear weight W [OC, IC] (HF layout) is uploaded in
 * panels of PANEL = 32 outputs, each input-major ("k-major"): panel p holds Wᵀ[:, 32p .. 32p+31]
 * as [IC, 32], the panels one after another. The four threads of a matmul quad that own a
 * panel's outputs read one 128-byte run per input k, neighbouring words (coalesced on GPUs),
 * and walk IC such runs back to back: one sequential stream per quad, which CPU prefetchers
 * follow (plain k-major [IC, OC] strides OC words per k: slow on software adapters once a
 * matrix exceeds the cache). x[k] is broadcast. Outputs are padded to a multiple of 32 per slice.
 * Element (k, o) of a slice, counted in weights: weightIndex(IC, k, o).
 *
 *   f32   data  [OCp/32, IC, 32]    f32
 *   f16   data  [OCp/32, IC, 16]    u32, two halves (o, o+1) per word (unpack2x16float: works without shader-f16)
 *   q4    data  [OCp/32, IC, 4]     u32, eight 4-bit codes (o..o+7, code i in bits 4i..4i+3) per word
 *         scales [IC/g, OCp]        f32, or [IC/g, OCp/2] u32 pairs of halves; value = (code - 7) * scale
 *
 * A matrix larger than the device's storage-binding limit is split along OC into slices, each
 * its own buffer; kernels run once per slice. The embedding [V, C] is held the same way
 * (OC = V, IC = C), so a tied lm_head is the very same buffers.
 */
import type { Tensor } from '../model/weights';
import type { Gpu } from './device';
import type { MemoryCategory, PooledBuffer } from './memory';

export type WeightFormat = 'f32' | 'f16' | 'q4f32' | 'q4f16';

/** Outputs per panel (see above); slices are padded to a multiple of it. */
export const PANEL = 32;

/** Position of weight (input k, output o) of a slice, in weights (not bytes or words). */
export function weightIndex(IC: number, k: number, o: number): number {
  return (o - (o % PANEL)) * IC + k * PANEL + (o % PANEL);
}

export interface LinearSlice {
  /** First output (row of W) in this slice. */
  o0: number;
  /** Outputs in this slice (the last slice may be shorter than the padded width). */
  n: number;
  /** Padded width (multiple of PANEL). */
  np: number;
  data: PooledBuffer;
  scales: PooledBuffer | null;
}

export interface GpuLinear {
  format: WeightFormat;
  OC: number;
  IC: number;
  /** q4 group size along IC (0 otherwise). */
  groupSize: number;
  slices: LinearSlice[];
}

/** Bytes per weight on the GPU (q4 without its scales). */
export function bytesPerWeight(format: WeightFormat): number {
  return format === 'f32' ? 4 : format === 'f16' ? 2 : 0.5;
}

export function formatOf(t: Tensor): WeightFormat {
  return t.dtype === 'q4' ? (t.scaleDtype === 'f32' ? 'q4f32' : 'q4f16') : t.dtype;
}

/** Bytes one output (a row of W) takes in a slice: its weights and q4 scales. */
export function bytesPerOutput(format: WeightFormat, IC: number, groupSize: number): number {
  return IC * bytesPerWeight(format) + (format === 'q4f32' ? (IC / groupSize) * 4 : format === 'q4f16' ? (IC / groupSize) * 2 : 0);
}

/** Largest multiple of PANEL outputs whose slice (data and scales) fits in `maxBytes`. */
export function sliceWidth(format: WeightFormat, IC: number, groupSize: number, maxBytes: number): number {
  const perOutput = bytesPerOutput(format, IC, groupSize);
  const n = Math.floor(maxBytes / perOutput / PANEL) * PANEL;
  if (n < PANEL) throw new Error(`a panel of ${PANEL} weight rows of ${IC} inputs does not fit one storage binding`);
  return n;
}

/**
 * Uploads W [OC, IC] (logical shape; any Tensor dtype) as a GpuLinear. Call inside
 * gpu.guardOom() so an allocation failure is reported as 'out-of-memory'.
 */
export function uploadLinear(gpu: Gpu, t: Tensor, label: string, category: MemoryCategory = 'weights'): GpuLinear {
  const [OC, IC] = t.shape.length === 2 ? t.shape : [t.shape[0], 1];
  const format = formatOf(t);
  const groupSize = t.dtype === 'q4' ? t.groupSize : 0;
  const width = sliceWidth(format, IC, groupSize || 1, gpu.limits.maxBindingBytes);
  const slices: LinearSlice[] = [];
  for (let o0 = 0; o0 < OC; o0 += width) {
    const n = Math.min(width, OC - o0);
    const np = Math.ceil(n / PANEL) * PANEL;
    const { data, scales } = packSlice(t, IC, o0, n, np);
    const name = `${label}[${o0}:${o0 + n}]`;
    slices.push({
      o0,
      n,
      np,
      data: gpu.storage(data.byteLength, category, name, data),
      scales: scales ? gpu.storage(scales.byteLength, category, `${name}.scales`, scales) : null,
    });
  }
  return { format, OC, IC, groupSize, slices };
}

export function destroyLinear(gpu: Gpu, w: GpuLinear): void {
  for (const s of w.slices) {
    gpu.memory.destroy(s.data);
    if (s.scales) gpu.memory.destroy(s.scales);
  }
}

/** Packs outputs [o0, o0+n) of W into the slice layout above (padding outputs are zero; np a multiple of PANEL). */
export function packSlice(
  t: Tensor,
  IC: number,
  o0: number,
  n: number,
  np: number,
): { data: Float32Array | Uint32Array; scales: Float32Array | Uint32Array | null } {
  if (t.dtype === 'f32') {
    const data = new Float32Array(IC * np);
    for (let j = 0; j < n; j++) {
      const row = (o0 + j) * IC;
      for (let k = 0; k < IC; k++) data[weightIndex(IC, k, j)] = t.data[row + k];
    }
    return { data, scales: null };
  }
  if (t.dtype === 'f16') {
    const half = new Uint16Array(IC * np);
    for (let j = 0; j < n; j++) {
      const row = (o0 + j) * IC;
      for (let k = 0; k < IC; k++) half[weightIndex(IC, k, j)] = t.data[row + k];
    }
    return { data: new Uint32Array(half.buffer), scales: null };
  }
  // q4: source packed [OC, IC/8] along inputs; target packs 8 outputs per word.
  const srcWords = Math.ceil(IC / 8);
  const data = new Uint32Array((IC * np) / 8);
  for (let j = 0; j < np; j++) {
    const o = o0 + j;
    for (let k = 0; k < IC; k++) {
      const code = j < n ? (t.packed[o * srcWords + (k >> 3)] >>> (4 * (k & 7))) & 15 : 7;
      data[weightIndex(IC, k, j) >> 3] |= code << (4 * (j & 7));
    }
  }
  const G = Math.ceil(IC / t.groupSize);
  let scales: Float32Array | Uint32Array;
  if (t.scaleDtype === 'f32') {
    const s = new Float32Array(G * np);
    for (let j = 0; j < n; j++) for (let g = 0; g < G; g++) s[g * np + j] = (t.scales as Float32Array)[(o0 + j) * G + g];
    scales = s;
  } else {
    const s = new Uint16Array(G * np);
    for (let j = 0; j < n; j++) for (let g = 0; g < G; g++) s[g * np + j] = (t.scales as Uint16Array)[(o0 + j) * G + g];
    scales = new Uint32Array(s.buffer);
  }
  return { data, scales };
}
