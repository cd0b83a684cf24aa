/**
 * The web-llm backend's translation of our model interface to web-llm's API, against a double
 * of web-llm's engine that behaves as MLCEngine does where the backend depends on it: streamed
 * deltas computed from the whole message, a stop string cut out of the message once complete
 * (so its first pieces may already have been streamed), an interrupt flag reset at the start
 * of each request, a usage chunk, and top-5 log-probabilities of softmax(logits + logit_bias).
 */
import type { ChatCompletionChunk, ChatCompletionRequestStreaming, Completion, CompletionCreateParamsNonStreaming } from '@mlc-ai/web-llm';
import { describe, expect, it } from 'vitest';
import type { GenerateRequest } from '../../../src/backends/types';
import { WEBLLM_CAPABILITIES, createWebLlmBackend, type WebLlmEngine } from '../../../src/backends/webllm';
import type { ConvTemplate, WebLlmReadout } from '../../../src/backends/webllm-readout';
import { LabError, isCancelled } from '../../../src/errors';

type Script = (req: ChatCompletionRequestStreaming) => { pieces: string[]; eos?: boolean };

/** Logits over a small vocabulary (id → [text, logit]) for the read-out. */
type Vocab = Record<number, [string, number]>;

class FakeEngine implements WebLlmEngine {
  requests: ChatCompletionRequestStreaming[] = [];
  completionRequests: CompletionCreateParamsNonStreaming[] = [];
  interrupts = 0;
  closedStreams = 0;
  getMessageCalls = 0;
  private interrupted = false;
  private message = '';
  /** Called after each streamed piece (to abort mid-stream in tests). */
  onPiece?: (n: number) => void;

  constructor(
    private script: Script,
    private vocab: Vocab = {},
  ) {}

  chat = { completions: { create: async (req: ChatCompletionRequestStreaming) => this.stream(req) } };
  completions = { create: async (req: CompletionCreateParamsNonStreaming) => this.complete(req) };

  interruptGenerate(): void {
    this.interrupts++;
    this.interrupted = true;
  }

  async getMessage(): Promise<string> {
    this.getMessageCalls++;
    return this.message;
  }

  private stream(req: ChatCompletionRequestStreaming): AsyncIterable<ChatCompletionChunk> {
    this.requests.push(structuredClone(req));
    this.interrupted = false; // web-llm: an interrupt applies to the request running when it came
    const { pieces, eos = true } = this.script(req);
    const stops = typeof req.stop === 'string' ? [req.stop] : (req.stop ?? []);
    const chunk = (content: string | undefined, finish: ChatCompletionChunk.Choice['finish_reason']): ChatCompletionChunk =>
      ({ id: 'x', object: 'chat.completion.chunk', created: 0, model: String(req.model), choices: [{ index: 0, delta: content === undefined ? {} : { content, role: 'assistant' }, finish_reason: finish, logprobs: null }] }) as ChatCompletionChunk;
    const self = this;
    return (async function* () {
      let out = '';
      let prev = 0;
      let tokens = 0;
      let finish: 'stop' | 'length' | 'abort' = eos ? 'stop' : 'length';
      try {
        for (const piece of pieces) {
          if (self.interrupted) {
            finish = 'abort';
            break;
          }
          if (tokens >= (req.max_tokens ?? Infinity)) {
            finish = 'length';
            break;
          }
          tokens++;
          out += piece;
          let stopped = false;
          for (const s of stops) {
            const at = out.lastIndexOf(s);
            if (at >= 0) {
              out = out.slice(0, at);
              stopped = true;
              finish = 'stop';
              break;
            }
          }
          const delta = out.slice(prev);
          prev = out.length;
          self.message = out;
          yield chunk(delta, null);
          self.onPiece?.(tokens);
          if (stopped) break;
        }
        self.message = out;
        yield chunk(undefined, finish);
        yield { id: 'x', object: 'chat.completion.chunk', created: 0, model: String(req.model), choices: [], usage: { completion_tokens: tokens, prompt_tokens: 7, total_tokens: tokens + 7 } } as unknown as ChatCompletionChunk;
      } finally {
        self.closedStreams++;
      }
    })();
  }

  private async complete(req: CompletionCreateParamsNonStreaming): Promise<Completion> {
    this.completionRequests.push(structuredClone(req));
    const bias = req.logit_bias ?? {};
    const entries = Object.entries(this.vocab).map(([id, [text, logit]]) => ({ text, l: logit + (bias[id] ?? 0) }));
    const max = Math.max(...entries.map((e) => e.l));
    const logZ = max + Math.log(entries.reduce((a, e) => a + Math.exp(e.l - max), 0));
    const top = entries
      .map((e) => ({ token: e.text, logprob: e.l - logZ, bytes: [] }))
      .sort((a, b) => b.logprob - a.logprob)
      .slice(0, req.top_logprobs ?? 0);
    return {
      id: 'c',
      object: 'text_completion',
      created: 0,
      model: String(req.model),
      choices: [{ index: 0, text: top[0].token, finish_reason: 'length', logprobs: { content: [{ token: top[0].token, logprob: top[0].logprob, bytes: [], top_logprobs: top }] } }],
    } as Completion;
  }
}

const messages = [{ role: 'user' as const, content: 'Write a haiku.' }];
const req = (over: Partial<GenerateRequest['sampling']> = {}, n = 1): GenerateRequest => ({ messages, n, sampling: { temperature: 0.7, topP: 0.9, maxTokens: 50, ...over } });
/** Three pieces that depend on the seed only. */
const bySeed: Script = (r) => ({ pieces: [`s${r.seed ?? 'none'}`, ' one', ' two'] });

describe('web-llm backend: generate', () => {
  it('sends one streamed n=1 request per sample with seed s+i, sampling as asked and neutral penalties', async () => {
    const engine = new FakeEngine(bySeed);
    const b = createWebLlmBackend({ engine, modelId: 'SmolLM2-360M-Instruct-q4f32_1-MLC' });
    const out = await b.generate([req({ seed: 10, stop: ['END'] }, 3), req({}, 1)]);
    expect(out.map((g) => g.map((s) => s.text))).toEqual([['s10 one two', 's11 one two', 's12 one two'], ['snone one two']]);
    expect(out[0][0]).toEqual({ text: 's10 one two', finishReason: 'stop', tokens: 3 });
    expect(engine.requests).toHaveLength(4);
    expect(engine.requests[1]).toEqual({
      messages,
      model: 'SmolLM2-360M-Instruct-q4f32_1-MLC',
      stream: true,
      stream_options: { include_usage: true },
      n: 1,
      temperature: 0.7,
      top_p: 0.9,
      max_tokens: 50,
      repetition_penalty: 1,
      frequency_penalty: 0,
      presence_penalty: 0,
      stop: ['END'],
      seed: 11,
    });
    expect('seed' in engine.requests[3]).toBe(false);
    expect(b.info).toEqual({ label: 'web-llm · SmolLM2-360M-Instruct-q4f32_1-MLC', kind: 'webllm' });
  });

  it('gives sample i the sample a lone request with seed s+i gets, however requests are batched', async () => {
    const b = createWebLlmBackend({ engine: new FakeEngine(bySeed), modelId: 'm' });
    const [[, , third]] = await b.generate([req({ seed: 5 }, 3)]);
    const [[alone]] = await b.generate([req({ seed: 7 })]);
    expect(third).toEqual(alone);
  });

  it('reports length, token counts from usage, and passes enable_thinking when set', async () => {
    const engine = new FakeEngine(() => ({ pieces: ['a', 'b', 'c', 'd'], eos: false }));
    const b = createWebLlmBackend({ engine, modelId: 'Qwen3-0.6B-q4f32_1-MLC', enableThinking: false });
    const [[g]] = await b.generate([req({ maxTokens: 3 })]);
    expect(g).toEqual({ text: 'abc', finishReason: 'length', tokens: 3 });
    expect(engine.requests[0].extra_body).toEqual({ enable_thinking: false });
  });

  it('streams pieces that add up to the final text, never the start of a stop string web-llm later cuts', async () => {
    const engine = new FakeEngine(() => ({ pieces: ['Final', ' answer', ' [[', 'end', ']]', ' tail'] }));
    const b = createWebLlmBackend({ engine, modelId: 'm' });
    const streamed: string[] = [];
    const [[g]] = await b.generate([req({ stop: ['[[end]]'] })], { onText: (r, s, d) => streamed.push(`${r}:${s}:${d}`) });
    expect(g.text).toBe('Final answer ');
    expect(g.finishReason).toBe('stop');
    expect(streamed.map((s) => s.slice(4)).join('')).toBe(g.text);
    expect(streamed.every((s) => s.startsWith('0:0:'))).toBe(true);
    expect(engine.getMessageCalls).toBe(1); // the held "[[end" was settled by the engine, not guessed
  });

  it('keeps a held tail that was real text when the model ended right after it', async () => {
    const engine = new FakeEngine(() => ({ pieces: ['Use ', '[['] }));
    const b = createWebLlmBackend({ engine, modelId: 'm' });
    const streamed: string[] = [];
    const [[g]] = await b.generate([req({ stop: ['[[end]]'] })], { onText: (_r, _s, d) => streamed.push(d) });
    expect(g.text).toBe('Use [[');
    expect(streamed).toEqual(['Use ', '[[']);
  });

  it('cancels: interrupts web-llm, closes the stream and rejects with kind cancelled', async () => {
    const engine = new FakeEngine(() => ({ pieces: Array.from({ length: 50 }, (_, i) => ` w${i}`) }));
    const b = createWebLlmBackend({ engine, modelId: 'm' });
    const ac = new AbortController();
    engine.onPiece = (n) => n === 3 && ac.abort();
    const err = await b.generate([req({}, 2)], { signal: ac.signal }).catch((e) => e);
    expect(err).toBeInstanceOf(LabError);
    expect(isCancelled(err)).toBe(true);
    expect(engine.interrupts).toBe(1);
    expect(engine.closedStreams).toBe(1);
    expect(engine.requests).toHaveLength(1); // the second sample was never asked for
    const before = await b.generate([req()], { signal: AbortSignal.abort() }).catch((e) => e);
    expect(isCancelled(before)).toBe(true);
    expect(engine.requests).toHaveLength(1);
  });

  it('maps web-llm errors (as the worker sends them: strings) to LabErrors that say what to do', async () => {
    const engine = new FakeEngine(bySeed);
    engine.chat.completions.create = () =>
      Promise.reject('ContextWindowSizeExceededError: Prompt tokens exceed context window size: number of prompt tokens: 5000; context window size: 4096\nConsider shortening the prompt');
    const b = createWebLlmBackend({ engine, modelId: 'Llama-3.2-1B-Instruct-q4f32_1-MLC' });
    const err = (await b.generate([req()]).catch((e) => e)) as LabError;
    expect(err.kind).toBe('invalid-input');
    expect(err.message).toMatch(/context window.*Shorten the prompt/s);
  });

  it('has no score (web-llm cannot score a given text) and no verdict without read-out inputs', () => {
    const b = createWebLlmBackend({ engine: new FakeEngine(bySeed), modelId: 'm' });
    expect(b.score).toBeUndefined();
    expect(b.verdict).toBeUndefined();
    expect(WEBLLM_CAPABILITIES).toMatchObject({ generate: true, score: false, train: false, lora: false });
  });
});

const chatml: ConvTemplate = {
  system_template: '<|im_start|>system\n{system_message}<|im_end|>\n',
  system_message: 'You are a helpful assistant.',
  roles: { user: '<|im_start|>user', assistant: '<|im_start|>assistant' },
  seps: ['<|im_end|>\n'],
  role_content_sep: '\n',
  role_empty_sep: '\n',
  stop_str: ['<|im_end|>'],
  stop_token_ids: [2],
};
const readout = async (): Promise<WebLlmReadout> => ({
  conv: chatml,
  prefixTokenText: '',
  labelToken: (l) => ({ id: l === ' Yes' ? 11 : 12, text: l }),
});
const verdictReq = { messages, prefix: 'Step-by-step verification: fine.\nFinal Judgement (if the Output accurately follows the Prompt):', labels: [' Yes', ' No'] };

/** Exact log-softmax of a vocabulary. */
function logSoftmax(vocab: Vocab): Record<string, number> {
  const ls = Object.values(vocab).map(([, l]) => l);
  const max = Math.max(...ls);
  const logZ = max + Math.log(ls.reduce((a, l) => a + Math.exp(l - max), 0));
  return Object.fromEntries(Object.values(vocab).map(([t, l]) => [t, l - logZ]));
}

describe('web-llm backend: verdict read-out', () => {
  it('reads both labels from the top 5 in one completion of the chat-formatted prompt plus prefix', async () => {
    const vocab: Vocab = { 11: [' Yes', 3.1], 12: [' No', 2.2], 13: ['\n', 1], 14: [' yes', 0.5], 15: [' The', -1], 16: [' X', -2] };
    const engine = new FakeEngine(bySeed, vocab);
    const b = createWebLlmBackend({ engine, modelId: 'm', readout });
    const [v] = await b.verdict!([verdictReq]);
    const exact = logSoftmax(vocab);
    expect(v.logprobs).toBeAllclose([exact[' Yes'], exact[' No']], { rtol: 1e-12 });
    expect(engine.completionRequests).toEqual([
      {
        prompt:
          '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nWrite a haiku.<|im_end|>\n<|im_start|>assistant\n' + verdictReq.prefix,
        model: 'm',
        max_tokens: 1,
        temperature: 1,
        top_p: 1,
        repetition_penalty: 1,
        frequency_penalty: 0,
        presence_penalty: 0,
        logprobs: true,
        top_logprobs: 5,
      },
    ]);
  });

  it('recovers labels outside web-llm\'s top 5 exactly with logit_bias on them alone', async () => {
    // " No" is 8th; " Yes" far down (needs a second, stronger bias).
    const vocab: Vocab = { 21: ['\n', 9], 22: [' The', 8.5], 23: [' It', 8], 24: [' A', 7.9], 25: [' **', 7.5], 26: [' B', 7], 27: [' C', 6.8], 12: [' No', 6.5], 11: [' Yes', -20] };
    const engine = new FakeEngine(bySeed, vocab);
    const b = createWebLlmBackend({ engine, modelId: 'm', readout });
    const [v] = await b.verdict!([verdictReq]);
    const exact = logSoftmax(vocab);
    expect(v.logprobs).toBeAllclose([exact[' Yes'], exact[' No']], { rtol: 1e-9 });
    const biases = engine.completionRequests.map((r) => r.logit_bias);
    expect(biases[0]).toBeUndefined();
    expect(Object.keys(biases[1]!).sort()).toEqual(['11', '12']);
    expect(Object.keys(biases[2]!)).toEqual(['11']); // " No" was found; only " Yes" is lifted further
    expect(engine.completionRequests.every((r) => Object.values(r.logit_bias ?? {}).every((x) => x <= 100))).toBe(true);
  });

  it('reports -Infinity for a label web-llm cannot show even at the largest bias', async () => {
    const vocab: Vocab = { 21: ['\n', 50], 22: [' The', 49], 23: [' It', 48], 24: [' A', 47], 25: [' **', 46], 12: [' No', 45], 11: [' Yes', -200] };
    const engine = new FakeEngine(bySeed, vocab);
    const b = createWebLlmBackend({ engine, modelId: 'm', readout });
    const [v] = await b.verdict!([verdictReq]);
    expect(v.logprobs[0]).toBe(-Infinity);
    expect(v.logprobs[1]).toBeCloseTo(logSoftmax(vocab)[' No'], 9);
    expect(engine.completionRequests.length).toBeLessThanOrEqual(6);
    expect(Math.max(...Object.values(engine.completionRequests.at(-1)!.logit_bias!))).toBe(100);
  });

  it('loads the read-out inputs once, on the first read-out', async () => {
    let loads = 0;
    const engine = new FakeEngine(bySeed, { 11: [' Yes', 1], 12: [' No', 0] });
    const b = createWebLlmBackend({ engine, modelId: 'm', readout: () => (loads++, readout()) });
    expect(loads).toBe(0);
    await b.verdict!([verdictReq, verdictReq]);
    await b.verdict!([verdictReq]);
    expect(loads).toBe(1);
    expect(engine.completionRequests).toHaveLength(3);
  });
});
