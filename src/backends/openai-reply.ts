/**
 * What an OpenAI-compatible server sends back, read defensively: a misbehaving server must not
 * be able to exhaust the tab (an endless stream, a 100 MB completion) or crash the lab with a
 * TypeError (`choices: [null]`, a numeric `content`). Bodies are read with a byte cap derived
 * from the request's `n` and `max_tokens`, and every field the lab uses is checked, with errors
 * naming the field.
 */
import { formatBytes } from '../format';
import { LabError } from '../errors';

export interface ChatChoice {
  index?: number;
  message?: { content?: string | null } | null;
  finish_reason?: string | null;
  logprobs?: { content?: unknown } | null;
}

export interface ChatCompletion {
  choices: ChatChoice[];
  usage?: { completion_tokens?: number } | null;
}

export interface TopLogprob {
  token: string;
  logprob: number;
}

// The caps are far above any real reply and far below what hurts a tab. A token is a few
// characters of text (the longest in common vocabularies are a few dozen), so 64 characters per
// token, plus room for text max_tokens does not count (a stop string, a template's tail), bounds
// a completion that honours max_tokens. In JSON a character takes at most 6 bytes (\uXXXX), and
// the rest of a reply (ids, usage, a one-token read-out's 20 top log-probs) fits in 64 KiB.
const CHARS_PER_TOKEN = 64;
const UNCOUNTED_CHARS = 4096;
const JSON_BYTES_PER_CHAR = 6;
const REPLY_OVERHEAD_BYTES = 64 * 1024;
/** Whatever max_tokens says: JSON.parse of a larger reply alone can take hundreds of MB. */
const MAX_REPLY_BYTES = 32 * 1024 * 1024;
/** max_tokens when the request has none (extraBody removed it): a long reply. */
const UNKNOWN_MAX_TOKENS = 4096;
/** An error reply is shown cut to 300 characters; more of it is not read. */
export const ERROR_BODY_BYTES = 64 * 1024;

export interface ReplyLimits {
  /** Bytes of the whole body. */
  bytes: number;
  /** Characters of one choice's content. */
  chars: number;
  /** What they were derived from, for the error message. */
  n: number;
  maxTokens: number;
}

/** The caps for a request body as sent (its `n` and `max_tokens`). */
export function replyLimits(body: Record<string, unknown>): ReplyLimits {
  const whole = (v: unknown, d: number) => (typeof v === 'number' && Number.isInteger(v) && v >= 1 ? v : d);
  const n = whole(body.n, 1);
  const maxTokens = whole(body.max_tokens, UNKNOWN_MAX_TOKENS);
  const chars = UNCOUNTED_CHARS + CHARS_PER_TOKEN * maxTokens;
  return { bytes: Math.min(MAX_REPLY_BYTES, REPLY_OVERHEAD_BYTES + n * JSON_BYTES_PER_CHAR * chars), chars, n, maxTokens };
}

/**
 * The body as text, reading at most `limit` bytes. Past the cap the rest is not read (the
 * connection is dropped) and `complete` is false; memory never holds more than the cap.
 */
export async function readLimited(res: Response, limit: number): Promise<{ text: string; complete: boolean }> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > limit) {
    void res.body?.cancel().catch(() => undefined);
    return { text: '', complete: false };
  }
  if (!res.body) return { text: '', complete: true };
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { text: text + decoder.decode(), complete: true };
    bytes += value.byteLength;
    if (bytes > limit) {
      void reader.cancel().catch(() => undefined);
      return { text: text + decoder.decode(value.subarray(0, value.byteLength - (bytes - limit))), complete: false };
    }
    text += decoder.decode(value, { stream: true });
  }
}

export function replyTooLarge(url: string, limits: ReplyLimits): LabError {
  const asked = `${limits.n === 1 ? 'one completion' : `${limits.n} completions`} of at most ${limits.maxTokens} tokens`;
  return new LabError(
    'network',
    `The model server at ${url} sent more than ${formatBytes(limits.bytes)} for ${asked}; the lab stopped reading there. ` +
      'The server does not seem to stop at max_tokens (or sends something else endlessly); check its settings.',
  );
}

export function eventStreamRefused(url: string): LabError {
  return new LabError(
    'network',
    `The model server at ${url} answered with an event stream (text/event-stream), but the lab asks for one JSON reply per request ("stream": false). ` +
      'Check the server or the proxy in front of it: it must honour "stream": false.',
  );
}

/** A chat completion with every field the lab reads checked; content longer than `limits.chars` is refused. */
export function parseCompletion(text: string, limits: ReplyLimits): ChatCompletion {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new LabError('network', `The model server sent a reply that is not JSON: ${text.slice(0, 200)}`);
  }
  if (!isObject(json) || !Array.isArray(json.choices)) {
    throw new LabError('network', `The model server's reply is not a chat completion (no "choices"): ${text.slice(0, 200)}`);
  }
  json.choices.forEach((ch: unknown, i) => checkChoice(ch, `choices[${i}]`, limits));
  const usage = json.usage;
  if (isObject(usage) && usage.completion_tokens !== undefined && usage.completion_tokens !== null) {
    const t = usage.completion_tokens;
    if (!(typeof t === 'number' && Number.isInteger(t) && t >= 0)) throw malformed('usage.completion_tokens', t, 'a whole number ≥ 0');
  }
  return json as unknown as ChatCompletion;
}

function checkChoice(ch: unknown, at: string, limits: ReplyLimits): void {
  if (!isObject(ch)) throw malformed(at, ch, 'an object with message.content');
  if (ch.index !== undefined && !(typeof ch.index === 'number' && Number.isInteger(ch.index) && ch.index >= 0)) throw malformed(`${at}.index`, ch.index, 'a whole number ≥ 0');
  if (ch.finish_reason !== undefined && ch.finish_reason !== null && typeof ch.finish_reason !== 'string') throw malformed(`${at}.finish_reason`, ch.finish_reason, 'a string');
  const m = ch.message;
  if (m === undefined || m === null) return;
  if (!isObject(m)) throw malformed(`${at}.message`, m, 'an object with content');
  const content = m.content;
  if (content === undefined || content === null) return;
  if (typeof content !== 'string') throw malformed(`${at}.message.content`, content, 'a string');
  if (content.length > limits.chars) {
    throw new LabError(
      'network',
      `The model server's ${at}.message.content is ${content.length.toLocaleString('en')} characters long, more than max_tokens = ${limits.maxTokens} allows ` +
        `(at most ${limits.chars.toLocaleString('en')}). The server does not seem to stop at max_tokens; check its settings.`,
    );
  }
}

/**
 * The top log-probs of the first generated token of choice 0 (the verdict read-out), each entry
 * checked; null when the reply has none (the server does not support the read-out).
 */
export function firstTokenTopLogprobs(c: ChatCompletion): TopLogprob[] | null {
  const lp = c.choices[0]?.logprobs;
  const content = isObject(lp) ? lp.content : undefined;
  const first: unknown = Array.isArray(content) ? content[0] : undefined;
  const top = isObject(first) ? first.top_logprobs : undefined;
  if (!Array.isArray(top) || top.length === 0) return null;
  top.forEach((t: unknown, i) => {
    const at = `choices[0].logprobs.content[0].top_logprobs[${i}]`;
    if (!isObject(t)) throw malformed(at, t, 'an object with token and logprob');
    if (typeof t.token !== 'string') throw malformed(`${at}.token`, t.token, 'a string');
    if (typeof t.logprob !== 'number') throw malformed(`${at}.logprob`, t.logprob, 'a number');
  });
  return top as TopLogprob[];
}

function malformed(field: string, v: unknown, want: string): LabError {
  return new LabError('network', `The model server's reply has ${field} = ${shown(v)}; it must be ${want}. The server does not follow the OpenAI chat completions format.`);
}

/** A value as a short text for an error message. */
function shown(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
