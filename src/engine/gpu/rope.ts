/**
 * Rotary position embedding in place, "rotate half" convention: the GPU twin of cpu/ops.ts
 * ropeForward. cos/sin come from a table computed on the CPU in f64 (ropeTable): WGSL's sin
 * and cos are only accurate to ~2^-11 on [-π, π] and worse beyond, far from the 1e-5 we hold
 * kernels to. One dispatch rotates two head ranges of a row (q heads and k heads of the fused
 * q|k|v projection). The backward rotates a gradient back by the same angle.
 *   x [T, stride], heads at columns off0 + h·D (h < n0) and off1 + h·D (h < n1)
 *   positions [T] u32, table [maxPos, D/2] vec2 (cos, sin)
 */
import type { Binding, Recorder } from './program';
import { FLAT_WG, FLAT_WG_ARGS, gridFor, paramsWgsl, storageWgsl } from './wgsl';

const PARAMS = { T: 'u32', D: 'u32', stride: 'u32', off0: 'u32', n0: 'u32', off1: 'u32', n1: 'u32' } as const;
const WG = 64;

/** cos/sin of fround(pos · invFreq[j]) for pos < maxPos: [maxPos, D/2, 2] (same angle as the CPU). */
export function ropeTable(invFreq: Float32Array, maxPos: number): Float32Array {
  const half = invFreq.length;
  const out = new Float32Array(maxPos * half * 2);
  for (let p = 0; p < maxPos; p++) {
    for (let j = 0; j < half; j++) {
      const angle = Math.fround(p * invFreq[j]);
      out[(p * half + j) * 2] = Math.cos(angle);
      out[(p * half + j) * 2 + 1] = Math.sin(angle);
    }
  }
  return out;
}

export interface HeadRanges {
  stride: number;
  off0: number;
  n0: number;
  off1?: number;
  n1?: number;
}

export function ropeForward(rec: Recorder, x: Binding, positions: Binding, table: Binding, T: number, D: number, heads: HeadRanges): void {
  const n1 = heads.n1 ?? 0;
  rec.dispatch({
    key: 'rope',
    source: () => ropeWgsl(false),
    params: PARAMS,
    values: { T, D, stride: heads.stride, off0: heads.off0, n0: heads.n0, off1: heads.off1 ?? 0, n1 },
    bindings: [positions, table, x],
    workgroups: gridFor(Math.ceil((T * (heads.n0 + n1) * (D / 2)) / WG)),
  });
}

/**
 * Backward of ropeForward, in place on the gradient: the rotation is orthogonal, so the gradient
 * is rotated by the opposite angle (da = da'·cos + db'·sin, db = db'·cos − da'·sin).
 *   dx [T, stride], same head ranges as the forward
 */
export function ropeBackward(rec: Recorder, dx: Binding, positions: Binding, table: Binding, T: number, D: number, heads: HeadRanges): void {
  const n1 = heads.n1 ?? 0;
  rec.dispatch({
    key: 'rope-backward',
    source: () => ropeWgsl(true),
    params: PARAMS,
    values: { T, D, stride: heads.stride, off0: heads.off0, n0: heads.n0, off1: heads.off1 ?? 0, n1 },
    bindings: [positions, table, dx],
    workgroups: gridFor(Math.ceil((T * (heads.n0 + n1) * (D / 2)) / WG)),
  });
}

/** The rotation by +angle (forward) or −angle (backward). */
function ropeWgsl(inverse: boolean): string {
  return `${paramsWgsl(PARAMS)}${storageWgsl([
    ['positions', 'read', 'u32'],
    ['table', 'read', 'vec2f'],
    ['x', 'read_write', 'f32'],
  ])}
@compute @workgroup_size(${WG})
fn main(${FLAT_WG_ARGS}) {
  ${FLAT_WG}
  let half = P.D / 2u;
  let heads = P.n0 + P.n1;
  let i = wg * ${WG}u + li;
  if (i >= P.T * heads * half) { return; }
  let j = i % half;
  let h = (i / half) % heads;
  let t = i / (half * heads);
  let col = select(P.off1 + (h - P.n0) * P.D, P.off0 + h * P.D, h < P.n0);
  let o = t * P.stride + col;
  let cs = table[positions[t] * half + j]${inverse ? ' * vec2f(1.0, -1.0)' : ''};
  let a = x[o + j];
  let b = x[o + j + half];
  x[o + j] = a * cs.x - b * cs.y;
  x[o + j + half] = b * cs.x + a * cs.y;
}
`;
}
