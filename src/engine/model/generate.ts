/**
 * Generation and scoring on the GPU model, batched, with prompt prefixes computed once.
 *
 * Generation: each prompt but its last token is prefilled once into a prefix sequence; its n
 * samples fork it (sharing the prefix's KV pages) and all samples of all prompts decode
 * together, one row per live sample per step, each step sampling on the GPU and reading back
 * only the token ids. A sample's first step feeds the prompt's last token, so every sample
 * draws from its own logits row (the sampler overwrites its row). Sample i of a prompt draws
 * step s with uniform(seed + i, s): the same tokens however samples are batched (the kernels
 * treat rows independently, so batching does not even change the rounding).
 *
 * Scoring: Σ log p(response[i] | prompt, response[<i]) — prompts shared by several responses
 * (chosen and rejected of one pair) are prefilled once as well.
 *
 * The semantics follow CpuModel.generate/score (cpu/model.ts), which the tests compare against.
 */
import { LabError } from '../../errors';
import type { ForwardRow, GpuModel } from './gpu-model';
import type { KvSequence } from './kv-cache';

export interface GpuGenerateJob {
  prompt: readonly number[];
  /** Independent samples. Default 1. */
  n?: number;
  /** 0: greedy. */
  temperature: number;
  topP?: number;
  maxTokens: number;
  /** Sample i uses seed + i. Default 0. */
  seed?: number;
  /** A sample ends after any of these tokens (included). Default: the model's eos tokens. */
  stopTokens?: readonly number[];
  /** Called after each new token; return true to end that sample there ('stop'). */
  onToken?: (sample: number, token: number, tokens: readonly number[]) => boolean | void;
}

export interface GeneratedSequence {
  tokens: number[];
  finishReason: 'stop' | 'length';
}

export interface RunOptions {
  adapters?: readonly string[];
  signal?: AbortSignal;
}

interface Sample {
  job: number;
  index: number;
  seq: KvSequence;
  pending: number;
  tokens: number[];
  done: boolean;
  finishReason: 'stop' | 'length';
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new LabError('cancelled', 'Cancelled.');
}

/** For each job, its n samples in order. */
export async function generate(model: GpuModel, jobs: readonly GpuGenerateJob[], opts: RunOptions = {}): Promise<GeneratedSequence[][]> {
  const limit = model.contextLength;
  for (const j of jobs) {
    if (j.prompt.length === 0) throw new LabError('invalid-input', 'Generation needs a non-empty prompt.');
    if (j.prompt.length >= limit) throw new LabError('invalid-input', `The prompt has ${j.prompt.length} tokens; the usable context is ${limit}.`);
  }
  const held: KvSequence[] = [];
  try {
    // Shared prefixes: every prompt token but the last.
    const prefixes = jobs.map(() => {
      const s = model.kv.newSequence();
      held.push(s);
      return s;
    });
    await runRows(
      model,
      jobs.map((j, i) => ({ seq: prefixes[i], tokens: j.prompt.slice(0, -1) })),
      opts,
    );
    const samples: Sample[] = [];
    jobs.forEach((j, ji) => {
      for (let i = 0; i < (j.n ?? 1); i++) {
        const seq = model.kv.fork(prefixes[ji]);
        held.push(seq);
        samples.push({ job: ji, index: i, seq, pending: j.prompt[j.prompt.length - 1], tokens: [], done: false, finishReason: 'length' });
      }
    });
    for (const p of prefixes) model.kv.release(p);
    const stops = jobs.map((j) => new Set(j.stopTokens ?? model.config.eosTokenIds));

    let live = samples.filter((s) => !s.done && jobs[s.job].maxTokens > 0);
    while (live.length) {
      for (let b = 0; b < live.length; b += model.maxRows) {
        checkAborted(opts.signal);
        const batch = live.slice(b, b + model.maxRows);
        const rows: ForwardRow[] = batch.map((s) => ({ seq: s.seq, token: s.pending }));
        const params = batch.map((s) => {
          const j = jobs[s.job];
          return { temperature: j.temperature, topP: j.topP ?? 1, seed: ((j.seed ?? 0) + s.index) >>> 0, step: s.tokens.length };
        });
        const ids = await model.forward(rows, { kind: 'sample', rows: rows.map((_, i) => i), params }, { adapters: opts.adapters });
        batch.forEach((s, i) => {
          const tok = ids[i];
          const j = jobs[s.job];
          s.tokens.push(tok);
          s.pending = tok;
          if (j.onToken?.(s.index, tok, s.tokens) || stops[s.job].has(tok)) {
            s.done = true;
            s.finishReason = 'stop';
          } else if (s.tokens.length >= j.maxTokens || s.seq.length >= limit) {
            s.done = true;
          }
          if (s.done) model.kv.release(s.seq);
        });
      }
      live = live.filter((s) => !s.done);
    }
    return jobs.map((_, ji) => samples.filter((s) => s.job === ji).map((s) => ({ tokens: s.tokens, finishReason: s.finishReason })));
  } finally {
    for (const s of held) model.kv.release(s);
  }
}

export interface GpuScoreJob {
  prompt: readonly number[];
  response: readonly number[];
}

export interface TokenScore {
  logprob: number;
  /** [response.length] */
  tokenLogprobs: Float32Array;
}

/** Summed log-probabilities of each response after its prompt (prompts non-empty). */
export async function score(model: GpuModel, jobs: readonly GpuScoreJob[], opts: RunOptions = {}): Promise<TokenScore[]> {
  for (const j of jobs) {
    if (j.prompt.length === 0) throw new LabError('invalid-input', 'Scoring needs a non-empty prompt.');
    if (j.prompt.length + j.response.length - 1 > model.contextLength) {
      throw new LabError('invalid-input', `Prompt and response (${j.prompt.length + j.response.length} tokens) exceed the usable context of ${model.contextLength}.`);
    }
  }
  const results = jobs.map((j) => ({ logprob: 0, tokenLogprobs: new Float32Array(j.response.length) }));
  const held: KvSequence[] = [];
  try {
    // One prefix per distinct prompt: all its tokens but the last.
    const groups = new Map<string, { prompt: readonly number[]; seq: KvSequence }>();
    for (const j of jobs) {
      const key = j.prompt.join(',');
      if (!groups.has(key)) {
        const seq = model.kv.newSequence();
        held.push(seq);
        groups.set(key, { prompt: j.prompt, seq });
      }
    }
    await runRows(model, [...groups.values()].map((g) => ({ seq: g.seq, tokens: g.prompt.slice(0, -1) })), opts);
    // Each response: rows [last prompt token, response[0..R-2]], row i predicting response[i].
    const work: RowWork[] = [];
    jobs.forEach((j, ji) => {
      if (j.response.length === 0) return;
      const seq = model.kv.fork(groups.get(j.prompt.join(','))!.seq);
      held.push(seq);
      work.push({
        seq,
        tokens: [j.prompt[j.prompt.length - 1], ...j.response.slice(0, -1)],
        targets: j.response,
        sink: (i, lp) => (results[ji].tokenLogprobs[i] = lp),
      });
    });
    for (const g of groups.values()) model.kv.release(g.seq);
    await runRows(model, work, opts);
    for (const r of results) r.logprob = r.tokenLogprobs.reduce((a, b) => a + b, 0);
    return results;
  } finally {
    for (const s of held) model.kv.release(s);
  }
}

interface RowWork {
  seq: KvSequence;
  tokens: readonly number[];
  /** When given, the log-prob of targets[i] under row i goes to sink(i, ·). */
  targets?: readonly number[];
  sink?: (i: number, logprob: number) => void;
}

/** Appends each item's tokens to its sequence, packing rows of many items into each forward. */
async function runRows(model: GpuModel, work: readonly RowWork[], opts: RunOptions): Promise<void> {
  let wi = 0;
  let off = 0;
  const skipEmpty = () => {
    while (wi < work.length && off >= work[wi].tokens.length) {
      wi++;
      off = 0;
    }
  };
  skipEmpty();
  while (wi < work.length) {
    checkAborted(opts.signal);
    const rows: ForwardRow[] = [];
    const headRows: number[] = [];
    const targets: number[] = [];
    const sinks: ((lp: number) => void)[] = [];
    while (rows.length < model.maxRows && wi < work.length) {
      const w = work[wi];
      const take = Math.min(model.maxRows - rows.length, w.tokens.length - off);
      for (let i = off; i < off + take; i++) {
        rows.push({ seq: w.seq, token: w.tokens[i] });
        if (w.targets && w.sink) {
          headRows.push(rows.length - 1);
          targets.push(w.targets[i]);
          const sink = w.sink;
          sinks.push((lp) => sink(i, lp));
        }
      }
      off += take;
      skipEmpty();
    }
    if (targets.length) {
      const lp = await model.forward(rows, { kind: 'logprobs', rows: headRows, targets }, { adapters: opts.adapters });
      sinks.forEach((sink, i) => sink(lp[i]));
    } else {
      await model.forward(rows, { kind: 'none' }, { adapters: opts.adapters });
    }
  }
}
