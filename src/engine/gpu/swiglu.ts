/**
 * out = silu(gate) * up, the GPU twin of cpu/ops.ts swigluForward, and its backward. gate and up
 * are read from column ranges of one row-major buffer (the fused gate|up projection writes
 * [T, 2I]); the backward writes their gradients in the same layout.
 *   out [T, I], gu [T, ld] with gate at columns gOff.., up at uOff..
 * Four neighbouring elements per thread as vec4s when the layout allows (it does for the
 * model's [T, 2I]): a quarter of the workgroups, each of which costs ~1 µs on software adapters.
 */
import type { Binding, Recorder } from './program';
import { FLAT_WG, FLAT_WG_ARGS, gridFor, paramsWgsl, storageWgsl } from './wgsl';

const PARAMS = { T: 'u32', I: 'u32', ld: 'u32', gOff: 'u32', uOff: 'u32' } as const;
const WG = 64;

export function swigluForward(
  rec: Recorder,
  out: Binding,
  gu: Binding,
  T: number,
  I: number,
  layout: { ld: number; gOff: number; uOff: number } = { ld: 2 * I, gOff: 0, uOff: I },
): void {
  const V = [I, layout.ld, layout.gOff, layout.uOff].every((n) => n % 4 === 0) ? 4 : 1;
  rec.dispatch({
    key: `swiglu/v${V}`,
    source: () => swigluWgsl(V),
    params: PARAMS,
    values: { T, I: I / V, ld: layout.ld / V, gOff: layout.gOff / V, uOff: layout.uOff / V },
    bindings: [gu, out],
    workgroups: gridFor(Math.ceil((T * I) / V / WG)),
  });
}

/** In units of V elements (f32 or vec4f). */
function swigluWgsl(V: number): string {
  const type = V === 4 ? 'vec4f' : 'f32';
  return `${paramsWgsl(PARAMS)}${storageWgsl([
    ['gu', 'read', type],
    ['out', 'read_write', type],
  ])}
@compute @workgroup_size(${WG})
fn main(${FLAT_WG_ARGS}) {
  ${FLAT_WG}
  let i = wg * ${WG}u + li;
  if (i >= P.T * P.I) { return; }
  let t = i / P.I;
  let c = i % P.I;
  let g = gu[t * P.ld + P.gOff + c];
  let u = gu[t * P.ld + P.uOff + c];
  out[i] = g / (1.0 + exp(-g)) * u;
}
`;
}

/**
 * Backward of swigluForward: dgu (= or +=, see `accumulate`) from dout [T, I], in gu's layout.
 *   out = silu(g)·u, silu(g) = g·σ(g), silu'(g) = σ(g)·(1 + g·(1 − σ(g)))
 *   ⇒ dg = dout·u·silu'(g),  du = dout·silu(g)
 */
export function swigluBackward(
  rec: Recorder,
  dgu: Binding,
  dout: Binding,
  gu: Binding,
  T: number,
  I: number,
  opts: { accumulate?: boolean; layout?: { ld: number; gOff: number; uOff: number } } = {},
): void {
  const acc = opts.accumulate ?? false;
  rec.dispatch({
    key: `swiglu-backward/${acc ? 'add' : 'set'}`,
    source: () => swigluBackwardWgsl(acc),
    params: PARAMS,
    values: { T, I, ...(opts.layout ?? { ld: 2 * I, gOff: 0, uOff: I }) },
    bindings: [gu, dout, dgu],
    workgroups: gridFor(Math.ceil((T * I) / WG)),
  });
}

function swigluBackwardWgsl(accumulate: boolean): string {
  const put = (idx: string, v: string) => (accumulate ? `dgu[${idx}] = dgu[${idx}] + ${v};` : `dgu[${idx}] = ${v};`);
  return `${paramsWgsl(PARAMS)}${storageWgsl([
    ['gu', 'read', 'f32'],
    ['dout', 'read', 'f32'],
    ['dgu', 'read_write', 'f32'],
  ])}
@compute @workgroup_size(${WG})
fn main(${FLAT_WG_ARGS}) {
  ${FLAT_WG}
  let i = wg * ${WG}u + li;
  if (i >= P.T * P.I) { return; }
  let t = i / P.I;
  let c = i % P.I;
  let gi = t * P.ld + P.gOff + c;
  let ui = t * P.ld + P.uOff + c;
  let g = gu[gi];
  let u = gu[ui];
  let d = dout[i];
  let sig = 1.0 / (1.0 + exp(-g));
  let sigNeg = 1.0 / (1.0 + exp(g)); // 1 − σ(g) without the cancellation of 1.0 − sig
  ${put('gi', 'd * u * sig * (1.0 + g * sigNeg)')}
  ${put('ui', 'd * g * sig')}
}
`;
}
