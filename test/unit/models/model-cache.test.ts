import { describe, expect, it } from 'vitest';
import { tinyMlcFiles } from '../../../src/engine/tiny/tiny';
import { buildCatalog } from '../../../src/models/catalog';
import { modelDetails } from '../../../src/models/model-cache';

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
