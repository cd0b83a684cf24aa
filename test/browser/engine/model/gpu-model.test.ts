import { afterAll, describe, expect, it } from 'vitest';
import { CpuModel } from '../../../../src/engine/cpu/model';
import { GpuModel, estimateGpuBytes } from '../../../../src/engine/model/gpu-model';
import { generate, score } from '../../../../src/engine/model/generate';
import { expectClose, printMeasured, withGpu } from '../../../helpers/gpu';
import { ALL_FORMATS, formatName, loadTiny, randomAdapter } from '../../../helpers/models';

afterAll(printMeasured);

const PROMPT = [5, 17, 200, 3, 99, 42, 310, 7, 7, 150, 64, 1, 250];

/** Relative error floor for logits near zero: 5% of the logits' rms (rms ≈ 2 for the tiny models). */
function logitFloor(want: Float32Array): number {
  let ss = 0;
  for (const v of want) ss += v * v;
  return 0.05 * Math.sqrt(ss / want.length);
}

describe('GPU model forward against the CPU reference', () => {
  for (const arch of ['llama', 'qwen2'] as const) {
    it(`${arch}: logits of every position, every format (q4 included), within 1e-4`, async () => {
      await withGpu(async (gpu) => {
        for (const f of ALL_FORMATS) {
          const { weights } = await loadTiny(f, { arch });
          const cpu = new CpuModel(weights);
          const want = cpu.forward(cpu.newCache(), PROMPT, { logits: 'all' }).logits;
          // maxRows 5: the prompt runs as three chunks, later ones attending to the cached ones.
          const model = await GpuModel.load(gpu, weights, { maxRows: 5, pageSize: 4 });
          // The estimate made from the config alone (before a download) matches what was uploaded.
          const fmt = f.format === 'hf' ? (f.dtype === 'f32' ? 'f32' : 'f16') : ({ q0f32: 'f32', q0f16: 'f16', q4f32_1: 'q4f32', q4f16_1: 'q4f16' } as const)[f.quantization];
          const est = estimateGpuBytes(weights.config, fmt, { contextLength: model.contextLength });
          const held = gpu.memoryReport().byCategory.weights;
          expect(Math.abs(held - est.weights) / held).toBeLessThan(0.02);
          const seq = model.kv.newSequence();
          const V = weights.config.vocabSize;
          const got = new Float32Array(PROMPT.length * V);
          for (let t0 = 0; t0 < PROMPT.length; t0 += 5) {
            const chunk = PROMPT.slice(t0, t0 + 5);
            const rows = chunk.map((token) => ({ seq, token }));
            got.set(await model.forward(rows, { kind: 'logits', rows: rows.map((_, i) => i) }), t0 * V);
          }
          expectClose(`forward ${arch} ${formatName(f)}`, got, want, { rtol: 1e-4, floor: logitFloor(want) });
          model.kv.release(seq);
          expect(model.kv.pagesInUse).toBe(0);
          model.destroy();
        }
        // Everything the models held is given back.
        expect(gpu.memoryReport().totalBytes).toBe(0);
      });
    });
  }

  it('LoRA adapters: several named over one base, each enabled per call', async () => {
    await withGpu(async (gpu) => {
      const { weights } = await loadTiny({ format: 'mlc', quantization: 'q4f16_1' }, { arch: 'qwen2' });
      const cpu = new CpuModel(weights);
      const actor = randomAdapter(weights.config, 'actor', 1, 4);
      const refiner = randomAdapter(weights.config, 'refiner', 2, 8);
      cpu.setAdapter(actor);
      cpu.setAdapter(refiner);
      const model = await GpuModel.load(gpu, weights);
      await model.setAdapter(actor);
      await model.setAdapter(refiner);
      const V = weights.config.vocabSize;
      const rowsOf = (seq: ReturnType<typeof model.kv.newSequence>) => PROMPT.map((token) => ({ seq, token }));
      for (const adapters of [[], ['actor'], ['refiner'], ['actor', 'refiner']]) {
        const seq = model.kv.newSequence();
        const rows = rowsOf(seq);
        const got = await model.forward(rows, { kind: 'logits', rows: [0, 6, PROMPT.length - 1] }, { adapters });
        model.kv.release(seq);
        const all = cpu.forward(cpu.newCache(), PROMPT, { logits: 'all', adapters }).logits;
        const want = new Float32Array(3 * V);
        [0, 6, PROMPT.length - 1].forEach((r, i) => want.set(all.subarray(r * V, (r + 1) * V), i * V));
        expectClose('forward with LoRA', got, want, { rtol: 1e-4, floor: logitFloor(want) });
      }
      const before = gpu.memoryReport().byCategory.lora;
      model.removeAdapter('refiner');
      expect(gpu.memoryReport().byCategory.lora).toBeLessThan(before);
      await expect(model.forward([{ seq: model.kv.newSequence(), token: 1 }], { kind: 'none' }, { adapters: ['refiner'] })).rejects.toThrow(/No adapter "refiner"/);
      model.destroy();
    });
  });
});

describe('GPU generation and scoring', () => {
  it('greedy generation produces the same tokens as the CPU reference (both architectures)', async () => {
    await withGpu(async (gpu) => {
      for (const arch of ['llama', 'qwen2'] as const) {
        const { weights } = await loadTiny({ format: 'hf', dtype: 'f32' }, { arch });
        const cpu = new CpuModel(weights);
        const model = await GpuModel.load(gpu, weights);
        const opts = { temperature: 0, maxTokens: 12, stopTokens: [] };
        const [[got]] = await generate(model, [{ prompt: PROMPT, ...opts }]);
        const [want] = cpu.generate(PROMPT, opts);
        expect(got.tokens).toEqual(want.tokens);
        expect(got.finishReason).toBe('length');
        model.destroy();
      }
    });
  });

  it('batched generation of 8 sequences equals 8 single generations with the same seeds, and matches the CPU', async () => {
    await withGpu(async (gpu) => {
      const { weights } = await loadTiny({ format: 'mlc', quantization: 'q4f32_1' }, { arch: 'llama' });
      const model = await GpuModel.load(gpu, weights, { pageSize: 4 });
      const job = { prompt: PROMPT, temperature: 1, topP: 0.9, maxTokens: 10, seed: 1234, stopTokens: [] };
      let pagesAtFirstToken = -1;
      const [batched] = await generate(model, [
        {
          ...job,
          n: 8,
          onToken: (_i, _t, toks) => {
            if (toks.length === 1 && pagesAtFirstToken < 0) pagesAtFirstToken = model.kv.pagesInUse;
          },
        },
      ]);
      // 13 prompt tokens: 3 full pages of 4 shared by all 8 samples, plus one private page each.
      expect(pagesAtFirstToken).toBe(3 + 8);
      for (let i = 0; i < 8; i++) {
        const [[single]] = await generate(model, [{ ...job, seed: job.seed + i }]);
        expect(batched[i].tokens).toEqual(single.tokens);
      }
      expect(new Set(batched.map((s) => s.tokens.join(','))).size).toBeGreaterThan(1);
      const want = new CpuModel(weights).generate(PROMPT, { ...job, n: 8 });
      expect(batched.map((s) => s.tokens)).toEqual(want.map((s) => s.tokens));
      expect(model.kv.pagesInUse).toBe(0);
      model.destroy();
    });
  });

  it('stops at stop tokens, at maxTokens, by callback; cancels with an AbortSignal and frees the cache', async () => {
    await withGpu(async (gpu) => {
      const { weights } = await loadTiny({ format: 'hf', dtype: 'f32' }, { arch: 'qwen2' });
      const model = await GpuModel.load(gpu, weights);
      const [[free]] = await generate(model, [{ prompt: PROMPT, temperature: 0, maxTokens: 8, stopTokens: [] }]);
      const stopAt = free.tokens[3];
      const firstIdx = free.tokens.indexOf(stopAt);
      const [[stopped], [byCallback], [short]] = await generate(model, [
        { prompt: PROMPT, temperature: 0, maxTokens: 8, stopTokens: [stopAt] },
        { prompt: PROMPT, temperature: 0, maxTokens: 8, stopTokens: [], onToken: (_i, _t, toks) => toks.length === 2 },
        { prompt: PROMPT, temperature: 0, maxTokens: 3, stopTokens: [] },
      ]);
      expect(stopped).toEqual({ tokens: free.tokens.slice(0, firstIdx + 1), finishReason: 'stop' });
      expect(byCallback).toEqual({ tokens: free.tokens.slice(0, 2), finishReason: 'stop' });
      expect(short).toEqual({ tokens: free.tokens.slice(0, 3), finishReason: 'length' });

      const ac = new AbortController();
      const err = await generate(model, [{ prompt: PROMPT, n: 4, temperature: 1, maxTokens: 50, stopTokens: [], onToken: (_i, _t, toks) => void (toks.length === 3 && ac.abort()) }], { signal: ac.signal }).catch((e: unknown) => e);
      expect((err as { kind?: string }).kind).toBe('cancelled');
      expect(model.kv.pagesInUse).toBe(0);
      model.destroy();
    });
  });

  it('scores responses (batched, shared prompts) like the CPU reference', async () => {
    await withGpu(async (gpu) => {
      const { weights } = await loadTiny({ format: 'mlc', quantization: 'q4f16_1' }, { arch: 'qwen2' });
      const cpu = new CpuModel(weights);
      const adapter = randomAdapter(weights.config, 'actor', 9);
      cpu.setAdapter(adapter);
      const model = await GpuModel.load(gpu, weights, { maxRows: 8 });
      await model.setAdapter(adapter);
      const jobs = [
        { prompt: PROMPT, response: [4, 8, 15, 16, 23, 42] },
        { prompt: PROMPT, response: [100, 200, 300, 1, 2, 3, 4, 5, 6, 7, 8] },
        { prompt: [9, 8, 7], response: [1] },
        { prompt: [9, 8, 7], response: [] },
      ];
      for (const adapters of [[], ['actor']]) {
        const got = await score(model, jobs, { adapters });
        jobs.forEach((j, i) => {
          const want = cpu.score(j.prompt, j.response, adapters);
          expectClose('score token logprobs', got[i].tokenLogprobs, want.tokenLogprobs, { rtol: 1e-4, floor: 1e-2 });
          expectClose('score sum', [got[i].logprob], [want.logprob], { rtol: 1e-4, floor: 1e-2 });
        });
      }
      expect(model.kv.pagesInUse).toBe(0);
      model.destroy();
    });
  });
});
