/**
 * `ModelBackend` over transformers.js (@huggingface/transformers): an ONNX model's forward pass
 * run by ONNX Runtime Web on WebGPU or WebAssembly, for frozen roles. transformers.js computes
 * logits and the KV cache (transformers-lm.ts); everything around them is the lab's own, so
 * seeds, top-p, stop strings and token counts mean here what they mean for the lab engine, and
 * greedy tokens of the same weights match the CPU reference's:
 * - the lab's tokenizer and chat template (ChatTokenizer over the model's own files);
 * - the lab's sampling rule (engine/cpu/sample.ts): sample i of a request with seed s draws
 *   step t with uniform(s + i, t);
 * - stop strings and streaming as in the CPU and lab backends (TextStream).
 *
 * generate: one request at a time; its prompt is prefilled once (one row), the cache copied to
 * its n samples, which decode together as one batch; a sample that ends leaves the batch.
 * score: one forward over prompt + response, the response as the whole assistant turn (end of
 * turn included, what DPO trains). verdict: one forward over the conversation and the prefix,
 * then log-softmax of the next token at each label's first token.
 * Cancel: checked before every forward; the call rejects with LabError 'cancelled'.
 *
 * Written against `CausalLm`, the few things a forward pass must offer; the transformers.js
 * model fits it (transformers-lm.ts) and tests use one over the CPU reference.
 */
import { LabError } from '../errors';
import { logSoftmaxForward } from '../engine/cpu/ops';
import { sampleToken } from '../engine/cpu/sample';
import type { ChatTokenizer } from '../engine/load/tokenizer';
import { TextStream } from './text-stream';
import type { BackendInfo, CallOptions, GenerateRequest, Generation, ModelBackend, ScoreRequest, ScoreResult, VerdictRequest, VerdictResult } from './types';

/** What a role served by transformers.js can do; the UI greys out the rest. */
export const TRANSFORMERS_CAPABILITIES = {
  generate: true,
  /** Exact: the forward pass gives the whole next-token distribution. */
  verdictReadout: true,
  /** Log-probs of a given text: DPO's reference scores work, the role still cannot be trained. */
  score: true,
  train: false,
  lora: false,
} as const;

/** Logits of the last `keep` positions of each row, [rows, keep, V]. */
export interface ForwardResult<C> {
  logits: Float32Array;
  cache: C;
}

/**
 * A causal LM's forward pass over a KV cache. Caches are values: forward and select return new
 * ones and leave their inputs usable; the caller releases each cache it no longer needs.
 */
export interface CausalLm<C> {
  readonly vocabSize: number;
  /**
   * Runs `tokens` (one row per sequence, all of one length) after `cache` (null: nothing yet,
   * one fresh sequence per row); logits of each row's last `keep` positions.
   */
  forward(tokens: readonly (readonly number[])[], cache: C | null, keep: number): Promise<ForwardResult<C>>;
  /** A cache of these rows of `cache`, in this order (a row may repeat: [0, 0, 0] copies row 0 three times). */
  select(cache: C, rows: readonly number[]): Promise<C>;
  release(cache: C): void;
}

export interface TransformersBackendOptions<C> {
  lm: CausalLm<C>;
  tokenizer: ChatTokenizer;
  /** Ids that end a sample besides the tokenizer's (config.json / generation_config.json eos_token_id). */
  eosTokenIds?: readonly number[];
  /** The model's context (max_position_embeddings); null: not limited here. */
  contextLength: number | null;
  label: string;
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new LabError('cancelled', 'Cancelled.');
}

export function createTransformersBackend<C>(opts: TransformersBackendOptions<C>): ModelBackend {
  const { lm, tokenizer: tok } = opts;
  const V = lm.vocabSize;
  const limit = opts.contextLength ?? Infinity;
  const eos = new Set([...tok.eosTokenIds, ...(opts.eosTokenIds ?? [])]);
  const info: BackendInfo = { label: opts.label, kind: 'transformers' };

  const checkLength = (n: number, what: string) => {
    if (n >= limit) throw new LabError('invalid-input', `The ${what} has ${n} tokens; the model's context is ${limit}.`);
  };

  /** log p(· | tokens) at the last `keep` positions of one sequence.   [keep, V] */
  async function logprobs(tokens: readonly number[], keep: number): Promise<Float32Array> {
    const { logits, cache } = await lm.forward([tokens], null, keep);
    lm.release(cache);
    const out = new Float32Array(keep * V);
    logSoftmaxForward(out, logits, keep, V);
    return out;
  }

  async function generateOne(req: GenerateRequest, r: number, o: CallOptions): Promise<Generation[]> {
    const s = req.sampling;
    const seed = s.seed ?? 0;
    const stops = (s.stop ?? []).filter((x) => x.length > 0);
    const prompt = tok.encodeChat(req.messages, { addGenerationPrompt: true });
    checkLength(prompt.length, 'prompt');
    const samples = Array.from({ length: req.n }, (_, i) => ({
      tokens: [] as number[],
      finishReason: 'length' as Generation['finishReason'],
      stream: new TextStream(stops, (delta) => o.onText?.(r, i, delta)),
    }));
    if (req.n === 0 || s.maxTokens <= 0) return samples.map(() => ({ text: '', finishReason: 'length', tokens: 0 }));

    checkAborted(o.signal);
    const prefill = await lm.forward([prompt], null, 1);
    let cache: C | null = prefill.cache;
    if (req.n > 1) {
      try {
        cache = await lm.select(prefill.cache, samples.map(() => 0));
      } finally {
        lm.release(prefill.cache);
      }
    }
    // Rows of the batch, by sample; logits[k] is row k's next-token distribution.
    let active = samples.map((_, i) => i);
    let logits: Float32Array = new Float32Array(req.n * V);
    for (let k = 0; k < req.n; k++) logits.set(prefill.logits, k * V);
    let length = prompt.length;
    try {
      for (;;) {
        const next: number[] = [];
        const going: number[] = [];
        active.forEach((i, k) => {
          const sample = samples[i];
          const t = sampleToken(logits.subarray(k * V, (k + 1) * V), s.temperature, s.topP, (seed + i) >>> 0, sample.tokens.length);
          sample.tokens.push(t);
          const stopped = sample.stream.update(tok.decode(sample.tokens)) || eos.has(t);
          if (stopped) sample.finishReason = 'stop';
          // The context is full once the token just drawn sits at its last position.
          else if (sample.tokens.length < s.maxTokens && length + 1 < limit) {
            going.push(k);
            next.push(t);
          }
        });
        if (going.length === 0) break;
        checkAborted(o.signal);
        if (going.length < active.length) {
          const kept: C = await lm.select(cache!, going);
          lm.release(cache!);
          cache = kept;
          active = going.map((k) => active[k]);
        }
        const step: ForwardResult<C> = await lm.forward(next.map((t) => [t]), cache, 1);
        lm.release(cache!);
        cache = step.cache;
        logits = step.logits;
        length++;
      }
    } finally {
      if (cache !== null) lm.release(cache);
    }
    return samples.map((x) => ({ text: x.stream.finish(tok.decode(x.tokens)), finishReason: x.finishReason, tokens: x.tokens.length }));
  }

  return {
    info,
    async generate(requests: GenerateRequest[], o: CallOptions = {}): Promise<Generation[][]> {
      const out: Generation[][] = [];
      for (let r = 0; r < requests.length; r++) {
        checkAborted(o.signal);
        out.push(await generateOne(requests[r], r, o));
      }
      return out;
    },

    async score(requests: ScoreRequest[], o: CallOptions = {}): Promise<ScoreResult[]> {
      const out: ScoreResult[] = [];
      for (const req of requests) {
        checkAborted(o.signal);
        const { prompt, response } = tok.encodeResponse(req.messages, req.response);
        const R = response.length;
        if (R === 0) {
          out.push({ logprob: 0, tokens: 0 });
          continue;
        }
        if (prompt.length === 0) throw new LabError('invalid-input', 'Scoring needs a non-empty prompt.');
        checkLength(prompt.length + R - 1, 'prompt and response');
        // The last R + 1 positions: row i (of the first R) predicts response[i].
        const logp = await logprobs([...prompt, ...response], R + 1);
        let sum = 0;
        for (let i = 0; i < R; i++) sum += logp[i * V + response[i]];
        out.push({ logprob: sum, tokens: R });
      }
      return out;
    },

    async verdict(requests: VerdictRequest[], o: CallOptions = {}): Promise<VerdictResult[]> {
      const out: VerdictResult[] = [];
      for (const req of requests) {
        checkAborted(o.signal);
        const labels = req.labels.map((label) => {
          const ids = tok.encode(label);
          if (ids.length === 0) throw new LabError('invalid-input', `Verdict label "${label}" encodes to no token.`);
          return ids[0];
        });
        const prompt = tok.encode(tok.applyChatTemplate(req.messages, { addGenerationPrompt: true }) + req.prefix);
        checkLength(prompt.length, 'prompt');
        const logp = await logprobs(prompt, 1);
        out.push({ logprobs: labels.map((id) => logp[id]) });
      }
      return out;
    },
  };
}
