import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../../src/backends/cpu';
import { LabEngine } from '../../../src/backends/lab';
import type { GenerateRequest } from '../../../src/backends/types';
import { CpuModel } from '../../../src/engine/cpu/model';
import { LabError } from '../../../src/errors';
import { loadTiny, randomAdapter } from '../../helpers/models';

const requests: GenerateRequest[] = [
  { messages: [{ role: 'user', content: 'Write a short poem about the sea.' }], n: 3, sampling: { temperature: 0.8, topP: 0.95, maxTokens: 12, seed: 7 } },
  { messages: [{ role: 'user', content: 'List three colors.' }], n: 2, sampling: { temperature: 0, topP: 1, maxTokens: 10, stop: ['e'] } },
];

describe('lab engine backend (WebGPU) against the CPU backend', () => {
  it('generate, stream, score and verdict agree per adapter view; device loss is reported and recovered from', async () => {
    const { weights, tokenizer } = await loadTiny({ format: 'mlc', quantization: 'q4f16_1' }, { arch: 'qwen2' });
    const actor = randomAdapter(weights.config, 'actor', 3);
    const cpuModel = new CpuModel(weights);
    cpuModel.setAdapter(actor);
    const engine = await LabEngine.create(weights, tokenizer, { modelName: 'tiny' });
    try {
      await engine.setAdapter(actor);
      for (const adapters of [[], ['actor']]) {
        const lab = engine.view({ adapters, role: adapters.length ? 'actor' : 'base' });
        const cpu = new CpuBackend(cpuModel, tokenizer, { adapters });
        expect(lab.info.kind).toBe('lab');
        const streamed: Record<string, string> = {};
        const got = await lab.generate(requests, { onText: (r, i, d) => void (streamed[`${r}/${i}`] = (streamed[`${r}/${i}`] ?? '') + d) });
        const want = await cpu.generate(requests);
        expect(got).toEqual(want);
        got.forEach((samples, r) => samples.forEach((g, i) => expect(streamed[`${r}/${i}`] ?? '').toBe(g.text)));
        expect(got[1].every((g) => !g.text.includes('e'))).toBe(true);

        const scoreReqs = [
          { messages: requests[0].messages, response: 'The sea is wide.' },
          { messages: requests[0].messages, response: 'Blue.' },
        ];
        const s = await lab.score!(scoreReqs);
        const sw = await cpu.score!(scoreReqs);
        s.forEach((x, i) => {
          expect(x.tokens).toBe(sw[i].tokens);
          expect(Math.abs(x.logprob - sw[i].logprob)).toBeLessThan(1e-4 * Math.max(1, Math.abs(sw[i].logprob)));
        });
        const vr = [{ messages: requests[1].messages, prefix: 'Verdict:', labels: ['Yes', 'No'] }];
        const v = await lab.verdict!(vr);
        const vw = await cpu.verdict!(vr);
        v[0].logprobs.forEach((lp, i) => expect(Math.abs(lp - vw[0].logprobs[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(vw[0].logprobs[i]))));
      }
      expect(() => engine.view({ adapters: ['nope'] })).toThrow(/No adapter "nope"/);
      const mem = engine.memoryReport();
      expect(mem.byCategory.weights).toBeGreaterThan(0);
      expect(mem.byCategory.lora).toBeGreaterThan(0);
      expect(mem.byCategory['kv-cache']).toBeGreaterThan(0);

      // Device loss: a clear error, then recovery on a new device with the adapters back.
      const actorView = engine.view({ adapters: ['actor'] });
      const before = await actorView.generate([requests[0]]);
      const lost: string[] = [];
      engine.onDeviceLost((m) => lost.push(m));
      (engine.gpuModel.gpu.device as GPUDevice).destroy();
      await new Promise((r) => setTimeout(r, 50));
      expect(lost.length).toBe(1);
      const err = await actorView.generate([requests[0]]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LabError);
      expect((err as LabError).kind).toBe('device-lost');
      await engine.recover();
      expect(await actorView.generate([requests[0]])).toEqual(before);
    } finally {
      engine.destroy();
    }
  });

  it('cancels a call with an AbortSignal', async () => {
    const { weights, tokenizer } = await loadTiny({ format: 'hf', dtype: 'f32' }, { arch: 'llama' });
    const engine = await LabEngine.create(weights, tokenizer);
    try {
      const ac = new AbortController();
      const view = engine.view();
      const err = await view
        .generate([{ ...requests[0], sampling: { ...requests[0].sampling, maxTokens: 100 } }], { signal: ac.signal, onText: () => ac.abort() })
        .catch((e: unknown) => e);
      expect((err as LabError).kind).toBe('cancelled');
      expect(engine.gpuModel.kv.pagesInUse).toBe(0);
    } finally {
      engine.destroy();
    }
  });
});
