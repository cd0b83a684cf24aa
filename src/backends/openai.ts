/**
 * `ModelBackend` over any OpenAI-compatible `/v1/chat/completions` server: vLLM, llama.cpp's
 * server, Ollama, hosted APIs. This is how a user who outgrows one browser points the same lab
 * at a GPU server.
 *
 * - generate: one HTTP request per GenerateRequest with `n`; a server that returns fewer
 *   choices than asked (some ignore `n`) gets the rest as separate requests with seeds s+1, s+2…
 *   (the interface's seed rule), and is then always asked one sample at a time.
 * - verdict read-out: the critique prefix is sent as a final assistant message with vLLM's
 *   `continue_final_message: true, add_generation_prompt: false`, `max_tokens: 1`, `logprobs`
 *   and `top_logprobs: 20`; each label's log-prob is read from the top log-probs of the first
 *   generated token (variants differing only in leading space are summed; absent = -Infinity).
 *   llama.cpp's server also continues a trailing assistant message. A server that returns no
 *   log-probs makes the read-out fail with kind 'unsupported'; `verdict: false` removes the
 *   method for servers that would silently start a new turn instead.
 * - Every HTTP request has a timeout; 429, 5xx, network errors and timeouts are retried with
 *   exponential backoff (Retry-After honoured), each retry told to `onRetry`; other 4xx fail at
 *   once. Errors are LabErrors: 'network', 'timeout', 'invalid-input' (or 'unsupported' for the
 *   read-out), 'cancelled' surfaces as the AbortError of the caller's signal.
 * - Replies are read with a byte cap and checked field by field (openai-reply.ts): an endless
 *   or oversized body, an event stream, or a malformed choice fails at once with a LabError
 *   'network' naming what was wrong, without retries.
 */
import { LabError } from '../errors';
import { ERROR_BODY_BYTES, eventStreamRefused, firstTokenTopLogprobs, parseCompletion, readLimited, replyLimits, replyTooLarge, type ChatCompletion, type ReplyLimits, type TopLogprob } from './openai-reply';
import type { BackendInfo, CallOptions, ChatMessage, GenerateRequest, Generation, ModelBackend, VerdictRequest, VerdictResult } from './types';

export interface OpenAIBackendOptions {
  /** E.g. http://localhost:8000/v1 (a bare origin such as http://localhost:8000 gets /v1). */
  baseUrl: string;
  model: string;
  apiKey?: string;
  label?: string;
  /** Per HTTP request, ms (default 120 000). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 4). */
  maxRetries?: number;
  /** First backoff, doubled on each retry, ms (default 500, at most `maxRetryDelayMs`, default 20 000). */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** HTTP requests in flight at once (default 8). */
  maxConcurrent?: number;
  /** 'auto' (default): ask for n, fall back when the server returns fewer. 'separate': always n=1. */
  nSamples?: 'auto' | 'separate';
  /** Offer the verdict read-out (default true). */
  verdict?: boolean;
  /** Merged into every request body (e.g. {"repetition_penalty": 1.05} for vLLM). */
  extraBody?: Record<string, unknown>;
  fetch?: typeof fetch;
  /** Told before each retry's wait, so a run can show that it is retrying, and why. */
  onRetry?: (r: RetryNotice) => void;
}

/** A request failed in a way worth retrying, and is tried again after a wait. */
export interface RetryNotice {
  /** The attempt about to be made (2 for the first retry). */
  attempt: number;
  /** Attempts in all (the first one and the retries). */
  attempts: number;
  /** What went wrong with the attempt before. */
  reason: string;
  waitMs: number;
}

export function chatCompletionsUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl.trim());
  } catch {
    throw new LabError('invalid-input', `"${baseUrl}" is not a URL; give the server's base URL, e.g. http://localhost:8000/v1.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new LabError('invalid-input', `The model server URL must start with http:// or https:// (got "${baseUrl}").`);
  }
  const path = url.pathname.replace(/\/+$/, '');
  url.pathname = (path === '' ? '/v1' : path) + '/chat/completions';
  return url.toString();
}

export function createOpenAIBackend(opts: OpenAIBackendOptions): ModelBackend {
  const url = chatCompletionsUrl(opts.baseUrl);
  if (!opts.model.trim()) throw new LabError('invalid-input', 'Name the model the server serves (e.g. the name vLLM was started with).');
  const doFetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const maxRetries = opts.maxRetries ?? 4;
  const baseDelay = opts.retryDelayMs ?? 500;
  const maxDelay = opts.maxRetryDelayMs ?? 20_000;
  const gate = semaphore(opts.maxConcurrent ?? 8);
  let ignoresN = opts.nSamples === 'separate';
  const info: BackendInfo = { label: opts.label ?? `${opts.model} at ${new URL(url).host}`, kind: 'openai' };

  /** One POST with retries. Resolves with the parsed completion. */
  async function post(body: Record<string, unknown>, signal: AbortSignal | undefined, purpose: 'generate' | 'verdict'): Promise<ChatCompletion> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (opts.apiKey) headers.authorization = `Bearer ${opts.apiKey}`;
    // One JSON reply per request: the reader below is not a stream reader, whatever extraBody says.
    const sent = { ...body, ...opts.extraBody, model: opts.model, stream: false };
    const payload = JSON.stringify(sent);
    const limits = replyLimits(sent);
    let last: Failed | null = null;
    for (let attempt = 0; attempt <= maxRetries; attempt++) {
      if (last) {
        const waitMs = backoff(attempt, last);
        opts.onRetry?.({ attempt: attempt + 1, attempts: maxRetries + 1, reason: last.error.message, waitMs });
        await sleep(waitMs, signal);
      }
      const res = await gate(() => attemptOnce(payload, headers, limits, signal));
      if ('completion' in res) return res.completion;
      last = res;
      if (!res.retry) {
        // A server that rejects the read-out's fields (vLLM-only extensions) cannot read out.
        const rejected = purpose === 'verdict' && (res.status === 400 || res.status === 422);
        throw rejected ? unsupportedReadout(res.error.message) : res.error;
      }
    }
    const tries = `${maxRetries + 1} attempt${maxRetries ? 's' : ''}`;
    throw new LabError(last!.error.kind, `${last!.error.message} (gave up after ${tries}).`, { cause: last!.error });
  }

  function backoff(attempt: number, last: Failed): number {
    if (last.retryAfterMs !== undefined) return Math.min(last.retryAfterMs, maxDelay);
    const d = Math.min(maxDelay, baseDelay * 2 ** (attempt - 1));
    return d * (0.8 + 0.4 * Math.random()); // jitter spreads retries of parallel requests
  }

  type Failed = { error: LabError; retry: boolean; status?: number; retryAfterMs?: number };
  type Attempt = { completion: ChatCompletion } | Failed;

  async function attemptOnce(payload: string, headers: Record<string, string>, limits: ReplyLimits, signal: AbortSignal | undefined): Promise<Attempt> {
    signal?.throwIfAborted();
    const timer = new AbortController();
    const onAbort = () => timer.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const t = setTimeout(() => {
      timedOut = true;
      timer.abort();
    }, timeoutMs);
    try {
      const res = await doFetch(url, { method: 'POST', headers, body: payload, signal: timer.signal });
      if (!res.ok) {
        const { text } = await readLimited(res, ERROR_BODY_BYTES);
        const failed: Failed = { error: httpError(res.status, serverMessage(text)), retry: res.status === 429 || res.status >= 500, status: res.status };
        const retryAfter = parseRetryAfter(res.headers.get('retry-after'));
        if (retryAfter !== null) failed.retryAfterMs = retryAfter;
        return failed;
      }
      if (/^\s*text\/event-stream/i.test(res.headers.get('content-type') ?? '')) {
        void res.body?.cancel().catch(() => undefined);
        throw eventStreamRefused(url);
      }
      const { text, complete } = await readLimited(res, limits.bytes);
      if (!complete) throw replyTooLarge(url, limits);
      return { completion: parseCompletion(text, limits) };
    } catch (e) {
      if (signal?.aborted) throw signal.reason ?? abortError();
      if (timedOut) {
        return { error: new LabError('timeout', `The model server at ${url} did not answer within ${Math.round(timeoutMs / 1000)} s`), retry: true };
      }
      if (e instanceof LabError) return { error: e, retry: false };
      return {
        error: new LabError(
          'network',
          `Could not reach the model server at ${url} (${(e as Error).message}). Is it running, and does it allow requests from this page (CORS)?`,
          { cause: e },
        ),
        retry: true,
      };
    } finally {
      clearTimeout(t);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  function httpError(status: number, detail: string): LabError {
    const said = detail ? `: ${detail}` : '';
    if (status === 401 || status === 403) return new LabError('invalid-input', `The model server at ${url} refused the API key (${status})${said}. Check the key.`);
    if (status === 404) return new LabError('invalid-input', `The model server answered 404 for ${url}${said}. Check the base URL (it usually ends in /v1) and the model name.`);
    if (status === 429 || status >= 500) return new LabError('network', `The model server at ${url} answered ${status}${said}`);
    return new LabError('invalid-input', `The model server refused the request (${status})${said}. Check the model name and the sampling settings.`);
  }

  function sampling(req: GenerateRequest, n: number, seed: number | undefined): Record<string, unknown> {
    const s = req.sampling;
    const body: Record<string, unknown> = { messages: req.messages, n, temperature: s.temperature, top_p: s.topP, max_tokens: s.maxTokens };
    if (s.stop?.length) body.stop = s.stop;
    if (seed !== undefined) body.seed = seed;
    return body;
  }

  async function samplesOf(req: GenerateRequest, signal: AbortSignal | undefined): Promise<Generation[]> {
    const seed = req.sampling.seed;
    const out: Generation[] = [];
    if (!ignoresN && req.n > 1) {
      out.push(...toGenerations(await post(sampling(req, req.n, seed), signal, 'generate')).slice(0, req.n));
      if (out.length < req.n) ignoresN = true; // the server ignores n: ask one at a time from now on
    }
    const rest = await Promise.all(
      Array.from({ length: req.n - out.length }, async (_, j) => {
        const i = out.length + j;
        const [g] = toGenerations(await post(sampling(req, 1, seed === undefined ? undefined : seed + i), signal, 'generate'));
        if (!g) throw new LabError('network', `The model server at ${url} sent a completion without choices.`);
        return g;
      }),
    );
    return out.concat(rest);
  }

  const backend: ModelBackend = {
    info,
    async generate(requests: GenerateRequest[], o: CallOptions = {}): Promise<Generation[][]> {
      const out = await Promise.all(requests.map((r) => samplesOf(r, o.signal)));
      out.forEach((g, r) => g.forEach((s, i) => o.onText?.(r, i, s.text)));
      return out;
    },
  };
  if (opts.verdict !== false) {
    backend.verdict = async (requests: VerdictRequest[], o: CallOptions = {}): Promise<VerdictResult[]> =>
      Promise.all(
        requests.map(async (req) => {
          const messages: ChatMessage[] = [...req.messages, { role: 'assistant', content: req.prefix }];
          const body = { messages, n: 1, max_tokens: 1, temperature: 0, logprobs: true, top_logprobs: 20, continue_final_message: true, add_generation_prompt: false };
          const completion = await post(body, o.signal, 'verdict');
          const top = firstTokenTopLogprobs(completion);
          if (!top) throw unsupportedReadout('the reply had no top_logprobs');
          return { logprobs: req.labels.map((label) => labelLogprob(top, label)) };
        }),
      );
  }
  return backend;
}

function toGenerations(c: ChatCompletion): Generation[] {
  const choices = [...c.choices].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
  const total = c.usage?.completion_tokens ?? 0;
  // The server reports tokens for all choices together; share them out so the sum is exact.
  return choices.map((ch, i) => ({
    text: ch.message?.content ?? '',
    finishReason: ch.finish_reason === 'length' ? 'length' : 'stop',
    tokens: Math.floor(total / choices.length) + (i < total % choices.length ? 1 : 0),
  }));
}

/** The error text of an OpenAI-style error body ({"error": {"message"}}), or the body itself. */
function serverMessage(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: { message?: string } | string; message?: string; detail?: string };
    const m = typeof j.error === 'string' ? j.error : (j.error?.message ?? j.message ?? j.detail);
    if (m) return String(m).slice(0, 300);
  } catch {
    // not JSON
  }
  return text.trim().slice(0, 300);
}

function parseRetryAfter(h: string | null): number | null {
  if (!h) return null;
  const s = Number(h);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const at = Date.parse(h);
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now());
}

/** log p(label) from the top log-probs: tokens equal to the label up to leading space, summed. */
function labelLogprob(top: TopLogprob[], label: string): number {
  const want = normaliseToken(label);
  let max = -Infinity;
  const hits = top.filter((t) => normaliseToken(t.token) === want).map((t) => t.logprob);
  for (const l of hits) max = Math.max(max, l);
  if (max === -Infinity) return -Infinity;
  return max + Math.log(hits.reduce((a, l) => a + Math.exp(l - max), 0));
}

function normaliseToken(t: string): string {
  return t.replace(/^[\sĠ▁]+/, '').trimEnd();
}

function unsupportedReadout(why: string): LabError {
  return new LabError(
    'unsupported',
    `This model server cannot read out verdict probabilities (${why}). It needs log-probabilities of a continued assistant ` +
      'message (vLLM: continue_final_message); set the verdict setting to "parsed".',
  );
}

function abortError(): DOMException {
  return new DOMException('The operation was aborted.', 'AbortError');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? abortError());
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason ?? abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs at most `limit` tasks at once. */
function semaphore(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (active >= limit) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await task();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
