/**
 * The loaders in a real browser: tiny models generated in the page, the hub path through the
 * real Cache Storage (fetch served from memory, never the network), picked File objects, and the
 * CPU reference and tokenizer running in the page.
 */
import { describe, expect, it } from 'vitest';
import { CpuModel } from '../../../src/engine/cpu/model';
import { browserFilesSource, filesFromDataTransfer } from '../../../src/engine/load/files';
import { LAB_MODEL_CACHE, hubSource } from '../../../src/engine/load/fetch';
import { loadModel } from '../../../src/engine/load/model';
import { tinyHfFiles, tinyMlcFiles } from '../../../src/engine/tiny/tiny';

describe('model loading in the browser', () => {
  it('downloads into Cache Storage and loads again with the network gone', async () => {
    const repo = `tests/tiny-${Date.now()}`;
    const files = tinyMlcFiles({ arch: 'llama', quantization: 'q4f32_1' });
    const served = async (input: RequestInfo | URL, init?: RequestInit) => {
      const path = decodeURIComponent(String(input).split('/resolve/main/')[1]);
      const body = files[path];
      if (!body) return new Response('Entry not found', { status: 404 });
      return new Response(init?.method === 'HEAD' ? null : body.slice(), { headers: { 'content-length': String(body.byteLength) } });
    };
    let bytes = 0;
    const first = await loadModel(hubSource(repo, { fetch: served, onCacheError: (e) => { throw e; } }), { onProgress: (_p, loaded) => (bytes = Math.max(bytes, loaded)) });
    expect(bytes).toBeGreaterThan(0);
    const offline = hubSource(repo, { fetch: async () => Promise.reject(new TypeError('Failed to fetch')) });
    expect(await offline.isCached('params_shard_0.bin')).toBe(true);
    const again = await loadModel(offline);
    const a = new CpuModel(first.weights);
    const b = new CpuModel(again.weights);
    const prompt = again.tokenizer.encodeChat([{ role: 'user', content: 'Hello there' }], { addGenerationPrompt: true });
    expect(b.forward(b.newCache(), prompt).logits).toEqual(a.forward(a.newCache(), prompt).logits);
    await offline.evict(Object.keys(files));
    expect(await offline.isCached('params_shard_0.bin')).toBe(false);
    await caches.delete(LAB_MODEL_CACHE);
  });

  it('loads a picked folder of File objects (common top folder stripped)', async () => {
    const files = tinyHfFiles({ arch: 'qwen2', dtype: 'bf16' });
    const picked = Object.entries(files).map(([path, body]) => {
      const f = new File([body.slice()], path);
      Object.defineProperty(f, 'webkitRelativePath', { value: `Tiny-Qwen/${path}` });
      return f;
    });
    const m = await loadModel(browserFilesSource(picked));
    expect(m).toMatchObject({ format: 'hf', config: { arch: 'qwen2', tieWordEmbeddings: true } });
    const model = new CpuModel(m.weights);
    const [g] = model.generate(m.tokenizer.encode('The sea'), { temperature: 0, maxTokens: 4 });
    expect(g.tokens.length).toBeGreaterThan(0);
  });

  it('loads dropped files (a DataTransfer) and path/file pairs', async () => {
    const files = tinyMlcFiles({ arch: 'qwen2', quantization: 'q0f32' });
    const dt = new DataTransfer();
    for (const [path, body] of Object.entries(files)) dt.items.add(new File([body.slice()], path));
    const dropped = await filesFromDataTransfer(dt);
    expect(dropped.map((d) => d.path).sort()).toEqual(Object.keys(files).sort());
    const m = await loadModel(browserFilesSource(dropped, 'dropped files'));
    expect(m.quantization).toBe('q0f32');
    const nested = dropped.map(({ path, file }) => ({ path: `Tiny/${path}`, file }));
    expect((await loadModel(browserFilesSource(nested))).format).toBe('mlc');
  });
});
