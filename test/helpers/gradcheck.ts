/**
 * Central finite differences for checking backward passes: the numeric derivative of a scalar
 * function with respect to chosen entries of an array it reads, and one relative error measure.
 */

/**
 * d f / d x[i] ≈ (f(x + h·e_i) - f(x - h·e_i)) / (2h) for each i in `indices` (default: all).
 * The step actually taken is used, so f32 arrays (where x ± h rounds) are handled exactly.
 */
export function numericGrad(f: () => number, x: Float32Array | Float64Array, h: number, indices?: readonly number[]): Float64Array {
  const idx = indices ?? Array.from({ length: x.length }, (_, i) => i);
  const out = new Float64Array(idx.length);
  idx.forEach((i, n) => {
    const x0 = x[i];
    x[i] = x0 + h;
    const up = x[i] - x0;
    const fp = f();
    x[i] = x0 - h;
    const down = x0 - x[i];
    const fm = f();
    x[i] = x0;
    out[n] = (fp - fm) / (up + down);
  });
  return out;
}

/** max |a - e| / max |e|: the error relative to the tensor's scale (0 when both are all zero). */
export function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length mismatch: ${actual.length} vs ${expected.length}`);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!Number.isFinite(d)) return Infinity;
    maxDiff = Math.max(maxDiff, d);
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
  }
  return maxDiff === 0 ? 0 : maxDiff / maxRef;
}

/** Picks `n` distinct indices of [0, length) with a seeded generator (all when length <= n). */
export function sampleIndices(length: number, n: number, r: () => number): number[] {
  if (length <= n) return Array.from({ length }, (_, i) => i);
  const set = new Set<number>();
  while (set.size < n) set.add(Math.floor(r() * length));
  return [...set].sort((a, b) => a - b);
}

/** numericGrad for a loss computed asynchronously (an engine call). */
export async function numericGradAsync(f: () => Promise<number>, x: Float32Array | Float64Array, h: number, indices: readonly number[]): Promise<Float64Array> {
  const out = new Float64Array(indices.length);
  for (let n = 0; n < indices.length; n++) {
    const i = indices[n];
    const x0 = x[i];
    x[i] = x0 + h;
    const up = x[i] - x0;
    const fp = await f();
    x[i] = x0 - h;
    const down = x0 - x[i];
    const fm = await f();
    x[i] = x0;
    out[n] = (fp - fm) / (up + down);
  }
  return out;
}
