/**
 * Loading models with the network down: a model cached before loads from the cache alone, and a
 * model that is not (fully) cached says the browser is offline and names the file it needs,
 * never a file the model does not have. The same for web-llm: no "download broke off" when no
 * download started.
 */
import { describe, expect, it } from 'vitest';
import { webLlmError } from '../../../src/backends/webllm-errors';
import type { CacheLike, CacheStorageLike } from '../../../src/engine/load/fetch';
import { tinyModelFiles } from '../../../src/engine/tiny/tiny';
import { CPU_ENGINE } from '../../../src/lab/engine';
import { ModelHost } from '../../../src/lab/models';

class MemoryCaches implements CacheStorageLike {
  readonly stores = new Map<string, Map<string, Response>>();
  async open(name: string): Promise<CacheLike> {
    const store = this.stores.get(name) ?? new Map<string, Response>();
    this.stores.set(name, store);
    return {
      match: async (url) => store.get(url)?.clone(),
      put: async (url, res) => void store.set(url, res),
      delete: async (url) => store.delete(url),
    };
  }
  cachedFiles(): string[] {
    return [...(this.stores.get('spar-lab/models')?.keys() ?? [])].map((u) => u.split('/resolve/main/')[1]).sort();
  }
}

const REPO = 'me/tiny-safetensors';
/** A plain safetensors checkpoint, as most Hugging Face repositories are (no mlc-chat-config.json). */
const files = tinyModelFiles({ format: 'hf', seed: 5 });

const online = (async (url: string | URL | Request, init: RequestInit = {}) => {
  const path = String(url).split(`/${REPO}/resolve/main/`)[1];
  const f = files[path];
  if (!f) return new Response('Entry not found', { status: 404 });
  const range = /bytes=(\d+)-(\d+)/.exec(new Headers(init.headers).get('Range') ?? '');
  if (range) {
    const part = f.subarray(Number(range[1]), Number(range[2]) + 1);
    return new Response(part as Uint8Array<ArrayBuffer>, { status: 206, headers: { 'content-length': String(part.byteLength) } });
  }
  return new Response(init.method === 'HEAD' ? null : (f as Uint8Array<ArrayBuffer>), { headers: { 'content-length': String(f.byteLength) } });
}) as typeof fetch;

/** What fetch does offline in Chrome: it rejects before any byte arrives. */
const offline = (async () => Promise.reject(new TypeError('Failed to fetch'))) as typeof fetch;

const host = (fetch: typeof globalThis.fetch, caches: MemoryCaches) => new ModelHost({ engine: CPU_ENGINE, hub: { fetch, caches, endpoint: 'https://huggingface.co' } });

describe('loading a hub model offline', () => {
  it('a model downloaded before loads from the cache alone', async () => {
    const caches = new MemoryCaches();
    const first = await host(online, caches).load({ type: 'hub', repo: REPO });
    expect(caches.cachedFiles()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    // Offline it must not ask the hub about files the model lacks (mlc-chat-config.json) or never needed (generation_config.json).
    const again = await host(offline, caches).load({ type: 'hub', repo: REPO });
    expect({ ...again, loadedAt: 0 }).toEqual({ ...first, loadedAt: 0 });
  });

  it('a model never downloaded: offline, and the files it needs, not "could not download mlc-chat-config.json"', async () => {
    const err = await host(offline, new MemoryCaches())
      .plan({ type: 'hub', repo: REPO })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'network' });
    const message = (err as Error).message;
    expect(message).toMatch(/this browser is offline or the network is unreachable \(Failed to fetch\)/);
    expect(message).toContain(`${REPO} is not fully in this browser's cache`);
    expect(message).toMatch(/nor config\.json \(a Hugging Face checkpoint\)/);
    expect(message).not.toMatch(/Could not download mlc-chat-config\.json/);
  });

  it('a model whose size was checked but whose weights were never downloaded names the weights file', async () => {
    const caches = new MemoryCaches();
    await host(online, caches).plan({ type: 'hub', repo: REPO }); // reads the small files only
    expect(caches.cachedFiles()).not.toContain('model.safetensors');
    const err = await host(offline, caches)
      .load({ type: 'hub', repo: REPO })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'network' });
    expect((err as Error).message).toMatch(/model\.safetensors/);
    expect((err as Error).message).toMatch(/offline/);
    expect((err as Error).message).not.toMatch(/mlc-chat-config\.json/);
  });
});

describe('web-llm offline', () => {
  it('a request that got no answer says offline, not that a download broke off', () => {
    for (const offlineError of [new TypeError('Failed to fetch'), 'TypeError: Failed to fetch', 'TypeError: NetworkError when attempting to fetch resource.', 'TypeError: Load failed']) {
      const e = webLlmError(offlineError, 'load', 'SmolLM2-135M-Instruct-q0f32-MLC');
      expect(e.kind).toBe('network');
      expect(e.message).toMatch(/^web-llm \(SmolLM2-135M-Instruct-q0f32-MLC\) could not download the model: this browser is offline or the download server cannot be reached/);
      expect(e.message).not.toMatch(/broke off/);
      expect(e.message).toMatch(/downloads only the missing ones/);
    }
  });

  it('a download cut off midway still says it broke off', () => {
    expect(webLlmError(new TypeError('network error'), 'load', 'X').message).toMatch(/^The download for web-llm \(X\) broke off \(network error\)/);
  });
});
