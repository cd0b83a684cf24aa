/**
 * A scripted language model: a `ModelBackend` whose answers come from functions of the request
 * and of the call order, and which records every call. Used to test the algorithm exactly (and
 * by the conformance check against the reference implementation), never to run a real lab.
 */
import type {
  BackendInfo,
  CallOptions,
  GenerateRequest,
  Generation,
  ModelBackend,
  ScoreRequest,
  ScoreResult,
  VerdictRequest,
  VerdictResult,
} from './types';

/** Where a scripted answer sits in the stream of calls. */
export interface ScriptPosition {
  /** Number of the backend method call (generate/verdict/score share one counter), from 0. */
  call: number;
  /** Position of the request within that call. */
  request: number;
  /** Sample number within the request (generate), else 0. */
  sample: number;
  /** Answers of this method produced before this one, over all calls. */
  index: number;
  /** Answers of this method produced before this one for exactly the same messages (and prefix). */
  seen: number;
}

export type GenerateScript = (request: GenerateRequest, at: ScriptPosition) => string | (Partial<Generation> & { text: string });
export type VerdictScript = (request: VerdictRequest, at: ScriptPosition) => number[];
export type ScoreScript = (request: ScoreRequest, at: ScriptPosition) => ScoreResult;

export interface ScriptedOptions {
  label?: string;
  generate: GenerateScript;
  /** Without it the backend has no `verdict` method (like web-llm). */
  verdict?: VerdictScript;
  score?: ScoreScript;
  /** Milliseconds each call takes (a function of the call number), to exercise concurrency. */
  delayMs?: number | ((call: number) => number);
}

export type ScriptedCall =
  | { method: 'generate'; call: number; requests: GenerateRequest[] }
  | { method: 'verdict'; call: number; requests: VerdictRequest[] }
  | { method: 'score'; call: number; requests: ScoreRequest[] };

export interface ScriptedBackend extends ModelBackend {
  /** Every call, in the order made (requests deep-copied). */
  readonly calls: ScriptedCall[];
  /** Generated samples in order, with the request they answered. */
  readonly generated: { request: GenerateRequest; at: ScriptPosition; text: string }[];
}

export function createScriptedBackend(opts: ScriptedOptions): ScriptedBackend {
  const calls: ScriptedCall[] = [];
  const generated: ScriptedBackend['generated'] = [];
  const counters = { generate: 0, verdict: 0, score: 0 };
  const seen = new Map<string, number>();
  let callNo = 0;

  const position = (method: keyof typeof counters, key: string, call: number, request: number, sample: number): ScriptPosition => {
    const k = `${method}\u0000${key}`;
    const s = seen.get(k) ?? 0;
    seen.set(k, s + 1);
    return { call, request, sample, index: counters[method]++, seen: s };
  };

  const wait = async (call: number, signal?: AbortSignal) => {
    const ms = typeof opts.delayMs === 'function' ? opts.delayMs(call) : (opts.delayMs ?? 0);
    if (signal?.aborted) throw abortError();
    if (ms <= 0) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(abortError());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  };

  const info: BackendInfo = { label: opts.label ?? 'scripted', kind: 'scripted' };
  const backend: ScriptedBackend = {
    info,
    calls,
    generated,
    async generate(requests: GenerateRequest[], o: CallOptions = {}): Promise<Generation[][]> {
      const call = callNo++;
      calls.push({ method: 'generate', call, requests: structuredClone(requests) });
      await wait(call, o.signal);
      return requests.map((req, r) =>
        Array.from({ length: req.n }, (_, sample) => {
          const at = position('generate', JSON.stringify(req.messages), call, r, sample);
          const out = opts.generate(req, at);
          const g: Generation = typeof out === 'string' ? { text: out, finishReason: 'stop', tokens: countWords(out) } : { finishReason: 'stop', tokens: countWords(out.text), ...out };
          generated.push({ request: req, at, text: g.text });
          o.onText?.(r, sample, g.text);
          return g;
        }),
      );
    },
  };
  if (opts.verdict) {
    const script = opts.verdict;
    backend.verdict = async (requests: VerdictRequest[], o: CallOptions = {}): Promise<VerdictResult[]> => {
      const call = callNo++;
      calls.push({ method: 'verdict', call, requests: structuredClone(requests) });
      await wait(call, o.signal);
      return requests.map((req, r) => ({ logprobs: script(req, position('verdict', JSON.stringify([req.messages, req.prefix]), call, r, 0)) }));
    };
  }
  if (opts.score) {
    const script = opts.score;
    backend.score = async (requests: ScoreRequest[], o: CallOptions = {}): Promise<ScoreResult[]> => {
      const call = callNo++;
      calls.push({ method: 'score', call, requests: structuredClone(requests) });
      await wait(call, o.signal);
      return requests.map((req, r) => script(req, position('score', JSON.stringify([req.messages, req.response]), call, r, 0)));
    };
  }
  return backend;
}

function countWords(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

function abortError(): DOMException {
  return new DOMException('The operation was aborted.', 'AbortError');
}
