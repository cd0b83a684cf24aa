/**
 * out = x / rms(x) * w per row, the GPU twin of cpu/ops.ts rmsnormForward. Optionally gathers
 * rows first (out[r] = norm(x[rows[r]])): the final norm runs only on the rows whose logits
 * are needed.
 *
 * Where subgroups are 4 lanes (a CPU's SIMD: device.ts narrowSubgroups), one subgroup of 4
 * threads per row sums with subgroupAdd: no barrier (there a barrier makes every 4 lanes a
 * coroutine, ~30 µs per workgroup of 64, 10× the work of a decode row). Elsewhere: 64 threads
 * per row and a workgroup reduction.
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
