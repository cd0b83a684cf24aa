/**
 * Hub download and cache, against a local HTTP server on 127.0.0.1 that serves tiny models under
 * the hub's URL scheme, and an in-memory Cache Storage. No real network.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuModel } from '../../../../src/engine/cpu/model';
import type { FileMap } from '../../../../src/engine/load/files';
import { LAB_MODEL_CACHE, hubFileUrl, hubSource, type CacheLike, type CacheStorageLike } from '../../../../src/engine/load/fetch';
import { loadModel } from '../../../../src/engine/load/model';
import { checkModelFits, planModel, totalProgress } from '../../../../src/engine/load/plan';
import { tinyHfFiles, tinyMlcFiles } from '../../../../src/engine/tiny/tiny';

class MemoryCaches implements CacheStorageLike {
  stores = new Map<string, Map<string, { body: Uint8Array; headers: [string, string][] }>>();
  async open(name: string): Promise<CacheLike> {
    const store = this.stores.get(name) ?? new Map();
    this.stores.set(name, store);
    return {
      async match(url) {
        const e = store.get(url);
        return e ? new Response(e.body.slice(), { headers: e.headers }) : undefined;
      },
      async put(url, res) {
        store.set(url, { body: new Uint8Array(await res.arrayBuffer()), headers: [...res.headers] });
      },
      async delete(url) {
        return store.delete(url);
      },
    };
  }
}

const repos: Record<string, FileMap> = {
  'mlc-ai/Tiny-q4f16_1-MLC': tinyMlcFiles({ arch: 'qwen2', quantization: 'q4f16_1', maxShardBytes: 16384 }),
  'tests/tiny-llama': tinyHfFiles({ arch: 'llama', shards: 2 }),
  'tests/tiny-single': tinyHfFiles({ arch: 'qwen2' }),
};
const hits: string[] = [];
let server: Server;
let endpoint = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    const m = /^\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/.exec(req.url ?? '');
    const file = m && repos[m[1]]?.[decodeURIComponent(m[2])];
    hits.push(`${req.method} ${req.url}`);
    if (m?.[1] === 'tests/gated') {
      res.writeHead(401).end();
      return;
    }
    if (!file) {
      res.writeHead(404).end('Entry not found');
      return;
    }
    const range = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
    if (range) {
      const body = file.subarray(Number(range[1]), Number(range[2]) + 1);
      res.writeHead(206, { 'content-length': body.byteLength }).end(body);
      return;
    }
    res.writeHead(200, { 'content-length': file.byteLength });
    res.end(req.method === 'HEAD' ? undefined : file);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

describe('hub source', () => {
  it('builds the hub URL web-llm uses for the same file', () => {
    expect(hubFileUrl('mlc-ai/SmolLM2-135M-Instruct-q0f16-MLC', 'params_shard_0.bin')).toBe(
      'https://huggingface.co/mlc-ai/SmolLM2-135M-Instruct-q0f16-MLC/resolve/main/params_shard_0.bin',
    );
    expect(() => hubFileUrl('not a repo', 'x')).toThrow(/owner\/name/);
  });

  it('downloads with byte progress, caches, then loads offline from the cache', async () => {
    const caches = new MemoryCaches();
    const repo = 'mlc-ai/Tiny-q4f16_1-MLC';
    const progress = new Map<string, [number, number | null]>();
    const online = hubSource(repo, { endpoint, caches });
    const first = await loadModel(online, { onProgress: (p, loaded, total) => progress.set(p, [loaded, total]) });
    expect(first.format).toBe('mlc');
    const shard = repos[repo]['params_shard_1.bin'];
    expect(progress.get('params_shard_1.bin')).toEqual([shard.byteLength, shard.byteLength]);
    expect(caches.stores.get(LAB_MODEL_CACHE)!.size).toBeGreaterThanOrEqual(6);

    // Offline: every fetch fails, yet the model loads from the cache, identical.
    const offline = hubSource(repo, { endpoint, caches, fetch: async () => Promise.reject(new TypeError('Failed to fetch')) });
    expect(await offline.isCached('params_shard_0.bin')).toBe(true);
    const again = await loadModel(offline);
    const a = new CpuModel(first.weights);
    const b = new CpuModel(again.weights);
    expect(b.forward(b.newCache(), [1, 2, 3]).logits).toEqual(a.forward(a.newCache(), [1, 2, 3]).logits);
    // A file never downloaded: a network error that says so.
    await expect(offline.read('README.md')).rejects.toMatchObject({ kind: 'network', message: expect.stringMatching(/Could not download README.md .*Check the connection/) });
  });

  it("reads files web-llm already cached instead of downloading them", async () => {
    const caches = new MemoryCaches();
    const repo = 'mlc-ai/Tiny-q4f16_1-MLC';
    const webllm = await caches.open('webllm/model');
    const config = await caches.open('webllm/config');
    for (const [path, bytes] of Object.entries(repos[repo])) {
      await (path === 'mlc-chat-config.json' ? config : webllm).put(hubFileUrl(repo, path, 'main', endpoint), new Response(bytes.slice()));
    }
    hits.length = 0;
    const m = await loadModel(hubSource(repo, { endpoint, caches }));
    expect(m.quantization).toBe('q4f16_1');
    expect(hits).toEqual([]);
  });

  it('explains missing files, gated repositories and truncated downloads', async () => {
    const src = hubSource('tests/tiny-llama', { endpoint, caches: null });
    await expect(src.read('nope.bin')).rejects.toMatchObject({ kind: 'not-found', message: expect.stringMatching(/has no file "nope.bin"/) });
    expect(await src.exists('config.json')).toBe(true);
    expect(await src.exists('mlc-chat-config.json')).toBe(false);
    await expect(hubSource('tests/gated', { endpoint, caches: null }).read('config.json')).rejects.toThrow(/gated or private/);
    const short = hubSource('tests/tiny-llama', {
      endpoint,
      caches: null,
      fetch: async () => new Response(new Uint8Array(10), { headers: { 'content-length': '20' } }),
    });
    await expect(short.read('config.json')).rejects.toThrow(/stopped at 10 of 20 bytes/);
  });
});

describe('pre-download check', () => {
  const limits = { maxBufferSize: 256 * 1024 * 1024, maxStorageBufferBindingSize: 128 * 1024 * 1024, shaderF16: true };

  it('plans an MLC model from tensor-cache.json and a sharded HF model from safetensors headers, downloading no weights', async () => {
    hits.length = 0;
    const mlc = await planModel(hubSource('mlc-ai/Tiny-q4f16_1-MLC', { endpoint, caches: null }));
    expect(mlc.tensors.find((t) => t.name === 'model.embed_tokens.q_weight')).toMatchObject({ dtype: 'uint32', shape: [331, 8], bytes: 331 * 8 * 4 });
    const shardBytes = Object.entries(repos['mlc-ai/Tiny-q4f16_1-MLC']).filter(([p]) => p.startsWith('params_shard_')).reduce((a, [, f]) => a + f.byteLength, 0);
    expect(mlc.weightBytes).toBe(shardBytes);
    expect(hits.some((h) => h.startsWith('GET') && h.includes('params_shard'))).toBe(false);

    hits.length = 0;
    const hf = await planModel(hubSource('tests/tiny-llama', { endpoint, caches: null }));
    expect(hf.tensors.find((t) => t.name === 'lm_head.weight')).toMatchObject({ dtype: 'F32', shape: [331, 64], bytes: 331 * 64 * 4 });
    expect(hf.files.filter((f) => f.path.endsWith('.safetensors'))).toHaveLength(2);
    const total = Object.values(repos['tests/tiny-llama']).reduce((a, f) => a + f.byteLength, 0);
    expect(hf.downloadBytes).toBeLessThanOrEqual(total);
    expect(hits.filter((h) => h.startsWith('GET') && h.includes('.safetensors') && !h.includes('index'))).toHaveLength(4); // two ranges per shard
    const single = await planModel(hubSource('tests/tiny-single', { endpoint, caches: null }));
    expect(single.tensors.some((t) => t.name === 'lm_head.weight')).toBe(false);
    // One progress bar over the whole download reaches the planned total.
    let last: [number, number | null] = [0, null];
    await loadModel(hubSource('tests/tiny-llama', { endpoint, caches: null }), { onProgress: totalProgress(hf, (l, t) => (last = [l, t])) });
    expect(last[0]).toBeGreaterThan(0);
    expect(last[0]).toBeLessThanOrEqual(hf.downloadBytes!);
    expect(last[1]).toBe(hf.downloadBytes);
  });

  it('says which tensors must be split across bindings, and when a model cannot load', async () => {
    const plan = await planModel(hubSource('tests/tiny-single', { endpoint, caches: null }));
    expect(checkModelFits(plan, limits).verdict).toBe('fits');
    // A GPU whose storage binding holds 20 KiB: the 331×64 f32 embedding (84.7 KB) needs 5 parts of 80 rows.
    const small = checkModelFits(plan, { maxBufferSize: 1 << 30, maxStorageBufferBindingSize: 20 * 1024, shaderF16: true });
    expect(small.verdict).toBe('fits-with-splitting');
    expect(small.split.find((s) => s.name === 'model.embed_tokens.weight')).toEqual({ name: 'model.embed_tokens.weight', bytes: 331 * 64 * 4, parts: 5 });
    expect(small.message).toMatch(/model.embed_tokens.weight .* split into/);
    const tiny = checkModelFits(plan, { maxBufferSize: 1 << 30, maxStorageBufferBindingSize: 128, shaderF16: true });
    expect(tiny.verdict).toBe('too-large');
    expect(tiny.message).toMatch(/will not load: One row of/);
    const budget = checkModelFits(plan, limits, { memoryBudgetBytes: 1024 });
    expect(budget.verdict).toBe('too-large');
    // Without shader-f16, 16-bit weights count double.
    const f16plan = await planModel(hubSource('mlc-ai/Tiny-q4f16_1-MLC', { endpoint, caches: null }));
    const withF16 = checkModelFits(f16plan, limits);
    const without = checkModelFits(f16plan, { ...limits, shaderF16: false });
    // f16 weights stay f16 without shader-f16 (the kernels unpack them): the same memory.
    expect(without.gpuWeightBytes).toBe(withF16.gpuWeightBytes);
    expect(without.message).not.toMatch(/widened/);
    expect(withF16.kvCacheBytes).toBe(2 * 2 * 2 * 16 * 512 * 16 * 4);
  });
});
