/**
 * One download, two engines: a tiny MLC model (our generator's shards) stored in Cache Storage
 * exactly as web-llm 0.2.86 stores a download — Cache.add's 200 responses keyed by the file's
 * full hub URL: mlc-chat-config.json in "webllm/config"; tensor-cache.json, the shards and
 * tokenizer.json in "webllm/model"; the model library in "webllm/wasm" — checked with
 * web-llm's own hasModelInCache, then loaded by the lab engine through hubSource with fetch
 * forbidden, and compared with loading the same files from memory.
 */
import { hasModelInCache, type AppConfig } from '@mlc-ai/web-llm';
import { afterEach, describe, expect, it } from 'vitest';
import { CpuModel } from '../../../src/engine/cpu/model';
import { LAB_MODEL_CACHE, hubSource } from '../../../src/engine/load/fetch';
import { memorySource, type FileMap } from '../../../src/engine/load/files';
import { loadModel } from '../../../src/engine/load/model';
import { tinyMlcFiles, tinyModelFiles } from '../../../src/engine/tiny/tiny';
import { buildCatalog, type ModelRecordLike } from '../../../src/models/catalog';
import { WEBLLM_CONFIG_CACHE, WEBLLM_MODEL_CACHE, WEBLLM_WASM_CACHE, deleteCachedModel, deleteStoredModel, fetchLabExtras, listCachedModels, listStoredModels, modelCacheState, modelDetails } from '../../../src/models/model-cache';
import { storeLikeWebLlm as storeFiles } from '../../helpers/webllm-cache';

/** What web-llm's reload stores (cache.add(new Request(url)) for each file it fetches). */
const storeLikeWebLlm = (rec: ModelRecordLike, files: FileMap) => storeFiles({ model: rec.model, modelLib: rec.model_lib, files });

const CACHES = [WEBLLM_CONFIG_CACHE, WEBLLM_MODEL_CACHE, WEBLLM_WASM_CACHE, LAB_MODEL_CACHE];
afterEach(async () => {
  for (const c of CACHES) await caches.delete(c);
});

function record(id: string): ModelRecordLike {
  return { model: `https://huggingface.co/tests/${id}`, model_id: id, model_lib: `https://raw.githubusercontent.com/tests/libs/main/${id}-webgpu.wasm`, vram_required_MB: 10 };
}

/** Serves tokenizer_config.json only (fetchLabExtras), counting every call. */
function servedExtras(files: FileMap) {
  const calls: string[] = [];
  const fetch = async (input: RequestInfo | URL) => {
    calls.push(String(input));
    const name = String(input).split('/resolve/main/')[1];
    return name === 'tokenizer_config.json' ? new Response(files[name].slice()) : new Response('Entry not found', { status: 404 });
  };
  return { calls, fetch: fetch as typeof globalThis.fetch };
}

const forbidden = (() => {
  const calls: string[] = [];
  const fetch = (async (input: RequestInfo | URL) => {
    calls.push(String(input));
    throw new TypeError('Failed to fetch (the test forbids the network)');
  }) as typeof globalThis.fetch;
  return { calls, fetch };
})();

describe('one download, two engines', () => {
  for (const [arch, quantization] of [['qwen2', 'q4f16_1'], ['llama', 'q4f32_1'], ['llama', 'q0f16']] as const) {
    it(`the lab engine loads web-llm's cached ${arch} ${quantization} shards offline, identical to the files themselves`, async () => {
      const id = `${arch === 'qwen2' ? 'Qwen2.5' : 'SmolLM2'}-Tiny-Instruct-${quantization}-MLC`;
      const rec = record(id);
      const [entry] = buildCatalog([rec]);
      expect(entry.lab.loadable).toBe(true);
      const files = tinyMlcFiles({ arch, quantization, maxShardBytes: 8 * 1024 });
      delete files['ndarray-cache.json']; // web-llm 0.2.86 fetches tensor-cache.json only
      await storeLikeWebLlm(rec, files);

      // web-llm's own reader agrees that the model is cached under these keys.
      const appConfig: AppConfig = { model_list: [rec as AppConfig['model_list'][number]] };
      expect(await hasModelInCache(id, appConfig)).toBe(true);

      // The lab engine needs the chat template as well, which web-llm never caches.
      const extras = servedExtras(files);
      expect(await fetchLabExtras(entry, { fetch: extras.fetch })).toBe(true);
      expect(extras.calls).toEqual([`${entry.baseUrl}tokenizer_config.json`]);

      const state = await modelCacheState(entry, [entry]);
      const shards = Object.keys(files).filter((f) => f.startsWith('params_shard_')).length;
      expect(shards).toBeGreaterThan(2);
      expect(state).toMatchObject({ webllmComplete: true, shardsCached: shards, shardsTotal: shards, configCached: true, tokenizerCached: true, wasmCached: true, labFiles: 1, labReady: true });
      const stored = ['mlc-chat-config.json', 'tokenizer.json', 'tensor-cache.json', 'tokenizer_config.json', ...Object.keys(files).filter((f) => f.startsWith('params_shard_'))];
      expect(state.bytes).toBe(stored.reduce((a, f) => a + files[f].byteLength, 0));

      // Offline: fetch must not be called.
      const source = hubSource(entry.repo!, { fetch: forbidden.fetch });
      const fromCache = await loadModel(source);
      expect(forbidden.calls).toEqual([]);
      const fromFiles = await loadModel(memorySource(files));
      expect(fromCache.config).toEqual(fromFiles.config);
      expect(fromCache.quantization).toBe(quantization);
      expect(fromCache.weights).toEqual(fromFiles.weights);
      const prompt = fromCache.tokenizer.encodeChat([{ role: 'user', content: 'Hello there' }], { addGenerationPrompt: true });
      expect(prompt).toEqual(fromFiles.tokenizer.encodeChat([{ role: 'user', content: 'Hello there' }], { addGenerationPrompt: true }));
      const a = new CpuModel(fromCache.weights);
      const b = new CpuModel(fromFiles.weights);
      expect(a.forward(a.newCache(), prompt).logits).toEqual(b.forward(b.newCache(), prompt).logits);

      // The exact download size comes from the cached tensor-cache.json, still without the network.
      const details = await modelDetails(entry, { fetch: forbidden.fetch });
      expect(details.weightBytes).toBe(Object.keys(files).filter((f) => f.startsWith('params_shard_')).reduce((x, f) => x + files[f].byteLength, 0));
      expect(details.lab.loadable).toBe(true);
      expect(forbidden.calls).toEqual([]);
    });
  }

  it('agrees with web-llm on a partial download, and deletes a model from every cache', async () => {
    const rec = record('Qwen2.5-Tiny-Instruct-q4f32_1-MLC');
    const variant = { ...record('Qwen2.5-Tiny-Instruct-q4f32_1-MLC-1k'), model: rec.model, model_lib: rec.model_lib };
    const other = record('SmolLM2-Tiny-Instruct-q0f32-MLC');
    const catalog = buildCatalog([rec, variant, other]);
    const appConfig: AppConfig = { model_list: [rec, variant, other] as AppConfig['model_list'] };
    const files = tinyMlcFiles({ arch: 'qwen2', quantization: 'q4f32_1', maxShardBytes: 8 * 1024 });
    await storeLikeWebLlm(rec, files);
    await storeLikeWebLlm(other, tinyMlcFiles({ arch: 'llama', quantization: 'q0f32' }));

    // A download that broke off after some shards: web-llm resumes from what is stored.
    await (await caches.open(WEBLLM_MODEL_CACHE)).delete(`${catalog[0].baseUrl}params_shard_1.bin`);
    expect(await hasModelInCache(rec.model_id, appConfig)).toBe(false);
    const partial = await modelCacheState(catalog[0], catalog);
    expect(partial).toMatchObject({ webllmComplete: false, labReady: false, sharedWith: [variant.model_id] });
    expect(partial.shardsCached).toBe(partial.shardsTotal! - 1);

    const listed = await listCachedModels(catalog);
    expect(listed.map((s) => s.modelId).sort()).toEqual([rec.model_id, variant.model_id, other.model_id].sort());

    const removed = await deleteCachedModel(catalog[0], catalog);
    expect(removed.models).toEqual([rec.model_id, variant.model_id]);
    expect(removed.files).toBe(2 + partial.shardsCached + 1 + 1); // config, tokenizer, shards, tensor-cache, wasm
    expect(await hasModelInCache(other.model_id, appConfig)).toBe(true);
    expect((await listCachedModels(catalog)).map((s) => s.modelId)).toEqual([other.model_id]);
    expect(await (await caches.open(WEBLLM_WASM_CACHE)).match(rec.model_lib)).toBeUndefined();
    expect(await (await caches.open(WEBLLM_WASM_CACHE)).match(other.model_lib)).toBeDefined();
  });

  it('lists both engines\' stored models with sizes, names web-llm\'s with the catalog, and deletes each from every cache', async () => {
    const rec = record('SmolLM2-Tiny-Instruct-q0f32-MLC');
    const [entry] = buildCatalog([rec]);
    const mlc = tinyMlcFiles({ arch: 'llama', quantization: 'q0f32', maxShardBytes: 8 * 1024 });
    await storeLikeWebLlm(rec, mlc);
    await fetchLabExtras(entry, { fetch: servedExtras(mlc).fetch });
    // A checkpoint only the lab engine downloaded (its own cache).
    const hf = tinyModelFiles({ format: 'hf' });
    const lab = await caches.open(LAB_MODEL_CACHE);
    for (const name of Object.keys(hf)) await lab.put(`https://huggingface.co/me/tiny-hf/resolve/main/${name}`, new Response(hf[name].slice(), { headers: { 'content-length': String(hf[name].byteLength) } }));
    const hfBytes = Object.values(hf).reduce((a, f) => a + f.byteLength, 0);
    const mlcBytes = ['mlc-chat-config.json', 'tokenizer.json', 'tensor-cache.json', 'tokenizer_config.json', ...Object.keys(mlc).filter((f) => f.startsWith('params_shard_'))].reduce((a, f) => a + mlc[f].byteLength, 0);

    // Without web-llm's catalog (web-llm not started): rows by repository, sizes, both engines' files.
    const plain = await listStoredModels(null);
    expect(plain.map((m) => [m.repo, m.bytes, m.labFiles, m.modelIds, m.webllm])).toEqual(
      [
        ['me/tiny-hf', hfBytes, Object.keys(hf).length, [], null],
        [`tests/${rec.model_id}`, mlcBytes, 1, [], null],
      ].sort((a, b) => (b[1] as number) - (a[1] as number)),
    );
    const mlcRow = plain.find((m) => m.repo === `tests/${rec.model_id}`)!;
    expect(mlcRow).toMatchObject({ webllmFiles: 3 + mlcRow.shardsTotal!, shardsStored: mlcRow.shardsTotal });

    // With it: web-llm's model ids and state.
    const named = await listStoredModels([entry]);
    expect(named.find((m) => m.baseUrl === entry.baseUrl)).toMatchObject({ modelIds: [rec.model_id], webllm: { webllmComplete: true, labReady: true, bytes: mlcBytes } });

    // Deleting the lab engine's checkpoint leaves web-llm's model alone, and the other way round (its .wasm too).
    expect(await deleteStoredModel('https://huggingface.co/me/tiny-hf/resolve/main/', [entry])).toEqual({ files: Object.keys(hf).length, models: [] });
    expect((await listStoredModels([entry])).map((m) => m.modelIds)).toEqual([[rec.model_id]]);
    expect((await deleteStoredModel(entry.baseUrl, [entry])).models).toEqual([rec.model_id]);
    expect(await listStoredModels([entry])).toEqual([]);
    expect(await (await caches.open(WEBLLM_WASM_CACHE)).match(rec.model_lib)).toBeUndefined();
  });
});
