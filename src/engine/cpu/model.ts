/**
 * The CPU reference model: a Llama-family decoder (Llama, Qwen2) over ModelWeights, in plain
 * TypeScript on typed arrays, built from the ops in ops.ts. It is the ground truth for the
 * GPU model (same inputs → same logits within rounding, same sampled tokens) and runs the whole
 * SPaR loop in Node on a tiny model (backends/cpu.ts).
 *
 * Weights are dequantized to f32 once (q4 and f16 included), so the reference computes with
 * exactly the values the GPU kernels dequantize. LoRA adapters (several, by name) are added
 * on top of every targeted linear: y = x·Wᵀ + b + Σ_enabled scale·(x·Aᵀ)·Bᵀ.
 *
 * A forward call takes the new tokens of one sequence and its KV cache; with `save` it keeps
 * every intermediate the backward pass needs (llm.c's ActivationTensors), per layer, or with
 * `recompute` only each layer's input, from which `backward` recomputes one layer at a time.
 * `backward` walks the layers in reverse like llm.c's gpt2_backward: activation gradients flow
 * through every op, weight gradients are computed for LoRA's A and B only (the base is frozen).
 *
 * Buffers are Float32Array by default. `new CpuModel(weights, Float64Array)` runs the same code
 * in f64 (weights widened exactly from their f32 values): the finite-difference checks of the
 * backward pass need it, since an f32 loss is too noisy for central differences.
 *
 * Shapes: T new tokens, S = cache length after the call, C hidden, V vocab, NH/NKV heads,
 * D head dim, I SwiGLU width, r LoRA rank.
 */
import { LabError } from '../../errors';
import { ropeInvFreq, type ModelConfig } from '../model/config';
import { tensorToF32 } from '../model/dtypes';
import { type LinearName, type LoraAdapter, type ModelWeights, type Tensor } from '../model/weights';
import {
  addForward,
  attentionBackward,
  attentionForward,
  embeddingForward,
  logSoftmaxForward,
  loraBackward,
  loraForward,
  matmulBackward,
  matmulForward,
  rmsnormBackward,
  rmsnormForward,
  ropeBackward,
  ropeForward,
  swigluBackward,
  swigluForward,
  type FloatArray,
} from './ops';
import { checkAdapterShapes, linearDims } from '../train/lora';
import { sampleToken } from './sample';

/** The typed array every buffer of a model uses: Float32Array (default) or Float64Array. */
export interface FloatArrayType<F extends FloatArray> {
  new (length: number): F;
  from(values: ArrayLike<number>): F;
}

/** One layer's weights as dense floats (linear weights [out, in]). */
export interface CpuLayerParams<F extends FloatArray = Float32Array> {
  inputNorm: F; // [C]
  q: F; // [NH*D, C]
  k: F; // [NKV*D, C]
  v: F; // [NKV*D, C]
  qBias: F | null; // [NH*D]
  kBias: F | null; // [NKV*D]
  vBias: F | null; // [NKV*D]
  o: F; // [C, NH*D]
  postNorm: F; // [C]
  gate: F; // [I, C]
  up: F; // [I, C]
  down: F; // [C, I]
}

export interface CpuParams<F extends FloatArray = Float32Array> {
  embed: F; // [V, C]
  layers: CpuLayerParams<F>[];
  finalNorm: F; // [C]
  /** The embedding itself when tied. */
  lmHead: F; // [V, C]
}

/** Keys and values of one sequence, per layer, rotated keys; grows as tokens are added. */
export class KvCache<F extends FloatArray = Float32Array> {
  /** [L] of [capacity, NKV*D] */
  k: F[];
  v: F[];
  /** Positions held: the next token goes to position `length`. */
  length = 0;

  constructor(
    readonly numLayers: number,
    readonly kvDim: number,
    capacity = 64,
    readonly Float: FloatArrayType<F> = Float32Array as unknown as FloatArrayType<F>,
  ) {
    this.k = Array.from({ length: numLayers }, () => new Float(capacity * kvDim));
    this.v = Array.from({ length: numLayers }, () => new Float(capacity * kvDim));
  }

  get capacity(): number {
    return this.k[0]?.length / this.kvDim || 0;
  }

  /** Makes room for `n` positions in total, keeping what is held. */
  reserve(n: number): void {
    if (n <= this.capacity) return;
    const cap = Math.max(n, this.capacity * 2);
    const grow = (a: F) => {
      const b = new this.Float(cap * this.kvDim);
      b.set(a.subarray(0, this.length * this.kvDim));
      return b;
    };
    this.k = this.k.map(grow);
    this.v = this.v.map(grow);
  }

  /** An independent copy: a shared prompt prefix continued by several samples. */
  clone(): KvCache<F> {
    const c = new KvCache(this.numLayers, this.kvDim, Math.max(1, this.length), this.Float);
    for (let l = 0; l < this.numLayers; l++) {
      c.k[l].set(this.k[l].subarray(0, this.length * this.kvDim));
      c.v[l].set(this.v[l].subarray(0, this.length * this.kvDim));
    }
    c.length = this.length;
    return c;
  }
}

/** The LoRA intermediate x·Aᵀ [T, r] of one adapter on one linear, saved for backward. */
export interface LoraActs<F extends FloatArray = Float32Array> {
  adapter: string;
  xa: F;
}

/** What one layer's forward keeps for backward (llm.c style). */
export interface LayerActs<F extends FloatArray = Float32Array> {
  x: F; // [T,C] residual stream entering the layer
  ln1: F; // [T,C]
  ln1Rstd: F; // [T]
  q: F; // [T,NH*D] after bias and RoPE
  k: F; // [T,NKV*D] after bias and RoPE (also appended to the cache)
  v: F; // [T,NKV*D]
  att: F; // [NH,T,S] attention probabilities
  atty: F; // [T,NH*D] attention output before o_proj
  res2: F; // [T,C] x + o_proj(atty)
  ln2: F; // [T,C]
  ln2Rstd: F; // [T]
  gate: F; // [T,I] before SiLU
  up: F; // [T,I]
  h: F; // [T,I] silu(gate) * up
  lora: Partial<Record<LinearName, LoraActs<F>[]>>;
}

export interface Activations<F extends FloatArray = Float32Array> {
  tokens: number[]; // [T]
  positions: Int32Array; // [T]
  /** Cache length before the call (positions start there). */
  past: number;
  /** The adapters the forward applied (backward applies them again when it recomputes). */
  adapters: string[];
  /** Every layer's saved activations; empty with `recompute` (backward rebuilds them from layerInputs). */
  layers: LayerActs<F>[]; // [L]
  /** The residual stream entering each layer. */
  layerInputs: F[]; // [L] of [T,C]
  xFinal: F; // [T,C] residual stream after the last layer
  lnf: F; // [T,C]
  lnfRstd: F; // [T]
  /** The positions whose logits were computed, in the order of the logits' rows. */
  logitRows: Int32Array; // [R]
}

export interface ForwardOptions {
  /** Names of the adapters to apply (each must have been added); none: the base model. */
  adapters?: readonly string[];
  /** Keep activations for a backward pass. */
  save?: boolean;
  /**
   * With `save`: keep only each layer's input; `backward` recomputes the layer's activations
   * from it, one layer at a time (activation memory of one layer instead of all of them).
   */
  recompute?: boolean;
  /** Logits of every new position (default) or only of the last one. */
  logits?: 'all' | 'last';
  /** Logits of only these positions (0..T-1, in this order); overrides `logits`. */
  logitRows?: readonly number[];
}

export interface ForwardResult<F extends FloatArray = Float32Array> {
  /** [T,V], [1,V] with logits 'last', [R,V] with logitRows. */
  logits: F;
  acts: Activations<F> | null;
}

/**
 * Gradients of LoRA weights, laid out like LoraAdapter.layers: per layer, per targeted linear,
 * dA [r, in] and dB [out, r]. backward adds into them.
 */
export type LoraGrads = Partial<Record<LinearName, { a: FloatArray; b: FloatArray }>>[];

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

export class CpuModel<F extends FloatArray = Float32Array> {
  readonly config: ModelConfig;
  readonly params: CpuParams<F>;
  readonly invFreq: Float32Array; // [D/2]
  private readonly adapters = new Map<string, LoraAdapter>();

  constructor(
    weights: ModelWeights,
    readonly Float: FloatArrayType<F> = Float32Array as unknown as FloatArrayType<F>,
  ) {
    this.config = weights.config;
    // f32 data is used as is; an f64 model widens it (exactly).
    const f = (t: Tensor): F => {
      const d = tensorToF32(t);
      return ((Float as unknown) === Float32Array ? d : Float.from(d)) as F;
    };
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
    checkAdapterShapes(adapter, this.config);
    this.adapters.set(adapter.name, adapter);
  }

  /** The adapter registered under `name` (its arrays, not a copy). */
  getAdapter(name: string): LoraAdapter {
    return this.enabled([name])[0];
  }

  removeAdapter(name: string): void {
    this.adapters.delete(name);
  }

  adapterNames(): string[] {
    return [...this.adapters.keys()];
  }

  /** [out, in] of each linear. */
  linearDims(): Record<LinearName, [number, number]> {
    return linearDims(this.config);
  }

  newCache(capacity = 64): KvCache<F> {
    return new KvCache(this.config.numLayers, this.config.numKvHeads * this.config.headDim, capacity, this.Float);
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
    out: F,
    x: F,
    w: F,
    bias: F | null,
    T: number,
    IC: number,
    OC: number,
    layer: number,
    name: LinearName,
    adapters: LoraAdapter[],
    acts: LayerActs<F> | null,
  ): void {
    matmulForward(out, x, w, bias, T, IC, OC);
    for (const ad of adapters) {
      const ab = ad.layers[layer][name];
      if (!ab) continue;
      const xa = new this.Float(T * ad.rank);
      loraForward(out, xa, x, ab.a, ab.b, ad.scale, T, IC, OC, ad.rank);
      if (acts) (acts.lora[name] ??= []).push({ adapter: ad.name, xa });
    }
  }

  /**
   * Backward of `linear`: dx += dout·W (base frozen), and through each adapter applied in the
   * forward, with dA, dB added into `grads` of the adapters that have an entry there.
   *   dx [T,IC] (+=), dout [T,OC], x [T,IC]
   */
  private linearBackward(
    dx: F,
    dout: F,
    x: F,
    w: F,
    T: number,
    IC: number,
    OC: number,
    layer: number,
    name: LinearName,
    acts: LayerActs<F>,
    grads: ReadonlyMap<string, LoraGrads>,
  ): void {
    matmulBackward(dx, null, dout, x, w, T, IC, OC);
    for (const { adapter, xa } of acts.lora[name] ?? []) {
      const ad = this.getAdapter(adapter);
      const ab = ad.layers[layer][name]!;
      const g = grads.get(adapter)?.[layer]?.[name];
      loraBackward(dx, g?.a ?? null, g?.b ?? null, dout, x, xa, ab.a, ab.b, ad.scale, T, IC, OC, ad.rank);
    }
  }

  private newLayerActs(x: F, T: number, S: number): LayerActs<F> {
    const c = this.config;
    const QD = c.numHeads * c.headDim;
    const KVD = c.numKvHeads * c.headDim;
    const I = c.intermediateSize;
    const C = c.hiddenSize;
    const F = this.Float;
    return {
      x,
      ln1: new F(T * C),
      ln1Rstd: new F(T),
      q: new F(T * QD),
      k: new F(T * KVD),
      v: new F(T * KVD),
      att: new F(c.numHeads * T * S),
      atty: new F(T * QD),
      res2: new F(T * C),
      ln2: new F(T * C),
      ln2Rstd: new F(T),
      gate: new F(T * I),
      up: new F(T * I),
      h: new F(T * I),
      lora: {},
    };
  }

  /**
   * One decoder layer over the T tokens at `positions` (past..past+T-1): fills `a` from its input
   * a.x, appends the rotated keys and values to kAll/vAll [S, NKV*D] at `past`, and returns the
   * residual stream leaving the layer [T,C]. `keep`: record the LoRA intermediates too.
   */
  private layerForward(l: number, a: LayerActs<F>, positions: Int32Array, kAll: F, vAll: F, past: number, adapters: LoraAdapter[], keep: boolean): F {
    const c = this.config;
    const { hiddenSize: C, numHeads: NH, numKvHeads: NKV, headDim: D, intermediateSize: I } = c;
    const T = positions.length;
    const S = past + T;
    const QD = NH * D;
    const KVD = NKV * D;
    const p = this.params.layers[l];
    const x = a.x;
    const lora = keep ? a : null;
    rmsnormForward(a.ln1, a.ln1Rstd, x, p.inputNorm, T, C, c.rmsNormEps);
    this.linear(a.q, a.ln1, p.q, p.qBias, T, C, QD, l, 'q', adapters, lora);
    this.linear(a.k, a.ln1, p.k, p.kBias, T, C, KVD, l, 'k', adapters, lora);
    this.linear(a.v, a.ln1, p.v, p.vBias, T, C, KVD, l, 'v', adapters, lora);
    ropeForward(a.q, positions, this.invFreq, T, NH, D);
    ropeForward(a.k, positions, this.invFreq, T, NKV, D);
    kAll.set(a.k, past * KVD);
    vAll.set(a.v, past * KVD);
    attentionForward(a.atty, a.att, a.q, kAll.subarray(0, S * KVD), vAll.subarray(0, S * KVD), positions, T, S, NH, NKV, D);
    const attOut = new this.Float(T * C);
    this.linear(attOut, a.atty, p.o, null, T, QD, C, l, 'o', adapters, lora);
    addForward(a.res2, x, attOut, T * C);
    rmsnormForward(a.ln2, a.ln2Rstd, a.res2, p.postNorm, T, C, c.rmsNormEps);
    this.linear(a.gate, a.ln2, p.gate, null, T, C, I, l, 'gate', adapters, lora);
    this.linear(a.up, a.ln2, p.up, null, T, C, I, l, 'up', adapters, lora);
    swigluForward(a.h, a.gate, a.up, T * I);
    const mlpOut = new this.Float(T * C);
    this.linear(mlpOut, a.h, p.down, null, T, I, C, l, 'down', adapters, lora);
    const next = new this.Float(T * C);
    addForward(next, a.res2, mlpOut, T * C);
    return next;
  }

  /** Runs `tokens` (T ≥ 1) of one sequence at positions cache.length.., appending to the cache. */
  forward(cache: KvCache<F>, tokens: readonly number[], opts: ForwardOptions = {}): ForwardResult<F> {
    const c = this.config;
    const T = tokens.length;
    if (T === 0) throw new LabError('invalid-input', 'forward needs at least one token.');
    for (const t of tokens) {
      if (!Number.isInteger(t) || t < 0 || t >= c.vocabSize) throw new LabError('invalid-input', `Token id ${t} is outside the vocabulary (0..${c.vocabSize - 1}).`);
    }
    const adapters = this.enabled(opts.adapters);
    const { hiddenSize: C, vocabSize: V } = c;
    const past = cache.length;
    const S = past + T;
    cache.reserve(S);
    const positions = Int32Array.from({ length: T }, (_, t) => past + t);
    const save = opts.save ?? false;
    const keepLayers = save && !opts.recompute;

    let x = new this.Float(T * C);
    embeddingForward(x, tokens, this.params.embed, C);
    const layerActs: LayerActs<F>[] = [];
    const layerInputs: F[] = [];
    for (let l = 0; l < c.numLayers; l++) {
      const a = this.newLayerActs(x, T, S);
      const next = this.layerForward(l, a, positions, cache.k[l], cache.v[l], past, adapters, keepLayers);
      if (keepLayers) layerActs.push(a);
      if (save) layerInputs.push(x);
      x = next;
    }
    cache.length = S;

    const lnf = new this.Float(T * C);
    const lnfRstd = new this.Float(T);
    rmsnormForward(lnf, lnfRstd, x, this.params.finalNorm, T, C, c.rmsNormEps);
    const rows = opts.logitRows ? Int32Array.from(opts.logitRows) : opts.logits === 'last' ? Int32Array.of(T - 1) : null;
    for (const r of rows ?? []) if (!(r >= 0 && r < T)) throw new LabError('invalid-input', `Logit row ${r} is outside the ${T} positions of this call.`);
    const R = rows ? rows.length : T;
    const logits = new this.Float(R * V);
    matmulForward(logits, rows ? this.gatherRows(lnf, rows, C) : lnf, this.params.lmHead, null, R, C, V);
    const acts: Activations<F> | null = save
      ? {
          tokens: [...tokens],
          positions,
          past,
          adapters: adapters.map((a) => a.name),
          layers: layerActs,
          layerInputs,
          xFinal: x,
          lnf,
          lnfRstd,
          logitRows: rows ?? Int32Array.from({ length: T }, (_, t) => t),
        }
      : null;
    return { logits, acts };
  }

  /** rows of a [T,C] matrix, gathered into [R,C]. */
  private gatherRows(m: F, rows: Int32Array, C: number): F {
    const out = new this.Float(rows.length * C);
    rows.forEach((r, i) => out.set(m.subarray(r * C, r * C + C), i * C));
    return out;
  }

  /**
   * Backward pass of a saved forward (whole sequence, past 0), from the gradient of its logits
   * dlogits [R,V] (rows as acts.logitRows) down to the first layer's input. Base weights are
   * frozen; LoRA gradients are added (+=) into `grads` for each adapter that has an entry there
   * (an adapter applied but absent from `grads` only passes gradients through). The adapters must
   * be the ones the forward used, unchanged.
   */
  backward(acts: Activations<F>, dlogits: FloatArray, grads: ReadonlyMap<string, LoraGrads>): void {
    const c = this.config;
    if (acts.past !== 0) throw new LabError('invalid-input', 'backward needs a forward of the whole sequence (an empty cache), not a continuation.');
    const { hiddenSize: C, numHeads: NH, numKvHeads: NKV, headDim: D, intermediateSize: I, vocabSize: V } = c;
    const F = this.Float;
    const T = acts.tokens.length;
    const QD = NH * D;
    const KVD = NKV * D;
    const rows = acts.logitRows;
    const R = rows.length;
    if (dlogits.length !== R * V) throw new LabError('invalid-input', `backward: dlogits has ${dlogits.length} values; expected [${R}, ${V}].`);
    const adapters = this.enabled(acts.adapters);

    // logits = lnf[rows] · lmHeadᵀ
    const dlnfRows = new F(R * C);
    matmulBackward(dlnfRows, null, dlogits, this.gatherRows(acts.lnf, rows, C), this.params.lmHead, R, C, V);
    const dlnf = new F(T * C);
    rows.forEach((r, i) => {
      for (let j = 0; j < C; j++) dlnf[r * C + j] += dlnfRows[i * C + j];
    });
    // lnf = rmsnorm(xFinal)
    let dx = new F(T * C);
    rmsnormBackward(dx, dlnf, acts.xFinal, this.params.finalNorm, acts.lnfRstd, T, C);

    for (let l = c.numLayers - 1; l >= 0; l--) {
      const p = this.params.layers[l];
      let a = acts.layers[l];
      if (!a) {
        // Recompute this layer's activations from its saved input.
        a = this.newLayerActs(acts.layerInputs[l], T, T);
        this.layerForward(l, a, acts.positions, new F(T * KVD), new F(T * KVD), 0, adapters, true);
      }
      // next = res2 + mlpOut: both get dx
      const dres2 = F.from(dx);
      // mlpOut = h · Wdownᵀ
      const dh = new F(T * I);
      this.linearBackward(dh, dx, a.h, p.down, T, I, C, l, 'down', a, grads);
      // h = silu(gate) * up
      const dgate = new F(T * I);
      const dup = new F(T * I);
      swigluBackward(dgate, dup, dh, a.gate, a.up, T * I);
      // gate = ln2 · Wgateᵀ, up = ln2 · Wupᵀ
      const dln2 = new F(T * C);
      this.linearBackward(dln2, dgate, a.ln2, p.gate, T, C, I, l, 'gate', a, grads);
      this.linearBackward(dln2, dup, a.ln2, p.up, T, C, I, l, 'up', a, grads);
      // ln2 = rmsnorm(res2)
      rmsnormBackward(dres2, dln2, a.res2, p.postNorm, a.ln2Rstd, T, C);
      // res2 = x + attOut: both get dres2
      const dxl = F.from(dres2);
      // attOut = atty · Woᵀ
      const datty = new F(T * QD);
      this.linearBackward(datty, dres2, a.atty, p.o, T, QD, C, l, 'o', a, grads);
      // atty = attention(q, k, v) over the whole sequence (S = T)
      const dq = new F(T * QD);
      const dk = new F(T * KVD);
      const dv = new F(T * KVD);
      attentionBackward(dq, dk, dv, datty, a.q, a.k, a.v, a.att, acts.positions, T, T, NH, NKV, D);
      // q, k rotated in place
      ropeBackward(dq, acts.positions, this.invFreq, T, NH, D);
      ropeBackward(dk, acts.positions, this.invFreq, T, NKV, D);
      // q, k, v = ln1 · Wᵀ + b (biases frozen)
      const dln1 = new F(T * C);
      this.linearBackward(dln1, dq, a.ln1, p.q, T, C, QD, l, 'q', a, grads);
      this.linearBackward(dln1, dk, a.ln1, p.k, T, C, KVD, l, 'k', a, grads);
      this.linearBackward(dln1, dv, a.ln1, p.v, T, C, KVD, l, 'v', a, grads);
      // ln1 = rmsnorm(x)
      rmsnormBackward(dxl, dln1, a.x, p.inputNorm, a.ln1Rstd, T, C);
      dx = dxl;
    }
    // The embedding is frozen: dx (the gradient of the embedded tokens) stops here.
  }

  /** Several sequences in one call (each with its cache); the CPU runs them one after another. */
  forwardBatch(items: readonly { cache: KvCache<F>; tokens: readonly number[] }[], opts: ForwardOptions = {}): ForwardResult<F>[] {
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
