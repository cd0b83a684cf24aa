/**
 * The page's wiring of transformers.js, for real: the transformers.js worker started as the page
 * starts it, one end of a MessageChannel transferred to the real lab worker
 * (`transformers.attach`), then a picked folder (the tiny ONNX fixture) loaded through the lab
 * worker with its progress and status events, listed by `models.list`, and unloaded.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { LabEvent } from '../../workers/protocol';
import { LabClient } from '../../workers/rpc';
import { startTransformersWorker } from '../../workers/transformers-link';

const FIXTURE = new URL('/test/fixtures/onnx-tiny/', location.href).href;
const FILES = ['config.json', 'generation_config.json', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'];

const labWorker = new Worker(new URL('../../workers/lab.worker.ts', import.meta.url), { type: 'module', name: 'lab' });
const client = new LabClient(labWorker);
const transformers = startTransformersWorker();
afterAll(() => {
  transformers.terminate();
  labWorker.terminate();
});

describe('transformers.js attached to the lab worker', () => {
  it('attaches, loads a picked ONNX folder with progress and status events, lists and unloads it', async () => {
    const events: LabEvent[] = [];
    client.onEvent((e) => events.push(e));
    expect((await client.call('models.list', {})).transformers).toEqual({ attached: false, runtime: null, loaded: [] });

    const port = transformers.createPort();
    const attached = await client.call('transformers.attach', { port }, { transfer: [port] });
    expect(attached).toEqual({ attached: true, runtime: { version: expect.stringMatching(/^4\./), webgpu: true, crossOriginIsolated: false, wasmThreads: 1 }, loaded: [] });

    const files = await Promise.all(
      FILES.map(async (path) => ({ path: `onnx-tiny/${path}`, file: new File([await (await fetch(new URL(path, FIXTURE))).arrayBuffer()], path.split('/').pop()!) })),
    );
    const progress: string[] = [];
    const status = await client.call('transformers.load', { spec: { source: { type: 'files', label: 'onnx-tiny', files }, device: 'wasm', dtype: 'fp32' } }, { onProgress: (p) => progress.push(p.label) });
    const key = 'files:onnx-tiny|wasm|fp32';
    expect(status.loaded).toEqual([expect.objectContaining({ key, modelType: 'llama', contextLength: 512, source: { type: 'files', label: 'onnx-tiny' } })]);
    expect(progress).toContain('transformers.js: reading onnx/model.onnx');
    const graph = events.filter((e) => e.type === 'transformers.progress');
    expect(graph.at(-1)).toMatchObject({ key, progress: { file: 'onnx/model.onnx', loaded: expect.any(Number) } });
    expect(events.filter((e) => e.type === 'transformers.status').at(-1)).toEqual({ type: 'transformers.status', status });
    expect((await client.call('models.list', {})).transformers).toEqual(status);

    expect(await client.call('transformers.unload', { key })).toMatchObject({ attached: true, loaded: [] });
  });
});
