/**
 * The page's wiring of web-llm, for real: the web-llm worker (web-llm's handler) started as the
 * page starts it, one end of a MessageChannel transferred to the real lab worker
 * (`webllm.attach`), and the lab worker then listing web-llm's models, naming a tiny MLC model
 * stored the way web-llm stores a download, reading its exact size offline, refusing a load
 * this GPU cannot do with our error kind, and deleting the model from every cache. Nothing is
 * downloaded.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { tinyMlcFiles } from '../../src/engine/tiny/tiny';
import { LabClient } from '../../workers/rpc';
import { startWebLlmWorker } from '../../workers/webllm-link';
import { storeLikeWebLlm } from '../helpers/webllm-cache';

const labWorker = new Worker(new URL('../../workers/lab.worker.ts', import.meta.url), { type: 'module', name: 'lab' });
const client = new LabClient(labWorker);
const webllm = startWebLlmWorker();
afterAll(async () => {
  webllm.terminate();
  labWorker.terminate();
  for (const c of ['webllm/config', 'webllm/model', 'webllm/wasm', 'spar-lab/models']) await caches.delete(c);
});

const ID = 'SmolLM2-135M-Instruct-q0f32-MLC';

describe('web-llm attached to the lab worker', () => {
  it('lists web-llm\'s models in the lab worker, names a cached model, refuses what this GPU cannot load, and deletes it', async () => {
    const port = webllm.createPort();
    const attached = await client.call('webllm.attach', { port }, { transfer: [port] });
    expect(attached).toMatchObject({ attached: true, loaded: null });
    expect(attached.models).toBeGreaterThan(50);
    expect((await client.call('models.list', {})).webllm).toEqual({ attached: true, loaded: null });

    // A tiny MLC model stored under a real prebuilt model's URLs, as web-llm stores a download.
    const record = (await webllm.hello()).modelList.find((r) => r.model_id === ID)!;
    const files = tinyMlcFiles({ arch: 'llama', quantization: 'q0f32', maxShardBytes: 8 * 1024 });
    await storeLikeWebLlm({ model: record.model, modelLib: record.model_lib, files });
    const shardBytes = Object.keys(files).filter((f) => f.startsWith('params_shard_')).reduce((a, f) => a + files[f].byteLength, 0);

    const stored = await client.call('models.stored', {});
    const row = stored.find((m) => m.modelIds.includes(ID))!;
    expect(row).toMatchObject({ repo: `mlc-ai/${ID}`, revision: 'main', labFiles: 0, webllm: { modelId: ID, webllmComplete: true, wasmCached: true } });
    expect(row.bytes).toBeGreaterThan(shardBytes);

    // Exact download size from the cached tensor-cache.json (no network: the file is there).
    const details = await client.call('webllm.details', { modelId: ID });
    expect(details).toMatchObject({ weightBytes: shardBytes, lab: { loadable: true }, readout: { ok: true } });

    // SwiftShader has no shader-f16: the f16 build is refused before any download.
    await expect(client.call('webllm.load', { modelIds: ['SmolLM2-135M-Instruct-q0f16-MLC'] })).rejects.toMatchObject({ kind: 'unsupported', message: expect.stringContaining('shader-f16') });
    expect((await client.call('models.list', {})).webllm.loaded).toBeNull();

    const removed = await client.call('models.deleteStored', { baseUrl: row.baseUrl });
    expect(removed.models).toContain(ID);
    expect((await client.call('models.stored', {})).some((m) => m.baseUrl === row.baseUrl)).toBe(false);
    expect(await (await caches.open('webllm/wasm')).match(record.model_lib)).toBeUndefined();
  });
});
