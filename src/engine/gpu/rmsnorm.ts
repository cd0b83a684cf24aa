/**
 * out = x / rms(x) * w per row, the GPU twin of cpu/ops.ts rmsnormForward, and its backward.
 * Optionally gathers rows first (out[r] = norm(x[rows[r]])): the final norm runs only on the
 * rows whose logits are needed.
 *
 * Where subgroups are 4 lanes (a CPU's SIMD: device.ts narrowSubgroups), one subgroup of 4
 * threads per row sums with subgroupAdd: no barrier (there a barrier makes every 4 lanes a
 * coroutine, ~30 µs per workgroup of 64, 10× the work of a decode row). Elsewhere: 64 threads
 * per row and a workgroup reduction. The backward is one workgroup per row, the same way.
 *   out [R, C], x [*, C], w [C], rows [R] u32
 */
import type { Binding, Recorder } from './program';
import { FLAT_WG, FLAT_WG_ARGS, gridFor, paramsWgsl, reduceWgsl, storageWgsl } from './wgsl';

const PARAMS = { R: 'u32', C: 'u32', eps: 'f32' } as const;

export function rmsnormForward(rec: Recorder, out: Binding, x: Binding, w: Binding, R: number, C: number, eps: number, rows: Binding | null = null): void {
  const sub = rec.gpu.narrowSubgroups;
  rec.dispatch({
    key: `rmsnorm/${rows ? 'gather' : 'rows'}/${sub ? 'subgroup' : 'workgroup'}`,
    source: () => rmsnormWgsl(rows !== null, sub),
    params: PARAMS,
    values: { R, C, eps },
    bindings: rows ? [x, w, rows, out] : [x, w, out],
    workgroups: gridFor(R),
  });
}

function rmsnormWgsl(gather: boolean, subgroups: boolean): string {
  const WG = subgroups ? 4 : 64;
  const decls: [string, 'read' | 'read_write', string][] = [
    ['x', 'read', 'f32'],
    ['w', 'read', 'f32'],
  ];
  if (gather) decls.push(['rows', 'read', 'u32']);
  decls.push(['out', 'read_write', 'f32']);
  return `${subgroups ? 'enable subgroups;\n' : ''}${paramsWgsl(PARAMS)}${storageWgsl(decls)}${subgroups ? '' : reduceWgsl(WG)}
@compute @workgroup_size(${WG})
fn main(${FLAT_WG_ARGS}) {
  ${FLAT_WG}
  let r = wg;
  if (r >= P.R) { return; } // uniform: whole workgroup
  let src = ${gather ? 'rows[r]' : 'r'} * P.C;
  var ss = 0.0;
  for (var i = li; i < P.C; i += ${WG}u) { let v = x[src + i]; ss += v * v; }
  let total = ${subgroups ? 'subgroupAdd(ss)' : 'wgSum(ss, li)'};
  let rstd = 1.0 / sqrt(total / f32(P.C) + P.eps);
  for (var i = li; i < P.C; i += ${WG}u) { out[r * P.C + i] = x[src + i] * rstd * w[i]; }
}
`;
}

const BACKWARD_PARAMS = { R: 'u32', C: 'u32', eps: 'f32' } as const;

/**
 * Backward of rmsnormForward, w frozen: dx (= or +=, see `accumulate`) from dout [R, C]. rstd is
 * recomputed from x (one more pass over a row the kernel reads anyway) instead of saved. With
 * `rows`, row r of dout belongs to row rows[r] of x and dx (the rows must be distinct).
 *   dx_i = r·w_i·dout_i − x_i · r³/C · Σ_j dout_j·w_j·x_j,   r = (mean(x²) + eps)^-½
 */
export function rmsnormBackward(
  rec: Recorder,
  dx: Binding,
  dout: Binding,
  x: Binding,
  w: Binding,
  R: number,
  C: number,
  eps: number,
  opts: { rows?: Binding | null; accumulate?: boolean } = {},
): void {
  const rows = opts.rows ?? null;
  const acc = opts.accumulate ?? false;
  const sub = rec.gpu.narrowSubgroups;
  rec.dispatch({
    key: `rmsnorm-backward/${rows ? 'scatter' : 'rows'}/${acc ? 'add' : 'set'}/${sub ? 'subgroup' : 'workgroup'}`,
    source: () => rmsnormBackwardWgsl(rows !== null, acc, sub),
    params: BACKWARD_PARAMS,
    values: { R, C, eps },
    bindings: rows ? [dout, x, w, rows, dx] : [dout, x, w, dx],
    workgroups: gridFor(R),
  });
}

function rmsnormBackwardWgsl(scatter: boolean, accumulate: boolean, subgroups: boolean): string {
  const WG = subgroups ? 4 : 64;
  const decls: [string, 'read' | 'read_write', string][] = [
    ['dout', 'read', 'f32'],
    ['x', 'read', 'f32'],
    ['w', 'read', 'f32'],
  ];
  if (scatter) decls.push(['rows', 'read', 'u32']);
  decls.push(['dx', 'read_write', 'f32']);
  const v = 'rstd * w[i] * dout[g + i] - k * x[o + i]';
  return `${subgroups ? 'enable subgroups;\n' : ''}${paramsWgsl(BACKWARD_PARAMS)}${storageWgsl(decls)}${subgroups ? '' : reduceWgsl(WG)}
@compute @workgroup_size(${WG})
fn main(${FLAT_WG_ARGS}) {
  ${FLAT_WG}
  let r = wg;
  if (r >= P.R) { return; } // uniform: whole workgroup
  let o = ${scatter ? 'rows[r]' : 'r'} * P.C; // row of x and dx
  let g = r * P.C; // row of dout
  var ss = 0.0;
  var dot = 0.0;
  for (var i = li; i < P.C; i += ${WG}u) {
    let xv = x[o + i];
    ss += xv * xv;
    dot += dout[g + i] * w[i] * xv;
  }
  ${subgroups ? 'let sums = subgroupAdd(vec2f(ss, dot));' : 'let sums = vec2f(wgSum(ss, li), wgSum(dot, li));'}
  let rstd = 1.0 / sqrt(sums.x / f32(P.C) + P.eps);
  let k = rstd * rstd * rstd * sums.y / f32(P.C);
  for (var i = li; i < P.C; i += ${WG}u) { dx[o + i] = ${accumulate ? `dx[o + i] + ${v}` : v}; }
}
`;
}
