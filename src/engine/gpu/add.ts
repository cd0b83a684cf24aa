/** out = a + b elementwise, the GPU twin of cpu/ops.ts addForward (residuals, gradient sums). */
import type { Binding, Recorder } from './program';
import { FLAT_WG, FLAT_WG_ARGS, gridFor, paramsWgsl, storageWgsl } from './wgsl';

const PARAMS = { n: 'u32' } as const;
const WG = 64;

export function addForward(rec: Recorder, out: Binding, a: Binding, b: Binding, n: number): void {
  rec.dispatch({
    key: 'add',
    source: addWgsl,
    params: PARAMS,
    values: { n },
    bindings: [a, b, out],
    workgroups: gridFor(Math.ceil(n / WG)),
  });
}

function addWgsl(): string {
  return `${paramsWgsl(PARAMS)}${storageWgsl([
    ['a', 'read', 'f32'],
    ['b', 'read', 'f32'],
    ['out', 'read_write', 'f32'],
  ])}
@compute @workgroup_size(${WG})
fn main(${FLAT_WG_ARGS}) {
  ${FLAT_WG}
  let i = wg * ${WG}u + li;
  if (i < P.n) { out[i] = a[i] + b[i]; }
}
`;
}

/** Backward of addForward: da += dout, db += dout (both inputs get the output's gradient). */
export function addBackward(rec: Recorder, da: Binding, db: Binding, dout: Binding, n: number): void {
  rec.dispatch({
    key: 'add-backward',
    source: addBackwardWgsl,
    params: PARAMS,
    values: { n },
    bindings: [dout, da, db],
    workgroups: gridFor(Math.ceil(n / WG)),
  });
}

function addBackwardWgsl(): string {
  return `${paramsWgsl(PARAMS)}${storageWgsl([
    ['dout', 'read', 'f32'],
    ['da', 'read_write', 'f32'],
    ['db', 'read_write', 'f32'],
  ])}
@compute @workgroup_size(${WG})
fn main(${FLAT_WG_ARGS}) {
  ${FLAT_WG}
  let i = wg * ${WG}u + li;
  if (i < P.n) {
    let g = dout[i];
    da[i] = da[i] + g;
    db[i] = db[i] + g;
  }
}
`;
}
