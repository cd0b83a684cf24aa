import { expect, test } from '@playwright/test';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { paperRun } from './runs';
import { shot } from './screenshots';

// The scale-out path in the built app: actor and refiner served by an OpenAI-compatible server.
// The server is a real HTTP server on 127.0.0.1 (another origin than the app, so CORS applies as
// with vLLM or llama.cpp) that wants an API key, lists two models and answers chat completions
// deterministically in the format of the lab's default judge and refine templates: every first
// answer fails its judgment, every refinement passes. The user picks "OpenAI-compatible endpoint"
// in Setup, fills the form (a check without the key says so; with it, the served models are
// listed and picked), is told at Start what is still missing, and runs self-play to the end.

const KEY = 'sk-e2e-local';
const MODELS = ['mock-actor', 'mock-refiner'];

interface ChatBody {
  model: string;
  messages: { role: string; content: string }[];
  n?: number;
  stream?: boolean;
  continue_final_message?: boolean;
}

/** What the server was asked, in order: the model and what the call was for. */
const calls: { model: string; purpose: 'actor' | 'judge' | 'refine' | 'readout'; n: number; stream: boolean }[] = [];
let server: Server;
let baseUrl = '';

/** The Output between the judge template's quotes. */
const judgedOutput = (prompt: string) => /Output:\n"""\n([\s\S]*?)\n"""/.exec(prompt)?.[1] ?? '';

function answer(body: ChatBody): { purpose: (typeof calls)[number]['purpose']; texts: string[] } {
  const n = body.n ?? 1;
  const first = body.messages[0]?.content ?? '';
  const last = body.messages.at(-1)!;
  const passes = judgedOutput(first).startsWith('Refined answer');
  if (body.continue_final_message) return { purpose: 'readout', texts: [passes ? ' Yes' : ' No'] };
  if (last.role === 'user' && last.content.includes('Final Refined Output: [[start]]')) {
    const texts = Array.from({ length: n }, (_, i) => `Reflection on how to refine the Output: meet every constraint.\nFinal Refined Output: [[start]] Refined answer ${i + 1}, following every constraint. [[end]]`);
    return { purpose: 'refine', texts };
  }
  if (first.includes('Final Judgement (if the Output accurately follows the Prompt)')) {
    const verdict = passes ? 'Yes' : 'No';
    const texts = Array.from({ length: n }, () => `Step-by-step verification: checked each constraint.\nFinal Judgement (if the Output accurately follows the Prompt): ${verdict}`);
    return { purpose: 'judge', texts };
  }
  return { purpose: 'actor', texts: Array.from({ length: n }, (_, i) => `First answer ${i + 1}.`) };
}

function reply(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  // The app is served from another origin: allow it, as a server started with CORS enabled does.
  res.setHeader('access-control-allow-origin', '*');
  if (req.method === 'OPTIONS') {
    res.writeHead(204, { 'access-control-allow-headers': 'authorization, content-type, accept', 'access-control-allow-methods': 'GET, POST, OPTIONS' }).end();
    return;
  }
  if (req.headers.authorization !== `Bearer ${KEY}`) return reply(res, 401, { error: { message: 'Invalid API key', type: 'invalid_request_error' } });
  if (req.method === 'GET' && req.url === '/v1/models') return reply(res, 200, { object: 'list', data: MODELS.map((id) => ({ id, object: 'model', owned_by: 'e2e' })) });
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return reply(res, 404, { error: { message: `No route ${req.method} ${req.url}` } });
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatBody;
  if (!MODELS.includes(body.model)) return reply(res, 404, { error: { message: `The model ${body.model} does not exist` } });
  const { purpose, texts } = answer(body);
  calls.push({ model: body.model, purpose, n: body.n ?? 1, stream: body.stream === true });
  const tokens = (t: string) => t.split(/\s+/).length;
  if (body.stream) {
    // Server-sent events, one delta per word, as vLLM streams.
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    texts.forEach((text, index) => {
      for (const piece of text.match(/\S+\s*|\s+/g) ?? []) res.write(`data: ${JSON.stringify({ object: 'chat.completion.chunk', model: body.model, choices: [{ index, delta: { content: piece }, finish_reason: null }] })}\n\n`);
      res.write(`data: ${JSON.stringify({ object: 'chat.completion.chunk', model: body.model, choices: [{ index, delta: {}, finish_reason: 'stop' }] })}\n\n`);
    });
    res.end('data: [DONE]\n\n');
    return;
  }
  const logprobs = (text: string) => ({ content: [{ token: text, logprob: -0.01, top_logprobs: [{ token: text, logprob: -0.01 }, { token: text === ' Yes' ? ' No' : ' Yes', logprob: -4.6 }] }] });
  reply(res, 200, {
    object: 'chat.completion',
    model: body.model,
    choices: texts.map((text, index) => ({ index, message: { role: 'assistant', content: text }, finish_reason: 'stop', ...(purpose === 'readout' ? { logprobs: logprobs(text) } : {}) })),
    usage: { prompt_tokens: 10, completion_tokens: texts.reduce((a, t) => a + tokens(t), 0) },
  });
}

test.beforeAll(async () => {
  server = createServer((req, res) => void handle(req, res).catch((e) => reply(res, 500, { error: { message: String(e) } })));
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
test.afterAll(() => new Promise<void>((ok) => server.close(() => ok())));

test('actor and refiner on an OpenAI-compatible endpoint, set up in Setup: self-play runs to the end', async ({ page }) => {
  test.setTimeout(180_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const name = `endpoint ${Date.now()}`;
  const actor = page.getByTestId('role-actor');
  const refiner = page.getByTestId('role-refiner');

  await test.step('a run with the paper settings', async () => {
    await paperRun(page, name);
  });

  await test.step('choosing the endpoint shows its form at once; a check without the key says so; with it the models are listed and one is picked', async () => {
    await actor.getByLabel('OpenAI-compatible endpoint').check();
    const form = actor.getByRole('form', { name: 'Actor endpoint' });
    await expect(form).toBeVisible();
    await expect(form.getByLabel('Base URL')).toHaveValue('http://localhost:8000/v1');
    await expect(actor.getByTestId('actor-endpoint-missing')).toContainText('name the model the server serves');

    await form.getByLabel('Base URL').fill(baseUrl);
    await form.getByLabel('Base URL').press('Tab');
    await form.getByRole('button', { name: 'Check' }).click();
    await expect(actor.getByTestId('actor-endpoint-error')).toContainText('wants an API key (HTTP 401: Invalid API key)');

    await form.getByLabel('API key').fill(KEY);
    await form.getByRole('button', { name: 'Check' }).click();
    await expect(actor.getByTestId('actor-endpoint-models')).toHaveText('The server lists 2 models.');
    await expect(actor.getByTestId('actor-endpoint-error')).toHaveCount(0);
    await expect(form.getByLabel('API key')).toHaveAttribute('placeholder', 'set for this session');
    await form.getByLabel('Served models').selectOption('mock-actor');
    await expect(form.getByLabel('Model name')).toHaveValue('mock-actor');
    await expect(actor.getByTestId('actor-endpoint-missing')).toHaveCount(0);
    await shot(actor, 'setup-endpoint');
  });

  await test.step('the refiner on the same server, its model not chosen yet', async () => {
    await refiner.getByLabel('OpenAI-compatible endpoint').check();
    const form = refiner.getByRole('form', { name: 'Refiner endpoint' });
    await form.getByLabel('Base URL').fill(baseUrl);
    await form.getByLabel('Base URL').press('Tab');
    await expect(form.getByLabel('API key')).toHaveAttribute('placeholder', 'set for this session');
    await expect(refiner.getByTestId('refiner-endpoint-missing')).toContainText('name the model the server serves');
  });

  await test.step('instructions; Start says what is missing', async () => {
    await page.getByRole('tab', { name: /Data/ }).click();
    const gen = page.getByRole('form', { name: 'Built-in instructions' });
    await gen.getByLabel('How many').fill('2');
    await gen.getByRole('button', { name: 'Add instructions' }).click();
    await expect(page.getByTestId('prompt-row')).toHaveCount(2);
    await page.getByRole('tab', { name: /Self-play/ }).click();
    await page.getByTestId('selfplay-start').click();
    await expect(page.locator('.banner.error')).toContainText("The refiner's OpenAI-compatible endpoint is not complete: name the model the server serves");
    expect(calls).toEqual([]);
    await page.getByRole('button', { name: 'Dismiss error' }).click();
  });

  await test.step('the refiner picks its model from the list', async () => {
    await page.getByRole('tab', { name: /Setup/ }).click();
    const form = refiner.getByRole('form', { name: 'Refiner endpoint' });
    await expect(form.getByLabel('Base URL')).toHaveValue(baseUrl);
    await form.getByRole('button', { name: 'Check' }).click();
    await form.getByLabel('Served models').selectOption('mock-refiner');
    await expect(refiner.getByTestId('refiner-endpoint-missing')).toHaveCount(0);
  });

  await test.step('self-play runs every instruction through the server', async () => {
    await page.getByRole('tab', { name: /Self-play/ }).click();
    await page.getByTestId('selfplay-start').click();
    await expect(page.getByTestId('selfplay-state')).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
    await expect(page.getByTestId('selfplay-count')).toHaveText('2 / 2');
    await expect(page.getByTestId('finished-list').locator('li')).toHaveCount(2);
    // The actor answered, the refiner judged and refined, each under its own model name.
    expect(new Set(calls.filter((c) => c.purpose === 'actor').map((c) => c.model))).toEqual(new Set(['mock-actor']));
    expect(new Set(calls.filter((c) => c.purpose !== 'actor').map((c) => c.model))).toEqual(new Set(['mock-refiner']));
    expect(calls.some((c) => c.purpose === 'refine')).toBe(true);
  });

  await test.step('each refined answer and the first answer it fixed make a preference pair', async () => {
    await page.getByRole('tab', { name: /Pairs/ }).click();
    await expect(page.getByTestId('pair').first()).toBeVisible();
    await expect(page.getByTestId('pair').first()).toContainText('Refined answer');
  });

  expect(errors).toEqual([]);
});
