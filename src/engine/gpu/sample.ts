/**
 * Token sampling on the GPU by the rule of cpu/sample.ts (its twin: sampleToken), so only the
 * chosen ids are read back, never the vocabulary. One workgroup per row:
 *   temperature 0   argmax, lowest id on ties
 *   otherwise       p = softmax(logits / T), written over the logits row;
 *                   top-p threshold τ = the largest value with Σ_{p_i ≥ τ} p_i ≥ topP, found by
 *                   binary search on the bit pattern of τ (no sort);
 *                   u = uniform(seed, step); walk ids in increasing order summing kept p_i and
 *                   take the first id where the sum exceeds u · kept mass (chunk sums first,
 *                   then one thread walks the chunk that holds the target).
 *   logits [R, V] (overwritten with probabilities), rowParams [R] (temperature, topP, seed,
 *   step), ids [R] u32
 */
import type { Binding, Recorder } from './program';
import { FLAT_WG, FLAT_WG_ARGS, HASH_WGSL, gridFor, paramsWgsl, reduceWgsl, storageWgsl } from './wgsl';

const PARAMS = { R: 'u32', V: 'u32' } as const;
const WG = 64;

export interface SampleRowParams {
  temperature: number;
  topP: number;
  seed: number;
  step: number;
}

/** Packs per-row sampling parameters as the kernel reads them: [R] × (f32, f32, u32, u32). */
export function packSampleParams(rows: readonly SampleRowParams[]): Uint32Array {
  const buf = new ArrayBuffer(Math.max(16, rows.length * 16));
  const f = new Float32Array(buf);
  const u = new Uint32Array(buf);
  rows.forEach((r, i) => {
    f[i * 4] = r.temperature;
    f[i * 4 + 1] = r.topP;
    u[i * 4 + 2] = r.seed >>> 0;
    u[i * 4 + 3] = r.step >>> 0;
  });
  return u;
}

export function sampleToken(rec: Recorder, ids: Binding, logits: Binding, rowParams: Binding, R: number, V: number): void {
  rec.dispatch({
    key: 'sample',
    source: sampleWgsl,
    params: PARAMS,
    values: { R, V },
    bindings: [rowParams, logits, ids],
    workgroups: gridFor(R),
  });
}

function sampleWgsl(): string {
  return `${paramsWgsl(PARAMS)}${storageWgsl([
    ['rowParams', 'read', 'vec4u'],
    ['x', 'read_write', 'f32'],
    ['ids', 'read_write', 'u32'],
  ])}${reduceWgsl(WG)}${HASH_WGSL}
var<workgroup> shTemp: f32;
var<workgroup> shTopP: f32;

// Kept mass: Σ p_i over p_i ≥ tau.
fn massAbove(o: u32, tau: f32, li: u32) -> f32 {
  var s = 0.0;
  for (var i = li; i < P.V; i += ${WG}u) { let p = x[o + i]; if (p >= tau) { s += p; } }
  return wgSum(s, li);
}

@compute @workgroup_size(${WG})
fn main(${FLAT_WG_ARGS}) {
  ${FLAT_WG}
  if (wg >= P.R) { return; }
  let rp = rowParams[wg];
  if (li == 0u) { shTemp = bitcast<f32>(rp.x); shTopP = bitcast<f32>(rp.y); }
  let temperature = workgroupUniformLoad(&shTemp);
  let topP = workgroupUniformLoad(&shTopP);
  let o = wg * P.V;

  var best = -3.4e38;
  var bestId = 0u;
  for (var i = li; i < P.V; i += ${WG}u) { let v = x[o + i]; if (v > best) { best = v; bestId = i; } }
  if (temperature <= 0.0) {
    let id = wgArgmax(best, bestId, li);
    if (li == 0u) { ids[wg] = id; }
    return;
  }
  let mx = wgMax(best, li);
  let invT = 1.0 / temperature;
  var s = 0.0;
  for (var i = li; i < P.V; i += ${WG}u) { let e = exp((x[o + i] - mx) * invT); x[o + i] = e; s += e; }
  let sum = wgSum(s, li);
  var pmax = 0.0;
  for (var i = li; i < P.V; i += ${WG}u) { let p = x[o + i] / sum; x[o + i] = p; pmax = max(pmax, p); }
  let maxP = wgMax(pmax, li);

  // τ: largest value with massAbove(τ) ≥ topP, searched over bit patterns of positive floats
  // (their order as u32 is their order as f32). Invariant: mass(lo) ≥ topP > mass(hi).
  var tau = 0.0;
  if (topP < 1.0) {
    var lo = 0u;
    var hi = bitcast<u32>(maxP) + 1u;
    for (var it = 0u; it < 40u; it++) {
      if (hi - lo <= 1u) { break; }
      let mid = lo + (hi - lo) / 2u;
      if (massAbove(o, bitcast<f32>(mid), li) >= topP) { lo = mid; } else { hi = mid; }
    }
    tau = bitcast<f32>(lo);
  }

  // Draw: chunk li covers ids [li·chunk, (li+1)·chunk).
  let chunk = (P.V + ${WG - 1}u) / ${WG}u;
  let c0 = li * chunk;
  let c1 = min(c0 + chunk, P.V);
  var cs = 0.0;
  for (var i = c0; i < c1; i++) { let p = x[o + i]; if (p >= tau) { cs += p; } }
  red[li] = cs;
  workgroupBarrier();
  if (li == 0u) {
    var kept = 0.0;
    for (var c = 0u; c < ${WG}u; c++) { kept += red[c]; }
    let goal = uniform01(rp.z, rp.w) * kept;
    var acc = 0.0;
    var last = 0u;
    var found = false;
    for (var c = 0u; c < ${WG}u && !found; c++) {
      if (acc + red[c] <= goal) { acc += red[c]; continue; }
      let e0 = c * chunk;
      let e1 = min(e0 + chunk, P.V);
      for (var i = e0; i < e1; i++) {
        let p = x[o + i];
        if (p < tau) { continue; }
        acc += p;
        last = i;
        if (acc > goal) { found = true; break; }
      }
    }
    if (!found) { // rounding left the target past the end: the last kept id
      for (var i = P.V; i > 0u; i--) { if (x[o + i - 1u] >= tau) { last = i - 1u; break; } }
    }
    ids[wg] = last;
  }
}
`;
}
