/**
 * Token sampling on the GPU by the rule of cpu/sample.ts (its twin: sampleToken), so only the
 * chosen ids are read back, never the vocabulary. One workgroup per row:
 *   temperature 0   argmax, lowest id on ties
 *   otherwise       p = softmax(logits / T), written over the logits row;
 *                   top-p threshold τ = the largest value with Σ_{p_i ≥ τ} p_i ≥ topP, found by
 *                   a 16-way search on the bit pattern of τ (no sort, ~8 passes over the row);
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

// Kept masses at 16 thresholds at once: component c of the result's j-th vec4 is
// Σ p_i over p_i ≥ th_j[c]. Unrolled: dynamically indexed arrays are slow on software adapters.
var<workgroup> red0: array<vec4f, ${WG}>;
var<workgroup> red1: array<vec4f, ${WG}>;
var<workgroup> red2: array<vec4f, ${WG}>;
var<workgroup> red3: array<vec4f, ${WG}>;
struct Masses { m0: vec4f, m1: vec4f, m2: vec4f, m3: vec4f }
var<workgroup> masses: Masses;
fn massesAbove(o: u32, th0: vec4f, th1: vec4f, th2: vec4f, th3: vec4f, li: u32) -> Masses {
  var a0 = vec4f(0.0); var a1 = vec4f(0.0); var a2 = vec4f(0.0); var a3 = vec4f(0.0);
  let z = vec4f(0.0);
  for (var i = li; i < P.V; i += ${WG}u) {
    let p = vec4f(x[o + i]);
    a0 += select(z, p, p >= th0); a1 += select(z, p, p >= th1);
    a2 += select(z, p, p >= th2); a3 += select(z, p, p >= th3);
  }
  red0[li] = a0; red1[li] = a1; red2[li] = a2; red3[li] = a3;
  workgroupBarrier();
  if (li == 0u) {
    var s = Masses(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
    for (var i = 0u; i < ${WG}u; i++) { s.m0 += red0[i]; s.m1 += red1[i]; s.m2 += red2[i]; s.m3 += red3[i]; }
    masses = s;
  }
  return workgroupUniformLoad(&masses);
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

  // τ: the largest value with Σ_{p_i ≥ τ} p_i ≥ topP, searched over bit patterns of positive
  // floats (ordered like the floats) with 15 thresholds per pass, ~8 passes.
  // Invariant: mass(lo) ≥ topP; every pattern ≥ hi fails (hi starts just above max p).
  var tau = 0.0;
  if (topP < 1.0) {
    var lo = 0u;
    var hi = bitcast<u32>(maxP) + 1u;
    for (var round = 0u; round < 16u; round++) {
      if (hi - lo <= 1u) { break; }
      let step = max(1u, (hi - lo) / 16u);
      // Thresholds lo + i·step, i = 1..16; those at or past hi are known to fail: park them above every p.
      let c0 = vec4u(lo) + vec4u(1u, 2u, 3u, 4u) * step;
      let c1 = c0 + vec4u(4u * step);
      let c2 = c1 + vec4u(4u * step);
      let c3 = c2 + vec4u(4u * step);
      let far = vec4f(2.0);
      let ms = massesAbove(o, select(far, bitcast<vec4f>(c0), c0 < vec4u(hi)), select(far, bitcast<vec4f>(c1), c1 < vec4u(hi)),
                              select(far, bitcast<vec4f>(c2), c2 < vec4u(hi)), select(far, bitcast<vec4f>(c3), c3 < vec4u(hi)), li);
      let m = array<vec4f, 4>(ms.m0, ms.m1, ms.m2, ms.m3);
      var newLo = lo;
      var newHi = hi;
      for (var i = 0u; i < 16u; i++) {
        let cand = lo + (i + 1u) * step;
        if (cand >= hi) { break; }
        if (m[i / 4u][i % 4u] >= topP) { newLo = cand; } else { newHi = cand; break; }
      }
      lo = newLo;
      hi = newHi;
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
