/**
 * Token sampling on the GPU by the rule of cpu/sample.ts (its twin: sampleToken), so only the
 * chosen ids are read back, never the vocabulary. One workgroup per row:
 *   temperature 0   argmax, lowest id on ties
 *   otherwise       p = softmax(logits / T), written over the logits row;
 *                   top-p threshold τ = the largest value with Σ_{p_i ≥ τ} p_i ≥ topP, found by
 *                   a search on the bit pattern of τ (no sort) with several thresholds per pass
 *                   over the row; a pass compares only the values still between the bounds;
 *                   u = uniform(seed, step); walk ids in increasing order summing kept p_i and
 *                   take the first id where the sum exceeds u · kept mass (chunk sums first,
 *                   then the chunk that holds the target, id by id).
 *   logits [R, V] (overwritten with probabilities), rowParams [R] (temperature, topP, seed,
 *   step), ids [R] u32
 *
 * Two shapes of the same kernel. Wide: 64 threads per row, workgroup reductions (GPUs). Narrow,
 * where the adapter's subgroups are 4 lanes (a CPU's SIMD: SwiftShader): one subgroup per row
 * and subgroup reductions, no barrier. There a barrier costs a coroutine switch per 4 lanes, and
 * the ~20 reductions of a row made the wide kernel ~10× slower than its arithmetic (measured:
 * bench/profile.ts).
 */
import type { Binding, Recorder } from './program';
import { FLAT_WG, FLAT_WG_ARGS, HASH_WGSL, gridFor, paramsWgsl, reduceWgsl, storageWgsl, unroll } from './wgsl';

const PARAMS = { R: 'u32', V: 'u32' } as const;

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

/** Kernel shape (benchmarks try others): vec4s of thresholds per search pass. */
export interface SampleOptions {
  thresholdVecs?: number;
}

export function sampleToken(rec: Recorder, ids: Binding, logits: Binding, rowParams: Binding, R: number, V: number, opts: SampleOptions = {}): void {
  const narrow = rec.gpu.narrowSubgroups;
  const NTV = opts.thresholdVecs ?? 2;
  rec.dispatch({
    key: `sample/${narrow ? 'subgroup' : 'workgroup'}/t${NTV}`,
    source: () => sampleWgsl(narrow, NTV),
    params: PARAMS,
    values: { R, V },
    bindings: [rowParams, logits, ids],
    workgroups: gridFor(R),
  });
}

/** Reductions over the threads of a row: a workgroup's (64 threads) or a subgroup's (4). */
function reductions(narrow: boolean, NTV: number) {
  const vecs = (f: (j: number) => string, sep = ' ') => unroll(NTV, f, sep);
  if (narrow) {
    return {
      WG: 4,
      decls: '',
      sum: (v: string) => `subgroupAdd(${v})`,
      max: (v: string) => `subgroupMax(${v})`,
      argmax: (v: string, i: string) => `subgroupMin(select(0xffffffffu, ${i}, ${v} == subgroupMax(${v})))`,
      masses: `return Masses(${vecs((j) => `subgroupAdd(a${j} + vec4f(above))`, ', ')});`,
      // Chunk sums of the draw, readable by every thread: chunkSum(c).
      chunkSums: `let sums = array<f32, 4>(subgroupBroadcast(cs, 0u), subgroupBroadcast(cs, 1u), subgroupBroadcast(cs, 2u), subgroupBroadcast(cs, 3u));`,
      chunkSum: (c: string) => `sums[${c}]`,
      // Every thread walks (same result); thread 0 stores.
      walker: 'true',
    };
  }
  const WG = 64;
  return {
    WG,
    decls: `${reduceWgsl(WG)}
${vecs((j) => `var<workgroup> red${j}: array<vec4f, ${WG}>;`, '\n')}
var<workgroup> masses: Masses;`,
    sum: (v: string) => `wgSum(${v}, li)`,
    max: (v: string) => `wgMax(${v}, li)`,
    argmax: (v: string, i: string) => `wgArgmax(${v}, ${i}, li)`,
    masses: `${vecs((j) => `red${j}[li] = a${j} + vec4f(above);`)}
  workgroupBarrier();
  if (li == 0u) {
    var s = Masses(${vecs(() => 'vec4f(0.0)', ', ')});
    for (var i = 0u; i < ${WG}u; i++) { ${vecs((j) => `s.m${j} += red${j}[i];`)} }
    masses = s;
  }
  return workgroupUniformLoad(&masses);`,
    chunkSums: `red[li] = cs;
  workgroupBarrier();`,
    chunkSum: (c: string) => `red[${c}]`,
    walker: 'li == 0u',
  };
}

/**
 * A loop over ids i = from, from + stride, … < end running body(i) in increasing order, four
 * per iteration: a loop iteration costs about ten value reads on software adapters.
 */
function rowLoop(from: string, end: string, stride: number, body: (i: string) => string): string {
  return `{
    var i = ${from};
    for (; i + ${3 * stride}u < ${end}; i += ${4 * stride}u) {
      ${unroll(4, (k) => `{ let ii = i + ${k * stride}u; ${body('ii')} }`, '\n      ')}
    }
    for (; i < ${end}; i += ${stride}u) { ${body('i')} }
  }`;
}

function sampleWgsl(narrow: boolean, NTV: number): string {
  const W = 4 * NTV + 1; // ways per search pass
  const r = reductions(narrow, NTV);
  const { WG } = r;
  const vecs = (f: (j: number) => string, sep = ' ') => unroll(NTV, f, sep);
  // Narrow: the row's values (temperature, top-p, bounds) are the same in every lane, so the
  // branches around subgroup reductions are uniform, which WGSL's analysis cannot see.
  return `${narrow ? 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n' : ''}${paramsWgsl(PARAMS)}${storageWgsl([
    ['rowParams', 'read', 'vec4u'],
    ['x', 'read_write', 'f32'],
    ['ids', 'read_write', 'u32'],
  ])}${HASH_WGSL}
struct Masses { ${vecs((j) => `m${j}: vec4f,`)} }
${r.decls}

// Kept masses at the thresholds th{j} (ascending, in [lo, hi)), given every value ≥ hi is kept:
// component c of vec4 j is Σ p_i over p_i ≥ th{j}[c]. Values below lo never count, so only
// the candidates in [lo, hi) are compared with the thresholds.
fn massesAbove(o: u32, lo: f32, hi: f32, ${vecs((j) => `th${j}: vec4f`, ', ')}, li: u32) -> Masses {
  var above = 0.0;
  ${vecs((j) => `var a${j} = vec4f(0.0);`)}
  let z = vec4f(0.0);
  ${rowLoop('li', 'P.V', WG, (i) => `let p = x[o + ${i}]; above += select(0.0, p, p >= hi); let pv = select(z, vec4f(p), vec4<bool>(p >= lo && p < hi)); ${vecs((j) => `a${j} += select(z, pv, pv >= th${j});`)}`)}
  ${r.masses}
}

${narrow ? '' : 'var<workgroup> shTemp: f32;\nvar<workgroup> shTopP: f32;'}
@compute @workgroup_size(${WG})
fn main(${FLAT_WG_ARGS}) {
  ${FLAT_WG}
  if (wg >= P.R) { return; } // uniform: the whole workgroup
  let rp = rowParams[wg];
  ${
    narrow
      ? 'let temperature = bitcast<f32>(rp.x);\n  let topP = bitcast<f32>(rp.y);'
      : `if (li == 0u) { shTemp = bitcast<f32>(rp.x); shTopP = bitcast<f32>(rp.y); }
  let temperature = workgroupUniformLoad(&shTemp); // uniform, as branches around barriers need
  let topP = workgroupUniformLoad(&shTopP);`
  }
  let o = wg * P.V;

  var best = -3.4e38;
  var bestId = 0u;
  ${rowLoop('li', 'P.V', WG, (i) => `let v = x[o + ${i}]; if (v > best) { best = v; bestId = ${i}; }`)}
  if (temperature <= 0.0) {
    let id = ${r.argmax('best', 'bestId')};
    if (li == 0u) { ids[wg] = id; }
    return;
  }
  let mx = ${r.max('best')};
  let invT = 1.0 / temperature;
  var s = 0.0;
  ${rowLoop('li', 'P.V', WG, (i) => `let e = exp((x[o + ${i}] - mx) * invT); x[o + ${i}] = e; s += e;`)}
  let sum = ${r.sum('s')};
  ${rowLoop('li', 'P.V', WG, (i) => `x[o + ${i}] = x[o + ${i}] / sum;`)}
  let maxP = 1.0 / sum; // the largest e is exp(0) = 1

  // τ: the largest value with Σ_{p_i ≥ τ} p_i ≥ topP, searched over bit patterns of positive
  // floats (ordered like the floats), ${W - 1} thresholds per pass. Invariant: mass(lo) ≥ topP;
  // every pattern ≥ hi fails (hi starts just above max p). Start: values below (1 - topP) / 2V
  // hold less than (1 - topP) / 2 of the mass, so mass(that) > topP with a margin far above
  // f32 rounding (for topP within 1e-3 of 1 the margin is not: start at 0).
  var tau = 0.0;
  if (topP < 1.0) {
    var lo = select(0u, bitcast<u32>(0.5 * (1.0 - topP) / f32(P.V)), topP < 0.999);
    var hi = bitcast<u32>(maxP) + 1u;
    for (var round = 0u; round < 64u; round++) {
      if (hi - lo <= 1u) { break; }
      let step = max(1u, (hi - lo) / ${W}u);
      // Thresholds lo + i·step, i = 1..${W - 1}; those at or past hi are known to fail: park them above every p.
      ${vecs((j) => `let c${j} = vec4u(lo) + vec4u(${4 * j + 1}u, ${4 * j + 2}u, ${4 * j + 3}u, ${4 * j + 4}u) * step;`, '\n      ')}
      let ms = massesAbove(o, bitcast<f32>(lo), bitcast<f32>(hi), ${vecs((j) => `select(vec4f(2.0), bitcast<vec4f>(c${j}), c${j} < vec4u(hi))`, ', ')}, li);
      let m = array<vec4f, ${NTV}>(${vecs((j) => `ms.m${j}`, ', ')});
      var newLo = lo;
      var newHi = hi;
      for (var i = 0u; i < ${W - 1}u; i++) {
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
  ${rowLoop('c0', 'c1', 1, (i) => `let p = x[o + ${i}]; cs += select(0.0, p, p >= tau);`)}
  ${r.chunkSums}
  if (${r.walker}) {
    var kept = 0.0;
    for (var c = 0u; c < ${WG}u; c++) { kept += ${r.chunkSum('c')}; }
    let goal = uniform01(rp.z, rp.w) * kept;
    var acc = 0.0;
    var last = 0u;
    var found = false;
    for (var c = 0u; c < ${WG}u && !found; c++) {
      if (acc + ${r.chunkSum('c')} <= goal) { acc += ${r.chunkSum('c')}; continue; }
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
    if (li == 0u) { ids[wg] = last; }
  }
}
`;
}
