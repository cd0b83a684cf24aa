/**
 * The transformers.js backend's own logic — batched decoding, the seed rule, stop strings,
 * streaming, the context limit, scoring, verdicts, cancellation and cache bookkeeping — over a
 * forward pass of the CPU reference model, checked against the CPU backend on the same weights
 * (its own decode loop: one sample after another). The real transformers.js forward is checked in
 * the browser tier (test/browser/backends/transformers.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../../src/backends/cpu';
import { TRANSFORMERS_CAPABILITIES, createTransformersBackend, type CausalLm, type ForwardResult } from '../../../src/backends/transformers';
import type { GenerateRequest, ModelBackend } from '../../../src/backends/types';
import { CpuModel, type KvCache } from '../../../src/engine/cpu/model';
import { LabError } from '../../../src/errors';
import { loadTiny } from '../../helpers/models';

/** One KV cache per row. */
interface Rows {
  rows: KvCache[];
}

/** CausalLm over the CPU reference, recording every call and which caches are alive. */
class CpuLm implements CausalLm<Rows> {
  readonly forwards: { rows: number; tokens: number }[] = [];
  readonly live = new Set<Rows>();
  released = 0;

  constructor(private readonly model: CpuModel) {}

  get vocabSize(): number {
    return this.model.config.vocabSize;
  }

  private track(c: Rows): Rows {
    this.live.add(c);
    return c;
  }

  async forward(tokens: readonly (readonly number[])[], cache: Rows | null, keep: number): Promise<ForwardResult<Rows>> {
    if (cache && !this.live.has(cache)) throw new Error('forward on a released cache');
    if (cache && cache.rows.length !== tokens.length) throw new Error('rows and cache disagree');
    this.forwards.push({ rows: tokens.length, tokens: tokens[0].length });
    const V = this.vocabSize;
    const logits = new Float32Array(tokens.length * keep * V);
    const rows = tokens.map((t, k) => {
      const c = cache ? cache.rows[k].clone() : this.model.newCache();
      const T = t.length;
      const out = this.model.forward(c, t, { logitRows: Array.from({ length: keep }, (_, j) => T - keep + j) }).logits;
      logits.set(out, k * keep * V);
      return c;
    });
    return { logits, cache: this.track({ rows }) };
  }

  async select(cache: Rows, rows: readonly number[]): Promise<Rows> {
    if (!this.live.has(cache)) throw new Error('select on a released cache');
    return this.track({ rows: rows.map((k) => cache.rows[k].clone()) });
  }

  release(cache: Rows): void {
    if (!this.live.delete(cache)) throw new Error('a cache released twice, or one never handed out');
    this.released++;
  }
}

const loaded = await loadTiny({ format: 'hf', dtype: 'f32' }, { seed: 5 });
const model = new CpuModel(loaded.weights);
const tok = loaded.tokenizer;
const messages = [{ role: 'user' as const, content: 'Write a short poem about the sea.' }];

function backends(contextLength: number | null = loaded.config.maxPositionEmbeddings) {
  const lm = new CpuLm(model);
  const tjs = createTransformersBackend({ lm, tokenizer: tok, eosTokenIds: loaded.config.eosTokenIds, contextLength, label: 'transformers.js · tiny' });
  return { lm, tjs, cpu: new CpuBackend(model, tok) };
}

async function streamed(b: ModelBackend, requests: GenerateRequest[]) {
  const pieces: Record<string, string> = {};
  const got = await b.generate(requests, { onText: (r, i, d) => void (pieces[`${r}/${i}`] = (pieces[`${r}/${i}`] ?? '') + d) });
  got.forEach((samples, r) => samples.forEach((g, i) => expect(pieces[`${r}/${i}`] ?? '').toBe(g.text)));
  return got;
}

describe('transformers.js backend logic (over the CPU reference forward)', () => {
  it('says what it is and what a role it serves can do', () => {
    const { tjs } = backends();
    expect(tjs.info).toEqual({ label: 'transformers.js · tiny', kind: 'transformers' });
    expect(TRANSFORMERS_CAPABILITIES).toEqual({ generate: true, verdictReadout: true, score: true, train: false, lora: false });
  });

  it('generates what the CPU backend generates: greedy, seeded samples (seed + i), stop strings, streaming', async () => {
    const { lm, tjs, cpu } = backends();
    const requests: GenerateRequest[] = [
      { messages, n: 1, sampling: { temperature: 0, topP: 1, maxTokens: 14 } },
      { messages, n: 4, sampling: { temperature: 1, topP: 0.9, maxTokens: 12, seed: 7 } },
      // Samples that end at different steps (a stop string seen early or late): the batch shrinks.
      { messages: [{ role: 'user', content: 'List three colors.' }], n: 5, sampling: { temperature: 1.2, topP: 1, maxTokens: 16, seed: 3, stop: ['e', 'zz-never'] } },
    ];
    const got = await streamed(tjs, requests);
    expect(got).toEqual(await cpu.generate(requests));
    expect(got[2].some((g) => g.finishReason === 'stop')).toBe(true);
    expect(got[2].every((g) => !g.text.includes('e'))).toBe(true);

    // Sample i of seed s is the sample of seed s + i asked alone.
    const [[alone]] = await tjs.generate([{ messages, n: 1, sampling: { ...requests[1].sampling, seed: 9 } }]);
    expect(alone).toEqual(got[1][2]);

    // Each prompt prefilled once (one row), then one decode step per token with every sample
    // still going in the batch: after drawing token j, the samples that go on to draw token j + 1.
    const expected = requests.flatMap((req, r) => {
      const lengths = got[r].map((g) => g.tokens);
      const steps = Array.from({ length: Math.max(...lengths) - 1 }, (_, j) => ({ rows: lengths.filter((k) => k > j + 1).length, tokens: 1 }));
      return [{ rows: 1, tokens: tok.encodeChat(req.messages, { addGenerationPrompt: true }).length }, ...steps];
    });
    expect(lm.forwards.slice(0, expected.length)).toEqual(expected);
    expect(new Set(got[2].map((g) => g.tokens)).size).toBeGreaterThan(1); // the batch did shrink
    expect(lm.live.size).toBe(0);
  });

  it('stops where the context is full, as the CPU reference does', async () => {
    const prompt = tok.encodeChat(messages, { addGenerationPrompt: true }).length;
    const { lm, tjs } = backends(prompt + 5);
    // The same weights with the context cut to prompt + 5.
    const cpu = new CpuBackend(new CpuModel({ ...loaded.weights, config: { ...loaded.config, maxPositionEmbeddings: prompt + 5 } }), tok);
    const requests: GenerateRequest[] = [{ messages, n: 2, sampling: { temperature: 1, topP: 1, maxTokens: 40, seed: 1 } }];
    const got = await tjs.generate(requests);
    expect(got).toEqual(await cpu.generate(requests));
    expect(got[0].map((g) => [g.tokens, g.finishReason])).toEqual([
      [5, 'length'],
      [5, 'length'],
    ]);
    expect(lm.live.size).toBe(0);
    await expect(backends(prompt).tjs.generate(requests)).rejects.toThrow(/prompt has \d+ tokens; the model's context is \d+/);
  });

  it('scores responses and reads verdict labels as the CPU backend does', async () => {
    const { lm, tjs, cpu } = backends();
    const scoreReqs = [
      { messages, response: 'The sea is wide.' },
      { messages, response: '' },
      { messages: [{ role: 'system' as const, content: 'Be brief.' }, ...messages], response: 'Blue.' },
    ];
    const got = await tjs.score!(scoreReqs);
    const want = await cpu.score!(scoreReqs);
    got.forEach((s, i) => {
      expect(s.tokens).toBe(want[i].tokens);
      expect(Number.isFinite(s.logprob)).toBe(true);
      expect(Math.abs(s.logprob - want[i].logprob)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want[i].logprob)));
    });

    const verdictReqs = [
      { messages, prefix: 'The answer follows the prompt):', labels: [' Yes', ' No'] },
      { messages, prefix: 'Verdict:', labels: ['Yes', 'No', 'Maybe'] },
    ];
    const v = await tjs.verdict!(verdictReqs);
    const vw = await cpu.verdict!(verdictReqs);
    v.forEach((r, i) => expect(r.logprobs).toBeAllclose(vw[i].logprobs, { rtol: 1e-5 }));
    await expect(tjs.verdict!([{ messages, prefix: 'x', labels: [''] }])).rejects.toThrow(/encodes to no token/);
    expect(lm.live.size).toBe(0);
  });

  it('cancels between forward passes with a LabError, releasing its caches', async () => {
    const { lm, tjs } = backends();
    const controller = new AbortController();
    const err = await tjs
      .generate([{ messages, n: 3, sampling: { temperature: 1, topP: 1, maxTokens: 30, seed: 2 } }], {
        signal: controller.signal,
        onText: () => controller.abort(),
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(LabError);
    expect(err.kind).toBe('cancelled');
    expect(lm.live.size).toBe(0);
    for (const call of [tjs.score!([{ messages, response: 'x' }], { signal: controller.signal }), tjs.verdict!([{ messages, prefix: 'x', labels: [' Yes'] }], { signal: controller.signal })]) {
      await expect(call).rejects.toMatchObject({ kind: 'cancelled' });
    }
  });
});
