import { describe, expect, it } from 'vitest';
import { hash32, sampleToken, uniform } from '../../../src/engine/cpu/sample';

describe('sampling rule', () => {
  it('hash32 is a stable u32 hash', () => {
    const values = Array.from({ length: 1000 }, (_, i) => hash32(i));
    expect(new Set(values).size).toBe(1000);
    for (const v of values) expect(v >>> 0).toBe(v);
    expect(hash32(0)).toBe(hash32(0));
  });

  it('uniform covers [0,1) evenly', () => {
    const bins = new Array(10).fill(0);
    for (let s = 0; s < 20000; s++) {
      const u = uniform(12345, s);
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      bins[Math.floor(u * 10)]++;
    }
    for (const b of bins) expect(Math.abs(b - 2000)).toBeLessThan(200);
  });

  it('temperature 0 is argmax, lowest id on ties', () => {
    expect(sampleToken([0.1, 3, 3, -1], 0, 1, 1, 0)).toBe(1);
  });

  it('top-p keeps the smallest high-probability set and draws in proportion', () => {
    // p ≈ [0.6, 0.3, 0.1]: top-p 0.8 keeps ids 0 and 1 only.
    const logits = [Math.log(0.6), Math.log(0.3), Math.log(0.1)];
    const counts = [0, 0, 0];
    for (let s = 0; s < 9000; s++) counts[sampleToken(logits, 1, 0.8, 7, s)]++;
    expect(counts[2]).toBe(0);
    expect(counts[0] / 9000).toBeCloseTo(2 / 3, 1);
    const all = [0, 0, 0];
    for (let s = 0; s < 9000; s++) all[sampleToken(logits, 1, 1, 7, s)]++;
    expect(all[2] / 9000).toBeCloseTo(0.1, 1);
  });
});
