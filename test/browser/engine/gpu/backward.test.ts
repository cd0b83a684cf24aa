/**
 * Every backward kernel (and cross-entropy) against its CPU twin in cpu/ops.ts, on fresh random
 * awkward shapes: sizes that are not multiples of the tiles, strided column ranges, weights
 * split across bindings, every weight format for the frozen base's dx (q4 dequantized in the
 * kernel), set and accumulate modes. The CPU backward functions add into their outputs, so they
 * start from zeros (set) or from the same random values the GPU starts from (accumulate).
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as cpu from '../../../../src/engine/cpu/ops';
import { ropeInvFreq } from '../../../../src/engine/model/config';
import { tensorToF32 } from '../../../../src/engine/model/dtypes';
import { GPU_OPS } from '../../../../src/engine/gpu/ops';
import { addBackward } from '../../../../src/engine/gpu/add';
import { attentionBackward } from '../../../../src/engine/gpu/attention';
import { crossEntropyBackward, crossEntropyForward } from '../../../../src/engine/gpu/cross-entropy';
import { bytesPerOutput, uploadLinear } from '../../../../src/engine/gpu/linear';
import { loraBackward, uploadLoraLinear } from '../../../../src/engine/gpu/lora';
import { matmulBackward } from '../../../../src/engine/gpu/matmul';
import { rmsnormBackward } from '../../../../src/engine/gpu/rmsnorm';
import { ropeBackward, ropeTable } from '../../../../src/engine/gpu/rope';
import { swigluBackward } from '../../../../src/engine/gpu/swiglu';
import { expectClose, measured, printMeasured, rand, randInt, run, upload, withGpu, zeros } from '../../../helpers/gpu';
import { TEST_DTYPES, randomTensor } from '../../../helpers/tensors';

afterAll(printMeasured);

/** Columns off..off+w of each row of a [rows, stride] matrix. */
function cols(src: Float32Array, rows: number, stride: number, off: number, w: number): Float32Array {
  const o = new Float32Array(rows * w);
  for (let r = 0; r < rows; r++) o.set(src.subarray(r * stride + off, r * stride + off + w), r * w);
  return o;
}

/** Writes a [rows, w] matrix into columns off.. of a [rows, stride] copy of `dst`. */
function setCols(dst: Float32Array, src: Float32Array, rows: number, stride: number, off: number, w: number): Float32Array {
  const o = dst.slice();
  for (let r = 0; r < rows; r++) o.set(src.subarray(r * w, (r + 1) * w), r * stride + off);
  return o;
}

describe('backward kernels against the CPU reference', () => {
  for (const subgroups of [true, false]) it(`rmsnormBackward: set, accumulate, and scattered rows (the final norm of the LM-head rows)${subgroups ? ', subgroup sums' : ', without subgroups'}`, async () => {
    await withGpu(async (gpu) => {
      const T = randInt(3, 9);
      const C = randInt(70, 150);
      const eps = 1e-5;
      const x = rand(T * C, 3);
      const w = rand(C);
      const dout = rand(T * C);
      const rstd = new Float32Array(T);
      cpu.rmsnormForward(new Float32Array(T * C), rstd, x, w, T, C, eps);
      const xb = upload(gpu, x);
      const wb = upload(gpu, w);
      for (const accumulate of [false, true]) {
        const init = accumulate ? rand(T * C) : new Float32Array(T * C);
        const dx = upload(gpu, init);
        await run(gpu, (rec) => rmsnormBackward(rec, dx, upload(gpu, dout), xb, wb, T, C, eps, { accumulate }));
        const want = init.slice();
        cpu.rmsnormBackward(want, dout, x, w, rstd, T, C);
        expectClose('rmsnormBackward', await gpu.readF32(dx.buffer, 0, T * C), want, { floor: 1e-2 });
      }
      // Rows 2, 0 of x get dout rows 0, 1; the others keep their values.
      const rows = Uint32Array.from([2, 0]);
      const init = rand(T * C);
      const dx = upload(gpu, init);
      await run(gpu, (rec) => rmsnormBackward(rec, dx, upload(gpu, dout), xb, wb, 2, C, eps, { rows: upload(gpu, rows), accumulate: true }));
      const want = init.slice();
      rows.forEach((r, i) => {
        const d = new Float32Array(C);
        cpu.rmsnormBackward(d, dout.subarray(i * C, (i + 1) * C), x.subarray(r * C, (r + 1) * C), w, rstd.subarray(r, r + 1), 1, C);
        for (let j = 0; j < C; j++) want[r * C + j] += d[j];
      });
      expectClose('rmsnormBackward', await gpu.readF32(dx.buffer, 0, T * C), want, { floor: 1e-2 });
    }, { subgroups });
  });

  for (const dtype of TEST_DTYPES) {
    it(`matmulBackward dx through a frozen ${dtype} weight split across bindings: decode, few and many rows, strided dout, tails`, async () => {
      // Slices of two to four panels (64..128 outputs, whatever IC is drawn): the first sets dx,
      // the others add to it; outputs cross panels within a slice.
      await withGpu(
        async (gpu) => {
          for (const groupSize of dtype === 'q4f32' ? [16, 8] : [16]) {
            const IC = dtype.startsWith('q4') ? groupSize * randInt(32 / groupSize, 56 / groupSize) : randInt(29, 45); // q4 groups must tile IC
            const OC = randInt(140, 200);
            const W = randomTensor(dtype, OC, IC, 0.5, groupSize);
            const wf = tensorToF32(W);
            const w = uploadLinear(gpu, W, 'w');
            expect(w.slices.length).toBeGreaterThan(1);
            // 1 and 3 rows: small tiles; 64+ rows: the big training tile (16 rows × 16 or 8 inputs).
            for (const T of groupSize === 8 ? [randInt(64, 70)] : [1, 3, randInt(64, 70)]) {
              // Odd T: dout is a column range of a wider row (scalar loads); even T: dense (vec4 loads).
              const strided = T % 2 === 1;
              const doutStride = strided ? OC + 7 : OC;
              const doutOffset = strided ? 3 : 0;
              const doutAll = rand(T * doutStride);
              const accumulate = T === 3;
              const init = accumulate ? rand(T * IC) : new Float32Array(T * IC);
              const dx = upload(gpu, init);
              await run(gpu, (rec) => matmulBackward(rec, dx, null, upload(gpu, doutAll), null, w, T, { accumulate, doutStride, doutOffset }));
              const want = init.slice();
              cpu.matmulBackward(want, null, cols(doutAll, T, doutStride, doutOffset, OC), new Float32Array(0), wf, T, IC, OC);
              expectClose(`matmulBackward dx ${dtype}`, await gpu.readF32(dx.buffer, 0, T * IC), want, { floor: 0.1 });
            }
          }
        },
        { maxBindingBytes: 64 * bytesPerOutput(dtype, dtype.startsWith('q4') ? 56 : 45, 8) },
      );
    });
  }

  it('matmulBackward dw (LoRA weights): strided inputs, scaled, accumulating', async () => {
    await withGpu(async (gpu) => {
      for (const [OC, IC] of [[randInt(3, 9), randInt(30, 50)], [randInt(30, 50), randInt(3, 9)]]) {
        const T = randInt(5, 40);
        const W = randomTensor('f32', OC, IC);
        const w = uploadLinear(gpu, W, 'w', 'lora');
        const xStride = IC + 5;
        const doutStride = OC + 3;
        const x = rand(T * xStride);
        const dout = rand(T * doutStride);
        const init = rand(OC * IC);
        const dw = upload(gpu, init);
        await run(gpu, (rec) => matmulBackward(rec, null, dw, upload(gpu, dout), upload(gpu, x), w, T, { alpha: 0.75, xStride, xOffset: 2, doutStride, doutOffset: 1 }));
        const g = new Float32Array(OC * IC);
        cpu.matmulBackward(null, g, cols(dout, T, doutStride, 1, OC), cols(x, T, xStride, 2, IC), tensorToF32(W), T, IC, OC);
        const want = init.map((v, i) => v + 0.75 * g[i]);
        expectClose('matmulBackward dw', await gpu.readF32(dw.buffer, 0, OC * IC), want, { floor: 0.1 });
      }
    });
  });

  it('loraBackward: dx, dA, dB from a column range of the fused output, adding into what is there', async () => {
    await withGpu(async (gpu) => {
      const T = randInt(2, 19);
      const IC = randInt(20, 40);
      const OC = randInt(20, 40);
      const r = randInt(3, 9);
      const scale = 0.5;
      const a = rand(r * IC);
      const b = rand(OC * r);
      const lora = uploadLoraLinear(gpu, a, b, r, IC, OC, 'q');
      const xStride = IC + 3;
      const x = rand(T * xStride);
      const xs = cols(x, T, xStride, 1, IC);
      const xa = new Float32Array(T * r);
      cpu.matmulForward(xa, xs, a, null, T, IC, r);
      const doutStride = OC + 6;
      const dout = rand(T * doutStride);
      const dxInit = rand(T * xStride);
      const daInit = rand(r * IC);
      const dbInit = rand(OC * r);
      const dx = upload(gpu, dxInit);
      const da = upload(gpu, daInit);
      const db = upload(gpu, dbInit);
      await run(gpu, (rec) =>
        loraBackward(rec, dx, { a: da, b: db }, upload(gpu, dout), upload(gpu, x), upload(gpu, xa), zeros(gpu, T * r), lora, scale, T, { xStride, xOffset: 1, doutStride, doutOffset: 4 }),
      );
      const wantDx = cols(dxInit, T, xStride, 1, IC);
      const wantDa = daInit.slice();
      const wantDb = dbInit.slice();
      cpu.loraBackward(wantDx, wantDa, wantDb, cols(dout, T, doutStride, 4, OC), xs, xa, a, b, scale, T, IC, OC, r);
      expectClose('loraBackward', await gpu.readF32(dx.buffer, 0, T * xStride), setCols(dxInit, wantDx, T, xStride, 1, IC), { floor: 0.1 });
      expectClose('loraBackward', await gpu.readF32(da.buffer, 0, r * IC), wantDa, { floor: 0.1 });
      expectClose('loraBackward', await gpu.readF32(db.buffer, 0, OC * r), wantDb, { floor: 0.1 });
    });
  });

  it('ropeBackward rotates the q and k gradients back, with and without llama3 scaling', async () => {
    await withGpu(async (gpu) => {
      for (const ropeScaling of [null, { type: 'llama3' as const, factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64 }]) {
        const D = 2 * randInt(5, 12);
        const NH = 3;
        const NKV = 2;
        const T = randInt(3, 7);
        const stride = (NH + 2 * NKV) * D + 4;
        const invFreq = ropeInvFreq({ headDim: D, ropeTheta: 10000, ropeScaling });
        const maxPos = 3000;
        const positions = Uint32Array.from({ length: T }, () => randInt(0, maxPos - 1));
        const g = rand(T * stride);
        const buf = upload(gpu, g);
        const qOff = 4;
        const kOff = 4 + NH * D;
        await run(gpu, (rec) => ropeBackward(rec, buf, upload(gpu, positions), upload(gpu, ropeTable(invFreq, maxPos)), T, D, { stride, off0: qOff, n0: NH, off1: kOff, n1: NKV }));
        let want = g;
        for (const [off, n] of [[qOff, NH], [kOff, NKV]]) {
          const part = cols(g, T, stride, off, n * D);
          cpu.ropeBackward(part, positions, invFreq, T, n, D);
          want = setCols(want, part, T, stride, off, n * D);
        }
        expectClose('ropeBackward', await gpu.readF32(buf.buffer, 0, T * stride), want, { floor: 1e-2 });
      }
    });
  });

  for (const [NH, NKV] of [[4, 2], [6, 1], [3, 3], [12, 2]]) for (const subgroups of [true, false]) {
    it(`attentionBackward (NH ${NH}, NKV ${NKV}${subgroups ? ', quads' : ', without subgroups'}): three sequences as segments of one batch`, async () => {
      await withGpu(async (gpu) => {
        const D = 4 * randInt(2, 4);
        const lens = [randInt(1, 4), randInt(5, 12), randInt(2, 9)];
        const T = lens.reduce((a, b) => a + b, 0);
        const QD = NH * D;
        const KVD = NKV * D;
        const stride = QD + 2 * KVD + 8;
        const qOff = 4;
        const kOff = qOff + QD;
        const vOff = kOff + KVD;
        const qkv = rand(T * stride, 1.5);
        const datt = rand(T * QD);
        const segStart = new Uint32Array(T);
        const segEnd = new Uint32Array(T);
        const wantDq = new Float32Array(T * QD);
        const wantDk = new Float32Array(T * KVD);
        const wantDv = new Float32Array(T * KVD);
        let s0 = 0;
        for (const L of lens) {
          segStart.fill(s0, s0, s0 + L);
          segEnd.fill(s0 + L, s0, s0 + L);
          const seg = qkv.subarray(s0 * stride, (s0 + L) * stride);
          const q = cols(seg, L, stride, qOff, QD);
          const k = cols(seg, L, stride, kOff, KVD);
          const v = cols(seg, L, stride, vOff, KVD);
          const pos = Array.from({ length: L }, (_, i) => i);
          const out = new Float32Array(L * QD);
          const p = new Float32Array(NH * L * L);
          cpu.attentionForward(out, p, q, k, v, pos, L, L, NH, NKV, D);
          const dq = new Float32Array(L * QD);
          const dk = new Float32Array(L * KVD);
          const dv = new Float32Array(L * KVD);
          cpu.attentionBackward(dq, dk, dv, datt.subarray(s0 * QD, (s0 + L) * QD), q, k, v, p, pos, L, L, NH, NKV, D);
          wantDq.set(dq, s0 * QD);
          wantDk.set(dk, s0 * KVD);
          wantDv.set(dv, s0 * KVD);
          s0 += L;
        }
        const dqkv = zeros(gpu, T * stride);
        await run(gpu, (rec) =>
          attentionBackward(
            rec,
            dqkv,
            upload(gpu, datt),
            upload(gpu, qkv),
            { start: upload(gpu, segStart), end: upload(gpu, segEnd) },
            { lse: zeros(gpu, 2 * T * NH), delta: zeros(gpu, T * NH) },
            T,
            NH,
            NKV,
            D,
            { stride, qOff, kOff, vOff },
          ),
        );
        const got = await gpu.readF32(dqkv.buffer, 0, T * stride);
        // dk and dv sum over every later query of the segment and every head of the group (up to
        // ~70 terms here), with cancellation in dp − Δ: f32 leaves ~2e-7 on values of rms 0.1..1,
        // up to ~4.4e-5 of the 1e-2 floor (measured over 12 runs of these 8 cases).
        const tol = { floor: 1e-2, rtol: 1e-4 };
        expectClose('attentionBackward', cols(got, T, stride, qOff, QD), wantDq, tol);
        expectClose('attentionBackward', cols(got, T, stride, kOff, KVD), wantDk, tol);
        expectClose('attentionBackward', cols(got, T, stride, vOff, KVD), wantDv, tol);
        expect(cols(got, T, stride, 0, qOff).every((x) => x === 0)).toBe(true); // other columns untouched
      }, { subgroups });
    });
  }

  it('swigluBackward writes the gate and up gradients in the fused layout (set and accumulate)', async () => {
    await withGpu(async (gpu) => {
      const T = randInt(2, 6);
      const I = randInt(50, 90);
      const gu = rand(T * 2 * I, 6);
      const dout = rand(T * I);
      const gate = cols(gu, T, 2 * I, 0, I);
      const up = cols(gu, T, 2 * I, I, I);
      for (const accumulate of [false, true]) {
        const init = accumulate ? rand(T * 2 * I) : new Float32Array(T * 2 * I);
        const dgu = upload(gpu, init);
        await run(gpu, (rec) => swigluBackward(rec, dgu, upload(gpu, dout), upload(gpu, gu), T, I, { accumulate }));
        const dg = cols(init, T, 2 * I, 0, I);
        const du = cols(init, T, 2 * I, I, I);
        cpu.swigluBackward(dg, du, dout, gate, up, T * I);
        const want = setCols(setCols(init, dg, T, 2 * I, 0, I), du, T, 2 * I, I, I);
        // silu'(g) = σ(g)·(1 + g·σ(−g)) cancels near g ≈ −1.28, and the products dout·silu'(g)·up
        // reach ~6: an ulp or two of those (~1e-6 absolute) is what f32 leaves, so a floor of 0.1.
        expectClose('swigluBackward', await gpu.readF32(dgu.buffer, 0, T * 2 * I), want, { floor: 0.1 });
      }
    });
  });

  it('addBackward adds the gradient into both inputs', async () => {
    await withGpu(async (gpu) => {
      const n = randInt(1000, 5000);
      const [a0, b0, dout] = [rand(n), rand(n), rand(n)];
      const [da, db] = [upload(gpu, a0), upload(gpu, b0)];
      await run(gpu, (rec) => addBackward(rec, da, db, upload(gpu, dout), n));
      const [wa, wb] = [a0.slice(), b0.slice()];
      cpu.addBackward(wa, wb, dout, n);
      expectClose('addBackward', await gpu.readF32(da.buffer, 0, n), wa, { rtol: 0 });
      expectClose('addBackward', await gpu.readF32(db.buffer, 0, n), wb, { rtol: 0 });
    });
  });

  it('crossEntropyForward and crossEntropyBackward (out of place accumulating, and in place over the logits)', async () => {
    await withGpu(async (gpu) => {
      const N = randInt(3, 11);
      const V = randInt(101, 400);
      const logits = rand(N * V, 8);
      const targets = Uint32Array.from({ length: N }, () => randInt(0, V - 1));
      targets[0] = V - 1;
      const [losses, lse] = [zeros(gpu, N), zeros(gpu, 2 * N)];
      const lb = upload(gpu, logits);
      const tb = upload(gpu, targets);
      await run(gpu, (rec) => crossEntropyForward(rec, losses, lse, lb, tb, N, V));
      const [wl, wlse] = [new Float32Array(N), new Float32Array(N)];
      cpu.crossEntropyForward(wl, wlse, logits, targets, N, V);
      expectClose('crossEntropyForward', await gpu.readF32(losses.buffer, 0, N), wl, { floor: 1e-2 });
      const ms = await gpu.readF32(lse.buffer, 0, 2 * N); // (max, Σ exp(x − max)) per row
      expectClose('crossEntropyForward', Float32Array.from({ length: N }, (_, n) => ms[2 * n] + Math.log(ms[2 * n + 1])), wlse, { floor: 1e-2 });

      const dlosses = rand(N);
      const init = rand(N * V);
      const dl = upload(gpu, init);
      await run(gpu, (rec) => crossEntropyBackward(rec, dl, upload(gpu, dlosses), lb, lse, tb, N, V, { accumulate: true }));
      const want = init.slice();
      cpu.crossEntropyBackward(want, dlosses, logits, wlse, targets, N, V);
      // Accumulating onto values of magnitude ~1 costs up to an ulp of 1 (1.2e-7) wherever the sum
      // cancels, so the floor is that of the operands, as for matmul.
      expectClose('crossEntropyBackward', await gpu.readF32(dl.buffer, 0, N * V), want, { floor: 0.1 });

      await run(gpu, (rec) => crossEntropyBackward(rec, lb, upload(gpu, dlosses), lb, lse, tb, N, V));
      const wantIn = new Float32Array(N * V);
      cpu.crossEntropyBackward(wantIn, dlosses, logits, wlse, targets, N, V);
      expectClose('crossEntropyBackward', await gpu.readF32(lb.buffer, 0, N * V), wantIn, { floor: 1e-3 });
    });
  });
});

describe('the twin table', () => {
  it('every backward twin and cross-entropy in GPU_OPS was measured above', () => {
    const backward = Object.keys(GPU_OPS).filter((k) => k.endsWith('Backward') || k.startsWith('crossEntropy'));
    expect(backward.length).toBe(9);
    for (const k of backward) expect(Object.keys(measured).some((m) => m.startsWith(k)), k).toBe(true);
  });
});
