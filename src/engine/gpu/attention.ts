/**
 * Causal grouped-query attention over a paged KV cache: the GPU twin of cpu/ops.ts
 * attentionForward, plus kvcacheWrite which stores the new tokens' keys and values.
 *
 * Paged cache: each layer holds K and V as [pages · PAGE, NKV·D]. A sequence's positions live
 * in the pages listed in its page-table row (position s → page pageTable[seq, s / PAGE], slot
 * s % PAGE), so sequences that share a prompt prefix point at the same prefix pages instead of
 * copying them. Every row of a batch names its sequence (rowSeq) and position (positions); a
 * query at position p attends to positions 0..p of its sequence.
 *
 *   qkv  [T, qStride]  q heads at qOff + h·D (rotated)
 *   out  [T, NH·D]
 * Online softmax over the positions, vec4 over D (D % 4 == 0). One thread per (row, query head);
 * or, where subgroups are 4 lanes (a CPU's SIMD: device.ts narrowSubgroups), one quad per (row,
 * KV head, chunk of its query heads): the four lanes split D (lane q takes vec4s q, q+4, …, dot
 * products summed with quad swaps) and each position's keys and values are read once for all
 * the chunk's heads, a quarter of the reads (software adapters pay per value read; measured
 * 3.7× less GPU-process CPU for a decode batch of 16).
 *
 * attentionBackward (at the end of the file) reverses it for training, where every sequence is
 * one contiguous segment of the batch's rows, its keys and values read from the forward's q|k|v.
 */
import { LabError } from '../../errors';
import type { Binding, Recorder } from './program';
import { FLAT_WG, FLAT_WG_ARGS, gridFor, paramsWgsl, storageWgsl, unroll } from './wgsl';

/** Where a batch's rows read and write the cache. */
export interface KvIndex {
  /** [sequences, maxPages] u32 page ids. */
  pageTable: Binding;
  maxPages: number;
  pageSize: number;
  /** [T] u32: page-table row of each batch row. */
  rowSeq: Binding;
  /** [T] u32: position of each batch row. */
  positions: Binding;
}

export interface LayerKv {
  k: Binding;
  v: Binding;
}

const WG = 64;

const WRITE_PARAMS = { T: 'u32', width: 'u32', stride: 'u32', kOff: 'u32', vOff: 'u32', pageSize: 'u32', maxPages: 'u32' } as const;

/** Copies k and v of each row (columns kOff.., vOff.. of src [T, stride], width NKV·D) into its cache slot. */
export function kvcacheWrite(
  rec: Recorder,
  kv: LayerKv,
  src: Binding,
  idx: KvIndex,
  T: number,
  layout: { width: number; stride: number; kOff: number; vOff: number },
): void {
  rec.dispatch({
    key: 'kvcache-write',
    source: kvWriteWgsl,
    params: WRITE_PARAMS,
    values: { T, ...layout, pageSize: idx.pageSize, maxPages: idx.maxPages },
    bindings: [src, idx.pageTable, idx.rowSeq, idx.positions, kv.k, kv.v],
    workgroups: gridFor(Math.ceil((T * layout.width) / WG)),
  });
}

function kvWriteWgsl(): string {
  return `${paramsWgsl(WRITE_PARAMS)}${storageWgsl([
    ['src', 'read', 'f32'],
    ['pageTable', 'read', 'u32'],
    ['rowSeq', 'read', 'u32'],
    ['positions', 'read', 'u32'],
    ['kc', 'read_write', 'f32'],
    ['vc', 'read_write', 'f32'],
  ])}
@compute @workgroup_size(${WG})
fn main(${FLAT_WG_ARGS}) {
  ${FLAT_WG}
  let i = wg * ${WG}u + li;
  if (i >= P.T * P.width) { return; }
  let t = i / P.width;
  let e = i % P.width;
  let pos = positions[t];
  let slot = pageTable[rowSeq[t] * P.maxPages + pos / P.pageSize] * P.pageSize + pos % P.pageSize;
  kc[slot * P.width + e] = src[t * P.stride + P.kOff + e];
  vc[slot * P.width + e] = src[t * P.stride + P.vOff + e];
}
`;
}

const ATT_PARAMS = { T: 'u32', NH: 'u32', group: 'u32', qStride: 'u32', qOff: 'u32', kvWidth: 'u32', pageSize: 'u32', maxPages: 'u32', scale: 'f32' } as const;

/** Query heads per quad: the largest divisor of the group up to 4 (registers: a few D/4 floats per head and lane). */
function headsPerQuad(group: number): number {
  let h = Math.min(4, group);
  while (group % h !== 0) h--;
  return h;
}

export function attentionForward(
  rec: Recorder,
  out: Binding,
  qkv: Binding,
  kv: LayerKv,
  idx: KvIndex,
  T: number,
  NH: number,
  NKV: number,
  D: number,
  layout: { qStride: number; qOff: number },
): void {
  if (D % 4 !== 0 || layout.qStride % 4 !== 0 || layout.qOff % 4 !== 0) {
    throw new LabError('unsupported', `Attention needs a head dimension divisible by 4 (this model has ${D}).`);
  }
  const group = NH / NKV;
  if (rec.gpu.narrowSubgroups) {
    const HPQ = headsPerQuad(group);
    rec.dispatch({
      key: `attention-quad/d${D}/h${HPQ}`,
      source: () => attentionQuadWgsl(D, HPQ),
      params: ATT_PARAMS,
      values: {
        T,
        NH,
        group,
        qStride: layout.qStride,
        qOff: layout.qOff,
        kvWidth: NKV * D,
        pageSize: idx.pageSize,
        maxPages: idx.maxPages,
        scale: 1 / Math.sqrt(D),
      },
      bindings: [qkv, kv.k, kv.v, idx.pageTable, idx.rowSeq, idx.positions, out],
      // One workgroup per quad, so a quad never depends on how invocations map to subgroup lanes.
      workgroups: gridFor(T * (NH / HPQ)),
    });
    return;
  }
  rec.dispatch({
    key: `attention/d${D}`,
    source: () => attentionWgsl(D),
    params: ATT_PARAMS,
    values: {
      T,
      NH,
      group: NH / NKV,
      qStride: layout.qStride,
      qOff: layout.qOff,
      kvWidth: NKV * D,
      pageSize: idx.pageSize,
      maxPages: idx.maxPages,
      scale: 1 / Math.sqrt(D),
    },
    bindings: [qkv, kv.k, kv.v, idx.pageTable, idx.rowSeq, idx.positions, out],
    workgroups: gridFor(Math.ceil((T * NH) / WG)),
  });
}

function attentionWgsl(D: number): string {
  const DV = D / 4;
  // The D/4 vec4s of q and of the accumulator are unrolled into named registers: dynamically
  // indexed private arrays go through memory on software adapters.
  const each = (f: (d: number) => string, sep = ' ') => unroll(DV, f, sep);
  return `${paramsWgsl(ATT_PARAMS)}${storageWgsl([
    ['q', 'read', 'vec4f'],
    ['kc', 'read', 'vec4f'],
    ['vc', 'read', 'vec4f'],
    ['pageTable', 'read', 'u32'],
    ['rowSeq', 'read', 'u32'],
    ['positions', 'read', 'u32'],
    ['out', 'read_write', 'vec4f'],
  ])}
@compute @workgroup_size(${WG})
fn main(${FLAT_WG_ARGS}) {
  ${FLAT_WG}
  let i = wg * ${WG}u + li;
  if (i >= P.T * P.NH) { return; }
  let h = i % P.NH;
  let t = i / P.NH;
  let kvh = h / P.group;
  let seq = rowSeq[t];
  let last = positions[t];
  let qb = (t * P.qStride + P.qOff + h * ${D}u) / 4u;
  ${each((d) => `let q${d} = q[qb + ${d}u]; var a${d} = vec4f(0.0);`, '\n  ')}
  var m = -3.0e38;
  var l = 0.0;
  for (var s = 0u; s <= last; s++) {
    let page = pageTable[seq * P.maxPages + s / P.pageSize];
    let base = ((page * P.pageSize + s % P.pageSize) * P.kvWidth + kvh * ${D}u) / 4u;
    var dotv = vec4f(0.0);
    ${each((d) => `dotv = fma(q${d}, kc[base + ${d}u], dotv);`)}
    let score = (dotv.x + dotv.y + dotv.z + dotv.w) * P.scale;
    let mNew = max(m, score);
    let corr = exp(m - mNew);
    let p = exp(score - mNew);
    l = l * corr + p;
    ${each((d) => `a${d} = fma(vec4f(p), vc[base + ${d}u], a${d} * corr);`, '\n    ')}
    m = mNew;
  }
  let ob = (t * P.NH + h) * ${DV}u;
  ${each((d) => `out[ob + ${d}u] = a${d} / l;`)}
}
`;
}

/** Sums over a quad's four lanes, and the entry point of a one-quad workgroup (flat index wg). */
const QUAD_WGSL = `fn quadSum(v: f32) -> f32 { let a = v + quadSwapX(v); return a + quadSwapY(a); }
fn quadSum2(v: vec2f) -> vec2f { let a = v + quadSwapX(v); return a + quadSwapY(a); }
@compute @workgroup_size(4)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let wg = wid.x + wid.y * nwg.x;`;

/** Quad wg = (row t, query heads h0..h0+HPQ-1 of KV head kvh); the whole quad returns past the rows. */
function rowHeadsWgsl(HPQ: number): string {
  return `let quads = P.NH / ${HPQ}u;
  if (wg >= P.T * quads) { return; } // uniform: the whole quad
  let t = wg / quads;
  let h0 = (wg % quads) * ${HPQ}u;
  let kvh = h0 / P.group;`;
}

/** Lane l4 of a quad takes vec4 slots j = 0..S-1 of a head, index d{j} = l4 + 4j (clamped; on{j} = 0 past D/4). */
function laneSlotsWgsl(D: number): string {
  const DV = D / 4;
  return `let l4 = lane & 3u;
  ${unroll(Math.ceil(DV / 4), (j) => `let d${j} = min(l4 + ${4 * j}u, ${DV - 1}u); let on${j} = select(0.0, 1.0, l4 + ${4 * j}u < ${DV}u);`, '\n  ')}`;
}

/**
 * Workgroup = one quad = (row t, heads h0..h0+HPQ-1 of one KV head). Lane q holds vec4 slots
 * j = 0..S-1 of each head, D index 4·(q + 4j) (slots past D/4 read a clamped index and count 0).
 */
function attentionQuadWgsl(D: number, HPQ: number): string {
  const DV = D / 4;
  const S = Math.ceil(DV / 4);
  const slots = (f: (j: number) => string, sep = ' ') => unroll(S, f, sep);
  const heads = (f: (h: number) => string, sep = '\n  ') => unroll(HPQ, f, sep);
  return `enable subgroups;
${paramsWgsl(ATT_PARAMS)}${storageWgsl([
    ['q', 'read', 'vec4f'],
    ['kc', 'read', 'vec4f'],
    ['vc', 'read', 'vec4f'],
    ['pageTable', 'read', 'u32'],
    ['rowSeq', 'read', 'u32'],
    ['positions', 'read', 'u32'],
    ['out', 'read_write', 'vec4f'],
  ])}
${QUAD_WGSL}
  ${rowHeadsWgsl(HPQ)}
  let seq = rowSeq[t];
  let last = positions[t];
  ${laneSlotsWgsl(D)}
  let qb = (t * P.qStride + P.qOff) / 4u;
  ${heads((h) => `${slots((j) => `let q${h}_${j} = q[qb + (h0 + ${h}u) * ${DV}u + d${j}] * on${j}; var a${h}_${j} = vec4f(0.0);`)}
  var m${h} = -3.0e38; var l${h} = 0.0;`)}
  for (var s = 0u; s <= last; s++) {
    let page = pageTable[seq * P.maxPages + s / P.pageSize];
    let base = ((page * P.pageSize + s % P.pageSize) * P.kvWidth + kvh * ${D}u) / 4u;
    ${slots((j) => `let k${j} = kc[base + d${j}];`)}
    ${slots((j) => `let v${j} = vc[base + d${j}];`)}
    ${heads((h) => `{
      let score = quadSum(${slots((j) => `dot(q${h}_${j}, k${j})`, ' + ')}) * P.scale;
      let mNew = max(m${h}, score);
      let corr = exp(m${h} - mNew);
      let p = exp(score - mNew);
      l${h} = l${h} * corr + p;
      ${slots((j) => `a${h}_${j} = fma(vec4f(p), v${j}, a${h}_${j} * corr);`)}
      m${h} = mNew;
    }`, '\n    ')}
  }
  ${heads((h) => slots((j) => `if (l4 + ${4 * j}u < ${DV}u) { out[(t * P.NH + h0 + ${h}u) * ${DV}u + d${j}] = a${h}_${j} / l${h}; }`))}
}
`;
}

// ---- backward ------------------------------------------------------------------------------

/** Where each row's sequence lies in a training batch: rows segStart[t] .. segEnd[t]-1, positions from 0. */
export interface Segments {
  /** [T] u32 */
  start: Binding;
  /** [T] u32 (exclusive) */
  end: Binding;
}

/**
 * Key rows per quad of the dk/dv kernel: each query row read serves that many. Measured on
 * SwiftShader (bench/train-profile.ts, 2 × ~120 rows, D 64, 4 query heads per KV head): 1 → 91
 * ms, 2 → 65, 4 → 50, 8 → 55.
 */
const DKV_KEY_ROWS = 4;

const BWD_PARAMS = { T: 'u32', NH: 'u32', NKV: 'u32', group: 'u32', stride: 'u32', qOff: 'u32', kOff: 'u32', vOff: 'u32', scale: 'f32' } as const;

/**
 * Backward of attentionForward over whole sequences (training: each sequence's rows are one
 * segment, row t at position t − segStart[t]), flash-attention style: probabilities are not
 * saved but recomputed from q and k, with each query row's log-sum-exp.
 *   qkv   [T, stride]  the forward's rotated q (qOff + h·D), k (kOff + g·D) and v (vOff + g·D)
 *   datt  [T, NH·D]    the gradient of the forward's output
 *   dqkv  [T, stride]  dq, dk, dv written (=) into the same columns (other columns untouched)
 *   lse [T·NH] vec2 (max, Σ exp(score − max)) and delta [T·NH]: scratch
 * Two kernels:
 *   1. one thread per (row t, head h), in two passes over the keys:
 *        p_ts = exp(score_ts − m_t) / l_t, dp_ts = datt_t·v_s  (out_t = Σ_s p_ts·v_s)
 *        m_t = max_s score_ts, l_t = Σ_s exp(score_ts − m_t), Δ_t = Σ_s p_ts·dp_ts (first pass, online)
 *        dscore_ts = p_ts·(dp_ts − Δ_t)                   (softmax backward)
 *        dq_t = scale · Σ_s dscore_ts·k_s                  (score = scale · q_t·k_s)
 *      Δ from the same p and dp as the second pass (rather than datt·out) keeps the
 *      cancellation in dp − Δ as exact as f32 allows; m and l stay apart (no log, whose
 *      error on software adapters, ~1e-5, would show in every p).
 *   2. one thread per (key row s, KV head g), over the queries t ≥ s of its segment and the
 *      query heads of its group: dv_s = Σ p_ts·datt_t, dk_s = scale · Σ dscore_ts·q_t.
 * Where subgroups are 4 lanes, both run on quads as the forward does (lanes split D; kernel 1
 * takes a chunk of a KV head's query heads, kernel 2 DKV_KEY_ROWS key rows): 2.9× less time
 * than one thread each on the train bench (418 → 100 ms for the 4 layers of a DPO pair).
 */
export function attentionBackward(
  rec: Recorder,
  dqkv: Binding,
  datt: Binding,
  qkv: Binding,
  segments: Segments,
  scratch: { lse: Binding; delta: Binding },
  T: number,
  NH: number,
  NKV: number,
  D: number,
  layout: { stride: number; qOff: number; kOff: number; vOff: number },
): void {
  const { stride, qOff, kOff, vOff } = layout;
  if (D % 4 !== 0 || stride % 4 !== 0 || qOff % 4 !== 0 || kOff % 4 !== 0 || vOff % 4 !== 0) {
    throw new LabError('unsupported', `Attention needs a head dimension divisible by 4 (this model has ${D}).`);
  }
  const group = NH / NKV;
  const values = { T, NH, NKV, group, stride, qOff, kOff, vOff, scale: 1 / Math.sqrt(D) };
  if (rec.gpu.narrowSubgroups) {
    const HPQ = headsPerQuad(group);
    rec.dispatch({
      key: `attention-backward-dq-quad/d${D}/h${HPQ}`,
      source: () => attentionDqQuadWgsl(D, HPQ),
      params: BWD_PARAMS,
      values,
      bindings: [qkv, datt, segments.start, dqkv, scratch.lse, scratch.delta],
      workgroups: gridFor(T * (NH / HPQ)),
    });
    rec.dispatch({
      key: `attention-backward-dkv-quad/d${D}`,
      source: () => attentionDkvQuadWgsl(D, DKV_KEY_ROWS),
      params: BWD_PARAMS,
      values,
      bindings: [qkv, datt, segments.end, scratch.lse, scratch.delta, dqkv],
      workgroups: gridFor(Math.ceil(T / DKV_KEY_ROWS) * NKV),
    });
    return;
  }
  rec.dispatch({
    key: `attention-backward-dq/d${D}`,
    source: () => attentionDqWgsl(D),
    params: BWD_PARAMS,
    values,
    bindings: [qkv, datt, segments.start, dqkv, scratch.lse, scratch.delta],
    workgroups: gridFor(Math.ceil((T * NH) / WG)),
  });
  rec.dispatch({
    key: `attention-backward-dkv/d${D}`,
    source: () => attentionDkvWgsl(D),
    params: BWD_PARAMS,
    values,
    bindings: [qkv, datt, segments.end, scratch.lse, scratch.delta, dqkv],
    workgroups: gridFor(Math.ceil((T * NKV) / WG)),
  });
}

function attentionDqWgsl(D: number): string {
  const DV = D / 4;
  const each = (f: (d: number) => string, sep = ' ') => unroll(DV, f, sep);
  const dot = (a: (d: number) => string, b: (d: number) => string, v: string) => `var ${v} = vec4f(0.0); ${each((d) => `${v} = fma(${a(d)}, ${b(d)}, ${v});`)}`;
  return `${paramsWgsl(BWD_PARAMS)}${storageWgsl([
    ['qkv', 'read', 'vec4f'],
    ['datt', 'read', 'vec4f'],
    ['segStart', 'read', 'u32'],
    ['dqkv', 'read_write', 'vec4f'],
    ['lseOut', 'read_write', 'vec2f'],
    ['deltaOut', 'read_write', 'f32'],
  ])}
fn hsum(v: vec4f) -> f32 { return v.x + v.y + v.z + v.w; }
@compute @workgroup_size(${WG})
fn main(${FLAT_WG_ARGS}) {
  ${FLAT_WG}
  let i = wg * ${WG}u + li;
  if (i >= P.T * P.NH) { return; }
  let h = i % P.NH;
  let t = i / P.NH;
  let kvh = h / P.group;
  let st = segStart[t];
  let qb = (t * P.stride + P.qOff + h * ${D}u) / 4u;
  let ob = i * ${DV}u;
  ${each((d) => `let q${d} = qkv[qb + ${d}u]; let g${d} = datt[ob + ${d}u];`, '\n  ')}
  var m = -3.0e38;
  var l = 0.0;
  var pd = 0.0;
  for (var s = st; s <= t; s++) {
    let kb = (s * P.stride + P.kOff + kvh * ${D}u) / 4u;
    let vb = (s * P.stride + P.vOff + kvh * ${D}u) / 4u;
    ${dot((d) => `q${d}`, (d) => `qkv[kb + ${d}u]`, 'sv')}
    ${dot((d) => `g${d}`, (d) => `qkv[vb + ${d}u]`, 'dp')}
    let score = hsum(sv) * P.scale;
    let mNew = max(m, score);
    let corr = exp(m - mNew);
    let e = exp(score - mNew);
    l = l * corr + e;
    pd = pd * corr + e * hsum(dp);
    m = mNew;
  }
  let delta = pd / l;
  ${each((d) => `var dq${d} = vec4f(0.0);`)}
  for (var s = st; s <= t; s++) {
    let kb = (s * P.stride + P.kOff + kvh * ${D}u) / 4u;
    let vb = (s * P.stride + P.vOff + kvh * ${D}u) / 4u;
    ${dot((d) => `q${d}`, (d) => `qkv[kb + ${d}u]`, 'sv')}
    let p = exp(hsum(sv) * P.scale - m) / l;
    ${dot((d) => `g${d}`, (d) => `qkv[vb + ${d}u]`, 'dp')}
    let ds = vec4f(p * (hsum(dp) - delta) * P.scale);
    ${each((d) => `dq${d} = fma(ds, qkv[kb + ${d}u], dq${d});`)}
  }
  ${each((d) => `dqkv[qb + ${d}u] = dq${d};`)}
  lseOut[i] = vec2f(m, l);
  deltaOut[i] = delta;
}
`;
}

function attentionDkvWgsl(D: number): string {
  const DV = D / 4;
  const each = (f: (d: number) => string, sep = ' ') => unroll(DV, f, sep);
  return `${paramsWgsl(BWD_PARAMS)}${storageWgsl([
    ['qkv', 'read', 'vec4f'],
    ['datt', 'read', 'vec4f'],
    ['segEnd', 'read', 'u32'],
    ['lse', 'read', 'vec2f'],
    ['delta', 'read', 'f32'],
    ['dqkv', 'read_write', 'vec4f'],
  ])}
fn hsum(v: vec4f) -> f32 { return v.x + v.y + v.z + v.w; }
@compute @workgroup_size(${WG})
fn main(${FLAT_WG_ARGS}) {
  ${FLAT_WG}
  let i = wg * ${WG}u + li;
  if (i >= P.T * P.NKV) { return; }
  let kvh = i % P.NKV;
  let s = i / P.NKV;
  let end = segEnd[s];
  let kb = (s * P.stride + P.kOff + kvh * ${D}u) / 4u;
  let vb = (s * P.stride + P.vOff + kvh * ${D}u) / 4u;
  ${each((d) => `let k${d} = qkv[kb + ${d}u]; let v${d} = qkv[vb + ${d}u]; var dk${d} = vec4f(0.0); var dv${d} = vec4f(0.0);`, '\n  ')}
  for (var t = s; t < end; t++) {
    for (var hh = 0u; hh < P.group; hh++) {
      let h = kvh * P.group + hh;
      let j = t * P.NH + h;
      let qb = (t * P.stride + P.qOff + h * ${D}u) / 4u;
      let ob = j * ${DV}u;
      ${each((d) => `let q${d} = qkv[qb + ${d}u]; let g${d} = datt[ob + ${d}u];`, '\n      ')}
      var sv = vec4f(0.0);
      var dp = vec4f(0.0);
      ${each((d) => `sv = fma(q${d}, k${d}, sv); dp = fma(g${d}, v${d}, dp);`, '\n      ')}
      let ml = lse[j];
      let p = exp(hsum(sv) * P.scale - ml.x) / ml.y;
      let ds = vec4f(p * (hsum(dp) - delta[j]) * P.scale);
      ${each((d) => `dv${d} = fma(vec4f(p), g${d}, dv${d}); dk${d} = fma(ds, q${d}, dk${d});`, '\n      ')}
    }
  }
  ${each((d) => `dqkv[kb + ${d}u] = dk${d}; dqkv[vb + ${d}u] = dv${d};`, '\n  ')}
}
`;
}

/**
 * attentionDqWgsl with quads (as attentionQuadWgsl): workgroup = one quad = (row t, heads
 * h0..h0+HPQ-1 of one KV head); lane q holds vec4 slots q, q+4, … of each head's q, datt and
 * dq, and each key and value row is read once for the chunk's heads.
 */
function attentionDqQuadWgsl(D: number, HPQ: number): string {
  const DV = D / 4;
  const S = Math.ceil(DV / 4);
  const slots = (f: (j: number) => string, sep = ' ') => unroll(S, f, sep);
  const heads = (f: (h: number) => string, sep = '\n  ') => unroll(HPQ, f, sep);
  // (q·k, datt·v) of head h against the key and value slots k{j}, v{j}, summed over the quad.
  const dots = (h: number) => `quadSum2(${slots((j) => `vec2f(dot(q${h}_${j}, k${j}), dot(g${h}_${j}, v${j}))`, ' + ')})`;
  const loadKv = `let kb = (s * P.stride + P.kOff + kvh * ${D}u) / 4u;
    let vb = (s * P.stride + P.vOff + kvh * ${D}u) / 4u;
    ${slots((j) => `let k${j} = qkv[kb + d${j}]; let v${j} = qkv[vb + d${j}];`)}`;
  return `enable subgroups;
${paramsWgsl(BWD_PARAMS)}${storageWgsl([
    ['qkv', 'read', 'vec4f'],
    ['datt', 'read', 'vec4f'],
    ['segStart', 'read', 'u32'],
    ['dqkv', 'read_write', 'vec4f'],
    ['lseOut', 'read_write', 'vec2f'],
    ['deltaOut', 'read_write', 'f32'],
  ])}
${QUAD_WGSL}
  ${rowHeadsWgsl(HPQ)}
  let st = segStart[t];
  ${laneSlotsWgsl(D)}
  let qb = (t * P.stride + P.qOff) / 4u;
  let ob = t * P.NH * ${DV}u;
  ${heads((h) => `${slots((j) => `let q${h}_${j} = qkv[qb + (h0 + ${h}u) * ${DV}u + d${j}] * on${j}; let g${h}_${j} = datt[ob + (h0 + ${h}u) * ${DV}u + d${j}] * on${j};`)}
  var m${h} = -3.0e38; var l${h} = 0.0; var pd${h} = 0.0;`)}
  for (var s = st; s <= t; s++) {
    ${loadKv}
    ${heads((h) => `{
      let sd = ${dots(h)};
      let score = sd.x * P.scale;
      let mNew = max(m${h}, score);
      let corr = exp(m${h} - mNew);
      let e = exp(score - mNew);
      l${h} = l${h} * corr + e;
      pd${h} = pd${h} * corr + e * sd.y;
      m${h} = mNew;
    }`, '\n    ')}
  }
  ${heads((h) => `let delta${h} = pd${h} / l${h}; ${slots((j) => `var dq${h}_${j} = vec4f(0.0);`)}`)}
  for (var s = st; s <= t; s++) {
    ${loadKv}
    ${heads((h) => `{
      let sd = ${dots(h)};
      let p = exp(sd.x * P.scale - m${h}) / l${h};
      let ds = vec4f(p * (sd.y - delta${h}) * P.scale);
      ${slots((j) => `dq${h}_${j} = fma(ds, k${j}, dq${h}_${j});`)}
    }`, '\n    ')}
  }
  ${heads((h) => `${slots((j) => `if (l4 + ${4 * j}u < ${DV}u) { dqkv[qb + (h0 + ${h}u) * ${DV}u + d${j}] = dq${h}_${j}; }`)}
  if (l4 == 0u) { lseOut[t * P.NH + h0 + ${h}u] = vec2f(m${h}, l${h}); deltaOut[t * P.NH + h0 + ${h}u] = delta${h}; }`)}
}
`;
}

/**
 * attentionDkvWgsl with quads: workgroup = one quad = (key rows sb..sb+KR-1, KV head); lane q
 * holds vec4 slots q, q+4, … of their k, v, dk and dv, and reads a quarter of each query row
 * and datt row, once for the KR key rows (which may straddle a segment end: each row masks the
 * queries outside its own range).
 */
function attentionDkvQuadWgsl(D: number, KR: number): string {
  const DV = D / 4;
  const S = Math.ceil(DV / 4);
  const slots = (f: (j: number) => string, sep = ' ') => unroll(S, f, sep);
  const keys = (f: (r: number) => string, sep = '\n  ') => unroll(KR, f, sep);
  return `enable subgroups;
${paramsWgsl(BWD_PARAMS)}${storageWgsl([
    ['qkv', 'read', 'vec4f'],
    ['datt', 'read', 'vec4f'],
    ['segEnd', 'read', 'u32'],
    ['lse', 'read', 'vec2f'],
    ['delta', 'read', 'f32'],
    ['dqkv', 'read_write', 'vec4f'],
  ])}
${QUAD_WGSL}
  let blocks = (P.T + ${KR - 1}u) / ${KR}u;
  if (wg >= blocks * P.NKV) { return; } // uniform: the whole quad
  let kvh = wg % P.NKV;
  let sb = (wg / P.NKV) * ${KR}u;
  ${laneSlotsWgsl(D)}
  var tEnd = 0u;
  ${keys((r) => `let s${r} = min(sb + ${r}u, P.T - 1u); let end${r} = select(s${r}, segEnd[s${r}], sb + ${r}u < P.T); tEnd = max(tEnd, end${r});
  let kb${r} = (s${r} * P.stride + P.kOff + kvh * ${D}u) / 4u;
  let vb${r} = (s${r} * P.stride + P.vOff + kvh * ${D}u) / 4u;
  ${slots((j) => `let k${r}_${j} = qkv[kb${r} + d${j}] * on${j}; let v${r}_${j} = qkv[vb${r} + d${j}] * on${j}; var dk${r}_${j} = vec4f(0.0); var dv${r}_${j} = vec4f(0.0);`, '\n  ')}`)}
  for (var t = sb; t < tEnd; t++) {
    for (var hh = 0u; hh < P.group; hh++) {
      let h = kvh * P.group + hh;
      let j = t * P.NH + h;
      let qb = (t * P.stride + P.qOff + h * ${D}u) / 4u;
      let ob = j * ${DV}u;
      ${slots((j) => `let q${j} = qkv[qb + d${j}]; let g${j} = datt[ob + d${j}];`, '\n      ')}
      let ml = lse[j];
      let dj = delta[j];
      ${keys((r) => `{
        let sd = quadSum2(${slots((j) => `vec2f(dot(q${j}, k${r}_${j}), dot(g${j}, v${r}_${j}))`, ' + ')});
        let live = t >= s${r} && t < end${r};
        let p = select(0.0, exp(sd.x * P.scale - ml.x) / ml.y, live);
        let ds = vec4f(p * (sd.y - dj) * P.scale);
        ${slots((j) => `dv${r}_${j} = fma(vec4f(p), g${j}, dv${r}_${j}); dk${r}_${j} = fma(ds, q${j}, dk${r}_${j});`, '\n        ')}
      }`, '\n      ')}
    }
  }
  ${keys((r) => `if (sb + ${r}u < P.T) {
    ${slots((j) => `if (l4 + ${4 * j}u < ${DV}u) { dqkv[kb${r} + d${j}] = dk${r}_${j}; dqkv[vb${r} + d${j}] = dv${r}_${j}; }`, '\n    ')}
  }`)}
}
`;
}
