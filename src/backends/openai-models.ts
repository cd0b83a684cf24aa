/**
 * The models an OpenAI-compatible server serves: GET <base URL>/models, which vLLM, llama.cpp's
 * server, Ollama and the hosted APIs answer with {"object": "list", "data": [{"id": …}, …]}.
 * Setup offers these names instead of making the user type one. One request, no retries: the
 * user is waiting for the answer, and a failure is shown next to the form.
 */
import { LabError } from '../errors';
import { chatCompletionsUrl } from './openai';

export interface ListModelsOptions {
  apiKey?: string;
  /** ms (default 15 000). */
  timeoutMs?: number;
  signal?: AbortSignal;
  fetch?: typeof fetch;
}

/** The model list's URL for a base URL as the chat backend reads it (a bare origin gets /v1). */
export function modelsUrl(baseUrl: string): string {
  const url = new URL(chatCompletionsUrl(baseUrl));
  url.pathname = url.pathname.replace(/\/chat\/completions$/, '/models');
  return url.toString();
}

/** The ids the server lists, sorted; a LabError that says what to do where it cannot tell. */
export async function listEndpointModels(baseUrl: string, opts: ListModelsOptions = {}): Promise<string[]> {
  const url = modelsUrl(baseUrl);
  const doFetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.apiKey) headers.authorization = `Bearer ${opts.apiKey}`;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const onAbort = () => controller.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let res: Response;
  let text: string;
  try {
    res = await doFetch(url, { headers, signal: controller.signal });
    text = await res.text();
  } catch (e) {
    if (opts.signal?.aborted) throw new LabError('cancelled', 'Cancelled.');
    if (timedOut) throw new LabError('timeout', `The model server at ${url} did not answer within ${Math.round(timeoutMs / 1000)} s. Is the base URL right?`);
    throw new LabError('network', `Could not reach the model server at ${url} (${(e as Error).message}). Is it running, and does it allow requests from this page (CORS)?`, { cause: e });
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
  if (res.status === 401 || res.status === 403) {
    throw new LabError('invalid-input', `The model server at ${url} wants an API key (HTTP ${res.status}${said(text)}). Enter the key and check again.`);
  }
  if (res.status === 404) {
    throw new LabError('not-found', `The model server has no model list at ${url} (HTTP 404). Check the base URL (it usually ends in /v1), or type the model name yourself.`);
  }
  if (!res.ok) throw new LabError('network', `The model server at ${url} answered HTTP ${res.status}${said(text)}. Try again, or type the model name yourself.`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new LabError('invalid-input', `${url} did not answer with JSON (${text.trim().slice(0, 120) || 'an empty reply'}): is this an OpenAI-compatible server?`);
  }
  const data = (json as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) throw new LabError('invalid-input', `${url} answered without a "data" list of models: is this an OpenAI-compatible server?`);
  const ids = data.map((m) => (m as { id?: unknown } | null)?.id).filter((id): id is string => typeof id === 'string' && id.length > 0);
  return [...new Set(ids)].sort((a, b) => a.localeCompare(b));
}

/** ": <the server's message>" from an OpenAI-style error body, or nothing. */
function said(text: string): string {
  try {
    const j = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const m = typeof j.error === 'string' ? j.error : (j.error?.message ?? j.message);
    if (typeof m === 'string' && m) return `: ${m.slice(0, 200)}`;
  } catch {
    // not JSON
  }
  return '';
}
