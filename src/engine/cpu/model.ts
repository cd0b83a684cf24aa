/**
 * The CPU reference model: a Llama-family decoder (Llama, Qwen2) over ModelWeights, in plain
 * TypeScript on Float32Array, built from the ops in ops.ts. It is the ground truth for the
 * GPU model (same inputs → same logits within rounding, same sampled tokens) and runs the whole
 * SPaR loop in Node on a tiny model (backends/cpu.ts).
 *
 * Weights are dequantized to f32 once (q4 and f16 included), so the reference computes with
 * exactly the values the GPU kernels dequantize. LoRA adapters (several, by name) are added
 * on top of every targeted linear: y = x·Wᵀ + b + Σ_enabled scale·(x·Aᵀ)·Bᵀ.
 *
 * A forward call takes the new tokens of one sequence and its KV cache; with `save` it keeps
 * every intermediate the backward pass needs (llm.c's ActivationTensors), per layer.
 *
 * Shapes: T new tokens, S = cache length after the call, C hidden, V vocab, NH/NKV heads,
 * D head dim, I SwiGLU width, r LoRA rank.
 */
import { LabError } from '../../errors';
import { ropeInvFreq, type ModelConfig } from '../model/config';
import { tensorToF32 } from '../model/dtypes';
import { LINEAR_NAMES, type LinearName, type LoraAdapter, type ModelWeights } from '../model/weights';
import {
  addForward,
  attentionForward,
  embeddingForward,
  logSoftmaxForward,
  loraForward,
  matmulForward,
  rmsnormForward,
  ropeForward,
  swigluForward,
} from './ops';
import { sampleToken } from './sample';

/** One layer's weights as dense f32 (linear weights [out, in]). */
export interface CpuLayerParams {
  inputNorm: Float32Array; // [C]
  q: Float32Array; // [NH*D, C]
  k: Float32Array; // [NKV*D, C]
  v: Float32Array; // [NKV*D, C]
  qBias: Float32Array | null; // [NH*D]
  kBias: Float32Array | null; // [NKV*D]
  vBias: Float32Array | null; // [NKV*D]
  o: Float32Array; // [C, NH*D]
  postNorm: Float32Array; // [C]
  gate: Float32Array; // [I, C]
  up: Float32Array; // [I, C]
  down: Float32Array; // [C, I]
}

export interface CpuParams {
  embed: Float32Array; // [V, C]
  layers: CpuLayerParams[];
  finalNorm: Float32Array; // [C]
  /** The embedding itself when tied. */
  lmHead: Float32Array; // [V, C]
}

/** Keys and values of one sequence, per layer, rotated keys; grows as tokens are added. */
export class KvCache {
  /** [L] of [capacity, NKV*D] */
  k: Float32Array[];
  v: Float32Array[];
  /** Positions held: the next token goes to position `length`. */
  length = 0;

  constructor(
    readonly numLayers: number,
    readonly kvDim: number,
    capacity = 64,
  ) {
    this.k = Array.from({ length: numLayers }, () => new Float32Array(capacity * kvDim));
    this.v = Array.from({ length: numLayers }, () => new Float32Array(capacity * kvDim));
  }

  get capacity(): number {
    return this.k[0]?.length / this.kvDim || 0;
  }

  /** Makes room for `n` positions in total, keeping what is held. */
  reserve(n: number): void {
    if (n <= this.capacity) return;
    const cap = Math.max(n, this.capacity * 2);
    const grow = (a: Float32Array) => {
      const b = new Float32Array(cap * this.kvDim);
      b.set(a.subarray(0, this.length * this.kvDim));
      return b;
    };
    this.k = this.k.map(grow);
    this.v = this.v.map(grow);
  }

  /** An independent copy: a shared prompt prefix continued by several samples. */
  clone(): KvCache {
    const c = new KvCache(this.numLayers, this.kvDim, Math.max(1, this.length));
    for (let l = 0; l < this.numLayers; l++) {
      c.k[l].set(this.k[l].subarray(0, this.length * this.kvDim));
      c.v[l].set(this.v[l].subarray(0, this.length * this.kvDim));
    }
    c.length = this.length;
    return c;
  }
}

/** The LoRA intermediate x·Aᵀ [T, r] of one adapter on one linear, saved for backward. */
export interface LoraActs {
  adapter: string;
  xa: Float32Array;
}

/** What one layer's forward keeps for backward (llm.c style). */
export interface LayerActs {
  x: Float32Array; // [T,C] residual stream entering the layer
  ln1: Float32Array; // [T,C]
  ln1Rstd: Float32Array; // [T]
  q: Float32Array; // [T,NH*D] after bias and RoPE
  k: Float32Array; // [T,NKV*D] after bias and RoPE (also appended to the cache)
  v: Float32Array; // [T,NKV*D]
  att: Float32Array; // [NH,T,S] attention probabilities
  atty: Float32Array; // [T,NH*D] attention output before o_proj
  res2: Float32Array; // [T,C] x + o_proj(atty)
  ln2: Float32Array; // [T,C]
  ln2Rstd: Float32Array; // [T]
  gate: Float32Array; // [T,I] before SiLU
  up: Float32Array; // [T,I]
  h: Float32Array; // [T,I] silu(gate) * up
  lora: Partial<Record<LinearName, LoraActs[]>>;
}

export interface Activations {
  tokens: number[]; // [T]
  positions: Int32Array; // [T]
  /** Cache length before the call (positions start there). */
  past: number;
  layers: LayerActs[]; // [L]
  xFinal: Float32Array; // [T,C] residual stream after the last layer
  lnf: Float32Array; // [T,C]
  lnfRstd: Float32Array; // [T]
}

export interface ForwardOptions {
  /** Names of the adapters to apply (each must have been added); none: the base model. */
  adapters?: readonly string[];
  /** Keep activations for a backward pass. */
  save?: boolean;
  /** Logits of every new position (default) or only of the last one. */
  logits?: 'all' | 'last';
}

export interface ForwardResult {
  /** [T,V], or [1,V] with logits 'last'. */
  logits: Float32Array;
  acts: Activations | null;
}

export interface GenerateOptions {
  /** Independent samples of the prompt, sharing its prefilled KV cache. Default 1. */
  n?: number;
  /** 0: greedy. */
  temperature: number;
  topP?: number;
  maxTokens: number;
  /** Seed of sample i is seed + i (the rule of backends/types.ts SamplingParams.seed). Default 0. */
  seed?: number;
  /** Generation of a sample ends after any of these tokens (included in its tokens). */
  stopTokens?: readonly number[];
  adapters?: readonly string[];
  /** Called after each new token of a sample; return true to end that sample there ('stop'). */
  onToken?: (sample: number, token: number, tokens: readonly number[]) => boolean | void;
  signal?: AbortSignal;
}

export interface GeneratedSequence {
  tokens: number[];
  finishReason: 'stop' | 'length';
}

export interface TokenScore {
  /** Σ log p(response[i] | prompt, response[<i]). */
  logprob: number;
  /** [response.length] */
  tokenLogprobs: Float32Array;
}

export class CpuModel {
  readonly config: ModelConfig;
  readonly params: CpuParams;
  readonly invFreq: Float32Array; // [D/2]
  private readonly adapters = new Map<string, LoraAdapter>();

  constructor(weights: ModelWeights) {
    this.config = weights.config;
    const f = tensorToF32;
    const embed = f(weights.embed);
    this.params = {
      embed,
      layers: weights.layers.map((l) => ({
        inputNorm: f(l.inputNorm),
        q: f(l.q),
        k: f(l.k),
        v: f(l.v),
        qBias: l.qBias ? f(l.qBias) : null,
        kBias: l.kBias ? f(l.kBias) : null,
        vBias: l.vBias ? f(l.vBias) : null,
        o: f(l.o),
        postNorm: f(l.postNorm),
        gate: f(l.gate),
        up: f(l.up),
        down: f(l.down),
      })),
      finalNorm: f(weights.finalNorm),
      lmHead: weights.lmHead ? f(weights.lmHead) : embed,
    };
    this.invFreq = ropeInvFreq(this.config);
  }

  /** Registers (or replaces) a LoRA adapter, after checking its shapes against the model. */
  setAdapter(adapter: LoraAdapter): void {
    const dims = this.linearDims();
    if (adapter.layers.length !== this.config.numLayers) {
      throw new LabError('invalid-input', `Adapter "${adapter.name}" has ${adapter.layers.length} layers; the model has ${this.config.numLayers}.`);
    }
    adapter.layers.forEach((layer, i) => {
      for (const name of LINEAR_NAMES) {
        const ab = layer[name];
        if (!ab) continue;
        const [OC, IC] = dims[name];
        if (ab.a.length !== adapter.rank * IC || ab.b.length !== OC * adapter.rank) {
          throw new LabError('invalid-input', `Adapter "${adapter.name}" layer ${i} ${name}: A must be [${adapter.rank},${IC}] and B [${OC},${adapter.rank}].`);
        }
      }
    });
    this.adapters.set(adapter.name, adapter);
  }

  removeAdapter(name: string): void {
    this.adapters.delete(name);
  }

  adapterNames(): string[] {
    return [...this.adapters.keys()];
  }

  /** [out, in] of each linear. */
  linearDims(): Record<LinearName, [number, number]> {
    const c = this.config;
    const q = c.numHeads * c.headDim;
    const kv = c.numKvHeads * c.headDim;
    return { q: [q, c.hiddenSize], k: [kv, c.hiddenSize], v: [kv, c.hiddenSize], o: [c.hiddenSize, q], gate: [c.intermediateSize, c.hiddenSize], up: [c.intermediateSize, c.hiddenSize], down: [c.hiddenSize, c.intermediateSize] };
  }

  newCache(capacity = 64): KvCache {
    return new KvCache(this.config.numLayers, this.config.numKvHeads * this.config.headDim, capacity);
  }

  private enabled(names: readonly string[] | undefined): LoraAdapter[] {
    return (names ?? []).map((n) => {
      const a = this.adapters.get(n);
      if (!a) throw new LabError('not-found', `No adapter "${n}" is loaded (loaded: ${this.adapterNames().join(', ') || 'none'}).`);
      return a;
    });
  }

  /** out = x·Wᵀ + b, plus each enabled adapter's update on this linear.   out [T,OC], x [T,IC] */
  private linear(
    out: Float32Array,
    x: Float32Array,
    w: Float32Array,
    bias: Float32Array | null,
    T: number,
    IC: number,
    OC: number,
    layer: number,
    name: LinearName,
    adapters: LoraAdapter[],
    acts: LayerActs | null,
  ): void {
    matmulForward(out, x, w, bias, T, IC, OC);
    for (const ad of adapters) {
      const ab = ad.layers[layer][name];
      if (!ab) continue;
      const xa = new Float32Array(T * ad.rank);
      loraForward(out, xa, x, ab.a, ab.b, ad.scale, T, IC, OC, ad.rank);
      if (acts) (acts.lora[name] ??= []).push({ adapter: ad.name, xa });
    }
  }

  /** Runs `tokens` (T ≥ 1) of one sequence at positions cache.length.., appending to the cache. */
  forward(cache: KvCache, tokens: readonly number[], opts: ForwardOptions = {}): ForwardResult {
    const c = this.config;
    const T = tokens.length;
    if (T === 0) throw new LabError('invalid-input', 'forward needs at least one token.');
    for (const t of tokens) {
      if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize) throw new LabError('invalid-input', `Token id ${t} is outside the vocabulary (0..${c.vocabSize - 1}).`);
    }
    const adapters = this.enabled(opts.adapters);
    const { hiddenSize: C, numHeads: NH, numKvHeads: NKV, headDim: D, intermediateSize: I, vocabSize: V } = c;
    const QD = NH * D;
    const KVD = NKV * D;
    const past = cache.length;
    const S = past + T;
    cache.reserve(S);
    const positions = Int32Array.from({ length: T }, (_, t) => past + t);

    let x = new Float32Array(T * C);
    embeddingForward(x, tokens, this.params.embed, C);
    const layerActs: LayerActs[] = [];
    for (let l = 0; l < c.numLayers; l++) {
      const p = this.params.layers[l];
      const a: LayerActs = {
        x,
        ln1: new Float32Array(T * C),
        ln1Rstd: new Float32Array(T),
        q: new Float32Array(T * QD),
        k: new Float32Array(T * KVD),
        v: new Float32Array(T * KVD),
        att: new Float32Array(NH * T * S),
        atty: new Float32Array(T * QD),
        res2: new Float32Array(T * C),
        ln2: new Float32Array(T * C),
        ln2Rstd: new Float32Array(T),
        gate: new Float32Array(T * I),
        up: new Float32Array(T * I),
        h: new Float32Array(T * I),
        lora: {},
      };
      const keep = opts.save ? a : null;
      rmsnormForward(a.ln1, a.ln1Rstd, x, p.inputNorm, T, C, c.rmsNormEps);
      this.linear(a.q, a.ln1, p.q, p.qBias, T, C, QD, l, 'q', adapters, keep);
      this.linear(a.k, a.ln1, p.k, p.kBias, T, C, KVD, l, 'k', adapters, keep);
      this.linear(a.v, a.ln1, p.v, p.vBias, T, C, KVD, l, 'v', adapters, keep);
      ropeForward(a.q, positions, this.invFreq, T, NH, D);
      ropeForward(a.k, positions, this.invFreq, T, NKV, D);
      cache.k[l].set(a.k, past * KVD);
      cache.v[l].set(a.v, past * KVD);
      attentionForward(a.atty, a.att, a.q, cache.k[l].subarray(0, S * KVD), cache.v[l].subarray(0, S * KVD), positions, T, S, NH, NKV, D);
      const attOut = new Float32Array(T * C);
      this.linear(attOut, a.atty, p.o, null, T, QD, C, l, 'o', adapters, keep);
      addForward(a.res2, x, attOut, T * C);
      rmsnormForward(a.ln2, a.ln2Rstd, a.res2, p.postNorm, T, C, c.rmsNormEps);
      this.linear(a.gate, a.ln2, p.gate, null, T, C, I, l, 'gate', adapters, keep);
      this.linear(a.up, a.ln2, p.up, null, T, C, I, l, 'up', adapters, keep);
      swigluForward(a.h, a.gate, a.up, T * I);
      const mlpOut = new Float32Array(T * C);
      this.linear(mlpOut, a.h, p.down, null, T, I, C, l, 'down', adapters, keep);
      const next = new Float32Array(T * C);
      addForward(next, a.res2, mlpOut, T * C);
      if (keep) layerActs.push(a);
      x = next;
    }
    cache.length = S;

    const lnf = new Float32Array(T * C);
    const lnfRstd = new Float32Array(T);
    rmsnormForward(lnf, lnfRstd, x, this.params.finalNorm, T, C, c.rmsNormEps);
    const last = opts.logits === 'last';
    const rows = last ? 1 : T;
    const logits = new Float32Array(rows * V);
    matmulForward(logits, last ? lnf.subarray((T - 1) * C) : lnf, this.params.lmHead, null, rows, C, V);
    const acts = opts.save ? { tokens: [...tokens], positions, past, layers: layerActs, xFinal: x, lnf, lnfRstd } : null;
    return { logits, acts };
  }

  /** Several sequences in one call (each with its cache); the CPU runs them one after another. */
  forwardBatch(items: readonly { cache: KvCache; tokens: readonly number[] }[], opts: ForwardOptions = {}): ForwardResult[] {
    return items.map((it) => this.forward(it.cache, it.tokens, opts));
  }

  /**
   * Generates `n` samples of a prompt: the prompt is prefilled once and its KV cache copied to
   * each sample. Sample i draws step s with uniform(seed + i, s) (cpu/sample.ts), s counting its
   * generated tokens from 0.
   */
  generate(prompt: readonly number[], opts: GenerateOptions): GeneratedSequence[] {
    const n = opts.n ?? 1;
    const seed = opts.seed ?? 0;
    const stop = new Set(opts.stopTokens ?? this.config.eosTokenIds);
    const limit = this.config.maxPositionEmbeddings;
    if (prompt.length >= limit) throw new LabError('invalid-input', `The prompt has ${prompt.length} tokens; the model's context is ${limit}.`);
    const prefix = this.newCache(prompt.length + opts.maxTokens);
    const first = this.forward(prefix, prompt, { adapters: opts.adapters, logits: 'last' }).logits;
    const out: GeneratedSequence[] = [];
    for (let i = 0; i < n; i++) {
      const cache = i === n - 1 ? prefix : prefix.clone();
      const tokens: number[] = [];
      let logits = first;
      let finishReason: 'stop' | 'length' = 'length';
      while (tokens.length < opts.maxTokens && cache.length < limit) {
        if (opts.signal?.aborted) throw new LabError('cancelled', 'Cancelled.');
        const tok = sampleToken(logits, opts.temperature, opts.topP ?? 1, (seed + i) >>> 0, tokens.length);
        tokens.push(tok);
        if (opts.onToken?.(i, tok, tokens) || stop.has(tok)) {
          finishReason = 'stop';
          break;
        }
        if (tokens.length >= opts.maxTokens) break;
        logits = this.forward(cache, [tok], { adapters: opts.adapters, logits: 'last' }).logits;
      }
      out.push({ tokens, finishReason });
    }
    return out;
  }

  /** Summed log-probability of `response` after `prompt` (prompt non-empty). */
  score(prompt: readonly number[], response: readonly number[], adapters?: readonly string[]): TokenScore {
    if (prompt.length === 0) throw new LabError('invalid-input', 'Scoring needs a non-empty prompt.');
    const V = this.config.vocabSize;
    const P = prompt.length;
    const R = response.length;
    const tokenLogprobs = new Float32Array(R);
    if (R === 0) return { logprob: 0, tokenLogprobs };
    const { logits } = this.forward(this.newCache(P + R), [...prompt, ...response], { adapters });
    // Row P-1+i predicts response[i].
    const rows = logits.subarray((P - 1) * V, (P - 1 + R) * V);
    const logp = new Float32Array(R * V);
    logSoftmaxForward(logp, rows, R, V);
    let sum = 0;
    for (let i = 0; i < R; i++) {
      tokenLogprobs[i] = logp[i * V + response[i]];
      sum += tokenLogprobs[i];
    }
    return { logprob: sum, tokenLogprobs };
  }

  /** log p(· | prompt) of the next token.   [V] */
  nextTokenLogprobs(prompt: readonly number[], adapters?: readonly string[]): Float32Array {
    const { logits } = this.forward(this.newCache(prompt.length), prompt, { adapters, logits: 'last' });
    const out = new Float32Array(this.config.vocabSize);
    logSoftmaxForward(out, logits, 1, this.config.vocabSize);
    return out;
  }
}
