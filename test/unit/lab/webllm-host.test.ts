/**
 * web-llm roles in the lab worker's model host, against a double of the web-llm worker
 * connection and engine (test/helpers/webllm-double.ts): actor and refiner models loaded
 * together in one call and reused, load progress passed on, adapters and training refused with
 * a way forward, the verdict read-out wired to the model's files, the lab engine's extra file
 * stored after a download, and a whole self-play iteration served by web-llm.
 */
import type { ChatCompletionRequestStreaming } from '@mlc-ai/web-llm';
import { describe, expect, it } from 'vitest';
import { loadWebLlmReadout } from '../../../src/backends/webllm-readout';
import { LabError } from '../../../src/errors';
import { memorySource, type FileMap } from '../../../src/engine/load/files';
import { tinyMlcFiles } from '../../../src/engine/tiny/tiny';
import { createLab } from '../../../src/lab/index';
import { ModelHost, requireCapability } from '../../../src/lab/models';
import { checkBinding, describeBinding, parseRunConfig, webLlmIds, type RoleBinding } from '../../../src/lab/run-config';
import type { WebLlmStatus } from '../../../src/lab/webllm-host';
import { randomAdapter } from '../../helpers/models';
import { scriptedEngine } from '../../helpers/lab-world';
import { MemoryLabStore } from '../../helpers/memory-lab-store';
import { TEMPLATES, critique, fixed, parseJudge, world } from '../../helpers/spar-world';
import { webLlmDouble, webLlmRecord } from '../../helpers/webllm-double';

const ACTOR = 'SmolLM2-Tiny-Instruct-q0f32-MLC';
const REFINER = 'Qwen2.5-Tiny-Instruct-q0f32-MLC';
const OTHER = 'Phi-3-Tiny-q4f32_1-MLC'; // web-llm only
const RECORDS = [ACTOR, REFINER, OTHER].map((id) => webLlmRecord(id));
const wl = (model: string): RoleBinding => ({ kind: 'webllm', model });

/** A hub serving some files of every model (by file name), logging what is asked. */
function fakeHub(files: FileMap) {
  const asked: string[] = [];
  const fetch = (async (input: RequestInfo | URL) => {
    const url = String(input);
    asked.push(url.replace('https://huggingface.co/mlc-ai/', ''));
    const f = files[decodeURIComponent(url.split('/resolve/main/')[1] ?? '')];
    return f ? new Response(f.slice()) : new Response('Entry not found', { status: 404 });
  }) as typeof globalThis.fetch;
  return { asked, fetch };
}

/** SPaR's scripted world spoken through web-llm's chat API: samples by the actor, critiques and refinements by the refiner. */
function sparReply(req: ChatCompletionRequestStreaming): string {
  const first = String(req.messages[0].content);
  if (req.model === ACTOR) return `${first} (sample, seed ${req.seed})`;
  const { response } = parseJudge(first);
  if (req.messages.length > 1) return fixed(`${response} refined`);
  return critique('c', (req.seed ?? 0) % 3 === 0 ? 'N' : 'Y');
}

function host(extra: { hubFiles?: FileMap } = {}) {
  const double = webLlmDouble(RECORDS, sparReply);
  const hub = fakeHub(extra.hubFiles ?? {});
  const events = { progress: [] as string[], status: [] as WebLlmStatus[], warnings: [] as string[] };
  const engine = scriptedEngine(() => world({ votes: () => 'Y' }));
  const models = new ModelHost({
    engine,
    webllm: {
      hub: { fetch: hub.fetch, caches: null },
      onProgress: (ids, p) => events.progress.push(`${ids.join('+')}: ${p.text}`),
      onStatus: (s) => events.status.push(s),
      onWarning: (m) => events.warnings.push(m),
    },
  });
  models.webllm.attach(double.conn);
  return { models, double, hub, events, engine };
}

describe('run config: web-llm roles', () => {
  it('reads, checks and describes a web-llm binding', () => {
    expect(checkBinding({ kind: 'webllm', model: ` ${ACTOR} ` }, 'actor')).toEqual(wl(ACTOR));
    expect(() => checkBinding({ kind: 'webllm', model: '' }, 'refiner')).toThrow(/refiner's model: pick one of web-llm's models/);
    expect(() => checkBinding({ kind: 'mystery' }, 'actor')).toThrow(/lab engine, web-llm, transformers.js or OpenAI-compatible endpoint/);
    expect(parseRunConfig({ models: { actor: wl(ACTOR), refiner: { kind: 'lab', model: { type: 'tiny', seed: 2 } } } }).models.actor).toEqual(wl(ACTOR));
    expect(describeBinding(wl(ACTOR))).toBe(`web-llm ${ACTOR}`);
    expect(webLlmIds([wl(ACTOR), { kind: 'lab', model: { type: 'tiny', seed: 1 } }, wl(ACTOR), wl(REFINER)])).toEqual([ACTOR, REFINER]);
  });

  it('refuses training, scoring and adapters for frozen roles, saying how to go on', () => {
    expect(() => requireCapability({ kind: 'lab', model: { type: 'tiny', seed: 1 } }, 'actor', 'train')).not.toThrow();
    for (const need of ['train', 'score', 'lora'] as const) {
      let err: unknown;
      try {
        requireCapability(wl(ACTOR), 'actor', need);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(LabError);
      expect(err).toMatchObject({ kind: 'unsupported', message: expect.stringContaining(`The actor is served by web-llm (${ACTOR}), which serves frozen models`) });
      expect((err as LabError).message).toMatch(/Weights web-llm cached/);
    }
    expect(() => requireCapability({ kind: 'openai', baseUrl: 'http://x/v1', model: 'm', verdict: true }, 'refiner', 'train')).toThrow(/OpenAI-compatible endpoint/);
  });
});

describe('model host: web-llm roles', () => {
  it('loads the actor and refiner models together in one call, with progress, and reuses them', async () => {
    const { models, double, events } = host();
    const progress: string[] = [];
    const both = await models.backends({ actor: wl(ACTOR), refiner: wl(REFINER) }, { onProgress: (p) => progress.push(`${p.label} ${p.done}/${p.total}`) });
    expect(double.loads.filter((l) => !l.attached)).toEqual([{ ids: [ACTOR, REFINER], attached: false }]);
    expect(progress).toEqual([`web-llm: starting ${ACTOR} + ${REFINER} 0/undefined`, 'web-llm: Fetching param cache[1/2] 500/1000', 'web-llm: Finish loading on WebGPU 1000/1000']);
    expect(events.progress).toEqual([`${ACTOR}+${REFINER}: Fetching param cache[1/2]`, `${ACTOR}+${REFINER}: Finish loading on WebGPU`]);
    expect(events.status.at(-1)).toEqual({ attached: true, loaded: [ACTOR, REFINER] });
    expect(both.actor.info).toEqual({ kind: 'webllm', label: `web-llm · ${ACTOR} · actor` });
    expect(both.refiner.info.label).toBe(`web-llm · ${REFINER} · refiner`);
    expect(both.actor.score).toBeUndefined();

    // Each role's requests go to its own model.
    const sampling = { temperature: 0.7, topP: 0.9, maxTokens: 64, seed: 10 };
    const [[a1, a2]] = await both.actor.generate([{ messages: [{ role: 'user', content: 'Hi' }], n: 2, sampling }]);
    expect([a1.text, a2.text]).toEqual(['Hi (sample, seed 10)', 'Hi (sample, seed 11)']);
    await both.refiner.generate([{ messages: [{ role: 'user', content: 'JUDGE Hi ||| Hi there ||| x' }], n: 1, sampling }]);
    expect(double.requests.map((r) => r.model)).toEqual([ACTOR, ACTOR, REFINER]);

    // Asking again (a second iteration, an evaluation of the actor alone) downloads nothing.
    await models.backends({ actor: wl(ACTOR), refiner: wl(REFINER) });
    await models.backend(wl(ACTOR), 'actor');
    expect(double.loads.filter((l) => !l.attached)).toHaveLength(1);
    // Another model replaces what web-llm held.
    await models.backend(wl(OTHER), 'actor');
    expect(double.loads.filter((l) => !l.attached).map((l) => l.ids)).toEqual([[ACTOR, REFINER], [OTHER]]);
    expect(models.webllm.status()).toEqual({ attached: true, loaded: [OTHER] });
  });

  it('mixes engines: a lab-engine actor with a web-llm refiner loads only the refiner in web-llm', async () => {
    const { models, double, engine } = host();
    const both = await models.backends({ actor: { kind: 'lab', model: { type: 'tiny', seed: 1 } }, refiner: wl(REFINER) });
    expect(engine.log.created).toBe(1);
    expect(double.loads).toEqual([{ ids: [REFINER], attached: false }]);
    expect(both.refiner.info.kind).toBe('webllm');
  });

  it('refuses an adapter for a web-llm role before loading anything', async () => {
    const { models, double } = host();
    const adapter = randomAdapter({ numLayers: 1, hiddenSize: 8, numHeads: 2, numKvHeads: 1, headDim: 4, intermediateSize: 16 } as never, 'actor-it0', 1);
    await expect(models.backends({ actor: wl(ACTOR), refiner: wl(REFINER) }, { adapters: { actor: adapter } })).rejects.toMatchObject({
      kind: 'unsupported',
      message: expect.stringContaining("cannot apply the run's LoRA adapters"),
    });
    await expect(models.backend(wl(ACTOR), 'actor', { adapter })).rejects.toMatchObject({ kind: 'unsupported' });
    expect(double.loads).toEqual([]);
  });

  it('says how to start web-llm when it is not attached, and passes load failures on', async () => {
    const bare = new ModelHost();
    await expect(bare.backend(wl(ACTOR), 'actor')).rejects.toMatchObject({ kind: 'unsupported', message: expect.stringContaining('Choose a web-llm model in Setup') });
    expect(bare.webllm.status()).toEqual({ attached: false, loaded: null });
    expect(await bare.webllm.catalogIfAttached()).toBeNull();

    const { models, double, events } = host();
    double.failNextLoad = 'The download broke off; load again and it continues.';
    await expect(models.backend(wl(ACTOR), 'actor')).rejects.toMatchObject({ kind: 'network' });
    expect(events.status.at(-1)).toEqual({ attached: true, loaded: null });
    expect(models.webllm.loading).toBe(false);
    await models.backend(wl(ACTOR), 'actor'); // the retry
    expect(models.webllm.status().loaded).toEqual([ACTOR]);

    await expect(models.backend(wl('Nope-MLC'), 'actor')).rejects.toMatchObject({ kind: 'not-found' });
    // A new connection (the page restarted web-llm) replaces the old one.
    const again = webLlmDouble(RECORDS, sparReply);
    models.webllm.attach(again.conn);
    expect(double.closed).toBe(true);
    expect(models.webllm.status()).toEqual({ attached: true, loaded: null });
  });

  it('stores the lab engine\'s extra file after a download, for models the lab engine can load', async () => {
    const files = tinyMlcFiles({ arch: 'llama', quantization: 'q0f32' });
    const { models, hub, events } = host({ hubFiles: { 'tokenizer_config.json': files['tokenizer_config.json'] } });
    await models.backends({ actor: wl(ACTOR), refiner: wl(OTHER) });
    expect(hub.asked).toEqual([`${ACTOR}/resolve/main/tokenizer_config.json`]); // not for the web-llm-only model
    expect(events.warnings).toEqual([]);

    // Offline after the download: a warning, and the roles still work.
    const offline = host();
    await offline.models.backends({ actor: wl(REFINER), refiner: wl(REFINER) });
    expect(offline.events.warnings).toEqual([expect.stringMatching(/could not be stored for the lab engine/)]);
  });

  it('reads verdicts out through web-llm with the model\'s own files', async () => {
    const files = tinyMlcFiles({ arch: 'llama', quantization: 'q0f32' });
    const ro = await loadWebLlmReadout(memorySource(files));
    // The tiny tokenizer starts " Yes" and " No" with the same token, so the labels here have no space.
    const yes = ro.labelToken('Yes');
    const no = ro.labelToken('No');
    expect(yes.text).not.toBe(no.text);
    const double = webLlmDouble(RECORDS, sparReply, () => [
      { token: yes.text, logprob: -0.25 },
      { token: 'x', logprob: -2 },
      { token: no.text, logprob: -3 },
    ]);
    const hub = fakeHub(files);
    const models = new ModelHost({ webllm: { hub: { fetch: hub.fetch, caches: null } } });
    models.webllm.attach(double.conn);
    const refiner = await models.backend(wl(ACTOR), 'refiner');
    const [r] = await refiner.verdict!([{ messages: [{ role: 'user', content: 'Is it?' }], prefix: 'Final Judgement: ', labels: ['Yes', 'No'] }]);
    expect(r.logprobs).toEqual([-0.25, -3]);
    expect(double.completions).toHaveLength(1);
    expect(double.completions[0]).toMatchObject({ model: ACTOR, max_tokens: 1, logprobs: true });
    expect(String(double.completions[0].prompt).endsWith('Is it?')).toBe(false); // the chat was formatted by the template
    expect(String(double.completions[0].prompt).endsWith('Final Judgement: ')).toBe(true);
    expect(hub.asked.sort()).toEqual([`${ACTOR}/resolve/main/mlc-chat-config.json`, `${ACTOR}/resolve/main/tokenizer.json`, `${ACTOR}/resolve/main/tokenizer_config.json`].sort());
  });
});

describe('self-play with web-llm roles', () => {
  it('runs an iteration with a web-llm actor and a web-llm refiner, loaded once', async () => {
    const store = new MemoryLabStore();
    const { models, double } = host();
    const quiet = { progress() {}, tree() {}, text() {}, run() {} };
    const lab = createLab(store, { models, listener: quiet, throttleMs: 0 });
    const run = await store.createRun({
      name: 'web-llm run',
      config: { spar: { seed: 3, concurrency: 2, templates: TEMPLATES, judge: { verdict: 'parsed' } }, models: { actor: wl(ACTOR), refiner: wl(REFINER) } },
    });
    await lab.prompts.generate(run.id, { count: 3, seed: 4 });
    const out = await lab.selfplay.start(run.id);
    expect(out.state).toBe('done');
    expect(out.stats).toMatchObject({ total: 3, finished: 3, failed: 0 });
    const [entry] = parseRunConfig(out.run.config).iterations;
    expect(entry.labels).toEqual({ actor: `web-llm · ${ACTOR} · actor`, refiner: `web-llm · ${REFINER} · refiner` });
    expect(double.loads.filter((l) => !l.attached)).toEqual([{ ids: [ACTOR, REFINER], attached: false }]);
    const judged = double.requests.filter((r) => r.model === REFINER).length;
    expect(judged).toBeGreaterThan(3);
    expect((await store.list('trees', run.id)).length).toBe(3);

    // An evaluation of the web-llm actor reuses the loaded model.
    const record = await lab.evals.evaluateActor(run.id, { settings: { set: { source: 'generated', count: 2, seed: 99 }, temperature: 0, topP: 1, maxTokens: 32, seed: 0 } });
    expect(record.meta).toMatchObject({ model: `web-llm · ${ACTOR} · actor` });
    expect(double.loads.filter((l) => !l.attached)).toHaveLength(1);
  });
});
