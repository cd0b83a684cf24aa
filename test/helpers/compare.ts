/**
 * Numeric comparison for tests: the largest relative error of `actual` against `expected`,
 * where NaN or Inf anywhere (in either) is an infinite error, never a pass.
 */
export interface Diff {
  maxRel: number;
  maxAbs: number;
  worstIndex: number;
}

/** rel = |a - e| / max(|e|, floor), so near-zero expected values do not blow the ratio up. */
export function compareArrays(actual: ArrayLike<number>, expected: ArrayLike<number>, floor = 1e-6): Diff {
  if (actual.length !== expected.length) {
    throw new Error(`length mismatch: actual ${actual.length}, expected ${expected.length}`);
  }
  let maxRel = 0;
  let maxAbs = 0;
  let worstIndex = -1;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (!Number.isFinite(a) || !Number.isFinite(e)) return { maxRel: Infinity, maxAbs: Infinity, worstIndex: i };
    const abs = Math.abs(a - e);
    const rel = abs / Math.max(Math.abs(e), floor);
    if (rel > maxRel) {
      maxRel = rel;
      worstIndex = i;
    }
    if (abs > maxAbs) maxAbs = abs;
  }
  return { maxRel, maxAbs, worstIndex };
}
