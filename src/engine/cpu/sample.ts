/**
 * The sampling rule, shared by the CPU reference and the GPU kernels so both pick the same
 * token from the same logits. Designed for the GPU: no sort of the vocabulary, one uniform
 * number per (sequence, step) from a counter-based hash, a scan in token-id order.
 *
 *   temperature 0        → argmax (lowest id on ties)
 *   otherwise            p = softmax(logits / temperature)
 *     nucleus (top-p)    keep tokens with p_i >= τ, where τ is the largest probability value
 *                        such that the kept mass  Σ_{p_i >= τ} p_i  reaches topP (topP >= 1 keeps all)
 *     draw               u = uniform(seed, step) ∈ [0,1); walk ids in increasing order
 *                        accumulating kept p_i; pick the first id where the sum exceeds u · kept mass
 *                        (the last kept id if rounding leaves none)
 */

/** PCG-style 32-bit integer hash (same arithmetic as the WGSL version: u32 wraparound). */
export function hash32(x: number): number {
  let state = (Math.imul(x >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  state = ((word >>> 22) ^ word) >>> 0;
  return state;
}

/** Uniform in [0,1) for sampling step `step` of a sequence seeded with `seed` (24 bits of precision, exact in f32). */
export function uniform(seed: number, step: number): number {
  return (hash32((seed >>> 0) ^ hash32(step >>> 0)) >>> 8) / 16777216;
}

export function argmax(logits: ArrayLike<number>, offset = 0, V = logits.length - offset): number {
  let best = 0;
  let bestV = -Infinity;
  for (let i = 0; i < V; i++) {
    const v = logits[offset + i];
    if (v > bestV) {
      bestV = v;
      best = i;
    }
  }
  return best;
}

/** Picks a token id from one row of logits [V] by the rule above. */
export function sampleToken(
  logits: ArrayLike<number>,
  temperature: number,
  topP: number,
  seed: number,
  step: number,
): number {
  const V = logits.length;
  if (temperature <= 0) return argmax(logits);
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (logits[i] > max) max = logits[i];
  const p = new Float64Array(V);
  let sum = 0;
  for (let i = 0; i < V; i++) {
    p[i] = Math.exp((logits[i] - max) / temperature);
    sum += p[i];
  }
  for (let i = 0; i < V; i++) p[i] /= sum;

  let tau = 0;
  if (topP < 1) {
    // Largest threshold whose kept mass reaches topP: walk distinct values from the top.
    const sorted = Float64Array.from(p).sort().reverse();
    let mass = 0;
    for (let i = 0; i < V; i++) {
      mass += sorted[i];
      tau = sorted[i];
      if (mass >= topP) break;
    }
  }
  let kept = 0;
  for (let i = 0; i < V; i++) if (p[i] >= tau) kept += p[i];
  const target = uniform(seed, step) * kept;
  let acc = 0;
  let last = -1;
  for (let i = 0; i < V; i++) {
    if (p[i] < tau) continue;
    acc += p[i];
    last = i;
    if (acc > target) return i;
  }
  return last;
}
