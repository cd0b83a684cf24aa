import { afterAll, describe, it } from 'vitest';
import { loraForward as cpuLora, matmulForward as cpuMatmul } from '../../../../src/engine/cpu/ops';
import { loraForward, uploadLoraLinear } from '../../../../src/engine/gpu/lora';
import { matmulForward } from '../../../../src/engine/gpu/matmul';
import { bytesPerOutput, formatOf, uploadLinear } from '../../../../src/engine/gpu/linear';
import { tensorToF32 } from '../../../../src/engine/model/dtypes';
import { expectClose, printMeasured, rand, randInt, run, upload, withGpu, zeros } from '../../../helpers/gpu';
import { TEST_DTYPES, randomTensor } from '../../../helpers/tensors';

afterAll(printMeasured);

describe('matmulForward (tiled matmul and decode GEMV) against the CPU reference', () => {
  for (const dtype of TEST_DTYPES) for (const subgroups of [true, false]) {
    it(`${dtype}${subgroups ? ' (quad broadcasts where the adapter has subgroups)' : ' (without subgroups)'}: prefill and decode shapes, bias, not multiples of the tile`, async () => {
      await withGpu(async (gpu) => {
        const IC = dtype.startsWith('q4') ? 16 * randInt(2, 4) : randInt(29, 45); // q4 groups of 16 must tile IC
        const OC = randInt(33, 61);
        const W = randomTensor(dtype, OC, IC, 0.5, 16);
        const wf = tensorToF32(W);
        const bias = rand(OC);
        const w = uploadLinear(gpu, W, 'w');
        const bBuf = upload(gpu, bias);
        for (const T of [1, 3, 16, randInt(17, 23)]) {
          const x = rand(T * IC);
          const out = zeros(gpu, T * OC);
          const withBias = T % 2 === 1;
          await run(gpu, (rec) => matmulForward(rec, out, upload(gpu, x), w, T, { bias: withBias ? bBuf : null }));
          const want = new Float32Array(T * OC);
          cpuMatmul(want, x, wf, withBias ? bias : null, T, IC, OC);
          expectClose(`matmul ${dtype}`, await gpu.readF32(out.buffer, 0, T * OC), want, { floor: 0.1 });
        }
      }, { subgroups });
    });
  }

  it('writes into a column range of a wider output and accumulates with a scale (fused q|k|v, residual, LoRA B)', async () => {
    await withGpu(async (gpu) => {
      const T = 5;
      const IC = 19;
      const OC = 13;
      const W = randomTensor('f32', OC, IC);
      const w = uploadLinear(gpu, W, 'w');
      const xStride = IC + 6;
      const outStride = OC + 9;
      const x = rand(T * xStride);
      const base = rand(T * outStride);
      const out = upload(gpu, base);
      await run(gpu, (rec) => matmulForward(rec, out, upload(gpu, x), w, T, { accumulate: true, alpha: 0.75, xStride, xOffset: 4, outStride, outOffset: 7 }));
      const xs = new Float32Array(T * IC);
      for (let t = 0; t < T; t++) xs.set(x.subarray(t * xStride + 4, t * xStride + 4 + IC), t * IC);
      const y = new Float32Array(T * OC);
      cpuMatmul(y, xs, tensorToF32(W), null, T, IC, OC);
      const want = base.slice();
      for (let t = 0; t < T; t++) for (let o = 0; o < OC; o++) want[t * outStride + 7 + o] += 0.75 * y[t * OC + o];
      expectClose('matmul epilogue', await gpu.readF32(out.buffer, 0, T * outStride), want, { floor: 0.1 });
    });
  });

  it('splits a matrix across bindings when it exceeds the storage-binding limit', async () => {
    for (const dtype of TEST_DTYPES) {
      const IC = 32;
      const OC = 203;
      const W = randomTensor(dtype, OC, IC, 0.5, 16);
      await withGpu(
        async (gpu) => {
          const w = uploadLinear(gpu, W, 'w');
          if (w.slices.length < 3) throw new Error(`expected ≥ 3 slices, got ${w.slices.length}`);
          const T = 3;
          const x = rand(T * IC);
          const out = zeros(gpu, T * OC);
          await run(gpu, (rec) => matmulForward(rec, out, upload(gpu, x), w, T));
          const want = new Float32Array(T * OC);
          cpuMatmul(want, x, tensorToF32(W), null, T, IC, OC);
          expectClose(`matmul ${dtype} split`, await gpu.readF32(out.buffer, 0, T * OC), want, { floor: 0.1 });
        },
        { maxBindingBytes: 64 * bytesPerOutput(formatOf(W), IC, 16) }, // slices of two panels
      );
    }
  });
});

describe('loraForward against the CPU reference', () => {
  it('adds scale · (x·Aᵀ)·Bᵀ into a column range and keeps x·Aᵀ', async () => {
    await withGpu(async (gpu) => {
      const T = randInt(2, 9);
      const IC = randInt(20, 40);
      const OC = randInt(20, 40);
      const r = randInt(3, 9);
      const a = rand(r * IC);
      const b = rand(OC * r);
      const lora = uploadLoraLinear(gpu, a, b, r, IC, OC, 'q');
      const x = rand(T * IC);
      const outStride = OC + 5;
      const base = rand(T * outStride);
      const out = upload(gpu, base);
      const xa = zeros(gpu, T * r);
      await run(gpu, (rec) => loraForward(rec, out, xa, upload(gpu, x), lora, 0.5, T, { outStride, outOffset: 3 }));
      const baseCols = new Float32Array(T * OC);
      for (let t = 0; t < T; t++) baseCols.set(base.subarray(t * outStride + 3, t * outStride + 3 + OC), t * OC);
      const wantXa = new Float32Array(T * r);
      cpuLora(baseCols, wantXa, x, a, b, 0.5, T, IC, OC, r);
      const want = base.slice();
      for (let t = 0; t < T; t++) want.set(baseCols.subarray(t * OC, (t + 1) * OC), t * outStride + 3);
      expectClose('lora', await gpu.readF32(out.buffer, 0, T * outStride), want, { floor: 0.1 });
      expectClose('lora', await gpu.readF32(xa.buffer, 0, T * r), wantXa, { floor: 0.1 });
    });
  });
});
