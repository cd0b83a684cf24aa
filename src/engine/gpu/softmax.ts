/**
 * Row-wise softmax (with temperature) and log-softmax, the GPU twins of cpu/ops.ts
 * softmaxForward and logSoftmaxForward, and gatherLogprobs: log p(target) for chosen
 * (row, token) pairs without a whole-vocabulary read-back (scoring, verdict labels).
 * One workgroup per row (or pair).
 *   logits [R, V]
 */
import type { Binding, Recorder } from './program';
import { FLAT_WG, FLAT_WG_ARGS, gridFor, paramsWgsl, reduceWgsl, storageWgsl } from './wgsl';

const WG = 64;
const ROW_PARAMS = { R: 'u32', V: 'u32', invTemp: 'f32' } as const;

export function softmaxForward(rec: Recorder, out: Binding, logits: Binding, R: number, V: number, temperature = 1): void {
  rowKernel(rec, 'softmax', out, logits, R, V, 1 / temperature);
}

export function logSoftmaxForward(rec: Recorder, out: Binding, logits: Binding, R: number, V: number): void {
  rowKernel(rec, 'log-softmax', out, logits, R, V, 1);
}

function rowKernel(rec: Recorder, kind: 'softmax' | 'log-softmax', out: Binding, logits: Binding, R: number, V: number, invTemp: number): void {
  rec.dispatch({
    key: kind,
    source: () => rowWgsl(kind),
    params: ROW_PARAMS,
    values: { R, V, invTemp },
    bindings: [logits, out],
    workgroups: gridFor(R),
  });
}

function rowWgsl(kind: 'softmax' | 'log-softmax'): string {
  const write =
    kind === 'softmax'
      ? 'out[o + i] = exp((x[o + i] - mx) * P.invTemp) / sum;'
      : 'out[o + i] = x[o + i] - lse;';
  return `${paramsWgsl(ROW_PARAMS)}${storageWgsl([
    ['x', 'read', 'f32'],
    ['out', 'read_write', 'f32'],
  ])}${reduceWgsl(WG)}
@compute @workgroup_size(${WG})
fn main(${FLAT_WG_ARGS}) {
  ${FLAT_WG}
  if (wg >= P.R) { return; }
  let o = wg * P.V;
  var m = -3.0e38;
  for (var i = li; i < P.V; i += ${WG}u) { m = max(m, x[o + i]); }
  let mx = wgMax(m, li);
  var s = 0.0;
  for (var i = li; i < P.V; i += ${WG}u) { s += exp((x[o + i] - mx) * P.invTemp); }
  let sum = wgSum(s, li);
  let lse = mx + log(sum);
  for (var i = li; i < P.V; i += ${WG}u) { ${write} }
}
`;
}

const GATHER_PARAMS = { N: 'u32', V: 'u32' } as const;

/** out[i] = logits[rows[i], targets[i]] − logsumexp(logits[rows[i], :]).   rows, targets [N] u32, out [N] */
export function gatherLogprobs(rec: Recorder, out: Binding, logits: Binding, rows: Binding, targets: Binding, N: number, V: number): void {
  rec.dispatch({
    key: 'gather-logprobs',
    source: gatherWgsl,
    params: GATHER_PARAMS,
    values: { N, V },
    bindings: [logits, rows, targets, out],
    workgroups: gridFor(N),
  });
}

function gatherWgsl(): string {
  return `${paramsWgsl(GATHER_PARAMS)}${storageWgsl([
    ['x', 'read', 'f32'],
    ['rows', 'read', 'u32'],
    ['targets', 'read', 'u32'],
    ['out', 'read_write', 'f32'],
  ])}${reduceWgsl(WG)}
@compute @workgroup_size(${WG})
fn main(${FLAT_WG_ARGS}) {
  ${FLAT_WG}
  if (wg >= P.N) { return; }
  let o = rows[wg] * P.V;
  var m = -3.0e38;
  for (var i = li; i < P.V; i += ${WG}u) { m = max(m, x[o + i]); }
  let mx = wgMax(m, li);
  var s = 0.0;
  for (var i = li; i < P.V; i += ${WG}u) { s += exp(x[o + i] - mx); }
  let sum = wgSum(s, li);
  if (li == 0u) { out[wg] = x[o + targets[wg]] - (mx + log(sum)); }
}
`;
}
