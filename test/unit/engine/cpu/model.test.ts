import { describe, expect, it } from 'vitest';
import { CpuModel } from '../../../../src/engine/cpu/model';
import { logSoftmaxForward } from '../../../../src/engine/cpu/ops';
import { argmax } from '../../../../src/engine/cpu/sample';
import { LINEAR_NAMES, type LoraAdapter, type ModelWeights, type Tensor } from '../../../../src/engine/model/weights';
import { tinyWeights } from '../../../../src/engine/tiny/tiny';
import { randomArray, rng } from '../random';

const ARCHS = ['llama', 'qwen2'] as const;
const f32 = (t: Tensor) => {
  if (t.dtype !== 'f32') throw new Error('tiny master weights are f32');
  return t.data;
};
const tokensOf = (n: number, seed: number, V: number) => {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.floor(r() * V));
};

function adapter(w: ModelWeights, name: string, seed: number, opts: { zeroB?: boolean; rank?: number } = {}): LoraAdapter {
  const m = new CpuModel(w);
  const dims = m.linearDims();
  const r = rng(seed);
  const rank = opts.rank ?? 4;
  return {
    name,
    rank,
    alpha: 8,
    scale: 8 / rank,
    targets: [...LINEAR_NAMES],
    layers: w.layers.map(() =>
      Object.fromEntries(
        LINEAR_NAMES.map((n) => {
          const [OC, IC] = dims[n];
          return [n, { a: randomArray(rank * IC, r, 0.3), b: opts.zeroB ? new Float32Array(OC * rank) : randomArray(OC * rank, r, 0.3) }];
        }),
      ),
    ),
  };
}

/** W + scale·B·A for every targeted linear of every adapter. */
function merge(w: ModelWeights, adapters: LoraAdapter[]): ModelWeights {
  const m = new CpuModel(w);
  const dims = m.linearDims();
  return {
    ...w,
    layers: w.layers.map((layer, l) => {
      const out = { ...layer };
      for (const n of LINEAR_NAMES) {
        const [OC, IC] = dims[n];
        const merged = Float32Array.from(f32(layer[n]));
        for (const ad of adapters) {
          const ab = ad.layers[l][n];
          if (!ab) continue;
          for (let o = 0; o < OC; o++) for (let i = 0; i < IC; i++) {
            let s = 0;
            for (let j = 0; j < ad.rank; j++) s += ab.b[o * ad.rank + j] * ab.a[j * IC + i];
            merged[o * IC + i] += ad.scale * s;
          }
        }
        out[n] = { dtype: 'f32', shape: layer[n].shape, data: merged };
      }
      return out;
    }),
  };
}

describe.each(ARCHS)('CPU model (%s)', (arch) => {
  const w = tinyWeights({ arch, seed: 3 });
  const V = w.config.vocabSize;

  it('incremental decode with the KV cache equals a full recompute', () => {
    const m = new CpuModel(w);
    const toks = tokensOf(11, 1, V);
    const full = m.forward(m.newCache(), toks).logits;
    const cache = m.newCache(2); // small capacity: exercises growth
    const rows: Float32Array[] = [];
    rows.push(m.forward(cache, toks.slice(0, 4)).logits);
    for (let i = 4; i < 9; i++) rows.push(m.forward(cache, [toks[i]]).logits);
    rows.push(m.forward(cache, toks.slice(9)).logits);
    const inc = new Float32Array(full.length);
    let off = 0;
    for (const r of rows) {
      inc.set(r, off);
      off += r.length;
    }
    expect(inc).toBeAllclose(full, { rtol: 1e-5, floor: 1e-3 });
    expect(cache.length).toBe(11);
    const last = m.forward(m.newCache(), toks, { logits: 'last' }).logits;
    expect(last).toEqual(full.subarray(10 * V));
  });

  it('a batch of sequences equals each sequence alone', () => {
    const m = new CpuModel(w);
    const seqs = [tokensOf(5, 2, V), tokensOf(1, 3, V), tokensOf(8, 4, V)];
    const batch = m.forwardBatch(seqs.map((tokens) => ({ cache: m.newCache(), tokens })));
    seqs.forEach((s, i) => expect(batch[i].logits).toEqual(m.forward(m.newCache(), s).logits));
  });

  it('LoRA with B = 0 is the base model; with B ≠ 0 it equals the merged weights W + scale·B·A', () => {
    const m = new CpuModel(w);
    const a1 = adapter(w, 'actor', 10);
    const a2 = adapter(w, 'refiner', 11, { rank: 2 });
    const zero = adapter(w, 'zero', 12, { zeroB: true });
    [a1, a2, zero].forEach((a) => m.setAdapter(a));
    const toks = tokensOf(6, 5, V);
    const base = m.forward(m.newCache(), toks).logits;
    expect(m.forward(m.newCache(), toks, { adapters: ['zero'] }).logits).toBeAllclose(base, { rtol: 1e-6, floor: 1e-3 });
    const withActor = m.forward(m.newCache(), toks, { adapters: ['actor'] }).logits;
    expect(withActor).toBeAllclose(new CpuModel(merge(w, [a1])).forward(m.newCache(), toks).logits, { rtol: 1e-4, floor: 0.1 });
    expect(Math.max(...withActor.map((x, i) => Math.abs(x - base[i])))).toBeGreaterThan(1e-2);
    const both = m.forward(m.newCache(), toks, { adapters: ['actor', 'refiner'] }).logits;
    expect(both).toBeAllclose(new CpuModel(merge(w, [a1, a2])).forward(m.newCache(), toks).logits, { rtol: 1e-4, floor: 0.1 });
    // Switching off per call gives the base back.
    expect(m.forward(m.newCache(), toks).logits).toEqual(base);
    expect(() => m.forward(m.newCache(), toks, { adapters: ['nope'] })).toThrow(/No adapter "nope"/);
  });

  it('saves the activations a backward pass needs, consistent with the output', () => {
    const m = new CpuModel(w);
    m.setAdapter(adapter(w, 'actor', 13));
    const toks = tokensOf(5, 6, V);
    const { logits, acts } = m.forward(m.newCache(), toks, { save: true, adapters: ['actor'] });
    expect(acts).not.toBeNull();
    const a = acts!;
    const c = w.config;
    expect(a.layers).toHaveLength(c.numLayers);
    expect(a.layers[0].att.length).toBe(c.numHeads * 5 * 5);
    expect(a.layers[1].lora.q?.[0].xa.length).toBe(5 * 4);
    // Residual stream: layer 1's input is layer 0's res2 + down(h) — check through the last layer's output.
    const lm = m.params.lmHead;
    const C = c.hiddenSize;
    for (let t = 0; t < 5; t++) for (const v of [0, 17, V - 1]) {
      let s = 0;
      for (let i = 0; i < C; i++) s += a.lnf[t * C + i] * lm[v * C + i];
      expect(logits[t * V + v]).toBeCloseTo(s, 4);
    }
    expect(m.forward(m.newCache(), toks).acts).toBeNull();
  });

  it('grouped-query attention equals multi-head attention with each KV head repeated', () => {
    const c = w.config;
    const group = c.numHeads / c.numKvHeads;
    const D = c.headDim;
    const repeatRows = (t: Tensor | null, rowLen: number): Tensor | null => {
      if (!t) return null;
      const src = f32(t);
      const out = new Float32Array(src.length * group);
      for (let h = 0; h < c.numHeads; h++) out.set(src.subarray(Math.floor(h / group) * D * rowLen, (Math.floor(h / group) + 1) * D * rowLen), h * D * rowLen);
      return { dtype: 'f32', shape: t.shape.length === 2 ? [c.numHeads * D, rowLen] : [c.numHeads * D], data: out };
    };
    const mha: ModelWeights = {
      ...w,
      config: { ...c, numKvHeads: c.numHeads },
      layers: w.layers.map((l) => ({ ...l, k: repeatRows(l.k, c.hiddenSize)!, v: repeatRows(l.v, c.hiddenSize)!, kBias: repeatRows(l.kBias, 1), vBias: repeatRows(l.vBias, 1) })),
    };
    const toks = tokensOf(7, 7, V);
    const a = new CpuModel(w);
    const b = new CpuModel(mha);
    expect(a.forward(a.newCache(), toks).logits).toBeAllclose(b.forward(b.newCache(), toks).logits, { rtol: 1e-5, floor: 1e-3 });
  });

  it('a tied model equals the untied model whose lm_head is a copy of the embedding', () => {
    const tied = tinyWeights({ arch, seed: 4, tieWordEmbeddings: true });
    expect(tied.lmHead).toBeNull();
    const untied: ModelWeights = { ...tied, config: { ...tied.config, tieWordEmbeddings: false }, lmHead: { dtype: 'f32', shape: tied.embed.shape, data: Float32Array.from(f32(tied.embed)) } };
    const toks = tokensOf(4, 8, V);
    const a = new CpuModel(tied);
    const b = new CpuModel(untied);
    expect(a.forward(a.newCache(), toks).logits).toEqual(b.forward(b.newCache(), toks).logits);
    // And a real untied head matters.
    const other = new CpuModel(tinyWeights({ arch, seed: 4, tieWordEmbeddings: false }));
    expect(other.forward(other.newCache(), toks).logits).not.toEqual(a.forward(a.newCache(), toks).logits);
  });

  it('greedy generation follows the argmax chain and stops at a stop token', () => {
    const m = new CpuModel(w);
    const prompt = tokensOf(5, 9, V);
    const [g] = m.generate(prompt, { temperature: 0, maxTokens: 6, stopTokens: [] });
    const cache = m.newCache();
    let logits = m.forward(cache, prompt, { logits: 'last' }).logits;
    const expected: number[] = [];
    for (let i = 0; i < 6; i++) {
      expected.push(argmax(logits));
      logits = m.forward(cache, [expected[i]], { logits: 'last' }).logits;
    }
    expect(g).toEqual({ tokens: expected, finishReason: 'length' });
    // Stop at the first token that did not occur before it.
    const j = expected.findIndex((t, i) => expected.indexOf(t) === i && i > 0);
    const at = j > 0 ? j : 0;
    const [s] = m.generate(prompt, { temperature: 0, maxTokens: 6, stopTokens: [expected[at]] });
    expect(s).toEqual({ tokens: expected.slice(0, at + 1), finishReason: 'stop' });
  });

  it('sample i of a request draws with seed + i, however the samples are grouped', () => {
    const m = new CpuModel(w);
    const prompt = tokensOf(4, 10, V);
    const opts = { temperature: 1, topP: 0.9, maxTokens: 8, stopTokens: [] };
    const four = m.generate(prompt, { ...opts, n: 4, seed: 100 });
    for (let i = 0; i < 4; i++) expect(m.generate(prompt, { ...opts, n: 1, seed: 100 + i })[0]).toEqual(four[i]);
    expect(new Set(four.map((s) => s.tokens.join(','))).size).toBeGreaterThan(1);
  });

  it('scores the summed log-probabilities of the response tokens', () => {
    const m = new CpuModel(w);
    const prompt = tokensOf(5, 11, V);
    const response = tokensOf(4, 12, V);
    const s = m.score(prompt, response);
    const cache = m.newCache();
    let logits = m.forward(cache, prompt, { logits: 'last' }).logits;
    let sum = 0;
    for (let i = 0; i < response.length; i++) {
      const lp = new Float32Array(V);
      logSoftmaxForward(lp, logits, 1, V);
      expect(s.tokenLogprobs[i]).toBeCloseTo(lp[response[i]], 4);
      sum += lp[response[i]];
      logits = m.forward(cache, [response[i]], { logits: 'last' }).logits;
    }
    expect(s.logprob).toBeCloseTo(sum, 3);
    expect(m.nextTokenLogprobs(prompt)[response[0]]).toBeCloseTo(s.tokenLogprobs[0], 5);
  });

  it('rejects tokens outside the vocabulary', () => {
    const m = new CpuModel(w);
    expect(() => m.forward(m.newCache(), [V])).toThrow(/outside the vocabulary/);
  });
});
