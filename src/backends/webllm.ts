/**
 * `ModelBackend` over web-llm (@mlc-ai/web-llm): the fastest way to generate with a frozen
 * prebuilt model in the browser. It cannot train, apply LoRA or score a given text, so it has
 * no `score`; a role it serves can generate and judge, never be trained (WEBLLM_CAPABILITIES).
 *
 * Written against `WebLlmEngine`, the few engine methods used here; web-llm's MLCEngine and
 * WebWorkerMLCEngine (the engine in workers/webllm.worker.ts, reached through
 * workers/webllm-link.ts) fit it, and tests use a double.
 *
 * - generate: one streamed chat completion per sample, n = 1, sample i with seed s + i (the
 *   interface's seed rule). web-llm's own `n > 1` runs the samples one after another from a
 *   single seed (so sample i is not seed s + i) and refuses `stream` with n > 1; it prefills
 *   the prompt again for every sample either way, so asking one sample at a time costs nothing.
 *   Requests run one at a time (web-llm serialises them per model anyway).
 * - Sampling is temperature + top-p only, like the other backends: repetition, frequency and
 *   presence penalties are sent neutral (web-llm would otherwise apply the model's defaults
 *   from mlc-chat-config.json). Temperature 0 is greedy (web-llm clamps it to 1e-6).
 * - Streaming: text goes to `onText` as it arrives, holding back a tail that may still become
 *   a stop string, so the pieces always add up to the final text. web-llm cuts a stop string
 *   out of its message when the string completes; when the stream ends while such a tail is
 *   held, the final text is asked from the engine (getMessage) rather than guessed.
 * - Token counts come from the stream's usage chunk (stream_options.include_usage).
 * - Cancel: the AbortSignal calls interruptGenerate and leaves the stream (which closes
 *   web-llm's generator); the call rejects with a LabError of kind 'cancelled'.
 * - Verdict read-out (webllm-readout.ts): through the text-completion API with web-llm's own
 *   chat formatting, exact log-probabilities even for labels outside web-llm's top 5. Present
 *   only when the caller supplies the model's conversation template and tokenizer (`readout`).
 */
import type { ChatCompletionChunk, ChatCompletionMessageParam, ChatCompletionRequestStreaming, Completion, CompletionCreateParamsNonStreaming } from '@mlc-ai/web-llm';
import { LabError } from '../errors';
import type { BackendInfo, CallOptions, ChatMessage, GenerateRequest, Generation, ModelBackend, VerdictRequest, VerdictResult } from './types';
import { pendingStopPrefix } from './text-stream';
import { webLlmError } from './webllm-errors';
import { labelLogprobs, renderWebLlmPrompt, type TopLogprob, type WebLlmReadout } from './webllm-readout';

/** The parts of web-llm's engine interface (MLCEngineInterface) this backend uses. */
export interface WebLlmEngine {
  chat: { completions: { create(request: ChatCompletionRequestStreaming): Promise<AsyncIterable<ChatCompletionChunk>> } };
  completions: { create(request: CompletionCreateParamsNonStreaming): Promise<Completion> };
  interruptGenerate(): void;
  getMessage(modelId?: string): Promise<string>;
}

/** What a role served by web-llm can do; the UI greys out the rest. */
export const WEBLLM_CAPABILITIES = {
  generate: true,
  /** The read-out needs the model's files (mlc-chat-config.json, tokenizer.json), which web-llm caches. */
  verdictReadout: true,
  /** web-llm cannot score a given text: no DPO/SFT reference scoring, no training. */
  score: false,
  train: false,
  lora: false,
} as const;

export interface WebLlmBackendOptions {
  engine: WebLlmEngine;
  /** The web-llm model id (one of the models the engine has loaded). */
  modelId: string;
  label?: string;
  /**
   * The verdict read-out's inputs (loadWebLlmReadout over the model's files), loaded on the
   * first read-out. Without it the backend has no `verdict` (use the "parsed" verdict setting).
   */
  readout?: () => Promise<WebLlmReadout>;
  /** Sent as extra_body.enable_thinking (Qwen3-style models; false skips the <think> block). Default: not sent. */
  enableThinking?: boolean;
}

function cancelled(): LabError {
  return new LabError('cancelled', 'Cancelled.');
}

function toWebLlmMessages(messages: readonly ChatMessage[]): ChatCompletionMessageParam[] {
  return messages.map((m) => ({ role: m.role, content: m.content }) as ChatCompletionMessageParam);
}

export function createWebLlmBackend(opts: WebLlmBackendOptions): ModelBackend {
  const { engine, modelId } = opts;
  const info: BackendInfo = { label: opts.label ?? `web-llm · ${modelId}`, kind: 'webllm' };
  // One request at a time: web-llm serialises per model anyway, and getMessage must read our own message.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(task: () => Promise<T>): Promise<T> => {
    const run = queue.then(task, task);
    queue = run.catch(() => undefined);
    return run;
  };

  async function sample(req: GenerateRequest, r: number, i: number, o: CallOptions): Promise<Generation> {
    const { signal, onText } = o;
    if (signal?.aborted) throw cancelled();
    const s = req.sampling;
    const stops = (s.stop ?? []).filter((x) => x.length > 0);
    const body: ChatCompletionRequestStreaming = {
      messages: toWebLlmMessages(req.messages),
      model: modelId,
      stream: true,
      stream_options: { include_usage: true },
      n: 1,
      temperature: s.temperature,
      top_p: s.topP,
      max_tokens: s.maxTokens,
      repetition_penalty: 1,
      frequency_penalty: 0,
      presence_penalty: 0,
    };
    if (stops.length) body.stop = stops;
    if (s.seed !== undefined) body.seed = s.seed + i;
    if (opts.enableThinking !== undefined) body.extra_body = { enable_thinking: opts.enableThinking };

    const onAbort = () => engine.interruptGenerate();
    signal?.addEventListener('abort', onAbort, { once: true });
    let raw = '';
    let emitted = 0;
    let finish: string | null = null;
    let tokens: number | null = null;
    let chunks = 0;
    try {
      const stream = await engine.chat.completions.create(body);
      for await (const chunk of stream) {
        if (signal?.aborted) break; // leaving the loop closes web-llm's generator
        const choice = chunk.choices[0];
        const delta = choice?.delta?.content;
        if (delta) {
          raw += delta;
          chunks++;
          const safe = raw.length - pendingStopPrefix(raw, stops);
          if (safe > emitted) {
            onText?.(r, i, raw.slice(emitted, safe));
            emitted = safe;
          }
        }
        if (choice?.finish_reason) finish = choice.finish_reason;
        if (chunk.usage) tokens = chunk.usage.completion_tokens;
      }
      if (signal?.aborted) throw cancelled();
      if (finish === 'abort') throw new LabError('cancelled', `web-llm interrupted the generation (${modelId}).`);
      let text = raw;
      // web-llm removed a completed stop string from its message; only it knows whether the held tail was one.
      if (finish === 'stop' && emitted < raw.length) text = await engine.getMessage(modelId);
      if (text.startsWith(raw.slice(0, emitted)) && text.length > emitted) onText?.(r, i, text.slice(emitted));
      return { text, finishReason: finish === 'length' ? 'length' : 'stop', tokens: tokens ?? chunks };
    } catch (e) {
      if (signal?.aborted) throw cancelled();
      throw webLlmError(e, 'generate', modelId);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  const backend: ModelBackend = {
    info,
    async generate(requests: GenerateRequest[], o: CallOptions = {}): Promise<Generation[][]> {
      return serial(async () => {
        const out: Generation[][] = [];
        for (let r = 0; r < requests.length; r++) {
          const samples: Generation[] = [];
          for (let i = 0; i < requests[r].n; i++) samples.push(await sample(requests[r], r, i, o));
          out.push(samples);
        }
        return out;
      });
    },
  };

  if (opts.readout) {
    const load = opts.readout;
    let readout: Promise<WebLlmReadout> | null = null;
    const readoutOnce = () => {
      readout ??= load().catch((e) => {
        readout = null; // let a later call retry (e.g. after the files were downloaded)
        throw e;
      });
      return readout;
    };

    const topLogprobs = (prompt: string, signal: AbortSignal | undefined) => async (logitBias?: Record<string, number>): Promise<TopLogprob[]> => {
      if (signal?.aborted) throw cancelled();
      const request: CompletionCreateParamsNonStreaming = {
        prompt,
        model: modelId,
        max_tokens: 1,
        temperature: 1,
        top_p: 1,
        repetition_penalty: 1,
        frequency_penalty: 0,
        presence_penalty: 0,
        logprobs: true,
        top_logprobs: 5,
      };
      if (logitBias) request.logit_bias = logitBias;
      let completion: Completion;
      try {
        completion = await engine.completions.create(request);
      } catch (e) {
        throw webLlmError(e, 'readout', modelId);
      }
      const first = completion.choices[0]?.logprobs?.content?.[0];
      return (first?.top_logprobs ?? []).map((t) => ({ token: t.token, logprob: t.logprob }));
    };

    backend.verdict = (requests: VerdictRequest[], o: CallOptions = {}): Promise<VerdictResult[]> =>
      serial(async () => {
        const ro = await readoutOnce();
        const out: VerdictResult[] = [];
        for (const req of requests) {
          if (o.signal?.aborted) throw cancelled();
          const prompt = renderWebLlmPrompt(ro.conv, req.messages, ro.prefixTokenText, { emptyThinking: opts.enableThinking === false }) + req.prefix;
          const labels = req.labels.map((l) => ro.labelToken(l));
          out.push({ logprobs: await labelLogprobs(topLogprobs(prompt, o.signal), labels) });
        }
        return out;
      });
  }
  return backend;
}
