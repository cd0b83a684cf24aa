import { describe, expect, it } from 'vitest';
import { tinyMlcFiles } from '../../../src/engine/tiny/tiny';
import { buildCatalog } from '../../../src/models/catalog';
import { WEBLLM_CONFIG_CACHE, WEBLLM_MODEL_CACHE, deleteStoredModel, listCachedModels, listStoredModels, modelDetails, type CacheStorageWithKeys, type CacheWithKeys } from '../../../src/models/model-cache';
import { TRANSFORMERS_CACHE } from '../../../src/models/onnx-hub';
import { LAB_MODEL_CACHE } from '../../../src/engine/load/fetch';

/** Cache Storage in memory, with keys() as the panel lists it. */
class MemoryCaches implements CacheStorageWithKeys {
  readonly stores = new Map<string, Map<string, Uint8Array>>();
  async open(name: string): Promise<CacheWithKeys> {
    const store = this.stores.get(name) ?? new Map<string, Uint8Array>();
    this.stores.set(name, store);
    return {
      match: async (url: string) => (store.has(url) ? new Response(store.get(url)!.slice(), { headers: { 'content-length': String(store.get(url)!.byteLength) } }) : undefined),
      put: async (url: string, res: Response) => void store.set(url, new Uint8Array(await res.arrayBuffer())),
      delete: async (url: string) => store.delete(url),
      keys: async () => [...store.keys()].map((u) => new Request(u)),
    };
  }
}

/** A model's files where web-llm keeps them: the chat config in webllm/config, the rest in webllm/model. */
async function storeLikeWebLlm(caches: MemoryCaches, base: string, files: Record<string, Uint8Array>) {
  for (const [name, bytes] of Object.entries(files)) {
    if (name === 'ndarray-cache.json' || name === 'tokenizer_config.json') continue;
    await (await caches.open(name === 'mlc-chat-config.json' ? WEBLLM_CONFIG_CACHE : WEBLLM_MODEL_CACHE)).put(base + name, new Response(bytes.slice()));
  }
}

function hub(files: Record<string, Uint8Array>) {
  const asked: string[] = [];
  const fetch = (async (input: RequestInfo | URL) => {
    const name = decodeURIComponent(String(input).split('/resolve/main/')[1]);
    asked.push(name);
    return files[name] ? new Response(files[name].slice()) : new Response('Entry not found', { status: 404 });
  }) as typeof globalThis.fetch;
  return { asked, fetch };
}

const record = (id: string) => ({ model: `https://huggingface.co/tests/${id}`, model_id: id, model_lib: 'https://example.com/lib.wasm' });

describe('model details from the two small files', () => {
  it('gives the exact weight bytes from tensor-cache.json and fetches each model once', async () => {
    const files = tinyMlcFiles({ arch: 'llama', quantization: 'q4f32_1', maxShardBytes: 4096 });
    const [entry] = buildCatalog([record('SmolLM2-Unit-q4f32_1-MLC')]);
    const h = hub(files);
    const d = await modelDetails(entry, { fetch: h.fetch, caches: null });
    const shards = Object.keys(files).filter((f) => f.startsWith('params_shard_'));
    expect(d).toEqual({ weightBytes: shards.reduce((a, f) => a + files[f].byteLength, 0), shards: shards.length, lab: entry.lab, readout: { ok: true, reason: expect.stringContaining('read-out works') } });
    await modelDetails(entry, { fetch: h.fetch, caches: null });
    expect(h.asked.filter((f) => f === 'tensor-cache.json')).toHaveLength(1);
  });

  it('corrects the catalog when mlc-chat-config.json shows the lab engine cannot load the model', async () => {
    const files = tinyMlcFiles({ arch: 'qwen2', quantization: 'q4f16_1' });
    const cfg = JSON.parse(new TextDecoder().decode(files['mlc-chat-config.json']));
    files['mlc-chat-config.json'] = new TextEncoder().encode(JSON.stringify({ ...cfg, model_type: 'qwen3' }));
    const [entry] = buildCatalog([record('Qwen2.5-Odd-q4f16_1-MLC')]);
    expect(entry.lab.loadable).toBe(true); // what the name suggests…
    const d = await modelDetails(entry, { fetch: hub(files).fetch, caches: null });
    expect(d.lab).toEqual({ loadable: false, reason: expect.stringMatching(/model_type "qwen3".*web-llm only/s) }); // …and what the files say
    expect(d.readout.ok).toBe(true); // web-llm still reads verdicts out of it
  });

  it('says when the verdict read-out cannot work with a model (a named conversation template)', async () => {
    const files = tinyMlcFiles({ arch: 'llama', quantization: 'q0f32' });
    const cfg = JSON.parse(new TextDecoder().decode(files['mlc-chat-config.json']));
    files['mlc-chat-config.json'] = new TextEncoder().encode(JSON.stringify({ ...cfg, conv_template: 'llama-2' }));
    const [entry] = buildCatalog([record('Llama-2-Old-q0f32-MLC')]);
    const d = await modelDetails(entry, { fetch: hub(files).fetch, caches: null });
    expect(d.readout).toEqual({ ok: false, reason: expect.stringContaining('Verdict from" to parsed') });
  });
});

describe('the Models panel\'s list', () => {
  const base = (id: string) => `https://huggingface.co/tests/${id}/resolve/main/`;

  it('lists a real-layout q4 build (f32-to-bf16 on every record) and shows a broken one as broken, keeping the others', async () => {
    const caches = new MemoryCaches();
    const good = tinyMlcFiles({ arch: 'qwen2', quantization: 'q4f16_1', maxShardBytes: 8192 });
    await storeLikeWebLlm(caches, base('Good-q4f16_1-MLC'), good);
    const broken = { ...good, 'tensor-cache.json': new TextEncoder().encode('{"records": [{"dataPath": "params_shard_0.bin"') };
    await storeLikeWebLlm(caches, base('Broken-q4f16_1-MLC'), broken);
    const odd = JSON.parse(new TextDecoder().decode(good['tensor-cache.json']));
    odd.records[0].records[0].dtype = 'float7';
    await storeLikeWebLlm(caches, base('Odd-q4f16_1-MLC'), { ...good, 'tensor-cache.json': new TextEncoder().encode(JSON.stringify(odd)) });

    const rows = await listStoredModels(null, caches);
    const row = (id: string) => rows.find((r) => r.baseUrl === base(id))!;
    expect(rows).toHaveLength(3);
    const shards = Object.keys(good).filter((f) => f.startsWith('params_shard_')).length;
    expect(row('Good-q4f16_1-MLC')).toMatchObject({ problem: null, shardsTotal: shards, shardsStored: shards });
    expect(row('Broken-q4f16_1-MLC')).toMatchObject({ shardsTotal: null, problem: expect.stringMatching(/tests\/Broken-q4f16_1-MLC: the stored tensor-cache.json cannot be read .*download it again/s) });
    expect(row('Odd-q4f16_1-MLC').problem).toMatch(/unknown dtype "float7"/);

    // With web-llm's catalog too: every model's state, the broken ones with their reason.
    const catalog = buildCatalog(['Good', 'Broken', 'Odd'].map((n) => record(`${n}-q4f16_1-MLC`)));
    const named = await listStoredModels(catalog, caches);
    expect(named.find((r) => r.baseUrl === base('Good-q4f16_1-MLC'))!.webllm).toMatchObject({ webllmComplete: true, problem: null });
    expect(named.find((r) => r.baseUrl === base('Broken-q4f16_1-MLC'))!.webllm).toMatchObject({ webllmComplete: false, labReady: false, problem: expect.any(String) });
    expect((await listCachedModels(catalog, caches)).map((m) => [m.modelId, m.problem === null])).toEqual([
      ['Good-q4f16_1-MLC', true],
      ['Broken-q4f16_1-MLC', false],
      ['Odd-q4f16_1-MLC', false],
    ]);
  });
});

describe('ONNX models for transformers.js', () => {
  it('are rows with their dtypes and sizes, whichever cache holds them, and are deleted like the others', async () => {
    const caches = new MemoryCaches();
    const lab = await caches.open(LAB_MODEL_CACHE);
    const tjs = await caches.open(TRANSFORMERS_CACHE);
    const base = 'https://huggingface.co/onnx-community/SmolLM2-135M-Instruct-ONNX/resolve/main/';
    const put = (cache: CacheWithKeys, url: string, n: number) => cache.put(url, new Response(new Uint8Array(n)));
    // Read through hubSource into the lab's cache…
    await put(lab, base + 'config.json', 100);
    await put(lab, base + 'tokenizer.json', 2_000);
    await put(lab, base + 'onnx/model_q4.onnx', 50_000);
    // …or stored by transformers.js itself; and ONNX Runtime's own file there, which is no model.
    await put(tjs, base + 'onnx/model_fp16.onnx', 70_000);
    await put(tjs, base + 'onnx/model_fp16.onnx_data', 30_000);
    const runtime = 'http://127.0.0.1:4173/assets/ort-wasm-simd-threaded.asyncify.wasm';
    await put(tjs, runtime, 9_000);

    const rows = await listStoredModels(null, caches);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ baseUrl: base, repo: 'onnx-community/SmolLM2-135M-Instruct-ONNX', revision: 'main', labFiles: 3, webllmFiles: 0, bytes: 152_100, onnxDtypes: ['q4', 'fp16'], problem: null });

    expect(await deleteStoredModel(base, null, caches)).toEqual({ files: 5, models: [] });
    expect(await listStoredModels(null, caches)).toEqual([]);
    expect((await tjs.keys()).map((r) => r.url)).toEqual([runtime]);
  });
});
