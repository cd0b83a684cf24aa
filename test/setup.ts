import { expect } from 'vitest';
import { compareArrays } from './helpers/compare';

interface AllcloseOptions {
  /** Largest allowed relative error (see compareArrays). */
  rtol?: number;
  /** Denominator floor for relative error, for expected values near zero. */
  floor?: number;
}

expect.extend({
  /** Relative-error comparison of numeric arrays; NaN/Inf never pass. Reports the worst element. */
  toBeAllclose(received: ArrayLike<number>, expected: ArrayLike<number>, opts: AllcloseOptions = {}) {
    const rtol = opts.rtol ?? 1e-5;
    const d = compareArrays(received, expected, opts.floor);
    const pass = d.maxRel <= rtol;
    const i = d.worstIndex;
    return {
      pass,
      message: () =>
        `expected arrays ${pass ? 'not ' : ''}to be close (rtol ${rtol}): max rel error ${d.maxRel.toExponential(3)}, ` +
        `max abs ${d.maxAbs.toExponential(3)}` +
        (i >= 0 ? ` at [${i}]: got ${received[i]}, expected ${expected[i]}` : ''),
    };
  },
});

// The type parameter must match vitest's own declaration exactly.
declare module 'vitest' {
  interface Matchers<T = any> {
    toBeAllclose(expected: ArrayLike<number>, opts?: AllcloseOptions): T;
  }
}
