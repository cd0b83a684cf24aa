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
 * One thread per (row, query head) with an online softmax, vec4 over D (D % 4 == 0).
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
