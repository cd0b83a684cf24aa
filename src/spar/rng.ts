/**
 * SPaR's random streams. The generator is Python's (src/py-random.ts) because the reference
 * implementation draws its random choices (refine-request seeds, value-proportional selection,
 * the critique RFT picks, the failing response that roots a tree) from Python's global
 * `random`. Every instruction here gets its own streams with recorded seeds, so a conformance
 * harness can `random.seed(s)` before running the reference on the same instruction and get the
 * very same draws.
 */
import { PyRandom } from '../py-random';

export { PyRandom };

/** The largest seed a request carries, as in the reference (`random.randint(1, 100000000)`). */
export const REQUEST_SEED_MAX = 100_000_000;

/** A fresh request seed from a stream, drawn exactly as the reference draws refine seeds. */
export function requestSeed(rng: PyRandom): number {
  return rng.randint(1, REQUEST_SEED_MAX);
}

/** The independent random streams of one instruction; see `streamSeeds`. */
export type StreamName = 'sample' | 'judge' | 'select' | 'search';

/**
 * Seeds of one instruction's streams, derived from the run seed, the iteration and the prompt
 * id only: results do not depend on which instructions run concurrently or in what order.
 * - sample: seeds of the actor's sampling requests
 * - judge: seeds of every judge request (the reference passes none; ours are reproducible)
 * - select: the failing response that roots the tree (reference: `random.shuffle` of the
 *   failing indices, first one) and, in the ablation, the passing one
 * - search: exactly the reference's draws during and after one tree search, in its order:
 *   `randint(1, 1e8)` per refine call, `random()` per sampled selection, then
 *   `sample(negative, 1)` and `sample(positive, 1)` for the critique RFT records
 */
export function streamSeeds(runSeed: number, iteration: number, promptId: string): Record<StreamName, number> {
  const base = `${runSeed}\u0000${iteration}\u0000${promptId}\u0000`;
  return {
    sample: hash32(base + 'sample'),
    judge: hash32(base + 'judge'),
    select: hash32(base + 'select'),
    search: hash32(base + 'search'),
  };
}

/** FNV-1a over UTF-16 code units, then murmur3's finalizer for avalanche: a uint32. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
