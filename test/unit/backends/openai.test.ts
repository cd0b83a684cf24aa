import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { chatCompletionsUrl, createOpenAIBackend, type OpenAIBackendOptions } from '../../../src/backends/openai';
import type { GenerateRequest } from '../../../src/backends/types';
import { isCancelled, LabError } from '../../../src/errors';

// A real HTTP server on 127.0.0.1, answering like an OpenAI-compatible chat completions endpoint.
type Handler = (body: Record<string, unknown>, req: IncomingMessage, res: ServerResponse, n: number) => void;
interface Seen {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(handler: Handler) {
  const seen: Seen[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const body = JSON.parse(raw || '{}');
      seen.push({ path: req.url ?? '', headers: req.headers, body });
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      res.on('close', () => inFlight--);
      handler(body, req, res, seen.length);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { seen, base: `http://127.0.0.1:${port}`, maxInFlight: () => maxInFlight };
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** A completion with one choice per text. */
function completion(texts: string[], tokens = 7) {
  return {
    id: 'x',
    object: 'chat.completion',
    choices: texts.map((t, index) => ({ index, message: { role: 'assistant', content: t }, finish_reason: index === 1 ? 'length' : 'stop' })),
    usage: { prompt_tokens: 3, completion_tokens: tokens, total_tokens: tokens + 3 },
  };
}

function request(n: number, seed?: number): GenerateRequest {
  return { messages: [{ role: 'user', content: 'Say hi.' }], n, sampling: { temperature: 0.9, topP: 0.9, maxTokens: 64, stop: ['###'], seed } };
}

function backend(base: string, over: Partial<OpenAIBackendOptions> = {}) {
  return createOpenAIBackend({ baseUrl: `${base}/v1`, model: 'tiny', retryDelayMs: 5, timeoutMs: 2000, ...over });
}

describe('OpenAI-compatible backend', () => {
  it('sends every sampling setting and reads n choices in index order', async () => {
    const srv = await serve((body, _q, res) => {
      const c = completion(['b', 'a', 'c'], 10);
      c.choices.reverse(); // servers need not keep order
      json(res, 200, c);
    });
    const b = backend(srv.base, { apiKey: 'sk-test', extraBody: { repetition_penalty: 1.05 } });
    const [[x, y, z]] = await b.generate([request(3, 42)]);
    expect([x.text, y.text, z.text]).toEqual(['b', 'a', 'c']);
    expect([x.finishReason, y.finishReason]).toEqual(['stop', 'length']);
    expect(x.tokens + y.tokens + z.tokens).toBe(10);
    expect(srv.seen).toHaveLength(1);
    expect(srv.seen[0].path).toBe('/v1/chat/completions');
    expect(srv.seen[0].headers.authorization).toBe('Bearer sk-test');
    expect(srv.seen[0].body).toEqual({
      model: 'tiny', messages: [{ role: 'user', content: 'Say hi.' }], n: 3, temperature: 0.9, top_p: 0.9, max_tokens: 64, stop: ['###'], seed: 42, repetition_penalty: 1.05, stream: false,
    });
  });

  it('asks again one at a time, with seeds s+i, when the server ignores n, and remembers', async () => {
    const srv = await serve((body, _q, res) => json(res, 200, completion([`seed ${body.seed}`])));
    const b = backend(srv.base);
    const [samples] = await b.generate([request(3, 100)]);
    expect(samples.map((s) => s.text)).toEqual(['seed 100', 'seed 101', 'seed 102']);
    expect(srv.seen.map((s) => [s.body.n, s.body.seed])).toEqual([[3, 100], [1, 101], [1, 102]]);
    await b.generate([request(2, 7)]);
    expect(srv.seen.slice(3).map((s) => [s.body.n, s.body.seed])).toEqual([[1, 7], [1, 8]]);
  });

  it('retries 429 (honouring Retry-After) and 5xx with backoff, then succeeds', async () => {
    const srv = await serve((_b, _q, res, n) => {
      if (n === 1) return json(res, 429, { error: { message: 'slow down' } }, { 'retry-after': '0' });
      if (n === 2) return json(res, 503, { error: { message: 'warming up' } });
      json(res, 200, completion(['ok']));
    });
    const [[g]] = await backend(srv.base).generate([request(1)]);
    expect(g.text).toBe('ok');
    expect(srv.seen).toHaveLength(3);
  });

  it('gives up after the retries with a network error carrying the server message', async () => {
    const srv = await serve((_b, _q, res) => json(res, 500, { error: { message: 'CUDA out of memory' } }));
    const err = await backend(srv.base, { maxRetries: 2 }).generate([request(1)]).catch((e) => e);
    expect(err).toMatchObject({ kind: 'network', message: expect.stringMatching(/answered 500: CUDA out of memory.*3 attempts/) });
    expect(srv.seen).toHaveLength(3);
  });

  it('times out a request that gets no answer, retrying it first', async () => {
    const srv = await serve(() => undefined); // never answers
    const err = await backend(srv.base, { timeoutMs: 60, maxRetries: 1 }).generate([request(1)]).catch((e) => e);
    expect(err).toMatchObject({ kind: 'timeout', message: expect.stringMatching(/did not answer within 0 s.*2 attempts/) });
    expect(srv.seen).toHaveLength(2);
  });

  it('fails at once on other client errors, naming the fix', async () => {
    const bad = await serve((_b, _q, res) => json(res, 400, { error: { message: 'max_tokens is too large' } }));
    await expect(backend(bad.base).generate([request(1)])).rejects.toMatchObject({ kind: 'invalid-input', message: expect.stringMatching(/refused the request \(400\): max_tokens is too large/) });
    expect(bad.seen).toHaveLength(1);
    const auth = await serve((_b, _q, res) => json(res, 401, { error: 'invalid api key' }));
    await expect(backend(auth.base).generate([request(1)])).rejects.toMatchObject({ kind: 'invalid-input', message: expect.stringMatching(/API key/) });
    const missing = await serve((_b, _q, res) => json(res, 404, { detail: 'Not Found' }));
    await expect(backend(missing.base).generate([request(1)])).rejects.toMatchObject({ message: expect.stringMatching(/base URL.*\/v1/) });
  });

  it('reports an unreachable server and a reply that is not a completion', async () => {
    const srv = await serve(() => undefined);
    const closed = srv.base;
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
    await expect(backend(closed, { maxRetries: 1 }).generate([request(1)])).rejects.toMatchObject({ kind: 'network', message: expect.stringMatching(/Could not reach/) });
    const html = await serve((_b, _q, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>proxy login</html>');
    });
    await expect(backend(html.base).generate([request(1)])).rejects.toMatchObject({ kind: 'network', message: expect.stringMatching(/not JSON.*proxy login/) });
  });

  it('stops promptly when the caller aborts, with a cancellation', async () => {
    const srv = await serve(() => undefined);
    const controller = new AbortController();
    const pending = backend(srv.base).generate([request(1)], { signal: controller.signal });
    setTimeout(() => controller.abort(), 30);
    const err = await pending.catch((e) => e);
    expect(isCancelled(err)).toBe(true);
  });

  it('keeps at most maxConcurrent requests in flight', async () => {
    const srv = await serve((_b, _q, res) => setTimeout(() => json(res, 200, completion(['x'])), 20));
    const out = await backend(srv.base, { maxConcurrent: 2 }).generate(Array.from({ length: 6 }, () => request(1)));
    expect(out).toHaveLength(6);
    expect(srv.maxInFlight()).toBe(2);
  });

  it('reads verdict probabilities from the top log-probs of a continued assistant message', async () => {
    const srv = await serve((_b, _q, res) =>
      json(res, 200, {
        choices: [{ index: 0, message: { content: ' Yes' }, logprobs: { content: [{ token: ' Yes', logprob: -0.2, top_logprobs: [
          { token: ' Yes', logprob: -0.2 }, { token: 'Yes', logprob: -3 }, { token: ' No', logprob: -1.8 }, { token: ' Maybe', logprob: -4 },
        ] }] } }],
      }),
    );
    const b = backend(srv.base);
    const [r] = await b.verdict!([{ messages: [{ role: 'user', content: 'Judge this.' }], prefix: 'Looks fine.\nFinal Judgement:', labels: [' Yes', ' No', ' Unsure'] }]);
    expect(r.logprobs[0]).toBeCloseTo(Math.log(Math.exp(-0.2) + Math.exp(-3)), 12);
    expect(r.logprobs[1]).toBe(-1.8);
    expect(r.logprobs[2]).toBe(-Infinity);
    expect(srv.seen[0].body).toMatchObject({
      messages: [{ role: 'user', content: 'Judge this.' }, { role: 'assistant', content: 'Looks fine.\nFinal Judgement:' }],
      max_tokens: 1, logprobs: true, top_logprobs: 20, continue_final_message: true, add_generation_prompt: false,
    });
  });

  it('says clearly when the server cannot read out, and can go without the read-out', async () => {
    const plain = await serve((_b, _q, res) => json(res, 200, completion(['Yes'])));
    const req = [{ messages: [{ role: 'user' as const, content: 'J' }], prefix: 'P', labels: [' Yes', ' No'] }];
    await expect(backend(plain.base).verdict!(req)).rejects.toMatchObject({ kind: 'unsupported', message: expect.stringMatching(/no top_logprobs.*"parsed"/) });
    const strict = await serve((_b, _q, res) => json(res, 400, { error: { message: 'Unrecognized request argument: continue_final_message' } }));
    await expect(backend(strict.base).verdict!(req)).rejects.toMatchObject({ kind: 'unsupported', message: expect.stringMatching(/continue_final_message/) });
    expect(backend(plain.base, { verdict: false }).verdict).toBeUndefined();
  });

  it('normalises the base URL and refuses unusable settings', () => {
    expect(chatCompletionsUrl('http://localhost:8000')).toBe('http://localhost:8000/v1/chat/completions');
    expect(chatCompletionsUrl('http://localhost:8000/v1/')).toBe('http://localhost:8000/v1/chat/completions');
    expect(chatCompletionsUrl('https://api.example.com/openai/v1')).toBe('https://api.example.com/openai/v1/chat/completions');
    expect(() => chatCompletionsUrl('localhost:8000')).toThrow(/http:\/\//);
    expect(() => chatCompletionsUrl('not a url')).toThrow(/not a URL/);
    expect(() => createOpenAIBackend({ baseUrl: 'http://x', model: ' ' })).toThrow(/Name the model/);
  });
});

/**
 * Pours `first` then `chunk` over and over into the reply, as fast as the client reads (it waits
 * for 'drain'), until the client goes away or `max` bytes are written; it then ends by itself.
 */
function pour(res: ServerResponse, headers: Record<string, string>, first: string, chunk: string, status = 200, max = 64 * 1024 * 1024) {
  let written = 0;
  let closed = false;
  const gone = new Promise<void>((r) => res.on('close', () => ((closed = true), r())));
  res.writeHead(status, headers);
  const write = (): void => {
    while (!closed && written < max) {
      const c = written === 0 ? first : chunk;
      written += Buffer.byteLength(c);
      if (!res.write(c)) return void res.once('drain', write);
    }
    if (!closed) res.end();
  };
  write();
  return { written: () => written, gone };
}

describe('OpenAI-compatible backend against a misbehaving server', () => {
  const MiB = 1024 * 1024;
  const sse = `data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'la '.repeat(300) } }] })}\n\n`;

  it('stops reading an endless JSON body at the byte cap, with a clear error and no retry', async () => {
    let poured: ReturnType<typeof pour> | undefined;
    const srv = await serve((_b, _q, res) => (poured = pour(res, { 'content-type': 'application/json' }, '{"choices":[{"index":0,"message":{"content":"', 'la '.repeat(1000))));
    const t0 = performance.now();
    const err = await backend(srv.base, { timeoutMs: 20_000 }).generate([request(1)]).catch((e) => e);
    const ms = performance.now() - t0;
    await poured!.gone;
    // n = 1, max_tokens = 64: 64 KiB + 6 bytes × (4096 + 64 × 64) characters = 112 KiB.
    expect(err).toMatchObject({ kind: 'network', message: expect.stringMatching(/sent more than 112 KiB for one completion of at most 64 tokens.*max_tokens/) });
    expect(srv.seen).toHaveLength(1);
    // The server wrote only what the client read plus the socket buffers, not its 64 MiB.
    console.log(`endless JSON body: stopped after the server wrote ${(poured!.written() / MiB).toFixed(2)} MiB, in ${ms.toFixed(0)} ms`);
    expect(poured!.written()).toBeLessThan(16 * MiB);
  });

  it('refuses an endless event stream at once', async () => {
    let poured: ReturnType<typeof pour> | undefined;
    const srv = await serve((_b, _q, res) => (poured = pour(res, { 'content-type': 'text/event-stream; charset=utf-8' }, sse, sse)));
    const err = await backend(srv.base, { timeoutMs: 20_000 }).generate([request(1)]).catch((e) => e);
    await poured!.gone;
    expect(err).toMatchObject({ kind: 'network', message: expect.stringMatching(/event stream \(text\/event-stream\).*"stream": false/) });
    expect(srv.seen[0].body.stream).toBe(false);
    console.log(`endless event stream: stopped after the server wrote ${(poured!.written() / MiB).toFixed(2)} MiB`);
    expect(poured!.written()).toBeLessThan(16 * MiB);
  });

  it('refuses a huge body at the cap: declared, or sent whole; and a completion longer than max_tokens allows', async () => {
    const declared = await serve((_b, _q, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(100 * MiB) });
      res.write('{"choices":[');
    });
    await expect(backend(declared.base).generate([request(1)])).rejects.toMatchObject({ kind: 'network', message: expect.stringMatching(/sent more than 112 KiB/) });

    // 2 MiB of valid JSON for 64 tokens: a server that ignores max_tokens.
    const whole = await serve((_b, _q, res) => json(res, 200, completion(['x'.repeat(2 * MiB)])));
    await expect(backend(whole.base).generate([request(1)])).rejects.toMatchObject({ kind: 'network', message: expect.stringMatching(/sent more than 112 KiB/) });
    expect(whole.seen).toHaveLength(1);

    // Under the byte cap, but one choice longer than 64 tokens can be: 4096 + 64 × 64 = 8192 characters.
    const long = await serve((_b, _q, res) => json(res, 200, completion(['x'.repeat(10_000)])));
    await expect(backend(long.base).generate([request(1)])).rejects.toMatchObject({
      kind: 'network',
      message: expect.stringMatching(/choices\[0\]\.message\.content is 10,000 characters long, more than max_tokens = 64 allows \(at most 8,192\)/),
    });

    // The cap grows with n and max_tokens: a long reply the request allows is read.
    const [[ok]] = await backend(long.base).generate([{ ...request(1), sampling: { ...request(1).sampling, maxTokens: 512 } }]);
    expect(ok.text).toHaveLength(10_000);
  });

  it('reads only the start of an endless error body', async () => {
    let poured: ReturnType<typeof pour> | undefined;
    const srv = await serve((_b, _q, res) => (poured = pour(res, { 'content-type': 'text/plain' }, 'overloaded ', 'la '.repeat(1000), 503)));
    const err = await backend(srv.base, { maxRetries: 0, timeoutMs: 20_000 }).generate([request(1)]).catch((e) => e);
    await poured!.gone;
    expect(err).toMatchObject({ kind: 'network', message: expect.stringMatching(/answered 503: overloaded la la/) });
    expect(poured!.written()).toBeLessThan(16 * MiB);
  });

  it('names the field of a malformed choice instead of failing with a TypeError', async () => {
    const cases: [unknown, RegExp][] = [
      [{ choices: [null] }, /choices\[0\] = null; it must be an object with message\.content/],
      [{ choices: [{ index: 0, message: { content: 42 } }] }, /choices\[0\]\.message\.content = 42; it must be a string/],
      [{ choices: [{ index: 0, message: 'hi' }] }, /choices\[0\]\.message = "hi"; it must be an object/],
      [{ choices: [{ index: '0', message: { content: 'a' } }] }, /choices\[0\]\.index = "0"; it must be a whole number/],
      [{ choices: [{ index: 0, message: { content: 'a' }, finish_reason: 3 }] }, /choices\[0\]\.finish_reason = 3; it must be a string/],
      [{ choices: [{ index: 0, message: { content: 'a' } }], usage: { completion_tokens: 'many' } }, /usage\.completion_tokens = "many"; it must be a whole number/],
    ];
    for (const [reply, message] of cases) {
      const srv = await serve((_b, _q, res) => json(res, 200, reply));
      const err = await backend(srv.base).generate([request(1)]).catch((e) => e);
      expect(err, JSON.stringify(reply)).toBeInstanceOf(LabError);
      expect(err).toMatchObject({ kind: 'network', message: expect.stringMatching(message) });
      expect(srv.seen).toHaveLength(1); // not retried
    }
    const verdict = await serve((_b, _q, res) => json(res, 200, { choices: [{ index: 0, logprobs: { content: [{ token: ' Yes', logprob: -0.1, top_logprobs: [{ token: ' Yes', logprob: -0.1 }, null] }] } }] }));
    const req = [{ messages: [{ role: 'user' as const, content: 'J' }], prefix: 'P', labels: [' Yes', ' No'] }];
    await expect(backend(verdict.base).verdict!(req)).rejects.toMatchObject({ kind: 'network', message: expect.stringMatching(/top_logprobs\[1\] = null/) });
  });
});
