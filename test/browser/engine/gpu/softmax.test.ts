import { afterAll, describe, expect, it } from 'vitest';
import * as cpu from '../../../../src/engine/cpu/ops';
import { sampleToken as cpuSample } from '../../../../src/engine/cpu/sample';
import { gatherLogprobs, logSoftmaxForward, softmaxForward } from '../../../../src/engine/gpu/softmax';
import { packSampleParams, sampleToken, type SampleRowParams } from '../../../../src/engine/gpu/sample';
import { expectClose, printMeasured, rand, randInt, run, upload, withGpu, zeros } from '../../../helpers/gpu';

afterAll(printMeasured);

describe('softmax, log-softmax, log-prob gathering and sampling against the CPU reference', () => {
  it('softmaxForward (with temperature) and logSoftmaxForward', async () => {
    await withGpu(async (gpu) => {
      const R = randInt(2, 5);
      const V = randInt(300, 1300);
      const logits = rand(R * V, 8);
      const x = upload(gpu, logits);
      for (const temperature of [1, 0.7]) {
        const out = zeros(gpu, R * V);
        await run(gpu, (rec) => softmaxForward(rec, out, x, R, V, temperature));
        const want = new Float32Array(R * V);
        cpu.softmaxForward(want, logits, R, V, temperature);
        expectClose('softmax', await gpu.readF32(out.buffer, 0, R * V), want, { floor: 1e-30 });
      }
      const out = zeros(gpu, R * V);
      await run(gpu, (rec) => logSoftmaxForward(rec, out, x, R, V));
      const want = new Float32Array(R * V);
      cpu.logSoftmaxForward(want, logits, R, V);
      expectClose('log-softmax', await gpu.readF32(out.buffer, 0, R * V), want);

      // Gathered log-probs of chosen (row, token) pairs.
      const N = 7;
      const rows = Uint32Array.from({ length: N }, () => randInt(0, R - 1));
      const targets = Uint32Array.from({ length: N }, () => randInt(0, V - 1));
      const g = zeros(gpu, N);
      await run(gpu, (rec) => gatherLogprobs(rec, g, x, upload(gpu, rows), upload(gpu, targets), N, V));
      const wantG = Float32Array.from(rows, (r, i) => want[r * V + targets[i]]);
      expectClose('gather-logprobs', await gpu.readF32(g.buffer, 0, N), wantG);
    });
  });

  for (const peaked of [true, false]) for (const subgroups of [true, false]) it(`sampleToken picks the same ids as cpu/sample.ts (greedy, temperature, top-p, seeds; ${peaked ? 'peaked' : 'flat'} rows; ${subgroups ? 'one subgroup per row where subgroups are narrow' : 'workgroup reductions'})`, async () => {
    await withGpu(async (gpu) => {
      const V = peaked ? randInt(500, 1100) : randInt(3000, 9000);
      const cases: SampleRowParams[] = [];
      for (const temperature of [0, 0.6, 1, 1.3]) {
        for (const topP of [1, 0.9, 0.5, 0.05]) {
          for (let k = 0; k < 3; k++) cases.push({ temperature, topP, seed: randInt(0, 2 ** 31), step: randInt(0, 500) });
        }
      }
      const R = cases.length;
      // Peaked rows, like real logits: a few large values over a flat background; or flat ones,
      // like the random bench model's, where the nucleus holds most of the vocabulary.
      const logits = rand(R * V, peaked ? 3 : 1);
      if (peaked) for (let r = 0; r < R; r++) for (let j = 0; j < 5; j++) logits[r * V + randInt(0, V - 1)] += 6;
      logits[V + 7] = logits[V + 9] = 50; // a tie for greedy on row 1
      cases[1].temperature = 0;
      const ids = upload(gpu, new Uint32Array(R));
      await run(gpu, (rec) => sampleToken(rec, ids, upload(gpu, logits), upload(gpu, packSampleParams(cases)), R, V));
      const got = Array.from(await gpu.readU32(ids.buffer, 0, R));
      const want = cases.map((c, r) => cpuSample(logits.subarray(r * V, (r + 1) * V), c.temperature, c.topP, c.seed, c.step));
      expect(got).toEqual(want);
      expect(got[1]).toBe(7);
    }, { subgroups });
  });
});
