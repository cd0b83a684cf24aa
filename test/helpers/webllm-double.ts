/**
 * A double of the web-llm worker as the lab worker sees it (connectWebLlm's WebLlmConnection):
 * it lists models, "loads" a set of ids (replacing the previous set, with progress; exactly the
 * held set attaches without progress), and hands out one engine whose chat completions stream
 * a reply computed by `reply` from the request, with a usage chunk, and whose text completions
 * return fixed top log-probabilities. It records every load and request.
 */
import type { ChatCompletionChunk, ChatCompletionRequestStreaming, Completion, CompletionCreateParamsNonStreaming } from '@mlc-ai/web-llm';
import type { WebLlmEngine } from '../../src/backends/webllm';
import { LabError } from '../../src/errors';
import type { WebLlmConnectionLike } from '../../src/lab/webllm-host';
import type { ModelRecordLike } from '../../src/models/catalog';
import type { LoadOptions, WebLlmHello } from '../../workers/webllm-link';

export function webLlmRecord(id: string, host = 'https://huggingface.co/mlc-ai'): ModelRecordLike {
  return { model: `${host}/${id}`, model_id: id, model_lib: `https://raw.githubusercontent.com/tests/libs/main/${id}-webgpu.wasm`, vram_required_MB: 100 };
}

export interface WebLlmDouble {
  conn: WebLlmConnectionLike;
  engine: WebLlmEngine;
  /** Every load asked for (attaches included), and whether it was an attach. */
  loads: { ids: string[]; attached: boolean }[];
  requests: ChatCompletionRequestStreaming[];
  completions: CompletionCreateParamsNonStreaming[];
  loaded(): string[] | null;
  closed: boolean;
  /** The next load fails with this (a web-llm error string), once. */
  failNextLoad?: string;
}

export function webLlmDouble(
  records: ModelRecordLike[],
  reply: (req: ChatCompletionRequestStreaming) => string,
  topLogprobs: (req: CompletionCreateParamsNonStreaming) => { token: string; logprob: number }[] = () => [],
): WebLlmDouble {
  let loaded: string[] | null = null;
  const d: WebLlmDouble = {
    conn: null as unknown as WebLlmConnectionLike,
    engine: null as unknown as WebLlmEngine,
    loads: [],
    requests: [],
    completions: [],
    loaded: () => loaded,
    closed: false,
  };
  const check = (model: unknown) => {
    if (!loaded?.includes(String(model))) throw new Error(`ModelNotLoadedError: ${String(model)} is not loaded`);
  };
  d.engine = {
    chat: {
      completions: {
        create: async (req: ChatCompletionRequestStreaming) => {
          check(req.model);
          d.requests.push(structuredClone(req));
          const text = reply(req);
          const base = { id: 'x', object: 'chat.completion.chunk' as const, created: 0, model: String(req.model) };
          return (async function* (): AsyncGenerator<ChatCompletionChunk> {
            const pieces = text.match(/[\s\S]{1,7}/g) ?? [];
            for (const [i, p] of pieces.entries()) {
              yield { ...base, choices: [{ index: 0, delta: { content: p, role: 'assistant' }, finish_reason: i === pieces.length - 1 ? 'stop' : null, logprobs: null }] } as ChatCompletionChunk;
            }
            if (!pieces.length) yield { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop', logprobs: null }] } as ChatCompletionChunk;
            yield { ...base, choices: [], usage: { completion_tokens: pieces.length, prompt_tokens: 3, total_tokens: pieces.length + 3 } } as unknown as ChatCompletionChunk;
          })();
        },
      },
    },
    completions: {
      create: async (req: CompletionCreateParamsNonStreaming) => {
        check(req.model);
        d.completions.push(structuredClone(req));
        return { choices: [{ index: 0, text: '', finish_reason: 'length', logprobs: { content: [{ token: '', logprob: 0, bytes: null, top_logprobs: topLogprobs(req) }] } }] } as unknown as Completion;
      },
    },
    interruptGenerate() {},
    getMessage: async () => '',
  };
  d.conn = {
    hello: async (): Promise<WebLlmHello> => ({ modelVersion: 'v0_2_test', modelList: records, webgpu: true, loaded: loaded && [...loaded] }),
    async load(ids: string[], opts: LoadOptions = {}) {
      const attach = loaded !== null && loaded.length === ids.length && loaded.every((x, i) => x === ids[i]);
      d.loads.push({ ids: [...ids], attached: attach });
      if (attach) return d.engine;
      loaded = null;
      if (d.failNextLoad) {
        const e = d.failNextLoad;
        d.failNextLoad = undefined;
        throw new LabError('network', e);
      }
      const unknown = ids.find((id) => !records.some((r) => r.model_id === id));
      if (unknown) throw new LabError('not-found', `web-llm does not know the model "${unknown}".`);
      opts.onProgress?.({ fraction: 0.5, phase: 'download', text: 'Fetching param cache[1/2]', elapsedSeconds: 1 });
      opts.onProgress?.({ fraction: 1, phase: 'done', text: 'Finish loading on WebGPU', elapsedSeconds: 2 });
      loaded = [...ids];
      return d.engine;
    },
    async unload() {
      loaded = null;
    },
    close() {
      d.closed = true;
    },
  };
  return d;
}
