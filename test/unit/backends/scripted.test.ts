import { describe, expect, it } from 'vitest';
import { createScriptedBackend } from '../../../src/backends/scripted';
import type { GenerateRequest } from '../../../src/backends/types';
import { isCancelled } from '../../../src/errors';

const req = (content: string, n: number): GenerateRequest => ({ messages: [{ role: 'user', content }], n, sampling: { temperature: 1, topP: 1, maxTokens: 8 } });

describe('scripted backend', () => {
  it('answers from a function of the request and its position, and records every call', async () => {
    const b = createScriptedBackend({ generate: (r, at) => `${r.messages[0].content}:${at.call}/${at.request}/${at.sample}#${at.index} seen ${at.seen}` });
    const first = await b.generate([req('a', 2), req('b', 1)]);
    const second = await b.generate([req('a', 1)]);
    expect(first.map((g) => g.map((s) => s.text))).toEqual([['a:0/0/0#0 seen 0', 'a:0/0/1#1 seen 1'], ['b:0/1/0#2 seen 0']]);
    expect(second[0][0].text).toBe('a:1/0/0#3 seen 2');
    expect(first[0][0]).toMatchObject({ finishReason: 'stop', tokens: 3 });
    expect(b.calls.map((c) => [c.method, c.requests.length])).toEqual([['generate', 2], ['generate', 1]]);
    expect(b.generated).toHaveLength(4);
    expect(b.verdict).toBeUndefined();
  });

  it('offers verdict and score only when scripted, passes script errors on, and honours abort', async () => {
    const b = createScriptedBackend({
      generate: (r) => {
        if (r.messages[0].content === 'boom') throw new Error('scripted failure');
        return { text: 'long', finishReason: 'length', tokens: 99 };
      },
      verdict: (_r, at) => [-at.index, -1],
      score: (r) => ({ logprob: -r.response.length, tokens: r.response.length }),
      delayMs: 50,
    });
    expect((await b.generate([req('x', 1)]))[0][0]).toEqual({ text: 'long', finishReason: 'length', tokens: 99 });
    expect(await b.verdict!([{ messages: [], prefix: 'p', labels: ['a', 'b'] }])).toEqual([{ logprobs: [-0, -1] }]);
    expect(await b.score!([{ messages: [], response: 'abc' }])).toEqual([{ logprob: -3, tokens: 3 }]);
    await expect(b.generate([req('boom', 1)])).rejects.toThrow('scripted failure');
    const controller = new AbortController();
    const pending = b.generate([req('x', 1)], { signal: controller.signal });
    controller.abort();
    expect(isCancelled(await pending.catch((e) => e))).toBe(true);
  });
});
