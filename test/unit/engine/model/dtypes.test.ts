import { describe, expect, it } from 'vitest';
import {
  bf16BitsToF32,
  dequantizeQ4,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  quantizeQ4,
} from '../../../../src/engine/model/dtypes';
import { randomArray, rng } from '../random';

describe('half and bfloat16', () => {
  it('every finite half value survives f16 → f32 → f16', () => {
    for (let h = 0; h < 0x10000; h++) {
      const x = f16BitsToF32(h);
      if (Number.isNaN(x)) continue;
      expect(f32ToF16Bits(x)).toBe(h);
    }
  });

  it('f32 → f16 rounds to the nearest half, ties to even (checked against the two neighbours)', () => {
    const r = rng(11);
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround((r() * 2 - 1) * 2 ** Math.floor(r() * 40 - 26));
      const h = f32ToF16Bits(x);
      const y = f16BitsToF32(h);
      // Neighbours of the result in the half grid (same sign direction).
      const up = f16BitsToF32(h + 1);
      const down = h & 0x7fff ? f16BitsToF32(h - 1) : -y;
      expect(Math.abs(x - y)).toBeLessThanOrEqual(Math.abs(x - up));
      expect(Math.abs(x - y)).toBeLessThanOrEqual(Math.abs(x - down));
    }
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds past the largest half: Inf
    expect(f32ToF16Bits(2 ** -24)).toBe(1);
    expect(f32ToF16Bits(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal → even (0)
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN)))).toBe(true);
  });

  it('bf16 keeps the top 16 bits of f32, rounding to nearest even', () => {
    for (let h = 0; h < 0x10000; h += 7) {
      const x = bf16BitsToF32(h);
      if (Number.isNaN(x)) continue;
      expect(f32ToBf16Bits(x)).toBe(h);
    }
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
  });
});

describe('q4 group quantization (MLC q4f*_1)', () => {
  it('packs code j of a word in bits 4j..4j+3 and dequantizes to (code - 7) · scale', () => {
    // One row, one group of 32: values k·s for codes 0..14 make the quantization exact.
    const s = 0.5;
    const w = new Float32Array(32);
    for (let i = 0; i < 32; i++) w[i] = ((i % 15) - 7) * s;
    w[14] = 7 * s; // max |w| = 3.5 → scale 0.5
    const t = quantizeQ4(w, 1, 32, 32, 'f32');
    expect(t.scales[0]).toBe(s);
    for (let i = 0; i < 32; i++) {
      const code = (t.packed[i >> 3] >>> (4 * (i % 8))) & 15;
      expect(code).toBe(Math.round(w[i] / s) + 7);
    }
    expect(dequantizeQ4(t)).toEqual(w);
  });

  for (const scaleDtype of ['f32', 'f16'] as const) {
    it(`round trip is within half a step of every group (scales ${scaleDtype})`, () => {
      const r = rng(5);
      const rows = 7;
      const cols = 96;
      const w = randomArray(rows * cols, r, 2);
      const t = quantizeQ4(w, rows, cols, 32, scaleDtype);
      expect(t.packed.length).toBe((rows * cols) / 8);
      expect(t.scales.length).toBe(rows * 3);
      const d = dequantizeQ4(t);
      for (let row = 0; row < rows; row++) {
        for (let g = 0; g < 3; g++) {
          let maxAbs = 0;
          for (let i = 0; i < 32; i++) maxAbs = Math.max(maxAbs, Math.abs(w[row * cols + g * 32 + i]));
          const step = maxAbs / 7;
          for (let i = 0; i < 32; i++) {
            const k = row * cols + g * 32 + i;
            // Half a step, plus the scale's own rounding to f16 over up to 7 steps.
            expect(Math.abs(d[k] - w[k])).toBeLessThanOrEqual(step * (0.5 + (scaleDtype === 'f16' ? 7 * 2 ** -11 : 1e-6)) + 1e-7);
          }
        }
      }
    });
  }
});
