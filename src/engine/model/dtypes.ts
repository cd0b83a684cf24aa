/**
 * Number formats of model tensors: IEEE half and bfloat16 bit conversions, and MLC's 4-bit
 * group quantization (the `q4` Tensor of weights.ts). Shared by the loaders, the tiny-model
 * generator and the CPU reference, which dequantizes everything to f32.
 */
import type { Tensor } from './weights';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half bits → number (exact). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero / subnormal
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** number → IEEE half bits, round to nearest even; overflow gives ±Inf. */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let frac = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (frac ? 0x200 : 0); // Inf / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): shift the implicit 1 in and round.
    if (e < -10) return sign;
    frac |= 0x800000;
    const shift = 14 - e;
    let half = frac >>> shift;
    const rem = frac & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (frac >>> 13);
  const rem = frac & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // may carry into the exponent: still right
  return sign | half;
}

export function bf16BitsToF32(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

/** number → bfloat16 bits, round to nearest even (NaN stays NaN). */
export function f32ToBf16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

export function f16ArrayToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f16BitsToF32(src[i]);
  return out;
}

export function f32ArrayToF16(src: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32ToF16Bits(src[i]);
  return out;
}

export function bf16ArrayToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  return out;
}

export function f32ArrayToBf16(src: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = f32ToBf16Bits(src[i]);
  return out;
}

/** Typed views of little-endian bytes; copies only when the bytes are misaligned for the type. */
export function bytesAsF32(bytes: Uint8Array): Float32Array {
  const b = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}
export function bytesAsU32(bytes: Uint8Array): Uint32Array {
  const b = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  return new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}
export function bytesAsU16(bytes: Uint8Array): Uint16Array {
  const b = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  return new Uint16Array(b.buffer, b.byteOffset, b.byteLength / 2);
}
export function typedBytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Bytes the tensor's data occupies as held (q4: packed codes + scales). */
export function tensorBytes(t: Tensor): number {
  if (t.dtype === 'q4') return t.packed.byteLength + t.scales.byteLength;
  return t.data.byteLength;
}

/** 4-bit codes per u32 word and the code offset of MLC's symmetric int4 (max_int_value = 7). */
export const Q4_PER_WORD = 8;
export const Q4_ZERO = 7;

/**
 * MLC group quantization of a [rows, cols] matrix along cols (group_quantization.py, layout
 * "NK"): per group scale = max|w| / 7 (rounded to the scale dtype), code = clamp(round(w /
 * scale + 7), 0, 14), 8 codes per u32 with code j in bits 4j..4j+3.
 */
export function quantizeQ4(
  w: Float32Array,
  rows: number,
  cols: number,
  groupSize: number,
  scaleDtype: 'f32' | 'f16',
): Extract<Tensor, { dtype: 'q4' }> {
  if (cols % groupSize !== 0 || groupSize % Q4_PER_WORD !== 0) {
    throw new Error(`q4: ${cols} columns do not split into groups of ${groupSize}`);
  }
  const groups = cols / groupSize;
  const packed = new Uint32Array((rows * cols) / Q4_PER_WORD);
  const scalesF32 = new Float32Array(rows * groups);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const o = r * cols + g * groupSize;
      let maxAbs = 0;
      for (let i = 0; i < groupSize; i++) maxAbs = Math.max(maxAbs, Math.abs(w[o + i]));
      let scale = Math.fround(maxAbs / Q4_ZERO);
      if (scaleDtype === 'f16') scale = f16BitsToF32(f32ToF16Bits(scale));
      scalesF32[r * groups + g] = scale;
      for (let i = 0; i < groupSize; i++) {
        const code = scale === 0 ? Q4_ZERO : Math.min(14, Math.max(0, Math.round(w[o + i] / scale + Q4_ZERO)));
        const idx = o + i;
        packed[idx >>> 3] |= code << (4 * (idx & 7));
      }
    }
  }
  return {
    dtype: 'q4',
    shape: [rows, cols],
    packed,
    scales: scaleDtype === 'f16' ? f32ArrayToF16(scalesF32) : scalesF32,
    scaleDtype,
    groupSize,
  };
}

/** value = (code - 7) * scale, back to a dense [rows, cols] f32 matrix. */
export function dequantizeQ4(t: Extract<Tensor, { dtype: 'q4' }>): Float32Array {
  const cols = t.shape[t.shape.length - 1];
  const rows = numel(t.shape) / cols;
  const groups = cols / t.groupSize;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const idx = r * cols + c;
      const code = (t.packed[idx >>> 3] >>> (4 * (idx & 7))) & 0xf;
      const s = t.scales[r * groups + Math.floor(c / t.groupSize)];
      const scale = t.scaleDtype === 'f16' ? f16BitsToF32(s) : s;
      out[idx] = (code - Q4_ZERO) * scale;
    }
  }
  return out;
}

/** Any tensor as dense f32 (a copy for f16/q4, the data itself for f32). */
export function tensorToF32(t: Tensor): Float32Array {
  switch (t.dtype) {
    case 'f32':
      return t.data;
    case 'f16':
      return f16ArrayToF32(t.data);
    case 'q4':
      return dequantizeQ4(t);
    default:
      return t satisfies never;
  }
}

export function f32Tensor(shape: number[], data: Float32Array): Tensor {
  if (numel(shape) !== data.length) throw new Error(`tensor of shape [${shape}] given ${data.length} values`);
  return { dtype: 'f32', shape, data };
}
