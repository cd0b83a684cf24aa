import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../../src/backends/cpu';
import { CpuModel } from '../../../src/engine/cpu/model';
import { memorySource } from '../../../src/engine/load/files';
import { loadModel } from '../../../src/engine/load/model';
import { LINEAR_NAMES } from '../../../src/engine/model/weights';
import { tinyMlcFiles } from '../../../src/engine/tiny/tiny';
import { randomArray, rng } from '../engine/random';

const loaded = await loadModel(memorySource(tinyMlcFiles({ arch: 'qwen2', quantization: 'q4f32_1', seed: 9 })));
const model = new CpuModel(loaded.weights);
const tok = loaded.tokenizer;
const messages = [{ role: 'user' as const, content: 'Write a short poem about the sea.' }];
const greedy = { temperature: 0, topP: 1, maxTokens: 12 };

describe('CPU backend', () => {
  it('generates n samples with the chat template, streaming exactly the final text', async () => {
    const b = new CpuBackend(model, tok);
    const streamed: Record<string, string> = {};
    const [[g0, g1, g2]] = await b.generate([{ messages, n: 3, sampling: { temperature: 1, topP: 0.95, maxTokens: 10, seed: 7 } }], {
      onText: (r, s, d) => (streamed[`${r}:${s}`] = (streamed[`${r}:${s}`] ?? '') + d),
    });
    for (const [i, g] of [g0, g1, g2].entries()) expect(streamed[`0:${i}`] ?? '').toBe(g.text);
    // Sample i uses seed + i: the same as asking for one sample with that seed.
    const [[alone]] = await b.generate([{ messages, n: 1, sampling: { temperature: 1, topP: 0.95, maxTokens: 10, seed: 9 } }]);
    expect(alone).toEqual(g2);
    // And the text is what the model generated from the templated prompt.
    const prompt = tok.encodeChat(messages, { addGenerationPrompt: true });
    const [seq] = model.generate(prompt, { temperature: 1, topP: 0.95, maxTokens: 10, seed: 7, stopTokens: tok.eosTokenIds });
    expect(g0.text).toBe(tok.decode(seq.tokens));
    expect(g0.tokens).toBe(seq.tokens.length);
    expect(g0.finishReason).toBe(seq.finishReason);
  });

  it('ends at a stop string (not included) and holds back text that may start one', async () => {
    const b = new CpuBackend(model, tok);
    const [[free]] = await b.generate([{ messages, n: 1, sampling: greedy }]);
    expect(free.text.length).toBeGreaterThan(6);
    const stop = free.text.slice(4, 7);
    const streamed: string[] = [];
    const [[cut]] = await b.generate([{ messages, n: 1, sampling: { ...greedy, stop: ['zzzz-never', stop] } }], { onText: (_r, _s, d) => streamed.push(d) });
    expect(cut.text).toBe(free.text.slice(0, free.text.indexOf(stop)));
    expect(cut.finishReason).toBe('stop');
    expect(streamed.join('')).toBe(cut.text);
    expect(streamed.join('').includes(stop)).toBe(false);
  });

  it('scores responses and reads verdict labels as log-probabilities', async () => {
    const b = new CpuBackend(model, tok);
    const [s] = await b.score!([{ messages, response: 'The sea is blue.' }]);
    // The response is scored as a whole turn: its text and the template's end of turn.
    const turn = tok.encode('The sea is blue.<|im_end|>\n');
    const expected = model.score(tok.encodeChat(messages, { addGenerationPrompt: true }), turn);
    expect(s.logprob).toBeCloseTo(expected.logprob, 5);
    expect(s.tokens).toBe(turn.length);
    expect(turn.slice(-2)).toEqual([2, tok.encode('\n')[0]]);
    expect(s.logprob).toBeLessThan(0);
    const [v] = await b.verdict!([{ messages, prefix: 'Judgment:', labels: [' Yes', ' No'] }]);
    const lp = model.nextTokenLogprobs(tok.encode(tok.applyChatTemplate(messages, { addGenerationPrompt: true }) + 'Judgment:'));
    expect(v.logprobs).toEqual([lp[tok.encode(' Yes')[0]], lp[tok.encode(' No')[0]]]);
  });

  it('applies its adapters to every call; the base view stays the base', async () => {
    const m = new CpuModel(loaded.weights);
    const dims = m.linearDims();
    const r = rng(3);
    m.setAdapter({
      name: 'actor',
      rank: 2,
      alpha: 4,
      scale: 2,
      targets: [...LINEAR_NAMES],
      layers: loaded.weights.layers.map(() => Object.fromEntries(LINEAR_NAMES.map((n) => [n, { a: randomArray(2 * dims[n][1], r, 0.5), b: randomArray(dims[n][0] * 2, r, 0.5) }]))),
    });
    const base = new CpuBackend(m, tok);
    const actor = new CpuBackend(m, tok, { adapters: ['actor'] });
    expect(actor.info.label).toMatch(/actor/);
    const req = [{ messages, response: 'The sea.' }];
    const [a] = await actor.score!(req);
    const [z] = await base.score!(req);
    expect(a.logprob).not.toBeCloseTo(z.logprob, 3);
    expect((await new CpuBackend(model, tok).score!(req))[0].logprob).toBeCloseTo(z.logprob, 5);
  });

  it('cancels when the signal is aborted, before or during generation', async () => {
    const b = new CpuBackend(model, tok);
    const ctl = new AbortController();
    ctl.abort();
    await expect(b.generate([{ messages, n: 1, sampling: greedy }], { signal: ctl.signal })).rejects.toMatchObject({ kind: 'cancelled' });
    const ctl2 = new AbortController();
    await expect(b.generate([{ messages, n: 2, sampling: { ...greedy, maxTokens: 50 } }], { signal: ctl2.signal, onText: () => ctl2.abort() })).rejects.toMatchObject({ kind: 'cancelled' });
  });
});
