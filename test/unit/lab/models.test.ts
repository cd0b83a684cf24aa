import { describe, expect, it } from 'vitest';
import { CPU_ENGINE } from '../../../src/lab/engine';
import { ModelHost } from '../../../src/lab/models';
import { SPAR_TOY } from '../../../src/lab/run-config';
import { tinyModelFiles } from '../../../src/engine/tiny/tiny';
import { scriptedEngine } from '../../helpers/lab-world';
import { world } from '../../helpers/spar-world';

const tiny = { type: 'tiny', seed: 1 } as const;

/** A fake hub serving a tiny HF checkpoint (HEAD, GET and Range), logging requests. */
function fakeHub(repo: string) {
  const files = tinyModelFiles({ format: 'hf', seed: 5 });
  const log: string[] = [];
  const fetch = async (url: string | URL | Request, init: RequestInit = {}) => {
    const path = String(url).split(`/${repo}/resolve/main/`)[1];
    const range = new Headers(init.headers).get('Range');
    log.push(`${init.method ?? 'GET'} ${path}${range ? ' ' + range : ''}`);
    const f = files[path];
    if (!f) return new Response('no', { status: 404 });
    if (range) {
      const [, s, e] = /bytes=(\d+)-(\d+)/.exec(range)!;
      const part = f.subarray(Number(s), Number(e) + 1);
      return new Response(part as Uint8Array<ArrayBuffer>, { status: 206, headers: { 'content-length': String(part.byteLength) } });
    }
    return new Response(init.method === 'HEAD' ? null : (f as Uint8Array<ArrayBuffer>), { headers: { 'content-length': String(f.byteLength) } });
  };
  return { fetch: fetch as typeof globalThis.fetch, log };
}

describe('model host', () => {
  it('generates the tiny demo model once, on the CPU reference engine, and shares it between roles', async () => {
    const host = new ModelHost({ engine: CPU_ENGINE });
    const m = await host.load(tiny);
    expect(m).toMatchObject({ key: 'tiny:1', name: 'tiny-1', engine: 'CPU reference engine', format: 'hf', arch: 'llama', contextLength: 1024 });
    expect(m.parameters).toBeGreaterThan(40_000);
    expect(await host.load(tiny)).toBe(m);
    const both = await host.backends({ actor: { kind: 'lab', model: tiny }, refiner: { kind: 'lab', model: tiny } });
    expect(both.actor.info.label).toBe('CPU reference engine · tiny-1 · actor (base)');
    expect(both.refiner.info.label).toBe('CPU reference engine · tiny-1 · refiner (base)');
    const [[g]] = await both.actor.generate([{ messages: [{ role: 'user', content: 'Hi' }], n: 1, sampling: { temperature: 0, topP: 1, maxTokens: 4 } }]);
    expect(g.tokens).toBeGreaterThan(0);
    expect(host.list()).toHaveLength(1);
    expect(host.unload('tiny:1')).toBe(true);
    expect(host.list()).toEqual([]);
  });

  it('loads each model once even when asked twice at the same time', async () => {
    const engine = scriptedEngine(() => world({ votes: () => 'Y' }));
    const host = new ModelHost({ engine });
    await Promise.all([host.load(tiny), host.load(tiny), host.backends({ actor: { kind: 'lab', model: tiny }, refiner: { kind: 'lab', model: tiny } })]);
    expect(engine.log.created).toBe(1);
  });

  it('serves endpoint roles with the session API key, never storing it', async () => {
    const host = new ModelHost();
    host.setApiKey('http://localhost:8000/v1', 'sk-test');
    expect(host.apiKeyUrls()).toEqual(['http://localhost:8000/v1']);
    const b = await host.backend({ kind: 'openai', baseUrl: 'http://localhost:8000/v1', model: 'qwen', verdict: false }, 'refiner');
    expect(b.info).toEqual({ kind: 'openai', label: 'qwen at http://localhost:8000/v1 · refiner' });
    expect(b.verdict).toBeUndefined();
  });

  it('asks for a local folder again after a reload', async () => {
    const host = new ModelHost();
    await expect(host.backend({ kind: 'lab', model: { type: 'files', label: 'SmolLM2' } }, 'actor')).rejects.toMatchObject({ kind: 'not-found', message: expect.stringContaining('Open the folder again') });
  });

  it("loads a model shipped with the app from the app's own address, nothing from the hub; a missing file says which", async () => {
    const files = tinyModelFiles({ format: 'hf', seed: 5 });
    const base = 'http://app.test/lab/models/';
    const asked: string[] = [];
    const serve = (only: typeof files) =>
      (async (url: string | URL | Request, init: RequestInit = {}) => {
        asked.push(String(url));
        const f = String(url).startsWith(`${base}spar-toy/`) ? only[String(url).slice(base.length + 'spar-toy/'.length)] : undefined;
        if (!f) return new Response('Not found', { status: 404 });
        return new Response(init.method === 'HEAD' ? null : (f as Uint8Array<ArrayBuffer>), { headers: { 'content-length': String(f.byteLength) } });
      }) as typeof fetch;
    const noHub = (async () => Promise.reject(new Error('the hub was asked'))) as typeof fetch;
    const host = new ModelHost({ engine: CPU_ENGINE, bundled: { baseUrl: base, fetch: serve(files) }, hub: { fetch: noHub, caches: null } });
    const labels = new Set<string>();
    const m = await host.load(SPAR_TOY, { onProgress: (p) => labels.add(p.label) });
    expect(m).toMatchObject({ key: 'bundled:spar-toy', name: 'SPaR-toy', description: 'SPaR-toy (shipped with the app)', format: 'hf', source: SPAR_TOY });
    expect(labels).toContain('Reading the files shipped with the app');
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((u) => u.startsWith(`${base}spar-toy/`))).toBe(true);
    const both = await host.backends({ actor: { kind: 'lab', model: SPAR_TOY }, refiner: { kind: 'lab', model: SPAR_TOY } });
    expect(both.refiner.info.label).toBe('CPU reference engine · SPaR-toy · refiner (base)');

    const { ['model.safetensors']: _weights, ...noWeights } = files;
    const broken = new ModelHost({ engine: CPU_ENGINE, bundled: { baseUrl: base.slice(0, -1), fetch: serve(noWeights) } });
    await expect(broken.load(SPAR_TOY)).rejects.toMatchObject({ kind: 'not-found', message: expect.stringContaining('model.safetensors') });
    await expect(new ModelHost().load(SPAR_TOY)).rejects.toMatchObject({ kind: 'internal', message: expect.stringContaining("not told the app's address") });
  });

  it('plans a hub model from its small files, checks the fit, then downloads with progress', async () => {
    const hub = fakeHub('me/tiny');
    const big = { maxBufferSize: 1 << 30, maxStorageBufferBindingSize: 1 << 27, shaderF16: false };
    const host = new ModelHost({ engine: CPU_ENGINE, hub: { fetch: hub.fetch, caches: null, endpoint: 'http://hub.test' }, limits: async () => big });
    const plan = await host.plan({ type: 'hub', repo: 'me/tiny' });
    expect(plan.fit?.verdict).toBe('fits');
    expect(plan.downloadBytes).toBeGreaterThan(100_000);
    expect(hub.log.some((l) => l === 'GET model.safetensors')).toBe(false);
    const seen: number[] = [];
    const m = await host.load({ type: 'hub', repo: 'me/tiny' }, { onProgress: (p) => p.total && seen.push(p.done / p.total) });
    expect(m).toMatchObject({ key: 'hub:me/tiny@main', name: 'tiny', format: 'hf' });
    expect(seen.at(-1)).toBe(1);

    // Too large for this GPU: refused before any weights are downloaded.
    const small = fakeHub('me/tiny');
    const tinyGpu = new ModelHost({ hub: { fetch: small.fetch, caches: null, endpoint: 'http://hub.test' }, limits: async () => ({ maxBufferSize: 1024, maxStorageBufferBindingSize: 16, shaderF16: false }) });
    await expect(tinyGpu.load({ type: 'hub', repo: 'me/tiny' })).rejects.toMatchObject({ kind: 'out-of-memory', message: expect.stringContaining('will not load') });
    expect(small.log.some((l) => l === 'GET model.safetensors')).toBe(false);
  });
});
