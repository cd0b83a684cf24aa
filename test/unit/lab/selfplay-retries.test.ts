/**
 * Issue 14, item 12: with an unreachable endpoint the screen showed "Running 0 of 6" for 24 s with
 * no sign of retries, then a bar full to "6 / 6" while the message said the run stopped. Retries
 * now reach the progress (attempt k of n, why, the wait), and failed instructions count as failed.
 */
import { describe, expect, it } from 'vitest';
import { createOpenAIBackend, type RetryNotice } from '../../../src/backends/openai';
import { createLab } from '../../../src/lab/index';
import { ModelHost } from '../../../src/lab/models';
import type { SelfPlayState, SelfPlayStats } from '../../../src/lab/selfplay';
import type { RoleBinding } from '../../../src/lab/run-config';
import { instructionProgress, retryText, stateText } from '../../../src/ui/selfplay-progress';
import { MemoryLabStore } from '../../helpers/memory-lab-store';

const URL_ = 'http://model-server.test/v1';
const endpoint: RoleBinding = { kind: 'openai', baseUrl: URL_, model: 'm', verdict: false };
const refused = (): Promise<Response> => Promise.reject(new TypeError('fetch failed'));

/** A chat completion whose every choice says the Output follows the Prompt. */
function yes(body: { n?: number }): Response {
  const content = 'Step-by-step verification: fine.\nFinal Judgement (if the Output accurately follows the Prompt): Yes';
  const choices = Array.from({ length: body.n ?? 1 }, (_, index) => ({ index, message: { role: 'assistant', content }, finish_reason: 'stop' }));
  return new Response(JSON.stringify({ id: 'x', object: 'chat.completion', choices, usage: { prompt_tokens: 1, completion_tokens: choices.length } }), { headers: { 'content-type': 'application/json' } });
}

async function endpointRun(fetch: typeof globalThis.fetch, prompts: number) {
  const store = new MemoryLabStore();
  const heard: { state: SelfPlayState; stats: SelfPlayStats }[] = [];
  const models = new ModelHost({ endpoints: { fetch, maxRetries: 2, retryDelayMs: 1, maxRetryDelayMs: 2 } });
  const lab = createLab(store, { models, listener: { progress: (_r, state, stats) => heard.push({ state, stats: structuredClone(stats) }), tree() {}, text() {}, run() {} }, throttleMs: 0 });
  const run = await store.createRun({ name: 'endpoint', config: { models: { actor: endpoint, refiner: endpoint }, spar: { concurrency: 2, sample: { n: 2 }, judge: { k: 1 } } } });
  await lab.prompts.generate(run.id, { count: prompts, seed: 1 });
  return { lab, run, heard };
}

describe('retries reach the progress', () => {
  it('the endpoint backend tells each retry: which attempt of how many, why, and the wait', async () => {
    const notices: RetryNotice[] = [];
    const b = createOpenAIBackend({ baseUrl: URL_, model: 'm', fetch: refused, maxRetries: 2, retryDelayMs: 4, maxRetryDelayMs: 1000, onRetry: (r) => notices.push(r) });
    await expect(b.generate([{ messages: [{ role: 'user', content: 'hi' }], n: 1, sampling: { temperature: 0, topP: 1, maxTokens: 4 } }])).rejects.toMatchObject({
      kind: 'network',
      message: expect.stringContaining('(gave up after 3 attempts)'),
    });
    expect(notices.map((n) => [n.attempt, n.attempts])).toEqual([
      [2, 3],
      [3, 3],
    ]);
    expect(notices[0].reason).toMatch(/^Could not reach the model server at http:\/\/model-server\.test\/v1\/chat\/completions \(fetch failed\)/);
    // Exponential backoff with ±20% jitter: 4 ms, then 8 ms.
    expect(notices[0].waitMs).toBeGreaterThanOrEqual(3.2);
    expect(notices[0].waitMs).toBeLessThanOrEqual(4.8);
    expect(notices[1].waitMs).toBeGreaterThanOrEqual(6.4);
    expect(notices[1].waitMs).toBeLessThanOrEqual(9.6);
  });

  it('an unreachable endpoint: the progress shows the retries, and the stopped run counts its instructions as failed, never done', async () => {
    const { lab, run, heard } = await endpointRun(refused, 6);
    const out = await lab.selfplay.start(run.id);
    expect(out.state).toBe('failed');
    expect(out.stats.finished).toBe(out.stats.failed);
    expect(out.stats.failed).toBeGreaterThanOrEqual(5); // five in a row stop the run; those in flight finish too
    // Every request is tried 3 times: 2 retries each, all told before the run stops.
    expect(out.stats.retries).toBeGreaterThanOrEqual(2 * out.stats.failed);
    const retrying = heard.find((h) => h.stats.retrying)!;
    expect(retrying.state).toBe('running');
    expect(retrying.stats.retrying).toMatchObject({ role: 'actor', attempt: 2, attempts: 3, reason: expect.stringContaining('Could not reach the model server') });
    expect(retryText(retrying.stats.retrying!)).toMatch(/^Retrying the actor's request: attempt 2 of 3 in \d ms\. Could not reach the model server at http:\/\/model-server\.test\/v1\/chat\/completions \(fetch failed\)\. Is it running/);

    const p = instructionProgress(out.stats);
    expect(p).toMatchObject({ done: 0, failed: out.stats.failed, left: 6 - out.stats.failed, total: 6 });
    expect(stateText('failed', out.stats)).toBe(`Stopped by an error after 0 done, ${out.stats.failed} failed of 6`);
    expect(stateText('failed', out.stats)).not.toMatch(/\bDone\b/);
  });

  it('a retry is shown until a model call finishes after it', async () => {
    // Every request fails once, then succeeds.
    const tried = new Set<string>();
    const flaky: typeof globalThis.fetch = async (_url, init) => {
      const body = String(init?.body);
      if (!tried.has(body)) {
        tried.add(body);
        return new Response('{"error": {"message": "warming up"}}', { status: 503 });
      }
      return yes(JSON.parse(body));
    };
    const { lab, run, heard } = await endpointRun(flaky, 2);
    const out = await lab.selfplay.start(run.id);
    expect(out.state).toBe('done');
    expect(out.stats).toMatchObject({ finished: 2, failed: 0, retrying: null });
    expect(out.stats.retries).toBe(tried.size);
    const first = heard.findIndex((h) => h.stats.retrying);
    expect(heard[first].stats.retrying).toMatchObject({ attempt: 2, attempts: 3, reason: expect.stringContaining('answered 503: warming up') });
    // Cleared by the next progress after a finished call, not kept to the end.
    const cleared = heard.findIndex((h, i) => i > first && h.stats.retrying === null);
    expect(cleared).toBeGreaterThan(first);
    expect(heard[cleared].stats.modelCalls).toBeGreaterThan(heard[first].stats.modelCalls);
    expect(stateText('done', out.stats)).toBe('Done');
    expect(instructionProgress(out.stats).text).toBe('2 done of 2');
  });
});

describe('instruction progress', () => {
  it('keeps done and failed apart and says so', () => {
    expect(instructionProgress({ total: 6, finished: 6, failed: 2 })).toEqual({ done: 4, failed: 2, left: 0, total: 6, text: '4 done, 2 failed of 6' });
    expect(instructionProgress({ total: 6, finished: 3, failed: 0 })).toEqual({ done: 3, failed: 0, left: 3, total: 6, text: '3 done of 6' });
    expect(stateText('done', { total: 6, finished: 6, failed: 2 })).toBe('Finished: 4 done, 2 failed of 6');
    expect(stateText('failed', { total: 6, finished: 6, failed: 6 })).toBe('Stopped by an error after 0 done, 6 failed of 6');
    expect(stateText('running', { total: 6, finished: 0, failed: 0 })).toBe('Running');
  });

  it('writes waits under a second in ms and longer ones in seconds', () => {
    const r = { role: 'refiner' as const, attempt: 3, attempts: 5, reason: 'The model server at x answered 502', waitMs: 2000 };
    expect(retryText(r)).toBe("Retrying the refiner's request: attempt 3 of 5 in 2.0 s. The model server at x answered 502.");
    expect(retryText({ ...r, waitMs: 480.4, reason: 'Timed out.' })).toBe("Retrying the refiner's request: attempt 3 of 5 in 480 ms. Timed out.");
  });
});
