import { afterAll, describe, it } from 'vitest';
import * as cpu from '../../../../src/engine/cpu/ops';
import { ropeInvFreq } from '../../../../src/engine/model/config';
import { addForward } from '../../../../src/engine/gpu/add';
import { embeddingForward } from '../../../../src/engine/gpu/embedding';
import { bytesPerOutput, formatOf, uploadLinear } from '../../../../src/engine/gpu/linear';
import { tensorToF32 } from '../../../../src/engine/model/dtypes';
import { rmsnormForward } from '../../../../src/engine/gpu/rmsnorm';
import { ropeForward, ropeTable } from '../../../../src/engine/gpu/rope';
import { swigluForward } from '../../../../src/engine/gpu/swiglu';
import { expectClose, printMeasured, rand, randInt, run, upload, withGpu, zeros } from '../../../helpers/gpu';
import { TEST_DTYPES, randomTensor } from '../../../helpers/tensors';

afterAll(printMeasured);

describe('embedding, RMSNorm, RoPE, SwiGLU, add against the CPU reference', () => {
  it('embeddingForward gathers rows of every dtype, also from a table split across bindings', async () => {
    for (const dtype of TEST_DTYPES) {
      const V = randInt(101, 157);
      const C = dtype.startsWith('q4') ? 8 * randInt(3, 6) : randInt(17, 40);
      const E = randomTensor(dtype, V, C, 1, 8);
      // Unlimited, then slices of 64 rows (two panels).
      for (const maxBindingBytes of [Infinity, 64 * bytesPerOutput(formatOf(E), C, 8)]) {
        await withGpu(
          async (gpu) => {
            const wte = uploadLinear(gpu, E, 'embed');
            if (maxBindingBytes < Infinity && wte.slices.length < 2) throw new Error('expected a split table');
            const tokens = Uint32Array.from({ length: randInt(5, 11) }, () => randInt(0, V - 1));
            tokens[0] = V - 1;
            const T = tokens.length;
            const out = zeros(gpu, T * C);
            await run(gpu, (rec) => embeddingForward(rec, out, upload(gpu, tokens), wte, T));
            const want = new Float32Array(T * C);
            cpu.embeddingForward(want, tokens, tensorToF32(E), C);
            expectClose(`embedding ${dtype}${maxBindingBytes < Infinity ? ' split' : ''}`, await gpu.readF32(out.buffer, 0, T * C), want, { rtol: 0 });
          },
          { maxBindingBytes },
        );
      }
    }
  });

  for (const subgroups of [true, false]) it(`rmsnormForward, also gathering selected rows${subgroups ? ' (subgroup sums)' : ' (without subgroups)'}`, async () => {
    await withGpu(async (gpu) => {
      const T = randInt(3, 9);
      const C = randInt(70, 150);
      const eps = 1e-5;
      const x = rand(T * C, 3);
      const w = rand(C);
      const out = zeros(gpu, T * C);
      await run(gpu, (rec) => rmsnormForward(rec, out, upload(gpu, x), upload(gpu, w), T, C, eps));
      const want = new Float32Array(T * C);
      cpu.rmsnormForward(want, null, x, w, T, C, eps);
      expectClose('rmsnorm', await gpu.readF32(out.buffer, 0, T * C), want);

      const rows = Uint32Array.from([T - 1, 0, 1]);
      const g = zeros(gpu, 3 * C);
      await run(gpu, (rec) => rmsnormForward(rec, g, upload(gpu, x), upload(gpu, w), 3, C, eps, upload(gpu, rows)));
      const wantG = new Float32Array(3 * C);
      rows.forEach((r, i) => wantG.set(want.subarray(r * C, r * C + C), i * C));
      expectClose('rmsnorm', await gpu.readF32(g.buffer, 0, 3 * C), wantG);
    }, { subgroups });
  });

  it('ropeForward rotates q and k head ranges in place, with and without llama3 scaling', async () => {
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
        const x = rand(T * stride);
        const buf = upload(gpu, x);
        const qOff = 4;
        const kOff = 4 + NH * D;
        await run(gpu, (rec) =>
          ropeForward(rec, buf, upload(gpu, positions), upload(gpu, ropeTable(invFreq, maxPos)), T, D, { stride, off0: qOff, n0: NH, off1: kOff, n1: NKV }),
        );
        const want = x.slice();
        for (const [off, n] of [[qOff, NH], [kOff, NKV]]) {
          const part = new Float32Array(T * n * D);
          for (let t = 0; t < T; t++) part.set(x.subarray(t * stride + off, t * stride + off + n * D), t * n * D);
          cpu.ropeForward(part, positions, invFreq, T, n, D);
          for (let t = 0; t < T; t++) want.set(part.subarray(t * n * D, (t + 1) * n * D), t * stride + off);
        }
        expectClose('rope', await gpu.readF32(buf.buffer, 0, T * stride), want, { floor: 1e-2 });
      }
    });
  });

  for (const aligned of [true, false]) it(`swigluForward reads gate and up from the fused projection (${aligned ? 'vec4s' : 'scalars'})`, async () => {
    await withGpu(async (gpu) => {
      const T = randInt(2, 6);
      const I = aligned ? 4 * randInt(13, 22) : 4 * randInt(13, 22) + randInt(1, 3);
      const gu = rand(T * 2 * I, 6);
      const out = zeros(gpu, T * I);
      await run(gpu, (rec) => swigluForward(rec, out, upload(gpu, gu), T, I));
      const gate = new Float32Array(T * I);
      const up = new Float32Array(T * I);
      for (let t = 0; t < T; t++) {
        gate.set(gu.subarray(t * 2 * I, t * 2 * I + I), t * I);
        up.set(gu.subarray(t * 2 * I + I, (t + 1) * 2 * I), t * I);
      }
      const want = new Float32Array(T * I);
      cpu.swigluForward(want, gate, up, T * I);
      expectClose('swiglu', await gpu.readF32(out.buffer, 0, T * I), want, { floor: 1e-3 });
    });
  });

  it('addForward', async () => {
    await withGpu(async (gpu) => {
      const n = randInt(1000, 5000);
      const a = rand(n);
      const b = rand(n);
      const out = zeros(gpu, n);
      await run(gpu, (rec) => addForward(rec, out, upload(gpu, a), upload(gpu, b), n));
      const want = new Float32Array(n);
      cpu.addForward(want, a, b, n);
      expectClose('add', await gpu.readF32(out.buffer, 0, n), want, { rtol: 0 });
    });
  });
});
