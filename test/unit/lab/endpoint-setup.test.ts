/**
 * Setting up an OpenAI-compatible endpoint: "Check" lists the models the server serves (with
 * this session's key), failures say what to do, and a start with an incomplete endpoint says
 * what is missing before any model loads. Against a real HTTP server on 127.0.0.1.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listEndpointModels, modelsUrl } from '../../../src/backends/openai-models';
import { ModelHost } from '../../../src/lab/models';
import { NEW_ENDPOINT } from '../../../src/lab/run-config';
import { scriptedEngine } from '../../helpers/lab-world';
import { world } from '../../helpers/spar-world';

let server: Server;
let base = '';
const seen: { url: string; auth: string | undefined }[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', auth: req.headers.authorization });
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/v1/models') {
      if (req.headers.authorization !== 'Bearer sk-local') return json(401, { error: { message: 'Invalid API key' } });
      return json(200, { object: 'list', data: [{ id: 'qwen2.5-7b', object: 'model' }, { id: 'llama-3.1-8b', object: 'model' }, { id: 'qwen2.5-7b' }] });
    }
    if (req.url === '/open/v1/models') return json(200, { object: 'list', data: [] });
    if (req.url === '/html/v1/models') return res.writeHead(200, { 'content-type': 'text/html' }).end('<html>It works</html>');
    json(404, { detail: 'Not Found' });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

describe('listing an endpoint\'s models', () => {
  it('asks <base URL>/models, the way the chat backend reads the base URL', () => {
    expect(modelsUrl('http://localhost:8000/v1')).toBe('http://localhost:8000/v1/models');
    expect(modelsUrl('http://localhost:8000/v1/')).toBe('http://localhost:8000/v1/models');
    expect(modelsUrl('http://localhost:11434')).toBe('http://localhost:11434/v1/models');
    expect(() => modelsUrl('localhost:8000')).toThrow(/must start with http:\/\/ or https:\/\//);
  });

  it('lists the ids, sorted and once each, sending the key', async () => {
    expect(await listEndpointModels(`${base}/v1`, { apiKey: 'sk-local' })).toEqual(['llama-3.1-8b', 'qwen2.5-7b']);
    expect(seen.at(-1)).toEqual({ url: '/v1/models', auth: 'Bearer sk-local' });
    expect(await listEndpointModels(`${base}/open/v1`)).toEqual([]);
  });

  it('says what to do when the server refuses, lacks the list, is not OpenAI-compatible or is not there', async () => {
    await expect(listEndpointModels(`${base}/v1`)).rejects.toMatchObject({ kind: 'invalid-input', message: expect.stringMatching(/wants an API key \(HTTP 401: Invalid API key\)\. Enter the key and check again\./) });
    await expect(listEndpointModels(`${base}/nothing/v1`)).rejects.toMatchObject({ kind: 'not-found', message: expect.stringMatching(/no model list at .*\/nothing\/v1\/models \(HTTP 404\)\. Check the base URL .* or type the model name yourself/) });
    await expect(listEndpointModels(`${base}/html/v1`)).rejects.toMatchObject({ kind: 'invalid-input', message: expect.stringMatching(/did not answer with JSON \(<html>It works<\/html>\): is this an OpenAI-compatible server\?/) });
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((ok) => closed.close(() => ok()));
    await expect(listEndpointModels(`http://127.0.0.1:${port}/v1`)).rejects.toMatchObject({ kind: 'network', message: expect.stringMatching(/Could not reach the model server at .*Is it running, and does it allow requests from this page \(CORS\)\?/) });
  });

  it('the model host asks with the key set for that endpoint this session', async () => {
    const host = new ModelHost();
    await expect(host.endpointModels(`${base}/v1`)).rejects.toMatchObject({ kind: 'invalid-input' });
    host.setApiKey(`${base}/v1`, 'sk-local');
    expect(await host.endpointModels(` ${base}/v1 `)).toEqual(['llama-3.1-8b', 'qwen2.5-7b']);
  });
});

describe('starting with an endpoint', () => {
  it('an incomplete endpoint stops the start, saying what is missing, before any model loads', async () => {
    const engine = scriptedEngine(() => world({ votes: () => 'Y' }));
    const host = new ModelHost({ engine });
    const tiny = { kind: 'lab', model: { type: 'tiny', seed: 1 } } as const;
    await expect(host.backends({ actor: tiny, refiner: NEW_ENDPOINT })).rejects.toMatchObject({
      kind: 'invalid-input',
      message: "The refiner's OpenAI-compatible endpoint is not complete: name the model the server serves (“Check” lists them). Fill it in under Setup → Refiner.",
    });
    await expect(host.backend({ ...NEW_ENDPOINT, baseUrl: '' }, 'actor')).rejects.toThrow(/actor's OpenAI-compatible endpoint is not complete: give the server's base URL/);
    expect(engine.log.created).toBe(0);
    const complete = await host.backends({ actor: tiny, refiner: { ...NEW_ENDPOINT, model: 'qwen2.5-7b' } });
    expect(complete.refiner.info.label).toBe('qwen2.5-7b at http://localhost:8000/v1 · refiner');
  });
});
