import { describe, expect, it } from 'vitest';
import { PANEL, packSlice, sliceWidth, weightIndex } from '../../../../src/engine/gpu/linear';
import { f16BitsToF32, f32ArrayToF16, quantizeQ4, tensorToF32 } from '../../../../src/engine/model/dtypes';
import type { Tensor } from '../../../../src/engine/model/weights';

/** Reads W[o, k] back out of a slice (panels of k-major outputs), the way the kernels do. */
function unpack(t: Tensor, slice: ReturnType<typeof packSlice>, IC: number, n: number, np: number): Float32Array {
  const out = new Float32Array(n * IC);
  const f32 = new Float32Array(slice.data.buffer);
  const u32 = new Uint32Array(slice.data.buffer);
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < IC; k++) {
      const e = weightIndex(IC, k, j);
      let v: number;
      if (t.dtype === 'f32') v = f32[e];
      else if (t.dtype === 'f16') v = f16BitsToF32((u32[e >> 1] >>> (16 * (e & 1))) & 0xffff);
      else {
        const code = (u32[e >> 3] >>> (4 * (e & 7))) & 15;
        const se = Math.floor(k / t.groupSize) * np + j;
        const sc = t.scaleDtype === 'f32' ? new Float32Array(slice.scales!.buffer)[se] : f16BitsToF32((new Uint32Array(slice.scales!.buffer)[se >> 1] >>> (16 * (se & 1))) & 0xffff);
        v = (code - 7) * sc;
      }
      out[j * IC + k] = v;
    }
  }
  return out;
}

describe('weight slices in k-major panels (gpu/linear.ts)', () => {
  const OC = 53;
  const IC = 64;
  const w = Float32Array.from({ length: OC * IC }, (_, i) => Math.sin(i * 1.7));
  const tensors: Tensor[] = [
    { dtype: 'f32', shape: [OC, IC], data: w },
    { dtype: 'f16', shape: [OC, IC], data: f32ArrayToF16(w) },
    quantizeQ4(w, OC, IC, 32, 'f32'),
    quantizeQ4(w, OC, IC, 32, 'f16'),
  ];
  for (const t of tensors) {
    it(`${t.dtype}${t.dtype === 'q4' ? ` (${t.scaleDtype} scales)` : ''}: every slice holds exactly W's rows, padding is zero`, () => {
      const dense = tensorToF32(t);
      for (const [o0, n] of [[0, 32], [32, 21], [0, 53]]) {
        const np = Math.ceil(n / PANEL) * PANEL;
        const slice = packSlice(t, IC, o0, n, np);
        expect(Array.from(unpack(t, slice, IC, n, np))).toEqual(Array.from(dense.subarray(o0 * IC, (o0 + n) * IC)));
        expect(Array.from(unpack(t, slice, IC, np, np).subarray(n * IC)).every((v) => v === 0)).toBe(true);
      }
    });
  }

  it('slice width keeps every slice within the binding limit', () => {
    expect(sliceWidth('f32', 896, 1, 128 * 2 ** 20)).toBe(37440);
    expect(sliceWidth('q4f16', 896, 32, 128 * 2 ** 20) * (896 / 2 + 28 * 2)).toBeLessThanOrEqual(128 * 2 ** 20);
  });
});
