/**
 * The model interface over the CPU reference model: runs the whole SPaR loop in Node (CLI,
 * tests) on a tiny model, with the same tokenizer, chat template, sampling rule and LoRA
 * adapters as the lab engine. Slow by design; correct by construction.
 */
import { LabError } from '../errors';
import type { CpuModel } from '../engine/cpu/model';
import type { ChatTokenizer } from '../engine/load/tokenizer';
import { TextStream } from './text-stream';
import type {
  BackendInfo,
  CallOptions,
  Generation,
  GenerateRequest,
  ModelBackend,
  ScoreRequest,
  ScoreResult,
  VerdictRequest,
  VerdictResult,
} from './types';

export interface CpuBackendOptions {
  label?: string;
  /** Adapters (already set on the model) applied to every call of this view; none: the base. */
  adapters?: string[];
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new LabError('cancelled', 'Cancelled.');
}

export class CpuBackend implements ModelBackend {
  readonly info: BackendInfo;
  private readonly adapters: string[];

  constructor(
    readonly model: CpuModel,
    readonly tokenizer: ChatTokenizer,
    opts: CpuBackendOptions = {},
  ) {
    this.adapters = opts.adapters ?? [];
    this.info = { label: opts.label ?? `CPU reference${this.adapters.length ? ` · ${this.adapters.join('+')}` : ''}`, kind: 'lab' };
  }

  async generate(requests: GenerateRequest[], opts: CallOptions = {}): Promise<Generation[][]> {
    const out: Generation[][] = [];
    for (let r = 0; r < requests.length; r++) {
      checkAborted(opts.signal);
      const req = requests[r];
      const s = req.sampling;
      const stops = (s.stop ?? []).filter((x) => x.length > 0);
      const prompt = this.tokenizer.encodeChat(req.messages, { addGenerationPrompt: true });
      const streams = Array.from({ length: req.n }, (_, i) => new TextStream(stops, (delta) => opts.onText?.(r, i, delta)));
      const eos = new Set([...this.tokenizer.eosTokenIds, ...this.model.config.eosTokenIds]);
      const seqs = this.model.generate(prompt, {
        n: req.n,
        temperature: s.temperature,
        topP: s.topP,
        maxTokens: s.maxTokens,
        seed: s.seed ?? 0,
        stopTokens: [...eos],
        adapters: this.adapters,
        signal: opts.signal,
        onToken: (i, _tok, tokens) => streams[i].update(this.tokenizer.decode(tokens)),
      });
      out.push(
        seqs.map((seq, i) => ({ text: streams[i].finish(this.tokenizer.decode(seq.tokens)), finishReason: seq.finishReason, tokens: seq.tokens.length })),
      );
    }
    return out;
  }

  async score(requests: ScoreRequest[], opts: CallOptions = {}): Promise<ScoreResult[]> {
    return requests.map((req) => {
      checkAborted(opts.signal);
      // The response as a whole turn, end of turn included: what DPO trains (train/losses.ts).
      const { prompt, response } = this.tokenizer.encodeResponse(req.messages, req.response);
      const { logprob } = this.model.score(prompt, response, this.adapters);
      return { logprob, tokens: response.length };
    });
  }

  async verdict(requests: VerdictRequest[], opts: CallOptions = {}): Promise<VerdictResult[]> {
    return requests.map((req) => {
      checkAborted(opts.signal);
      const prompt = this.tokenizer.encode(this.tokenizer.applyChatTemplate(req.messages, { addGenerationPrompt: true }) + req.prefix);
      const logp = this.model.nextTokenLogprobs(prompt, this.adapters);
      return {
        logprobs: req.labels.map((label) => {
          const ids = this.tokenizer.encode(label);
          if (ids.length === 0) throw new LabError('invalid-input', `Verdict label "${label}" encodes to no token.`);
          return logp[ids[0]];
        }),
      };
    });
  }
}
