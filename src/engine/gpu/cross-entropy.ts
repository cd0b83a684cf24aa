/**
 * Cross-entropy of selected logit rows and its backward: the GPU twins of cpu/ops.ts
 * crossEntropyForward and crossEntropyBackward. Training runs the LM head only on the rows that
 * predict a trained token, so every row here has a target. The log-sum-exp is kept as its two
 * parts (row max, Σ exp(x − max)): the backward's softmax then needs no log, whose error on
 * software adapters (~1e-5) would show in every probability.
 *   logits [N, V], targets [N] u32, losses / dlosses [N], lse [N] vec2 (max, sum)
 */
import type { Binding, Recorder } from './program';
import { FLAT_WG, FLAT_WG_ARGS, gridFor, paramsWgsl, reduceWgsl, storageWgsl } from './wgsl';

const WG = 64;
const PARAMS = { N: 'u32', V: 'u32' } as const;

/** losses[n] = log Σ_i exp(logits[n, i]) − logits[n, targets[n]]; lse[n] = (max, sum) kept for backward. One workgroup per row. */
export function crossEntropyForward(rec: Recorder, losses: Binding, lse: Binding, logits: Binding, targets: Binding, N: number, V: number): void {
  rec.dispatch({
    key: 'cross-entropy',
    source: forwardWgsl,
    params: PARAMS,
    values: { N, V },
    bindings: [logits, targets, losses, lse],
    workgroups: gridFor(N),
  });
}

function forwardWgsl(): string {
  return `${paramsWgsl(PARAMS)}${storageWgsl([
    ['x', 'read', 'f32'],
    ['targets', 'read', 'u32'],
    ['losses', 'read_write', 'f32'],
    ['lse', 'read_write', 'vec2f'],
  ])}${reduceWgsl(WG)}
@compute @workgroup_size(${WG})
fn main(${FLAT_WG_ARGS}) {
  ${FLAT_WG}
  if (wg >= P.N) { return; }
  let o = wg * P.V;
  var m = -3.0e38;
  for (var i = li; i < P.V; i += ${WG}u) { m = max(m, x[o + i]); }
  let mx = wgMax(m, li);
  var s = 0.0;
  for (var i = li; i < P.V; i += ${WG}u) { s += exp(x[o + i] - mx); }
  let sum = wgSum(s, li);
  if (li == 0u) {
    lse[wg] = vec2f(mx, sum);
    losses[wg] = mx + log(sum) - x[o + targets[wg]];
  }
}
`;
}

/**
 * Backward of crossEntropyForward: dlogits (= or +=, see `accumulate`) from dlosses.
 *   loss = lse − logits[target]  ⇒  dlogits[i] = dloss · (softmax_i − [i = target])
 * `dlogits` may be the logits binding itself (the gradient overwrites the logits, which the
 * backward needs only here): pass the same binding and leave `accumulate` off.
 */
export function crossEntropyBackward(
  rec: Recorder,
  dlogits: Binding,
  dlosses: Binding,
  logits: Binding,
  lse: Binding,
  targets: Binding,
  N: number,
  V: number,
  opts: { accumulate?: boolean } = {},
): void {
  const inPlace = dlogits.buffer === logits.buffer && (dlogits.offset ?? 0) === (logits.offset ?? 0);
  const acc = opts.accumulate ?? false;
  if (inPlace && acc) throw new Error('crossEntropyBackward: an in-place gradient cannot accumulate');
  rec.dispatch({
    key: `cross-entropy-backward/${inPlace ? 'in-place' : acc ? 'add' : 'set'}`,
    source: () => backwardWgsl(inPlace, acc),
    params: PARAMS,
    values: { N, V },
    bindings: inPlace ? [dlosses, lse, targets, logits] : [dlosses, lse, targets, logits, dlogits],
    workgroups: gridFor(Math.ceil((N * V) / WG)),
  });
}

function backwardWgsl(inPlace: boolean, accumulate: boolean): string {
  const decls: [string, 'read' | 'read_write', string][] = [
    ['dlosses', 'read', 'f32'],
    ['lse', 'read', 'vec2f'],
    ['targets', 'read', 'u32'],
    ['x', inPlace ? 'read_write' : 'read', 'f32'],
  ];
  if (!inPlace) decls.push(['dx', 'read_write', 'f32']);
  const out = inPlace ? 'x' : 'dx';
  return `${paramsWgsl(PARAMS)}${storageWgsl(decls)}
@compute @workgroup_size(${WG})
fn main(${FLAT_WG_ARGS}) {
  ${FLAT_WG}
  let e = wg * ${WG}u + li;
  if (e >= P.N * P.V) { return; }
  let n = e / P.V;
  let i = e % P.V;
  let ms = lse[n];
  let p = exp(x[e] - ms.x) / ms.y;
  let g = dlosses[n] * (p - select(0.0, 1.0, i == targets[n]));
  ${out}[e] = ${accumulate ? `${out}[e] + g` : 'g'};
}
`;
}
