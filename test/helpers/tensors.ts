/** Random weight tensors in every storage dtype, for kernel and model tests. */
import type { Tensor } from '../../src/engine/model/weights';
import { f32ToF16Bits } from '../../src/engine/model/dtypes';
import { rand } from './gpu';

export type TestDtype = 'f32' | 'f16' | 'q4f32' | 'q4f16';
export const TEST_DTYPES: TestDtype[] = ['f32', 'f16', 'q4f32', 'q4f16'];

/** A random [rows, cols] tensor of the given dtype (q4 needs cols % 8 == 0). */
export function randomTensor(dtype: TestDtype, rows: number, cols: number, scale = 1, groupSize = 16): Tensor {
  const shape = [rows, cols];
  if (dtype === 'f32') return { dtype, shape, data: rand(rows * cols, scale) };
  if (dtype === 'f16') return { dtype, shape, data: Uint16Array.from(rand(rows * cols, scale), f32ToF16Bits) };
  const words = cols / 8;
  const packed = new Uint32Array(rows * words);
  for (let i = 0; i < packed.length; i++) packed[i] = (Math.random() * 2 ** 32) >>> 0;
  const G = Math.ceil(cols / groupSize);
  const s = Float32Array.from({ length: rows * G }, () => (0.2 + Math.random()) * (scale / 7));
  const scales = dtype === 'q4f32' ? s : Uint16Array.from(s, f32ToF16Bits);
  return { dtype: 'q4', shape, packed, scales, scaleDtype: dtype === 'q4f32' ? 'f32' : 'f16', groupSize };
}
