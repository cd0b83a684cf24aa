/**
 * Every backward op of the CPU reference against central finite differences of its forward, in
 * f64 on fresh random inputs of awkward shapes. The scalar checked is L = Σ G ⊙ out for a random
 * upstream gradient G, so dL/dinput is exactly what the backward op computes from dout = G.
 */
import { describe, expect, it } from 'vitest';
import {
  addBackward,
  addForward,
  attentionBackward,
  attentionForward,
  crossEntropyBackward,
  crossEntropyForward,
  loraBackward,
  loraForward,
  matmulBackward,
  matmulForward,
  rmsnormBackward,
  rmsnormForward,
  ropeBackward,
  ropeForward,
  swigluBackward,
  swigluForward,
} from '../../../../src/engine/cpu/ops';
import { numericGrad, relErr } from '../../../helpers/gradcheck';
import { rng } from '../random';

const H = 1e-5;
const TOL = 1e-5; // f64 central differences are good to ~1e-8 here; anything near 1e-3 is a bug

function rand(n: number, r: () => number, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};
/** Worst relative error seen per op, printed at the end (numbers for the report). */
const worst: Record<string, number> = {};
function check(op: string, analytic: ArrayLike<number>, numeric: ArrayLike<number>): void {
  const e = relErr(analytic, numeric);
  worst[op] = Math.max(worst[op] ?? 0, e);
  expect(e, op).toBeLessThan(TOL);
}

describe('CPU backward ops vs central finite differences (f64)', () => {
  it('rmsnorm: dx', () => {
    const r = rng(1);
    for (const [T, C] of [[1, 1], [3, 7], [4, 33]]) {
      const x = rand(T * C, r, 2);
      const w = rand(C, r);
      const G = rand(T * C, r);
      const out = new Float64Array(T * C);
      const rstd = new Float64Array(T);
      const L = () => (rmsnormForward(out, rstd, x, w, T, C, 1e-5), dot(G, out));
      L();
      const dx = new Float64Array(T * C);
      rmsnormBackward(dx, G, x, w, rstd, T, C);
      check('rmsnorm', dx, numericGrad(L, x, H));
    }
  });

  it('matmul: dx and dw, added into what is there', () => {
    const r = rng(2);
    for (const [T, IC, OC] of [[1, 3, 5], [5, 9, 4], [6, 17, 11]]) {
      const x = rand(T * IC, r);
      const w = rand(OC * IC, r);
      const b = rand(OC, r);
      const G = rand(T * OC, r);
      const out = new Float64Array(T * OC);
      const L = () => (matmulForward(out, x, w, b, T, IC, OC), dot(G, out));
      const dx = new Float64Array(T * IC);
      const dw = new Float64Array(OC * IC);
      matmulBackward(dx, dw, G, x, w, T, IC, OC);
      check('matmul', dx, numericGrad(L, x, H));
      check('matmul', dw, numericGrad(L, w, H));
      // += : a second call doubles the gradients.
      const dx2 = Float64Array.from(dx);
      matmulBackward(dx2, null, G, x, w, T, IC, OC);
      expect(relErr(dx2, dx.map((v) => 2 * v))).toBeLessThan(1e-15);
    }
  });

  it('LoRA: dx, dA and dB', () => {
    const r = rng(3);
    for (const [T, IC, OC, rank] of [[1, 4, 3, 1], [5, 9, 7, 2], [4, 16, 12, 4]]) {
      const x = rand(T * IC, r);
      const a = rand(rank * IC, r);
      const b = rand(OC * rank, r);
      const base = rand(T * OC, r);
      const G = rand(T * OC, r);
      const xa = new Float64Array(T * rank);
      const out = new Float64Array(T * OC);
      const L = () => {
        out.set(base);
        loraForward(out, xa, x, a, b, 1.75, T, IC, OC, rank);
        return dot(G, out);
      };
      L();
      const dx = new Float64Array(T * IC);
      const da = new Float64Array(rank * IC);
      const db = new Float64Array(OC * rank);
      loraBackward(dx, da, db, G, x, xa, a, b, 1.75, T, IC, OC, rank);
      check('lora', dx, numericGrad(L, x, H));
      check('lora', da, numericGrad(L, a, H));
      check('lora', db, numericGrad(L, b, H));
    }
  });

  it('rope: dx (the inverse rotation of the gradient)', () => {
    const r = rng(4);
    for (const [T, NHh, D] of [[1, 1, 2], [5, 3, 8], [3, 2, 16]]) {
      const x = rand(T * NHh * D, r);
      const pos = Array.from({ length: T }, () => Math.floor(r() * 500));
      const inv = Float64Array.from({ length: D / 2 }, (_, j) => 1 / Math.pow(10000, (2 * j) / D));
      const G = rand(T * NHh * D, r);
      const L = () => {
        const y = Float64Array.from(x);
        ropeForward(y, pos, inv, T, NHh, D);
        return dot(G, y);
      };
      const dx = Float64Array.from(G);
      ropeBackward(dx, pos, inv, T, NHh, D);
      check('rope', dx, numericGrad(L, x, H));
    }
  });

  it('attention: dq, dk, dv (causal, GQA and MHA, with and without past positions)', () => {
    const r = rng(5);
    for (const [T, past, NH, NKV, D] of [[1, 0, 1, 1, 2], [5, 0, 4, 2, 4], [4, 0, 2, 2, 6], [3, 2, 4, 1, 4]]) {
      const S = past + T;
      const q = rand(T * NH * D, r);
      const k = rand(S * NKV * D, r);
      const v = rand(S * NKV * D, r);
      const qPos = Array.from({ length: T }, (_, t) => past + t);
      const G = rand(T * NH * D, r);
      const out = new Float64Array(T * NH * D);
      const att = new Float64Array(NH * T * S);
      const L = () => (attentionForward(out, att, q, k, v, qPos, T, S, NH, NKV, D), dot(G, out));
      L();
      const dq = new Float64Array(q.length);
      const dk = new Float64Array(k.length);
      const dv = new Float64Array(v.length);
      attentionBackward(dq, dk, dv, G, q, k, v, att, qPos, T, S, NH, NKV, D);
      check('attention', dq, numericGrad(L, q, H));
      check('attention', dk, numericGrad(L, k, H));
      check('attention', dv, numericGrad(L, v, H));
    }
  });

  it('swiglu: dgate and dup', () => {
    const r = rng(6);
    const n = 37;
    const gate = rand(n, r, 4);
    const up = rand(n, r, 2);
    const G = rand(n, r);
    const out = new Float64Array(n);
    const L = () => (swigluForward(out, gate, up, n), dot(G, out));
    const dg = new Float64Array(n);
    const du = new Float64Array(n);
    swigluBackward(dg, du, G, gate, up, n);
    check('swiglu', dg, numericGrad(L, gate, H));
    check('swiglu', du, numericGrad(L, up, H));
  });

  it('add: both inputs get the gradient', () => {
    const r = rng(7);
    const n = 11;
    const a = rand(n, r);
    const b = rand(n, r);
    const G = rand(n, r);
    const out = new Float64Array(n);
    const L = () => (addForward(out, a, b, n), dot(G, out));
    const da = new Float64Array(n);
    const db = new Float64Array(n);
    addBackward(da, db, G, n);
    check('add', da, numericGrad(L, a, H));
    check('add', db, numericGrad(L, b, H));
  });

  it('cross-entropy of selected rows: dlogits', () => {
    const r = rng(8);
    for (const [N, V] of [[1, 2], [4, 13], [3, 300]]) {
      const logits = rand(N * V, r, 5);
      const targets = Array.from({ length: N }, () => Math.floor(r() * V));
      const g = rand(N, r);
      const losses = new Float64Array(N);
      const lse = new Float64Array(N);
      const L = () => (crossEntropyForward(losses, lse, logits, targets, N, V), dot(g, losses));
      L();
      // loss = -log p(target)
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let i = 0; i < V; i++) s += Math.exp(logits[n * V + i]);
        expect(losses[n]).toBeCloseTo(Math.log(s) - logits[n * V + targets[n]], 10);
      }
      const dl = new Float64Array(N * V);
      crossEntropyBackward(dl, g, logits, lse, targets, N, V);
      check('crossEntropy', dl, numericGrad(L, logits, H));
    }
  });

  it('reports the worst relative error per op', () => {
    console.log('backward ops, max |analytic − FD| / max |FD|:', Object.entries(worst).map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', '));
  });
});
