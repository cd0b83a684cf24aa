/**
 * transformers.js for real: the tiny ONNX export in test/fixtures/onnx-tiny (scripts/onnx/), run by
 * transformers.js and ONNX Runtime Web — on WebAssembly, and on WebGPU (SwiftShader here) — against
 * the CPU reference on the same folder's safetensors weights: the same greedy and seeded tokens,
 * scores and verdict log-probs within 1e-4. Then the worker itself (transformers.worker.ts) over a
 * port, as the lab worker reaches it, with a picked folder, streaming, cancellation and the lab
 * worker's host. Nothing is downloaded: ONNX Runtime's wasm is the app's own asset.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../../../src/backends/cpu';
import { loadOnnxModel, runtimeInfo, type OnnxDevice } from '../../../src/backends/transformers-runtime';
import type { GenerateRequest, ModelBackend, ScoreRequest, VerdictRequest } from '../../../src/backends/types';
import { CpuModel } from '../../../src/engine/cpu/model';
import type { PickedFile } from '../../../src/engine/load/files';
import { loadModel } from '../../../src/engine/load/model';
import { urlSource } from '../../../src/engine/load/url-source';
import { LabError } from '../../../src/errors';
import { TransformersHost } from '../../../src/lab/transformers-host';
import { connectTransformers, startTransformersWorker } from '../../../workers/transformers-link';

const FIXTURE = new URL('/test/fixtures/onnx-tiny/', location.href).href;
const FILES = ['config.json', 'generation_config.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'];
const fixture = () => urlSource(FIXTURE, 'onnx-tiny fixture');

const reference = await loadModel(fixture());
const cpu = new CpuBackend(new CpuModel(reference.weights), reference.tokenizer);

const messages = [{ role: 'user' as const, content: 'Write a short poem about the sea.' }];
const generateRequests: GenerateRequest[] = [
  { messages, n: 2, sampling: { temperature: 0, topP: 1, maxTokens: 16 } },
  { messages: [{ role: 'user', content: 'List three colors.' }], n: 3, sampling: { temperature: 1, topP: 0.9, maxTokens: 12, seed: 11, stop: ['e'] } },
];
const scoreRequests: ScoreRequest[] = [
  { messages, response: 'The sea is wide and blue.' },
  { messages: [{ role: 'system', content: 'Be brief.' }, ...messages], response: 'Waves.' },
];
const verdictRequests: VerdictRequest[] = [{ messages, prefix: 'The response follows the prompt):', labels: [' Yes', ' No'] }];

const close = (got: number, want: number) => Number.isFinite(got) && Math.abs(got - want) <= 1e-4 * Math.max(1, Math.abs(want));

/** Generation, scores and verdicts of `b` against the CPU reference's. */
async function expectLikeCpu(b: ModelBackend): Promise<void> {
  const pieces: Record<string, string> = {};
  const got = await b.generate(generateRequests, { onText: (r, i, d) => void (pieces[`${r}/${i}`] = (pieces[`${r}/${i}`] ?? '') + d) });
  expect(got).toEqual(await cpu.generate(generateRequests));
  got.forEach((samples, r) => samples.forEach((g, i) => expect(pieces[`${r}/${i}`] ?? '').toBe(g.text)));
  expect(got[0][0].tokens).toBeGreaterThan(0);

  const scores = await b.score!(scoreRequests);
  const wantScores = await cpu.score!(scoreRequests);
  scores.forEach((s, i) => {
    expect(s.tokens).toBe(wantScores[i].tokens);
    expect(close(s.logprob, wantScores[i].logprob), `score ${s.logprob} vs ${wantScores[i].logprob}`).toBe(true);
  });
  const [v] = await b.verdict!(verdictRequests);
  const [vw] = await cpu.verdict!(verdictRequests);
  v.logprobs.forEach((lp, i) => expect(close(lp, vw.logprobs[i]), `verdict ${lp} vs ${vw.logprobs[i]}`).toBe(true));
}

describe('transformers.js backend on the tiny ONNX export', () => {
  it('runs on one thread where the page is not cross-origin isolated, and says so', () => {
    const info = runtimeInfo();
    expect(info.crossOriginIsolated).toBe(false);
    expect(info.wasmThreads).toBe(1);
    expect(info.webgpu).toBe(true);
    expect(info.version).toMatch(/^4\./);
  });

  for (const device of ['wasm', 'webgpu'] as OnnxDevice[]) {
    it(`matches the CPU reference on ${device}`, async () => {
      const read: { file: string; loaded: number; total: number | null }[] = [];
      const model = await loadOnnxModel(fixture(), { device, dtype: 'fp32', name: 'onnx-tiny', onProgress: (p) => read.push(p) });
      try {
        expect(model.backend.info).toEqual({ kind: 'transformers', label: `transformers.js · onnx-tiny · fp32 on ${device === 'wasm' ? 'wasm, 1 thread' : 'WebGPU'}` });
        expect([model.modelType, model.vocabSize, model.contextLength]).toEqual(['llama', reference.config.vocabSize, reference.config.maxPositionEmbeddings]);
        expect(read.at(-1)).toMatchObject({ file: 'onnx/model.onnx', loaded: read.at(-1)!.total });
        await expectLikeCpu(model.backend);
      } finally {
        await model.dispose();
      }
    });
  }

  it('names the dtypes a model offers when the chosen one is missing', async () => {
    const err = await loadOnnxModel(fixture(), { device: 'wasm', dtype: 'q4', name: 'onnx-tiny' }).catch((e) => e);
    expect(err).toBeInstanceOf(LabError);
    expect(err.kind).toBe('not-found');
    expect(err.message).toMatch(/no onnx\/model_q4\.onnx .*offers fp32/);
  });
});

describe('transformers.js worker', () => {
  const handle = startTransformersWorker();
  afterAll(() => handle.terminate());

  /** The fixture as a picked folder, the way the page hands one over. */
  async function pickedFolder(): Promise<PickedFile[]> {
    return Promise.all(
      FILES.map(async (path) => {
        const bytes = await (await fetch(new URL(path, FIXTURE))).arrayBuffer();
        return { path: `onnx-tiny/${path}`, file: new File([bytes], path.split('/').pop()!) };
      }),
    );
  }

  it('starts, says what it runs on, and serves the lab worker over a port: load, generate, score, verdict, cancel', async () => {
    expect(await handle.hello()).toEqual({ ...runtimeInfo(), loaded: [] });
    const conn = connectTransformers(handle.createPort());
    const progress: number[] = [];
    const spec = { source: { type: 'files' as const, label: 'onnx-tiny', files: await pickedFolder() }, device: 'wasm' as const, dtype: 'fp32' as const };
    const info = await conn.load(spec, { onProgress: (p) => progress.push(p.loaded) });
    expect(info).toMatchObject({ key: 'files:onnx-tiny|wasm|fp32', modelType: 'llama', vocabSize: reference.config.vocabSize, description: 'transformers.js local folder “onnx-tiny” · wasm fp32' });
    expect(progress.length).toBeGreaterThan(0);
    expect((await handle.hello()).loaded).toEqual([info]);

    const backend = conn.backend(info, 'refiner');
    expect(backend.info).toEqual({ label: 'refiner', kind: 'transformers' });
    await expectLikeCpu(backend);

    // Cancel: the first streamed text aborts; the worker stops between forward passes (long
    // before the hundreds of steps this generation would take).
    const controller = new AbortController();
    const err = await backend
      .generate([{ messages, n: 8, sampling: { temperature: 1, topP: 1, maxTokens: 480, seed: 1 } }], { signal: controller.signal, onText: () => controller.abort() })
      .catch((e) => e);
    expect(err).toBeInstanceOf(LabError);
    expect(err.kind).toBe('cancelled');

    expect(await conn.unload(info.key)).toBe(true);
    await expect(backend.verdict!(verdictRequests)).rejects.toMatchObject({ kind: 'not-found' });
    conn.close();
  });

  it("is the lab worker's transformers.js host: status, loads on demand, role backends, refusals", async () => {
    const statuses: boolean[] = [];
    const host = new TransformersHost({ onStatus: (s) => statuses.push(s.loaded.length > 0) });
    await expect(host.backend({ kind: 'transformers', model: { type: 'bundled', name: 'spar-toy' }, device: 'wasm', dtype: 'fp32' }, 'refiner')).rejects.toMatchObject({ kind: 'unsupported' });

    const status = await host.attach(connectTransformers(handle.createPort()));
    expect(status).toEqual({ attached: true, runtime: runtimeInfo(), loaded: [] });
    const folder = { kind: 'transformers' as const, model: { type: 'files' as const, label: 'onnx-tiny' }, device: 'wasm' as const, dtype: 'fp32' as const };
    await expect(host.backend(folder, 'refiner')).rejects.toThrow(/not open in transformers\.js/);

    const labels: string[] = [];
    await host.load({ source: { ...folder.model, files: await pickedFolder() }, device: 'wasm', dtype: 'fp32' }, { onProgress: (p) => labels.push(p.label) });
    expect(labels[0]).toBe('Loading transformers.js local folder “onnx-tiny” · wasm fp32');
    expect(labels.at(-1)).toBe('transformers.js: reading onnx/model.onnx');
    expect(host.status().loaded.map((m) => m.key)).toEqual(['files:onnx-tiny|wasm|fp32']);
    expect(statuses).toEqual([true]);

    const refiner = await host.backend(folder, 'refiner');
    expect(refiner.info.label).toBe('transformers.js · onnx-tiny · fp32 on wasm, 1 thread · refiner');
    const [v] = await refiner.verdict!(verdictRequests);
    const [vw] = await cpu.verdict!(verdictRequests);
    v.logprobs.forEach((lp, i) => expect(close(lp, vw.logprobs[i])).toBe(true));
    await host.unload('files:onnx-tiny|wasm|fp32');
    expect(host.status().loaded).toEqual([]);

    // A model shipped with the app loads on first use, from the app's own address.
    const toy = await host.backend({ kind: 'transformers', model: { type: 'bundled', name: 'spar-toy' }, device: 'wasm', dtype: 'fp32' }, 'actor');
    expect(host.status().loaded).toMatchObject([{ key: 'bundled:spar-toy|wasm|fp32', contextLength: 1024, modelType: 'llama' }]);
    const [[sample]] = await toy.generate([{ messages, n: 1, sampling: { temperature: 0, topP: 1, maxTokens: 8 } }]);
    expect(sample.tokens).toBeGreaterThan(0);
  });
});
