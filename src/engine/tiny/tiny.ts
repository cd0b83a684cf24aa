/**
 * Tiny deterministic random models for tests, in the formats real models come in: a Hugging
 * Face checkpoint (config.json, model.safetensors, tokenizer.json, tokenizer_config.json) and an
 * MLC build as web-llm downloads it (mlc-chat-config.json, tensor-cache.json and
 * ndarray-cache.json, params_shard_N.bin, the same tokenizer files) in every supported
 * quantization. Pure functions returning a file map, so browser tests and the page can use
 * them as well as the CLI (`npm run cli -- tiny-model`).
 *
 * The same options and seed always give the same weights, in every format: the f32 "master"
 * weights come from a counter-based generator, and each format stores them (rounded to f16 /
 * bf16, or quantized to q4 the way mlc-llm does) from that master.
 */
import type { Arch } from '../model/config';
import { f32ArrayToBf16, f32ArrayToF16, f16ArrayToF32, numel, quantizeQ4, typedBytes } from '../model/dtypes';
import type { ModelWeights, Tensor } from '../model/weights';
import type { FileMap } from '../load/files';
import { hfNames, assembleWeights } from '../load/hf';
import { parseHfConfig } from '../model/config';
import { MLC_GROUP_SIZE, mlcNames, type MlcQuantization, type TensorCache, type TensorCacheRecord } from '../load/mlc';
import { writeSafetensors, type SafetensorsInput, SAFETENSORS_INDEX } from '../load/safetensors';
import { TINY_BOS_ID, TINY_EOS_ID, tinyTokenizerConfig, tinyTokenizerJson } from './bpe';
import { md5Hex } from './md5';
import { configToV5, generationConfigJson, HF_LAYOUT_VERSION, tokenizerConfigFiles, transformersJson, type HfLayout } from './hf-layout';

export interface TinyModelOptions {
  arch?: Arch;
  seed?: number;
  hiddenSize?: number; // C   (a multiple of 32 for q4)
  numLayers?: number; // L
  numHeads?: number; // NH
  numKvHeads?: number; // NKV
  intermediateSize?: number; // I (a multiple of 32 for q4)
  vocabSize?: number; // V  (>= 259: 3 special tokens + 256 bytes + merges)
  /** Default: Qwen2 tied (like Qwen2.5-0.5B), Llama untied. */
  tieWordEmbeddings?: boolean;
  /** Llama only: Llama-3 style rope scaling, so that path is exercised. Default true. */
  ropeScaling?: boolean;
  maxPositionEmbeddings?: number;
}

export type TinyDefaults = Required<TinyModelOptions>;

/** C=64, L=2, NH=4, NKV=2 (D=16), I=160, V=331: small enough for SwiftShader, sizes not multiples of common tiles. */
export function tinyDefaults(o: TinyModelOptions = {}): TinyDefaults {
  const arch = o.arch ?? 'llama';
  return {
    arch,
    seed: o.seed ?? 1,
    hiddenSize: o.hiddenSize ?? 64,
    numLayers: o.numLayers ?? 2,
    numHeads: o.numHeads ?? 4,
    numKvHeads: o.numKvHeads ?? 2,
    intermediateSize: o.intermediateSize ?? 160,
    vocabSize: o.vocabSize ?? 331,
    tieWordEmbeddings: o.tieWordEmbeddings ?? arch === 'qwen2',
    ropeScaling: o.ropeScaling ?? arch === 'llama',
    maxPositionEmbeddings: o.maxPositionEmbeddings ?? 512,
  };
}

/**
 * The HF config.json of a tiny model, with the keys transformers writes for LlamaConfig /
 * Qwen2Config: the v4 layout (4.47) unless `layout` is 'v5'.
 */
export function tinyConfigJson(opts: TinyModelOptions & Pick<TinyHfOptions, 'dtype' | 'layout'> = {}): Record<string, unknown> {
  const o = tinyDefaults(opts);
  const common = {
    attention_dropout: 0,
    initializer_range: 0.02,
    use_cache: true,
    transformers_version: HF_LAYOUT_VERSION.v4,
    hidden_size: o.hiddenSize,
    intermediate_size: o.intermediateSize,
    num_hidden_layers: o.numLayers,
    num_attention_heads: o.numHeads,
    num_key_value_heads: o.numKvHeads,
    head_dim: o.hiddenSize / o.numHeads,
    vocab_size: o.vocabSize,
    max_position_embeddings: o.maxPositionEmbeddings,
    hidden_act: 'silu',
    tie_word_embeddings: o.tieWordEmbeddings,
    bos_token_id: TINY_BOS_ID,
    eos_token_id: TINY_EOS_ID,
    torch_dtype: HF_DTYPE_NAMES[opts.dtype ?? 'f32'],
  };
  const v4 =
    o.arch === 'qwen2'
      ? {
          architectures: ['Qwen2ForCausalLM'],
          model_type: 'qwen2',
          ...common,
          rms_norm_eps: 1e-6,
          rope_theta: 1000000,
          rope_scaling: null,
          use_sliding_window: false,
          sliding_window: null,
          max_window_layers: 28,
        }
      : {
          architectures: ['LlamaForCausalLM'],
          model_type: 'llama',
          ...common,
          rms_norm_eps: 1e-5,
          rope_theta: 500000,
          attention_bias: false,
          mlp_bias: false,
          pretraining_tp: 1,
          rope_scaling: o.ropeScaling
            ? { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 }
            : null,
        };
  return opts.layout === 'v5' ? configToV5(v4) : v4;
}

/** Counter-based uniform numbers: the same (seed, stream, index) gives the same value everywhere. */
function hashU32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** n values uniform in [center - halfWidth, center + halfWidth), from stream `stream` of `seed`. */
function uniformArray(n: number, seed: number, stream: number, center: number, halfWidth: number): Float32Array {
  const out = new Float32Array(n);
  const base = hashU32(hashU32(seed >>> 0) ^ Math.imul(stream + 1, 0x9e3779b9));
  for (let i = 0; i < n; i++) out[i] = center + halfWidth * ((hashU32(base ^ hashU32(i)) / 4294967296) * 2 - 1);
  return out;
}

/** The f32 master weights of a tiny model, keyed by HF tensor name (tied models have no lm_head). */
export function tinyTensors(opts: TinyModelOptions = {}): Map<string, { shape: number[]; data: Float32Array }> {
  const o = tinyDefaults(opts);
  const config = parseHfConfig(tinyConfigJson(o));
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  let stream = 0;
  const C = config.hiddenSize;
  // Uniform with standard deviation `std`: half-width std·√3.
  const add = (name: string, shape: number[], center: number, std: number) => {
    out.set(name, { shape, data: uniformArray(numel(shape), o.seed, stream++, center, std * Math.sqrt(3)) });
  };
  const q = config.numHeads * config.headDim;
  const kv = config.numKvHeads * config.headDim;
  add(hfNames.embed, [config.vocabSize, C], 0, 0.25);
  for (let i = 0; i < config.numLayers; i++) {
    const n = hfNames.layer(i);
    add(n.inputNorm, [C], 1, 0.1);
    add(n.q, [q, C], 0, 1 / Math.sqrt(C));
    add(n.k, [kv, C], 0, 1 / Math.sqrt(C));
    add(n.v, [kv, C], 0, 1 / Math.sqrt(C));
    if (config.attentionBias) {
      add(n.qBias, [q], 0, 0.1);
      add(n.kBias, [kv], 0, 0.1);
      add(n.vBias, [kv], 0, 0.1);
    }
    add(n.o, [C, q], 0, 1 / Math.sqrt(q));
    add(n.postNorm, [C], 1, 0.1);
    add(n.gate, [config.intermediateSize, C], 0, 1 / Math.sqrt(C));
    add(n.up, [config.intermediateSize, C], 0, 1 / Math.sqrt(C));
    add(n.down, [C, config.intermediateSize], 0, 1 / Math.sqrt(config.intermediateSize));
  }
  add(hfNames.finalNorm, [C], 1, 0.1);
  if (!config.tieWordEmbeddings) add(hfNames.lmHead, [config.vocabSize, C], 0, 2 / Math.sqrt(C));
  return out;
}

/** The tiny model's f32 master weights as ModelWeights (what the HF f32 files hold). */
export function tinyWeights(opts: TinyModelOptions = {}): ModelWeights {
  const config = parseHfConfig(tinyConfigJson(opts));
  const tensors = tinyTensors(opts);
  return assembleWeights(config, 'tiny model', (name) => {
    const t = tensors.get(name);
    return t ? ({ dtype: 'f32', shape: t.shape, data: t.data } satisfies Tensor) : undefined;
  });
}

const json = (x: unknown) => new TextEncoder().encode(JSON.stringify(x, null, 2));

function tokenizerFiles(vocabSize: number): FileMap {
  return { 'tokenizer.json': json(tinyTokenizerJson(vocabSize)), 'tokenizer_config.json': json(tinyTokenizerConfig()) };
}

export interface TinyHfOptions extends TinyModelOptions {
  /** Storage dtype of the safetensors (default f32). */
  dtype?: 'f32' | 'f16' | 'bf16';
  /** Split the weights over this many safetensors files with an index (default 1: model.safetensors). */
  shards?: number;
  /** The folder as transformers v4 (default) or v5 saves it; see hf-layout.ts. */
  layout?: HfLayout;
}

const HF_DTYPE_NAMES = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' } as const;

/** The tiny tokenizer_config.json as transformers 4.47 saves it: the chat markers listed as additional special tokens. */
export function tinyV4TokenizerConfig(): Record<string, unknown> {
  return { ...tinyTokenizerConfig(), additional_special_tokens: ['<|im_start|>', '<|im_end|>'], extra_special_tokens: {} };
}

/** A tiny model as a Hugging Face checkpoint folder. */
export function tinyHfFiles(opts: TinyHfOptions = {}): FileMap {
  const o = tinyDefaults(opts);
  const dtype = opts.dtype ?? 'f32';
  const layout = opts.layout ?? 'v4';
  const shards = Math.max(1, opts.shards ?? 1);
  const config = tinyConfigJson({ ...o, dtype, layout });
  const entries: [string, SafetensorsInput][] = [...tinyTensors(o)].map(([name, t]) => [
    name,
    dtype === 'f32'
      ? { dtype: 'F32', shape: t.shape, data: t.data }
      : dtype === 'f16'
        ? { dtype: 'F16', shape: t.shape, data: f32ArrayToF16(t.data) }
        : { dtype: 'BF16', shape: t.shape, data: f32ArrayToBf16(t.data) },
  ]);
  const files: FileMap = {
    'config.json': transformersJson(config),
    'generation_config.json': transformersJson(generationConfigJson(TINY_BOS_ID, TINY_EOS_ID, layout)),
    'tokenizer.json': json(tinyTokenizerJson(o.vocabSize)),
    ...tokenizerConfigFiles(tinyV4TokenizerConfig(), layout, o.arch),
  };
  if (shards === 1) {
    files['model.safetensors'] = writeSafetensors(Object.fromEntries(entries), { format: 'pt' });
    return files;
  }
  const per = Math.ceil(entries.length / shards);
  const weightMap: Record<string, string> = {};
  let total = 0;
  for (let s = 0; s < shards; s++) {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part = entries.slice(s * per, (s + 1) * per);
    for (const [name, t] of part) {
      weightMap[name] = file;
      total += t.data.byteLength;
    }
    files[file] = writeSafetensors(Object.fromEntries(part), { format: 'pt' });
  }
  files[SAFETENSORS_INDEX] = json({ metadata: { total_size: total }, weight_map: weightMap });
  return files;
}

export interface TinyMlcOptions extends TinyModelOptions {
  quantization?: MlcQuantization;
  /** Shard size cap, as tvmjs's shard_cap_mb (a record of half of it or more gets a shard of its own). Default 64 KiB. */
  maxShardBytes?: number;
}

interface MlcParam {
  name: string;
  dtype: 'float32' | 'float16' | 'uint32';
  shape: number[];
  data: Float32Array | Uint16Array | Uint32Array;
}

/** The MLC parameters of a tiny model under a quantization, in mlc-llm's naming and layout. */
export function tinyMlcParams(opts: TinyMlcOptions = {}): MlcParam[] {
  const o = tinyDefaults(opts);
  const quant = opts.quantization ?? 'q4f16_1';
  const config = parseHfConfig(tinyConfigJson(o));
  const master = tinyTensors(o);
  const half = quant === 'q0f16' || quant === 'q4f16_1';
  const q4 = quant.startsWith('q4');
  const get = (n: string) => master.get(n)!;
  const params: MlcParam[] = [];
  // mlc-llm first casts the model to its dtype, then quantizes.
  const modelDtype = (x: Float32Array) => (half ? f16ArrayToF32(f32ArrayToF16(x)) : x);
  const dense = (name: string, shape: number[], data: Float32Array) => {
    params.push(half ? { name, dtype: 'float16', shape, data: f32ArrayToF16(data) } : { name, dtype: 'float32', shape, data });
  };
  const linear = (base: string, shape: number[], data: Float32Array) => {
    if (!q4) return dense(`${base}.weight`, shape, data);
    const t = quantizeQ4(modelDtype(data), shape[0], shape[1], MLC_GROUP_SIZE, half ? 'f16' : 'f32');
    params.push({ name: `${base}.q_weight`, dtype: 'uint32', shape: [shape[0], shape[1] / 8], data: t.packed });
    params.push({ name: `${base}.q_scale`, dtype: half ? 'float16' : 'float32', shape: [shape[0], shape[1] / MLC_GROUP_SIZE], data: t.scales });
  };
  const concatRows = (...ts: { shape: number[]; data: Float32Array }[]) => {
    const data = new Float32Array(ts.reduce((a, t) => a + t.data.length, 0));
    let off = 0;
    for (const t of ts) {
      data.set(t.data, off);
      off += t.data.length;
    }
    return { shape: [ts.reduce((a, t) => a + t.shape[0], 0), ...ts[0].shape.slice(1)], data };
  };
  const names = mlcNames(config.arch);
  const e = get(hfNames.embed);
  linear(names.embed, e.shape, e.data);
  for (let i = 0; i < config.numLayers; i++) {
    const h = hfNames.layer(i);
    const n = names.layer(i);
    const qkv = concatRows(get(h.q), get(h.k), get(h.v));
    linear(n.qkv, qkv.shape, qkv.data);
    if (config.attentionBias) {
      const b = concatRows(get(h.qBias), get(h.kBias), get(h.vBias));
      dense(`${n.qkv}.bias`, b.shape, b.data);
    }
    linear(n.o, get(h.o).shape, get(h.o).data);
    const gu = concatRows(get(h.gate), get(h.up));
    linear(n.gateUp, gu.shape, gu.data);
    linear(n.down, get(h.down).shape, get(h.down).data);
    dense(n.inputNorm, get(h.inputNorm).shape, get(h.inputNorm).data);
    dense(n.postNorm, get(h.postNorm).shape, get(h.postNorm).data);
  }
  dense(names.finalNorm, get(hfNames.finalNorm).shape, get(hfNames.finalNorm).data);
  if (!config.tieWordEmbeddings) linear(names.lmHead, get(hfNames.lmHead).shape, get(hfNames.lmHead).data);
  return params;
}

/** Bytes of a value as mlc_llm counts ParamBytes: the dtype's size, before tvmjs stores float32 as bf16. */
const MLC_PARAM_BYTES: Record<MlcParam['dtype'], number> = { float32: 4, float16: 2, uint32: 4 };

/**
 * Packs parameters into params_shard_N.bin files and the tensor-cache.json that lists them, as
 * tvmjs's dump_tensor_cache does when mlc_llm convert_weight calls it (encode_format
 * "f32-to-bf16"): every record says "f32-to-bf16", float32 values are stored as bf16 (2 bytes),
 * float16 and uint32 raw, and `nbytes` is the stored size. Records fill a shard until the next
 * one would reach `maxShardBytes`; a record of half that or more gets a shard of its own at
 * once (the shard being filled stays open). Each shard entry carries the md5 of its bytes.
 * Metadata as convert_weight computes it: ParamSize = records, ParamBytes = values × dtype size
 * (float32 counted as 4 bytes, though stored as 2), BitsPerParam = ParamBytes × 8 / parameters
 * of the source checkpoint.
 */
export function writeTensorCache(params: MlcParam[], maxShardBytes: number): { cache: TensorCache; shards: FileMap } {
  const cache: TensorCache = { metadata: {}, records: [] };
  const shards: FileMap = {};
  const commit = (records: TensorCacheRecord[], parts: Uint8Array[]) => {
    const dataPath = `params_shard_${cache.records.length}.bin`;
    const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let off = 0;
    for (const p of parts) {
      bytes.set(p, off);
      off += p.byteLength;
    }
    shards[dataPath] = bytes;
    cache.records.push({ dataPath, format: 'raw-shard', nbytes: bytes.byteLength, records, md5sum: md5Hex(bytes) });
  };
  let open: { records: TensorCacheRecord[]; parts: Uint8Array[]; nbytes: number } = { records: [], parts: [], nbytes: 0 };
  const commitOpen = () => {
    if (open.nbytes > 0) commit(open.records, open.parts);
    open = { records: [], parts: [], nbytes: 0 };
  };
  let paramBytes = 0;
  let sourceParams = 0;
  for (const p of params) {
    // f32ArrayToBf16 rounds to nearest even, as tvmjs does for every finite weight a model has.
    const data = p.dtype === 'float32' ? typedBytes(f32ArrayToBf16(p.data)) : typedBytes(p.data);
    const record = { name: p.name, shape: p.shape, dtype: p.dtype, format: 'f32-to-bf16' as const, nbytes: data.byteLength };
    paramBytes += numel(p.shape) * MLC_PARAM_BYTES[p.dtype];
    // The HF checkpoint's parameter count: a q_weight word holds 8 of them, a q_scale none.
    sourceParams += p.name.endsWith('.q_weight') ? numel(p.shape) * 8 : p.name.endsWith('.q_scale') ? 0 : numel(p.shape);
    if (open.nbytes + data.byteLength >= maxShardBytes) {
      if (data.byteLength * 2 >= maxShardBytes) {
        commit([{ ...record, byteOffset: 0 }], [data]);
        continue;
      }
      commitOpen();
    }
    open.records.push({ ...record, byteOffset: open.nbytes });
    open.parts.push(data);
    open.nbytes += data.byteLength;
  }
  commitOpen();
  cache.metadata = { ParamSize: params.length, ParamBytes: paramBytes, BitsPerParam: (paramBytes * 8) / sourceParams };
  return { cache, shards };
}

/**
 * A tiny model as an MLC build folder (what web-llm fetches from huggingface.co/mlc-ai/…-MLC),
 * laid out as mlc_llm gen_config writes mlc-chat-config.json (model_config in the field order of
 * mlc_llm's LlamaConfig / QWen2Config) and tvmjs writes tensor-cache.json (indent 4).
 */
export function tinyMlcFiles(opts: TinyMlcOptions = {}): FileMap {
  const o = tinyDefaults(opts);
  const quant = opts.quantization ?? 'q4f16_1';
  const hf = tinyConfigJson(o);
  const prefillChunkSize = 128;
  const maxBatchSize = 128;
  const modelConfig: Record<string, unknown> =
    o.arch === 'qwen2'
      ? {
          hidden_act: hf.hidden_act,
          hidden_size: hf.hidden_size,
          intermediate_size: hf.intermediate_size,
          num_attention_heads: hf.num_attention_heads,
          num_hidden_layers: hf.num_hidden_layers,
          num_key_value_heads: hf.num_key_value_heads,
          rms_norm_eps: hf.rms_norm_eps,
          rope_theta: hf.rope_theta,
          vocab_size: hf.vocab_size,
          tie_word_embeddings: hf.tie_word_embeddings,
          context_window_size: hf.max_position_embeddings,
          prefill_chunk_size: prefillChunkSize,
          tensor_parallel_shards: 1,
          head_dim: hf.head_dim,
          dtype: 'float32', // QWen2Config's default, which gen_config writes whatever the quantization
          max_batch_size: maxBatchSize,
        }
      : {
          hidden_size: hf.hidden_size,
          intermediate_size: hf.intermediate_size,
          num_attention_heads: hf.num_attention_heads,
          num_hidden_layers: hf.num_hidden_layers,
          rms_norm_eps: hf.rms_norm_eps,
          vocab_size: hf.vocab_size,
          tie_word_embeddings: hf.tie_word_embeddings,
          position_embedding_base: hf.rope_theta,
          rope_scaling: hf.rope_scaling,
          context_window_size: hf.max_position_embeddings,
          prefill_chunk_size: prefillChunkSize,
          num_key_value_heads: hf.num_key_value_heads,
          head_dim: hf.head_dim,
          tensor_parallel_shards: 1,
          pipeline_parallel_stages: 1,
          max_batch_size: maxBatchSize,
        };
  const chatConfig = {
    version: '0.1.0',
    model_type: o.arch,
    quantization: quant,
    model_config: modelConfig,
    vocab_size: o.vocabSize,
    context_window_size: o.maxPositionEmbeddings,
    sliding_window_size: -1,
    prefill_chunk_size: prefillChunkSize,
    attention_sink_size: -1,
    tensor_parallel_shards: 1,
    pipeline_parallel_stages: 1,
    active_vocab_size: o.vocabSize,
    temperature: 0.7,
    presence_penalty: 0.0,
    frequency_penalty: 0.0,
    repetition_penalty: 1.0,
    top_p: 0.95,
    tokenizer_files: ['tokenizer.json', 'tokenizer_config.json'],
    tokenizer_info: { token_postproc_method: 'byte_level', prepend_space_in_encode: false, strip_space_in_decode: false },
    conv_template: {
      name: 'chatml',
      system_template: '<|im_start|>system\n{system_message}<|im_end|>\n',
      system_message: 'You are a helpful assistant.',
      system_prefix_token_ids: null,
      add_role_after_system_message: true,
      roles: { user: '<|im_start|>user', assistant: '<|im_start|>assistant' },
      role_templates: { user: '{user_message}', assistant: '{assistant_message}', tool: '{tool_message}' },
      messages: [],
      seps: ['<|im_end|>\n'],
      role_content_sep: '\n',
      role_empty_sep: '\n',
      stop_str: ['<|im_end|>'],
      stop_token_ids: [TINY_EOS_ID],
      function_string: '',
      use_function_calling: false,
    },
    pad_token_id: TINY_BOS_ID,
    bos_token_id: TINY_BOS_ID,
    eos_token_id: TINY_EOS_ID,
  };
  const { cache, shards } = writeTensorCache(tinyMlcParams({ ...o, quantization: quant }), opts.maxShardBytes ?? 64 * 1024);
  const cacheJson = new TextEncoder().encode(JSON.stringify(cache, null, 4));
  return {
    'mlc-chat-config.json': json(chatConfig),
    'tensor-cache.json': cacheJson,
    'ndarray-cache.json': cacheJson,
    ...shards,
    ...tokenizerFiles(o.vocabSize),
  };
}

export type TinyFormatOptions = ({ format: 'hf' } & TinyHfOptions) | ({ format: 'mlc' } & TinyMlcOptions);

export function tinyModelFiles(opts: TinyFormatOptions): FileMap {
  return opts.format === 'hf' ? tinyHfFiles(opts) : tinyMlcFiles(opts);
}
