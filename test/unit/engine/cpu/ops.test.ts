/**
 * Each CPU op against an independent, deliberately different formulation, on fresh random
 * inputs of awkward shapes.
 */
import { describe, expect, it } from 'vitest';
import {
  addForward,
  attentionForward,
  embeddingForward,
  logSoftmaxForward,
  loraForward,
  matmulForward,
  rmsnormForward,
  ropeForward,
  softmaxForward,
  swigluForward,
} from '../../../../src/engine/cpu/ops';
import { randomArray, rng } from '../random';

const SHAPES = [
  { T: 1, IC: 3, OC: 5 },
  { T: 7, IC: 33, OC: 17 },
  { T: 13, IC: 70, OC: 129 },
];

describe('CPU ops vs naive formulations', () => {
  it('embedding gathers rows', () => {
    const r = rng(1);
    const V = 11;
    const C = 9;
    const wte = randomArray(V * C, r);
    const tokens = [3, 0, 10, 3];
    const out = new Float32Array(tokens.length * C);
    embeddingForward(out, tokens, wte, C);
    tokens.forEach((tok, t) => {
      for (let c = 0; c < C; c++) expect(out[t * C + c]).toBe(wte[tok * C + c]);
    });
  });

  it('rmsnorm = x · w / sqrt(mean(x²) + eps)', () => {
    const r = rng(2);
    for (const [T, C] of [[1, 1], [5, 37], [3, 130]]) {
      const x = randomArray(T * C, r, 3);
      const w = randomArray(C, r);
      const out = new Float32Array(T * C);
      const rstd = new Float32Array(T);
      rmsnormForward(out, rstd, x, w, T, C, 1e-5);
      const exp = new Float32Array(T * C);
      for (let t = 0; t < T; t++) {
        const row = Array.from(x.subarray(t * C, t * C + C));
        const ms = row.map((v) => v * v).reduce((a, b) => a + b) / C;
        const denom = Math.sqrt(ms + 1e-5);
        row.forEach((v, c) => (exp[t * C + c] = (v / denom) * w[c]));
        expect(rstd[t]).toBeCloseTo(1 / denom, 5);
      }
      expect(out).toBeAllclose(exp, { rtol: 1e-5, floor: 1e-3 });
    }
  });

  it('matmul = x · Wᵀ + b, as a sum of outer products', () => {
    const r = rng(3);
    for (const { T, IC, OC } of SHAPES) {
      const x = randomArray(T * IC, r);
      const w = randomArray(OC * IC, r);
      const b = randomArray(OC, r);
      const out = new Float32Array(T * OC);
      matmulForward(out, x, w, b, T, IC, OC);
      // Accumulate column by column of x (a different summation order and loop nest).
      const exp = new Float64Array(T * OC);
      for (let t = 0; t < T; t++) for (let o = 0; o < OC; o++) exp[t * OC + o] = b[o];
      for (let i = 0; i < IC; i++) for (let t = 0; t < T; t++) for (let o = 0; o < OC; o++) exp[t * OC + o] += x[t * IC + i] * w[o * IC + i];
      expect(out).toBeAllclose(exp, { rtol: 1e-5, floor: 1e-3 });
    }
  });

  it('LoRA adds scale · (x·Aᵀ)·Bᵀ = x · (scale·B·A)ᵀ', () => {
    const r = rng(4);
    for (const { T, IC, OC } of SHAPES) {
      const rank = 3;
      const x = randomArray(T * IC, r);
      const a = randomArray(rank * IC, r);
      const b = randomArray(OC * rank, r);
      const base = randomArray(T * OC, r);
      const out = Float32Array.from(base);
      const xa = new Float32Array(T * rank);
      loraForward(out, xa, x, a, b, 0.75, T, IC, OC, rank);
      // Merge first: ΔW = scale·B·A [OC, IC], then y = base + x·ΔWᵀ.
      const dw = new Float64Array(OC * IC);
      for (let o = 0; o < OC; o++) for (let i = 0; i < IC; i++) for (let j = 0; j < rank; j++) dw[o * IC + i] += 0.75 * b[o * rank + j] * a[j * IC + i];
      const exp = Float64Array.from(base);
      for (let t = 0; t < T; t++) for (let o = 0; o < OC; o++) for (let i = 0; i < IC; i++) exp[t * OC + o] += x[t * IC + i] * dw[o * IC + i];
      expect(out).toBeAllclose(exp, { rtol: 1e-4, floor: 1e-3 });
      for (let t = 0; t < T; t++) for (let j = 0; j < rank; j++) {
        let s = 0;
        for (let i = 0; i < IC; i++) s += x[t * IC + i] * a[j * IC + i];
        expect(xa[t * rank + j]).toBeCloseTo(s, 4);
      }
    }
  });

  it('rope rotates each (j, j + D/2) pair as the complex number (x_j + i·x_{j+D/2}) · e^{i·pos·f_j}', () => {
    const r = rng(5);
    for (const [T, H, D] of [[1, 1, 2], [5, 3, 10], [4, 2, 64]]) {
      const x = randomArray(T * H * D, r);
      const pos = Array.from({ length: T }, () => Math.floor(r() * 3000));
      const inv = Float32Array.from({ length: D / 2 }, (_, j) => 1 / Math.pow(10000, (2 * j) / D));
      const out = Float32Array.from(x);
      ropeForward(out, pos, inv, T, H, D);
      for (let t = 0; t < T; t++) for (let h = 0; h < H; h++) for (let j = 0; j < D / 2; j++) {
        const o = (t * H + h) * D;
        const re = x[o + j];
        const im = x[o + j + D / 2];
        const ang = Math.fround(pos[t] * inv[j]);
        expect(out[o + j]).toBeCloseTo(re * Math.cos(ang) - im * Math.sin(ang), 5);
        expect(out[o + j + D / 2]).toBeCloseTo(re * Math.sin(ang) + im * Math.cos(ang), 5);
      }
    }
  });

  it('attention = softmax(mask(Q·Kᵀ/√D))·V with each KV head repeated for its query group', () => {
    const r = rng(6);
    for (const [T, past, NH, NKV, D] of [[1, 0, 1, 1, 4], [3, 5, 6, 2, 7], [9, 0, 4, 4, 16], [2, 11, 8, 1, 5]]) {
      const S = past + T;
      const q = randomArray(T * NH * D, r, 2);
      const k = randomArray(S * NKV * D, r, 2);
      const v = randomArray(S * NKV * D, r);
      const qPos = Array.from({ length: T }, (_, t) => past + t);
      const out = new Float32Array(T * NH * D);
      const att = new Float32Array(NH * T * S);
      attentionForward(out, att, q, k, v, qPos, T, S, NH, NKV, D);
      // Expand K/V to NH heads, build the full masked score matrix, softmax rows with -Inf masks.
      const group = NH / NKV;
      for (let h = 0; h < NH; h++) {
        const kvh = Math.floor(h / group);
        for (let t = 0; t < T; t++) {
          const scores = Array.from({ length: S }, (_, s) => {
            if (s > qPos[t]) return -Infinity;
            let dot = 0;
            for (let d = 0; d < D; d++) dot += q[(t * NH + h) * D + d] * k[(s * NKV + kvh) * D + d];
            return dot / Math.sqrt(D);
          });
          const m = Math.max(...scores);
          const e = scores.map((s) => Math.exp(s - m));
          const z = e.reduce((a, b) => a + b);
          const p = e.map((x) => x / z);
          for (let s = 0; s < S; s++) expect(att[(h * T + t) * S + s]).toBeCloseTo(p[s], 6);
          for (let d = 0; d < D; d++) {
            const y = p.reduce((acc, ps, s) => acc + ps * v[(s * NKV + kvh) * D + d], 0);
            expect(out[(t * NH + h) * D + d]).toBeCloseTo(y, 5);
          }
        }
      }
    }
  });

  it('swiglu = gate · sigmoid(gate) · up; add is elementwise', () => {
    const r = rng(7);
    const n = 101;
    const g = randomArray(n, r, 6);
    const u = randomArray(n, r);
    const out = new Float32Array(n);
    swigluForward(out, g, u, n);
    const sum = new Float32Array(n);
    addForward(sum, g, u, n);
    for (let i = 0; i < n; i++) {
      const sig = Math.exp(g[i]) / (1 + Math.exp(g[i]));
      expect(out[i]).toBeCloseTo(g[i] * sig * u[i], 5);
      expect(sum[i]).toBe(Math.fround(g[i] + u[i]));
    }
  });

  it('log-softmax = log of softmax; softmax rows sum to 1; temperature divides logits', () => {
    const r = rng(8);
    for (const [T, V] of [[1, 2], [4, 333]]) {
      const x = randomArray(T * V, r, 20);
      const ls = new Float32Array(T * V);
      logSoftmaxForward(ls, x, T, V);
      const sm = new Float32Array(T * V);
      softmaxForward(sm, x, T, V, 0.7);
      for (let t = 0; t < T; t++) {
        const row = Array.from(x.subarray(t * V, (t + 1) * V));
        const z = row.reduce((a, b) => a + Math.exp(b), 0);
        const zt = row.reduce((a, b) => a + Math.exp(b / 0.7), 0);
        for (let i = 0; i < V; i++) {
          expect(ls[t * V + i]).toBeCloseTo(row[i] - Math.log(z), 4);
          expect(sm[t * V + i]).toBeCloseTo(Math.exp(row[i] / 0.7) / zt, 6);
        }
      }
    }
  });
});
