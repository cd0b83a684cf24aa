import { describe, expect, it } from 'vitest';
import { memorySource, type FileMap } from '../../../../src/engine/load/files';
import { loadModel } from '../../../../src/engine/load/model';
import { urlSource } from '../../../../src/engine/load/url-source';
import { tinyModelFiles } from '../../../../src/engine/tiny/tiny';

const BASE = 'http://app.test/lab/models/tiny/';

/**
 * A static file server over `files` at BASE (HEAD, GET, Range), logging requests. `spa`: a
 * missing path gets the app's index.html with status 200, as Vite's servers and SPA hosts answer.
 */
function fakeServer(files: FileMap, o: { spa?: boolean } = {}) {
  const log: string[] = [];
  const fetch = async (url: string | URL | Request, init: RequestInit = {}) => {
    const href = String(url);
    const range = new Headers(init.headers).get('Range');
    log.push(`${init.method ?? 'GET'} ${href}${range ? ` ${range} cache=${init.cache}` : ''}`);
    const f = href.startsWith(BASE) ? files[decodeURIComponent(href.slice(BASE.length))] : undefined;
    if (!f) {
      if (!o.spa) return new Response('Not found', { status: 404 });
      const page = '<!doctype html><title>SPaR Lab</title>';
      return new Response(init.method === 'HEAD' ? null : page, { headers: { 'content-type': 'text/html; charset=utf-8', 'content-length': String(page.length) } });
    }
    const headers = { 'content-type': 'application/octet-stream' };
    if (range) {
      const [, s, e] = /bytes=(\d+)-(\d+)/.exec(range)!;
      const part = f.subarray(Number(s), Number(e) + 1);
      return new Response(part as Uint8Array<ArrayBuffer>, { status: 206, headers: { ...headers, 'content-length': String(part.byteLength) } });
    }
    return new Response(init.method === 'HEAD' ? null : (f as Uint8Array<ArrayBuffer>), { headers: { ...headers, 'content-length': String(f.byteLength) } });
  };
  return { fetch: fetch as typeof globalThis.fetch, log };
}

/** Every typed array in an object, as bytes in hex (a fast deep comparison of model weights). */
function arrays(x: unknown, out: string[] = []): string[] {
  if (ArrayBuffer.isView(x)) out.push(Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('hex'));
  else if (x && typeof x === 'object') for (const v of Object.values(x)) arrays(v, out);
  return out;
}

describe('URL source', () => {
  const files = tinyModelFiles({ format: 'hf', seed: 3 });

  it('loads the same model as the files themselves, with progress, sizes and ranges over HTTP', async () => {
    const server = fakeServer(files);
    const source = urlSource(BASE, 'tiny over HTTP', { fetch: server.fetch });
    const viaHttp = await loadModel(source);
    const direct = await loadModel(memorySource(files));
    expect(viaHttp.config).toEqual(direct.config);
    expect(arrays(viaHttp.weights)).toEqual(arrays(direct.weights));
    expect(viaHttp.tokenizer.encodeChat([{ role: 'user', content: 'Hi there' }], { addGenerationPrompt: true })).toEqual(
      direct.tokenizer.encodeChat([{ role: 'user', content: 'Hi there' }], { addGenerationPrompt: true }),
    );

    const progress: number[] = [];
    const bytes = await source.read('model.safetensors', (_p, loaded) => progress.push(loaded));
    expect(Buffer.compare(bytes, files['model.safetensors'])).toBe(0);
    expect(progress.at(-1)).toBe(files['model.safetensors'].byteLength);
    expect(await source.size('model.safetensors')).toBe(files['model.safetensors'].byteLength);
    expect(await source.readRange!('model.safetensors', 8, 20)).toEqual(files['model.safetensors'].subarray(8, 20));
    expect(server.log.every((l) => l.split(' ')[1].startsWith(BASE))).toBe(true);
    // Ranges bypass the HTTP cache: a server that gzips whole files but not ranges under one ETag
    // (Vite's preview) otherwise gets them stitched into a truncated download.
    const ranges = server.log.filter((l) => l.includes('bytes='));
    expect(ranges.length).toBeGreaterThan(0);
    expect(ranges.every((l) => l.endsWith('cache=no-store'))).toBe(true);
  });

  it('a missing file is absent to exists() and a not-found error naming it to read()', async () => {
    const source = urlSource(BASE.slice(0, -1), 'tiny over HTTP', { fetch: fakeServer(files).fetch }); // no trailing slash: still the folder
    expect(await source.exists('config.json')).toBe(true);
    expect(await source.exists('mlc-chat-config.json')).toBe(false);
    expect(await source.size('nope.bin')).toBeNull();
    await expect(source.read('nope.bin')).rejects.toMatchObject({
      kind: 'not-found',
      message: `tiny over HTTP has no file "nope.bin" (${BASE}nope.bin answered HTTP 404).`,
    });
  });

  it("takes a single-page app's index.html for a missing file, and still loads the model", async () => {
    const source = urlSource(BASE, 'tiny over HTTP', { fetch: fakeServer(files, { spa: true }).fetch });
    expect(await source.exists('mlc-chat-config.json')).toBe(false);
    await expect(source.read('tokenizer.model')).rejects.toMatchObject({ kind: 'not-found', message: expect.stringContaining('answered with a web page') });
    expect((await loadModel(source)).format).toBe('hf');
  });

  it('says where it could not reach, and that a cancel is a cancel', async () => {
    const refused = urlSource(BASE, 'tiny over HTTP', { fetch: (async () => Promise.reject(new TypeError('Failed to fetch'))) as typeof fetch });
    await expect(refused.read('config.json')).rejects.toMatchObject({ kind: 'network', message: expect.stringContaining(`${BASE}config.json (Failed to fetch)`) });
    const broken = urlSource(BASE, 'tiny over HTTP', { fetch: (async () => new Response('', { status: 500 })) as typeof fetch });
    await expect(broken.exists('config.json')).rejects.toMatchObject({ kind: 'network', message: 'Reading config.json of tiny over HTTP failed with HTTP 500. Try again later.' });
    const abort = new AbortController();
    abort.abort();
    const cancelled = urlSource(BASE, 'tiny over HTTP', {
      fetch: (async (_u: unknown, init: RequestInit) => {
        if (init.signal?.aborted) throw new DOMException('The operation was aborted.', 'AbortError');
        return new Response('{}');
      }) as typeof fetch,
      signal: abort.signal,
    });
    await expect(cancelled.read('config.json')).rejects.toMatchObject({ kind: 'cancelled' });
  });
});
