/**
 * The model hyper-parameters the engine needs, read from a Hugging Face `config.json`. One
 * shape for every supported architecture; anything else is refused with an error that names
 * what is supported.
 *
 * transformers writes config.json in two layouts, and both are read:
 *   v4  rope_theta, rope_scaling {rope_type|type, factor, …} | null, torch_dtype
 *   v5  rope_parameters {rope_theta, rope_type, factor, …} (no top-level rope_theta or
 *       rope_scaling), dtype, and for Qwen2 layer_types ("full_attention" | "sliding_attention")
 * Keys a config leaves out take transformers' defaults for that architecture (LlamaConfig,
 * Qwen2Config). Whatever would change the math and the engine does not compute (scaled RoPE
 * other than llama3, sliding-window layers, Llama's attention/MLP biases, partial rotary
 * embeddings, quantized weights) is refused rather than silently ignored.
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
  headDim: number; // D (usually C / NH; Llama's head_dim may differ)
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: Llama3RopeScaling | null;
  maxPositionEmbeddings: number;
  /** lm_head shares the embedding matrix. */
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry biases (Qwen2; Llama with attention_bias is refused). */
  attentionBias: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

/** The storage dtypes config.json may name for unquantized weights. */
export type HfDtype = 'float32' | 'float16' | 'bfloat16';
const HF_DTYPES: readonly HfDtype[] = ['float32', 'float16', 'bfloat16'];

/** transformers' defaults (LlamaConfig / Qwen2Config) for keys that change the math or the context. */
const ARCH_DEFAULTS: Record<Arch, { maxPositionEmbeddings: number; numKvHeads: 'num_attention_heads' | number }> = {
  llama: { maxPositionEmbeddings: 2048, numKvHeads: 'num_attention_heads' },
  qwen2: { maxPositionEmbeddings: 32768, numKvHeads: 32 },
};
const DEFAULT_ROPE_THETA = 10000; // RotaryEmbeddingConfigMixin.default_theta
const DEFAULT_MAX_WINDOW_LAYERS = 28; // Qwen2Config

type Json = Record<string, unknown>;

const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);

/**
 * Parses and validates a HF config.json object. `where` names the file in errors (e.g.
 * "my-model: config.json").
 */
export function parseHfConfig(json: unknown, where = 'config.json'): ModelConfig {
  if (!isObject(json)) throw new LabError('invalid-input', `${where} is not a JSON object.`);
  const c = json;
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
      `${where}: unsupported architecture ${archNames.join(', ') || modelType || '(none given)'}. SPaR Lab supports ` +
        'Llama-family decoder-only models: LlamaForCausalLM (Llama 2/3.x, TinyLlama, SmolLM2) and ' +
        'Qwen2ForCausalLM (Qwen2, Qwen2.5).',
    );
  }
  refuseQuantized(c, where);
  hfConfigDtype(c, where); // refuses float8 and other storage dtypes before anything is downloaded
  const num = (key: string, fallback?: number): number => {
    const v = c[key];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (fallback !== undefined && v == null) return fallback;
    throw new LabError('invalid-input', `${where}: "${key}" is ${v == null ? 'missing' : `not a number (${JSON.stringify(v)})`}.`);
  };
  const defaults = ARCH_DEFAULTS[arch];
  const hiddenSize = num('hidden_size');
  const numHeads = num('num_attention_heads');
  const numLayers = num('num_hidden_layers');
  const numKvHeads = num('num_key_value_heads', defaults.numKvHeads === 'num_attention_heads' ? numHeads : defaults.numKvHeads);
  const headDim = num('head_dim', Math.floor(hiddenSize / numHeads));
  if (!Number.isInteger(headDim) || headDim <= 0 || numHeads % numKvHeads !== 0) {
    throw new LabError('invalid-input', `${where}: ${numHeads} heads / ${numKvHeads} KV heads / head_dim ${headDim} do not fit (the heads must be a multiple of the KV heads).`);
  }
  const hiddenAct = c.hidden_act ?? 'silu';
  if (hiddenAct !== 'silu') throw new LabError('unsupported', `${where}: unsupported activation "${String(hiddenAct)}"; only SwiGLU (silu) is supported.`);
  if (arch === 'llama') refuseLlamaBiases(c, where);
  refuseSlidingWindow(c, arch, numLayers, where);
  const maxPositionEmbeddings = num('max_position_embeddings', defaults.maxPositionEmbeddings);
  const rope = parseRope(c, maxPositionEmbeddings, where);
  const eos = c.eos_token_id;
  return {
    arch,
    vocabSize: num('vocab_size'),
    hiddenSize,
    intermediateSize: num('intermediate_size'),
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    rmsNormEps: num('rms_norm_eps', 1e-6),
    ropeTheta: rope.theta,
    ropeScaling: rope.scaling,
    maxPositionEmbeddings,
    tieWordEmbeddings: Boolean(c.tie_word_embeddings ?? false),
    // Qwen2 always has q/k/v biases (and ignores attention_bias); Llama's are refused above.
    attentionBias: arch === 'qwen2',
    // No transformers default here (LlamaConfig's 1/2 are Llama-2 ids): the tokenizer's own eos is used.
    bosTokenId: typeof c.bos_token_id === 'number' ? c.bos_token_id : null,
    eosTokenIds: Array.isArray(eos) ? (eos as number[]) : typeof eos === 'number' ? [eos] : [],
  };
}

/**
 * The dtype config.json says the weights are stored in: v5's `dtype`, else v4's `torch_dtype`
 * (transformers keeps `dtype` when both are there); null when neither is given. Other dtypes
 * (float8, int8, …) are refused.
 */
export function hfConfigDtype(c: Json, where = 'config.json'): HfDtype | null {
  const field = c.dtype != null ? 'dtype' : 'torch_dtype';
  const value = c[field];
  if (value == null) return null;
  if (!(HF_DTYPES as readonly unknown[]).includes(value)) {
    throw new LabError('unsupported', `${where}: "${field}" is ${JSON.stringify(value)}; SPaR Lab reads checkpoints stored as ${HF_DTYPES.join(', ')}.`);
  }
  return value as HfDtype;
}

/** A quantization_config means the safetensors hold packed codes, not weights: reading them as weights would be garbage. */
function refuseQuantized(c: Json, where: string): void {
  const q = c.quantization_config;
  if (q == null) return;
  const qc = isObject(q) ? q : {};
  const method = typeof qc.quant_method === 'string' ? qc.quant_method : 'an unnamed method';
  const bits =
    qc.load_in_4bit === true
      ? ` 4-bit${typeof qc.bnb_4bit_quant_type === 'string' ? ` (${qc.bnb_4bit_quant_type})` : ''}`
      : qc.load_in_8bit === true
        ? ' 8-bit'
        : typeof qc.bits === 'number'
          ? ` ${qc.bits}-bit`
          : '';
  const base = typeof c._name_or_path === 'string' && /^\w[\w.-]*\/[\w.-]+$/.test(c._name_or_path) ? ` (this one was made from "${c._name_or_path}")` : '';
  throw new LabError(
    'unsupported',
    `${where}: the weights are quantized with ${method}${bits} ("quantization_config", quant_method "${method}"). ` +
      'SPaR Lab reads unquantized checkpoints (float32, float16, bfloat16) and MLC q4f16_1 / q4f32_1 builds. ' +
      `Use the original float16/bfloat16 checkpoint${base}, or an MLC q4 build of the model (e.g. mlc-ai/<model>-q4f16_1-MLC).`,
  );
}

/** transformers' Llama puts attention_bias on q, k, v AND o, and mlp_bias on gate, up and down; the engine has q/k/v biases only. */
function refuseLlamaBiases(c: Json, where: string): void {
  if (c.attention_bias === true) {
    throw new LabError(
      'unsupported',
      `${where}: "attention_bias" is true, so this Llama has biases on its q, k, v and o projections. ` +
        'SPaR Lab runs Llama without attention biases (attention_bias false) and Qwen2 with its q/k/v biases.',
    );
  }
  if (c.mlp_bias === true) {
    throw new LabError(
      'unsupported',
      `${where}: "mlp_bias" is true (biases on the gate, up and down projections). SPaR Lab supports MLPs without biases (mlp_bias false), as in Llama, TinyLlama, SmolLM2 and Qwen2.`,
    );
  }
}

/**
 * Which layers attend through a sliding window. Qwen2 (transformers): `layer_types` when given,
 * otherwise layers from `max_window_layers` on when `use_sliding_window` is true and
 * `sliding_window` is set. Llama has no sliding layers (transformers' Llama ignores layer_types).
 * The engine attends to the whole context in every layer, so any sliding layer is refused.
 */
function refuseSlidingWindow(c: Json, arch: Arch, numLayers: number, where: string): void {
  const given = c.layer_types;
  if (given != null && (!Array.isArray(given) || given.length !== numLayers || !given.every((t) => typeof t === 'string'))) {
    throw new LabError('invalid-input', `${where}: "layer_types" must list one attention type per layer (${numLayers} layers), got ${JSON.stringify(given).slice(0, 120)}.`);
  }
  if (arch !== 'qwen2') return;
  const windowOn = c.use_sliding_window === true && c.sliding_window != null;
  const firstWindowLayer = typeof c.max_window_layers === 'number' ? c.max_window_layers : DEFAULT_MAX_WINDOW_LAYERS;
  const types = (given as string[] | null) ?? Array.from({ length: numLayers }, (_, i) => (windowOn && i >= firstWindowLayer ? 'sliding_attention' : 'full_attention'));
  const other = types.flatMap((t, i) => (t === 'full_attention' ? [] : [i]));
  if (other.length === 0) return;
  const shown = other.slice(0, 8).join(', ') + (other.length > 8 ? ', …' : '');
  const kinds = [...new Set(other.map((i) => types[i]))].map((t) => `"${t}"`).join(', ');
  const why = given != null ? `"layer_types" makes ${other.length} of ${numLayers} layers ${kinds}` : `"use_sliding_window" is true, so layers from "max_window_layers" (${firstWindowLayer}) on use sliding-window attention`;
  throw new LabError(
    'unsupported',
    `${where}: ${why} (layers ${shown}; window ${JSON.stringify(c.sliding_window ?? null)}). ` +
      'SPaR Lab runs full causal attention in every layer: supported are configs with "use_sliding_window": false, or "layer_types" all "full_attention" (as Qwen2 and Qwen2.5 ship).',
  );
}

/**
 * RoPE from either layout, resolved as transformers v5 does (convert_rope_params_to_dict,
 * standardize_rope_params): the parameters are `rope_scaling` when it is a non-empty object
 * (v4), else `rope_parameters` (v5); `rope_theta` inside them wins over the top-level one, then
 * 10000. The type is `rope_type` (or the older `type`), "default" when absent. llama3 needs
 * factor, low_freq_factor and high_freq_factor; original_max_position_embeddings defaults to
 * max_position_embeddings (v5; v4 required it).
 */
function parseRope(c: Json, maxPositionEmbeddings: number, where: string): { theta: number; scaling: Llama3RopeScaling | null } {
  const fromScaling = isObject(c.rope_scaling) && Object.keys(c.rope_scaling).length > 0;
  const field = fromScaling ? 'rope_scaling' : 'rope_parameters';
  let params: Json = fromScaling ? (c.rope_scaling as Json) : isObject(c.rope_parameters) ? c.rope_parameters : {};
  if (isObject(params.full_attention) && Array.isArray(c.layer_types)) params = params.full_attention; // v5 nests per layer type when layers differ
  const theta = params.rope_theta ?? c.rope_theta ?? DEFAULT_ROPE_THETA;
  if (typeof theta !== 'number' || !(theta > 0)) {
    throw new LabError('invalid-input', `${where}: the RoPE base ("rope_theta") must be a positive number, got ${JSON.stringify(theta)}.`);
  }
  const partial = params.partial_rotary_factor ?? c.partial_rotary_factor;
  if (partial != null && partial !== 1) {
    throw new LabError('unsupported', `${where}: "partial_rotary_factor" is ${JSON.stringify(partial)}; SPaR Lab rotates the whole head (partial_rotary_factor 1).`);
  }
  const type = params.rope_type ?? params.type ?? 'default';
  if (type === 'default') return { theta, scaling: null };
  if (type !== 'llama3') {
    throw new LabError(
      'unsupported',
      `${where}: "${field}" asks for rope_type ${JSON.stringify(type)}. SPaR Lab computes RoPE of type "default" (plain, from rope_theta) ` +
        'and "llama3" (Llama 3.1/3.2 scaling); linear, dynamic, yarn, longrope and other scaled RoPE types are not implemented.',
    );
  }
  const missing = ['factor', 'low_freq_factor', 'high_freq_factor'].filter((k) => typeof params[k] !== 'number');
  if (missing.length > 0) {
    throw new LabError('invalid-input', `${where}: "${field}" (rope_type "llama3") lacks a number for ${missing.join(', ')}; llama3 RoPE needs factor, low_freq_factor and high_freq_factor.`);
  }
  const omp = params.original_max_position_embeddings ?? maxPositionEmbeddings;
  if (typeof omp !== 'number') {
    throw new LabError('invalid-input', `${where}: "${field}".original_max_position_embeddings is not a number (${JSON.stringify(omp)}).`);
  }
  return {
    theta,
    scaling: {
      type: 'llama3',
      factor: params.factor as number,
      lowFreqFactor: params.low_freq_factor as number,
      highFreqFactor: params.high_freq_factor as number,
      originalMaxPositionEmbeddings: omp,
    },
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
