/**
 * transformers.js roles in the lab worker's model host, against a double of the transformers.js
 * worker connection: models loaded on first use and shared by roles, load progress passed on as
 * labels and events, picked folders that must be opened first, refusals before the page has
 * started the worker, and frozen-role refusals (training, adapters) that name transformers.js.
 * The real worker is exercised in the browser tier (test/browser/backends/transformers.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { ModelBackend } from '../../../src/backends/types';
import { LabError } from '../../../src/errors';
import { estimatedWindow } from '../../../src/lab/context-check';
import { ModelHost, requireCapability } from '../../../src/lab/models';
import { BUNDLED_MODELS, checkBinding, describeBinding, type TransformersBinding } from '../../../src/lab/run-config';
import type { TransformersConnectionLike, TransformersStatus } from '../../../src/lab/transformers-host';
import { describeSpec, specSource, transformersKey, type TransformersLoadSpec, type TransformersModelInfo } from '../../../workers/transformers-messages';
import { scriptedEngine } from '../../helpers/lab-world';
import { world } from '../../helpers/spar-world';

const RUNTIME = { version: '4.3.2', webgpu: false, crossOriginIsolated: false, wasmThreads: 1 };
const TOY: TransformersBinding = { kind: 'transformers', model: { type: 'bundled', name: 'spar-toy' }, device: 'wasm', dtype: 'fp32' };
const HUB: TransformersBinding = { kind: 'transformers', model: { type: 'hub', repo: 'onnx-community/Tiny-ONNX' }, device: 'webgpu', dtype: 'q4' };

/** The worker connection: loads report two progress steps; backends answer with their label. */
function connection() {
  const loads: string[] = [];
  const conn: TransformersConnectionLike = {
    hello: async () => ({ ...RUNTIME, loaded: [] }),
    async load(spec: TransformersLoadSpec, opts = {}) {
      loads.push(describeSpec(spec));
      opts.onProgress?.({ file: 'onnx/model.onnx', loaded: 50, total: 100 });
      opts.onProgress?.({ file: 'onnx/model.onnx', loaded: 100, total: 100 });
      const source = specSource(spec);
      return {
        key: transformersKey({ model: source, device: spec.device, dtype: spec.dtype }),
        source,
        device: spec.device,
        dtype: spec.dtype,
        description: describeSpec(spec),
        modelType: 'llama',
        vocabSize: 1536,
        contextLength: 1024,
        label: `transformers.js · ${spec.source.type}`,
      } satisfies TransformersModelInfo;
    },
    unload: async () => true,
    backend: (model, label = model.label): ModelBackend => ({
      info: { label, kind: 'transformers' },
      generate: async (requests) => requests.map((r) => Array.from({ length: r.n }, () => ({ text: `${label}: ${r.messages[0].content}`, finishReason: 'stop' as const, tokens: 3 }))),
      score: async (requests) => requests.map(() => ({ logprob: -1, tokens: 1 })),
      verdict: async (requests) => requests.map((r) => ({ logprobs: r.labels.map(() => -0.5) })),
    }),
    close() {},
  };
  return { conn, loads };
}

function host() {
  const events = { progress: [] as string[], status: [] as TransformersStatus[] };
  const models = new ModelHost({
    engine: scriptedEngine(() => world({ votes: () => 'Y' })),
    transformers: { onProgress: (key, p) => events.progress.push(`${key}: ${p.loaded}/${p.total}`), onStatus: (s) => events.status.push(s) },
  });
  return { models, events };
}

describe('run config: transformers.js roles', () => {
  it('reads, checks and describes a transformers.js binding', () => {
    expect(checkBinding({ ...TOY }, 'refiner')).toEqual(TOY);
    expect(() => checkBinding({ ...TOY, device: 'cpu' }, 'refiner')).toThrow(/"webgpu" or "wasm"/);
    expect(() => checkBinding({ ...TOY, model: { type: 'tiny', seed: 1 } }, 'refiner')).toThrow(/needs an ONNX model/);
    expect(describeBinding(HUB)).toBe('transformers.js onnx-community/Tiny-ONNX · webgpu q4');
    expect(transformersKey(HUB)).toBe('hub:onnx-community/Tiny-ONNX@main|webgpu|q4');
  });
});

describe('model host: transformers.js roles', () => {
  it('refuses before the page has started the worker', async () => {
    const { models } = host();
    await expect(models.backend(TOY, 'refiner')).rejects.toMatchObject({ kind: 'unsupported', message: expect.stringMatching(/transformers\.js is not running in this tab yet/) });
    expect(models.transformers.status()).toEqual({ attached: false, runtime: null, loaded: [] });
  });

  it('loads a model on first use with progress, shares it between roles, and reports what it holds', async () => {
    const { models, events } = host();
    const { conn, loads } = connection();
    expect(await models.transformers.attach(conn)).toEqual({ attached: true, runtime: RUNTIME, loaded: [] });

    const progress: string[] = [];
    const both = await models.backends({ actor: { kind: 'lab', model: { type: 'tiny', seed: 1 } }, refiner: TOY }, { onProgress: (p) => progress.push(`${p.label} ${p.done}/${p.total}`) });
    expect(both.refiner.info).toEqual({ kind: 'transformers', label: 'transformers.js · bundled · refiner' });
    expect(progress.filter((p) => p.includes('transformers.js'))).toEqual([
      'Loading transformers.js SPaR-toy (shipped with the app) · wasm fp32 0/undefined',
      'transformers.js: reading the files shipped with the app: onnx/model.onnx 50/100',
      'transformers.js: reading the files shipped with the app: onnx/model.onnx 100/100',
    ]);
    expect(events.progress).toEqual(['bundled:spar-toy|wasm|fp32: 50/100', 'bundled:spar-toy|wasm|fp32: 100/100']);
    expect(events.status.at(-1)?.loaded.map((m) => m.key)).toEqual(['bundled:spar-toy|wasm|fp32']);

    // The actor on the same model: no second load; each role under its own label.
    const actor = await models.backend(TOY, 'actor');
    expect(actor.info.label).toBe('transformers.js · bundled · actor');
    expect(await actor.generate([{ messages: [{ role: 'user', content: 'hi' }], n: 2, sampling: { temperature: 0, topP: 1, maxTokens: 4 } }])).toEqual([
      [
        { text: 'transformers.js · bundled · actor: hi', finishReason: 'stop', tokens: 3 },
        { text: 'transformers.js · bundled · actor: hi', finishReason: 'stop', tokens: 3 },
      ],
    ]);
    // Another device or dtype of a model is another model.
    await models.backend({ ...TOY, dtype: 'q8' }, 'actor');
    expect(loads).toEqual(['transformers.js SPaR-toy (shipped with the app) · wasm fp32', 'transformers.js SPaR-toy (shipped with the app) · wasm q8']);
    expect(models.loadingAny).toBe(false);

    await models.transformers.unload('bundled:spar-toy|wasm|fp32');
    expect(models.transformers.status().loaded.map((m) => m.key)).toEqual(['bundled:spar-toy|wasm|q8']);
  });

  it('needs a picked folder opened first, then serves it', async () => {
    const { models } = host();
    await models.transformers.attach(connection().conn);
    const folder: TransformersBinding = { kind: 'transformers', model: { type: 'files', label: 'my-onnx' }, device: 'wasm', dtype: 'q4' };
    await expect(models.backend(folder, 'refiner')).rejects.toMatchObject({ kind: 'not-found', message: expect.stringContaining('“my-onnx” is not open in transformers.js') });
    const file = new File(['{}'], 'config.json');
    await models.transformers.load({ source: { type: 'files', label: 'my-onnx', files: [file] }, device: 'wasm', dtype: 'q4' });
    expect((await models.backend(folder, 'refiner')).info.label).toBe('transformers.js · files · refiner');
  });

  it('serves frozen roles: scoring yes, training and adapters no, with a way forward', () => {
    expect(() => requireCapability(TOY, 'actor', 'score')).not.toThrow();
    for (const need of ['train', 'lora'] as const) {
      let err: unknown;
      try {
        requireCapability(TOY, 'actor', need);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(LabError);
      expect(err).toMatchObject({ kind: 'unsupported', message: expect.stringContaining('The actor is served by transformers.js (SPaR-toy (shipped with the app)), which serves frozen models') });
      expect((err as LabError).message).toMatch(/lab engine .* safetensors checkpoint/);
    }
  });

  it("gives the page's context estimate for shipped and loaded models", () => {
    const known = { loaded: [], webllm: () => null, transformers: (key: string) => (key === transformersKey(HUB) ? 4096 : null) };
    expect(estimatedWindow(TOY, known)).toMatchObject({ contextLength: BUNDLED_MODELS['spar-toy'].contextLength, madeFor: 'Toy world', name: describeBinding(TOY) });
    expect(estimatedWindow(HUB, known)).toMatchObject({ contextLength: 4096, madeFor: null });
    expect(estimatedWindow({ ...HUB, dtype: 'fp16' }, known)).toBeNull();
    expect(estimatedWindow(HUB, { loaded: [], webllm: () => null })).toBeNull();
  });
});
