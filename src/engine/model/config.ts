/**
 * The model hyper-parameters the engine needs, read from a Hugging Face `config.json`. One
 * shape for every supported architecture; anything else is refused with an error that names
 * what is supported.
 */
import { LabError } from '../../errors';

export type Arch = 'llama' | 'qwen2';

export const SUPPORTED_ARCHITECTURES: Record<string, Arch> = {
  LlamaForCausalLM: 'llama', // Llama 2/3/3.1/3.2, TinyLlama, SmolLM/SmolLM2
  Qwen2ForCausalLM: 'qwen2', // Qwen2, Qwen2.5
};

/** Llama 3.x "llama3" rope scaling (frequency-dependent interpolation of inv_freq). */
export interface Llama3RopeScaling {
  type: 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

export interface ModelConfig {
  arch: Arch;
  vocabSize: number; // V
  hiddenSize: number; // C
  intermediateSize: number; // I (SwiGLU width)
  numLayers: number; // L
  numHeads: number; // NH (query heads)
  numKvHeads: number; // NKV (key/value heads; NH % NKV == 0 — grouped-query attention)
  headDim: number; // D (usually C / NH)
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: Llama3RopeScaling | null;
  maxPositionEmbeddings: number;
  /** lm_head shares the embedding matrix. */
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry biases (Qwen2). */
  attentionBias: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

/** Parses and validates a HF config.json object. */
export function parseHfConfig(json: unknown): ModelConfig {
  if (typeof json !== 'object' || json === null) throw new LabError('invalid-input', 'config.json is not a JSON object.');
  const c = json as Record<string, unknown>;
  const archNames = Array.isArray(c.architectures) ? (c.architectures as string[]) : [];
  const archName = archNames.find((a) => a in SUPPORTED_ARCHITECTURES);
  const modelType = typeof c.model_type === 'string' ? c.model_type : '';
  const arch: Arch | undefined = archName
    ? SUPPORTED_ARCHITECTURES[archName]
    : modelType === 'llama' || modelType === 'qwen2'
      ? modelType
      : undefined;
  if (!arch) {
    throw new LabError(
      'unsupported',
      `Unsupported architecture ${archNames.join(', ') || modelType || '(none given)'}. SPaR Lab supports ` +
        'Llama-family decoder-only models: LlamaForCausalLM (Llama 2/3.x, TinyLlama, SmolLM2) and ' +
        'Qwen2ForCausalLM (Qwen2, Qwen2.5).',
    );
  }
  const num = (key: string, fallback?: number): number => {
    const v = c[key];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (fallback !== undefined) return fallback;
    throw new LabError('invalid-input', `config.json: "${key}" is missing or not a number.`);
  };
  const hiddenSize = num('hidden_size');
  const numHeads = num('num_attention_heads');
  const numKvHeads = num('num_key_value_heads', numHeads);
  const headDim = num('head_dim', hiddenSize / numHeads);
  if (!Number.isInteger(headDim) || numHeads % numKvHeads !== 0) {
    throw new LabError('invalid-input', `config.json: ${numHeads} heads / ${numKvHeads} KV heads / head_dim ${headDim} do not fit.`);
  }
  const hiddenAct = c.hidden_act ?? 'silu';
  if (hiddenAct !== 'silu') throw new LabError('unsupported', `Unsupported activation "${String(hiddenAct)}"; only SwiGLU (silu) is supported.`);
  const eos = c.eos_token_id;
  return {
    arch,
    vocabSize: num('vocab_size'),
    hiddenSize,
    intermediateSize: num('intermediate_size'),
    numLayers: num('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: num('rms_norm_eps', 1e-6),
    ropeTheta: num('rope_theta', 10000),
    ropeScaling: parseRopeScaling(c.rope_scaling),
    maxPositionEmbeddings: num('max_position_embeddings', 2048),
    tieWordEmbeddings: Boolean(c.tie_word_embeddings ?? false),
    // Qwen2 always has q/k/v biases; Llama only when attention_bias says so.
    attentionBias: arch === 'qwen2' ? true : Boolean(c.attention_bias ?? false),
    bosTokenId: typeof c.bos_token_id === 'number' ? c.bos_token_id : null,
    eosTokenIds: Array.isArray(eos) ? (eos as number[]) : typeof eos === 'number' ? [eos] : [],
  };
}

function parseRopeScaling(x: unknown): Llama3RopeScaling | null {
  if (x == null) return null;
  const r = x as Record<string, unknown>;
  const type = r.rope_type ?? r.type;
  if (type === 'default') return null;
  if (type !== 'llama3') {
    throw new LabError('unsupported', `Unsupported rope_scaling type "${String(type)}"; supported: none, "llama3".`);
  }
  return {
    type: 'llama3',
    factor: Number(r.factor),
    lowFreqFactor: Number(r.low_freq_factor ?? 1),
    highFreqFactor: Number(r.high_freq_factor ?? 4),
    originalMaxPositionEmbeddings: Number(r.original_max_position_embeddings ?? 8192),
  };
}

/** RoPE inverse frequencies [D/2], with Llama-3 scaling applied when configured. */
export function ropeInvFreq(cfg: Pick<ModelConfig, 'headDim' | 'ropeTheta' | 'ropeScaling'>): Float32Array {
  const half = cfg.headDim / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    let f = 1 / Math.pow(cfg.ropeTheta, (2 * i) / cfg.headDim);
    const s = cfg.ropeScaling;
    if (s) {
      // Same rule as transformers' _compute_llama3_parameters.
      const lowFreqWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
      const highFreqWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > lowFreqWavelen) f = f / s.factor;
      else if (wavelen >= highFreqWavelen) {
        const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        f = (1 - smooth) * (f / s.factor) + smooth * f;
      }
    }
    out[i] = f;
  }
  return out;
}
