/**
 * MLC weight shards, as mlc-llm's `convert_weight` writes them and web-llm downloads them
 * (https://huggingface.co/mlc-ai/<model>-MLC):
 *
 *   mlc-chat-config.json   { model_type, quantization, model_config: {...}, eos_token_id, tokenizer_files, ... }
 *   tensor-cache.json      (older builds: ndarray-cache.json)
 *     { metadata: { ParamSize, ParamBytes, BitsPerParam },
 *       records: [ { dataPath: "params_shard_0.bin", format: "raw-shard", nbytes, md5sum,
 *         records: [ { name, shape, dtype, format: "f32-to-bf16" | "raw", nbytes, byteOffset } ] } ] }
 *   params_shard_N.bin     the records' bytes, back to back
 *
 * The record format (tvm python/tvm/contrib/tvmjs.py, dump_tensor_cache, which convert_weight
 * calls with encode_format="f32-to-bf16"): tvmjs writes the dump's encode format on EVERY record,
 * whatever its dtype, but converts only float32 records (stored as bf16, 2 bytes a value, widened
 * back to f32 on load); uint32, float16 and bfloat16 records are stored raw. `nbytes` is always
 * the stored size. So a q4f16_1 build says "f32-to-bf16" on its uint32 and float16 records,
 * which are raw, and a q0f32 / q4f32_1 build stores its float32 tensors as bf16.
 *
 * Parameter names (mlc_llm/model/{llama,qwen2}/*_model.py): q/k/v are fused along the output
 * dimension in that order (`self_attn.qkv_proj` for Llama, `self_attn.c_attn` with a bias for
 * Qwen2), gate/up likewise (`mlp.gate_up_proj`), the rest keep HF names.
 *
 * Quantization (mlc_llm/quantization/group_quantization.py): q4f16_1 / q4f32_1 are int4 group
 * quantization, group size 32, layout "NK" (the HF [out, in] layout, grouped along `in`), with
 * the embedding and lm_head quantized too (quantize_embedding / quantize_final_fc). A linear's
 * `W` becomes `W.q_weight` u32 [out, in/8] (code j of a word in bits 4j..4j+3) and `W.q_scale`
 * [out, in/32] in the model dtype; w = (code - 7) * scale. That is exactly weights.ts's q4
 * Tensor, so 4-bit weights are used as stored. q0f16 / q0f32 store every tensor unquantized.
 *
 * The fused tensors are split into the per-linear Tensors of weights.ts as zero-copy row views
 * of the fused storage (rows [0, NH·D) = q, then k, then v; [0, I) = gate, [I, 2I) = up).
 */
import { LabError } from '../../errors';
import { parseHfConfig, type ModelConfig } from '../model/config';
import { bf16ArrayToF32, bytesAsF32, bytesAsU16, bytesAsU32, numel } from '../model/dtypes';
import type { LayerWeights, ModelWeights, Tensor } from '../model/weights';
import { readJson, type FileSource, type ReadProgress } from './files';
import { checkShape, expectedShapes } from './hf';

export type MlcQuantization = 'q0f32' | 'q0f16' | 'q4f32_1' | 'q4f16_1';
export const MLC_QUANTIZATIONS: readonly MlcQuantization[] = ['q0f32', 'q0f16', 'q4f32_1', 'q4f16_1'];
export const MLC_GROUP_SIZE = 32;
export const MLC_CHAT_CONFIG = 'mlc-chat-config.json';
/** web-llm ≥ 0.2.80 reads tensor-cache.json; older MLC builds ship ndarray-cache.json. */
export const MLC_TENSOR_CACHE_FILES = ['tensor-cache.json', 'ndarray-cache.json'] as const;

export interface MlcChatConfig {
  config: ModelConfig;
  quantization: MlcQuantization;
  tokenizerFiles: string[];
}

/** mlc-chat-config.json → ModelConfig (through parseHfConfig, so both formats validate alike). */
export function parseMlcChatConfig(json: unknown, where = MLC_CHAT_CONFIG): MlcChatConfig {
  if (typeof json !== 'object' || json === null) throw new LabError('invalid-input', `${where} is not a JSON object.`);
  const top = json as Record<string, unknown>;
  const mc = (top.model_config ?? {}) as Record<string, unknown>;
  if (top.model_type === undefined && (top.model_lib !== undefined || top.local_id !== undefined)) throw legacyBuild(top, where);
  const modelType = String(top.model_type ?? mc.model_type ?? '');
  if (modelType !== 'llama' && modelType !== 'qwen2') {
    throw new LabError(
      'unsupported',
      `Unsupported MLC model_type "${modelType || '(none)'}". SPaR Lab supports MLC builds of Llama-family models: ` +
        'model_type "llama" (Llama 2/3.x, TinyLlama, SmolLM2) and "qwen2" (Qwen2, Qwen2.5).',
    );
  }
  const quantization = String(top.quantization ?? '');
  if (!(MLC_QUANTIZATIONS as readonly string[]).includes(quantization)) {
    throw new LabError(
      'unsupported',
      `Unsupported MLC quantization "${quantization || '(none)'}"; SPaR Lab reads ${MLC_QUANTIZATIONS.join(', ')}. ` +
        'Pick the -q4f16_1-MLC, -q4f32_1-MLC, -q0f16-MLC or -q0f32-MLC build of the model.',
    );
  }
  const hfLike: Record<string, unknown> = {
    ...mc,
    model_type: modelType,
    vocab_size: mc.vocab_size ?? top.vocab_size,
    rope_theta: mc.position_embedding_base ?? mc.rope_theta,
    max_position_embeddings: mc.context_window_size ?? top.context_window_size ?? mc.max_position_embeddings,
    hidden_act: mc.hidden_act ?? 'silu',
    bos_token_id: top.bos_token_id ?? mc.bos_token_id,
    eos_token_id: top.eos_token_id ?? mc.eos_token_id,
  };
  delete hfLike.architectures;
  const config = parseHfConfig(hfLike);
  const tokenizerFiles = Array.isArray(top.tokenizer_files) ? (top.tokenizer_files as string[]) : [];
  return { config, quantization: quantization as MlcQuantization, tokenizerFiles };
}

/**
 * 2023 builds (mlc-llm's old build.py) have no model_type or model_config: their chat config
 * names a prebuilt library (model_lib, local_id), and their weights are param_0, param_1, … in
 * the compiled library's order, so nothing says which tensor is which.
 */
function legacyBuild(top: Record<string, unknown>, where: string): LabError {
  const lib = typeof top.model_lib === 'string' ? ` ("model_lib": "${top.model_lib}")` : '';
  return new LabError(
    'unsupported',
    `${where}: this is a 2023-era MLC build${lib}: it has no "model_type" or "model_config", and its weights are named ` +
      'param_0, param_1, … in the order of its compiled library, which only the web-llm of its time can run. ' +
      'SPaR Lab loads builds made by mlc_llm convert_weight and gen_config (mlc-chat-config.json with "model_type" and "quantization"): ' +
      `model_type "llama" or "qwen2", quantization ${MLC_QUANTIZATIONS.join(', ')} — for example mlc-ai/<model>-q4f16_1-MLC on Hugging Face.`,
  );
}

export interface TensorCacheRecord {
  name: string;
  shape: number[];
  /** The tensor's dtype; see storedBytesPerValue for how its bytes are stored. */
  dtype: string;
  format: 'raw' | 'f32-to-bf16';
  /** Bytes as stored in the shard. */
  nbytes: number;
  byteOffset: number;
}

export interface TensorCacheShard {
  /** Normally "params_shard_N.bin"; kept verbatim (web-llm keys its cache by base URL + dataPath). */
  dataPath: string;
  format: 'raw-shard';
  nbytes: number;
  records: TensorCacheRecord[];
  /** MD5 of the shard file (tvmjs writes it; absent in 2023 builds). */
  md5sum?: string;
}

export interface TensorCache {
  metadata: Record<string, unknown>;
  records: TensorCacheShard[];
}

/** Bytes a value of every dtype tvmjs writes, so an unknown dtype is told apart from an unsupported one. */
const MLC_DTYPE_BYTES: Record<string, number> = {
  float64: 8, float32: 4, float16: 2, bfloat16: 2, float8_e4m3fn: 1, float8_e5m2: 1,
  int64: 8, int32: 4, int16: 2, int8: 1, uint64: 8, uint32: 4, uint16: 2, uint8: 1, bool: 1,
};
const RECORD_FORMATS = ['f32-to-bf16', 'raw'];

/** The dtype of a record's bytes in its shard: f32-to-bf16 converts float32 (to bfloat16) and nothing else. */
export function storedDtype(r: Pick<TensorCacheRecord, 'dtype' | 'format'>): string {
  return r.format === 'f32-to-bf16' && r.dtype === 'float32' ? 'bfloat16' : r.dtype;
}

/** Bytes one value of a record takes in its shard. */
export function storedBytesPerValue(r: Pick<TensorCacheRecord, 'dtype' | 'format'>): number {
  return MLC_DTYPE_BYTES[storedDtype(r)];
}

/** Validates a tensor-cache.json / ndarray-cache.json object (any tvmjs cache: an LLM's or not). */
export function parseTensorCache(json: unknown, where: string): TensorCache {
  const bad = (what: string) => new LabError('invalid-input', `${where}: ${what}. Download the model again.`);
  const j = json as Partial<TensorCache> | null;
  if (!j || !Array.isArray(j.records)) throw bad('no "records" list');
  const names = new Set<string>();
  for (const shard of j.records) {
    if (typeof shard?.dataPath !== 'string' || !Array.isArray(shard.records) || !Number.isInteger(shard.nbytes)) {
      throw bad(`a shard entry is malformed (${JSON.stringify(shard)?.slice(0, 120)})`);
    }
    if (/^[/\\]|(^|[/\\])\.\.([/\\]|$)|^[a-z][a-z0-9+.-]*:/i.test(shard.dataPath)) {
      throw bad(`shard "${shard.dataPath}" is not a file next to the tensor cache (an absolute path, a URL or a ".." path)`);
    }
    for (const r of shard.records) {
      if (typeof r?.name !== 'string' || !Array.isArray(r.shape) || !r.shape.every((d) => Number.isInteger(d) && d >= 0) || !Number.isInteger(r.byteOffset) || r.byteOffset < 0 || !Number.isInteger(r.nbytes)) {
        throw bad(`a record of ${shard.dataPath} is malformed (${JSON.stringify(r)?.slice(0, 120)})`);
      }
      if (names.has(r.name)) throw bad(`tensor "${r.name}" is listed twice`);
      names.add(r.name);
      if (!(r.dtype in MLC_DTYPE_BYTES)) throw bad(`tensor "${r.name}" has unknown dtype "${r.dtype}"`);
      if (!RECORD_FORMATS.includes(r.format)) throw bad(`tensor "${r.name}" has unknown format "${r.format}" (tvmjs writes "f32-to-bf16" or "raw")`);
      const stored = numel(r.shape) * storedBytesPerValue(r);
      if (stored !== r.nbytes) {
        const how = storedDtype(r) !== r.dtype ? `, stored as ${storedDtype(r)}` : '';
        throw bad(`tensor "${r.name}" (${r.dtype} [${r.shape}]${how}) should take ${stored} bytes, the record says ${r.nbytes}`);
      }
      if (r.byteOffset + r.nbytes > shard.nbytes) throw bad(`tensor "${r.name}" runs past the end of ${shard.dataPath}`);
    }
    const byOffset = [...shard.records].sort((a, b) => a.byteOffset - b.byteOffset);
    for (let i = 1; i < byOffset.length; i++) {
      const [p, r] = [byOffset[i - 1], byOffset[i]];
      if (r.nbytes > 0 && r.byteOffset < p.byteOffset + p.nbytes) throw bad(`tensors "${p.name}" and "${r.name}" overlap in ${shard.dataPath}`);
    }
  }
  return { metadata: (j.metadata ?? {}) as Record<string, unknown>, records: j.records };
}

/** The tensor-cache file a source has: tensor-cache.json first, then ndarray-cache.json. */
export async function findTensorCacheFile(source: FileSource): Promise<string> {
  for (const f of MLC_TENSOR_CACHE_FILES) if (await source.exists(f)) return f;
  throw new LabError('not-found', `${source.label}: neither tensor-cache.json nor ndarray-cache.json is there; an MLC model folder needs one of them next to its params_shard_*.bin files.`);
}

export async function readMlcChatConfig(source: FileSource): Promise<MlcChatConfig> {
  if (!(await source.exists(MLC_CHAT_CONFIG))) {
    throw new LabError('not-found', `${source.label}: ${MLC_CHAT_CONFIG} is missing; an MLC model folder needs it.`);
  }
  return parseMlcChatConfig(await readJson(source, MLC_CHAT_CONFIG), `${source.label}: ${MLC_CHAT_CONFIG}`);
}

export async function readTensorCache(source: FileSource): Promise<{ file: string; cache: TensorCache }> {
  const file = await findTensorCacheFile(source);
  return { file, cache: parseTensorCache(await readJson(source, file), `${source.label}: ${file}`) };
}

/** One MLC parameter as read: typed data (float32 and bfloat16 widened to f32, float16 as its bits). */
export interface RawParam {
  dtype: string;
  shape: number[];
  data: Float32Array | Uint16Array | Uint32Array;
}

/** MLC parameter names of a model (before the .q_weight/.q_scale split). */
export function mlcNames(arch: 'llama' | 'qwen2') {
  return {
    embed: 'model.embed_tokens',
    finalNorm: 'model.norm.weight',
    lmHead: 'lm_head',
    layer(i: number) {
      const p = `model.layers.${i}`;
      return {
        inputNorm: `${p}.input_layernorm.weight`,
        qkv: arch === 'qwen2' ? `${p}.self_attn.c_attn` : `${p}.self_attn.qkv_proj`,
        o: `${p}.self_attn.o_proj`,
        postNorm: `${p}.post_attention_layernorm.weight`,
        gateUp: `${p}.mlp.gate_up_proj`,
        down: `${p}.mlp.down_proj`,
      };
    },
  };
}

export interface MlcLoadOptions {
  onProgress?: ReadProgress;
}

export async function loadMlcWeights(source: FileSource, opts: MlcLoadOptions = {}): Promise<ModelWeights> {
  const { config, quantization } = await readMlcChatConfig(source);
  const { file, cache } = await readTensorCache(source);
  const params = new Map<string, RawParam>();
  for (const shard of cache.records) {
    if (/[?#]/.test(shard.dataPath)) throw postProcessedShard(shard.dataPath, `${source.label}: ${file}`);
    const bytes = await source.read(shard.dataPath, opts.onProgress);
    if (bytes.byteLength !== shard.nbytes) {
      throw new LabError(
        'invalid-input',
        `${source.label}: ${shard.dataPath} has ${bytes.byteLength} bytes but ${file} says ${shard.nbytes} (truncated or from another build). Download the model again.`,
      );
    }
    for (const r of shard.records) params.set(r.name, decodeRecord(r, bytes));
  }
  return assembleMlcWeights(config, quantization, params, source.label);
}

/**
 * mlc_llm writes plain file names; a "?partitions=N" suffix comes from a repository's own
 * script that split each shard into pieces (params_shard_0.bin_00, _01, …) to get under a file
 * size limit. web-llm cannot load such a repository either.
 */
function postProcessedShard(dataPath: string, where: string): LabError {
  const file = dataPath.replace(/[?#].*$/, '');
  return new LabError(
    'unsupported',
    `${where}: shard "${dataPath}" is not a file name as mlc_llm writes it: the "${dataPath.slice(file.length)}" suffix was added by the ` +
      `repository's own script, which split the shard into pieces. SPaR Lab reads whole shards: join the pieces (cat ${file}_* > ${file}) ` +
      `and write "${file}" as the dataPath, or use a build that ships whole params_shard_N.bin files (e.g. mlc-ai/<model>-q4f16_1-MLC).`,
  );
}

/**
 * One record's values from the bytes of its shard, or of a piece of it that starts at shard byte
 * `shardStart`: float32 stored as bf16 (f32-to-bf16) is widened to f32; bfloat16 too (no GPU
 * storage type); float16 stays 16-bit; uint32 (q4 codes) as is.
 */
export function decodeRecord(r: TensorCacheRecord, shard: Uint8Array, shardStart = 0): RawParam {
  const begin = r.byteOffset - shardStart;
  if (begin < 0 || begin + r.nbytes > shard.byteLength) {
    throw new LabError('invalid-input', `MLC tensor "${r.name}" is at shard bytes [${r.byteOffset}, ${r.byteOffset + r.nbytes}); the bytes given cover [${shardStart}, ${shardStart + shard.byteLength}).`);
  }
  const bytes = shard.subarray(begin, begin + r.nbytes);
  if (storedDtype(r) === 'bfloat16') return { dtype: 'float32', shape: r.shape, data: bf16ArrayToF32(bytesAsU16(bytes)) };
  switch (r.dtype) {
    case 'float32':
      return { dtype: r.dtype, shape: r.shape, data: bytesAsF32(bytes) };
    case 'float16':
      return { dtype: r.dtype, shape: r.shape, data: bytesAsU16(bytes) };
    case 'uint32':
      return { dtype: r.dtype, shape: r.shape, data: bytesAsU32(bytes) };
    default:
      throw new LabError('unsupported', `MLC tensor "${r.name}" is ${r.dtype}; SPaR Lab reads float32, float16, bfloat16 and uint32 (q4) tensors.`);
  }
}

function assembleMlcWeights(config: ModelConfig, quant: MlcQuantization, params: Map<string, RawParam>, where: string): ModelWeights {
  const quantized = quant.startsWith('q4');
  const scaleDtype = quant.endsWith('f16_1') || quant === 'q0f16' ? 'f16' : 'f32';
  const names = mlcNames(config.arch);
  const shapes = expectedShapes(config);
  const get = (name: string): RawParam => {
    const p = params.get(name);
    if (!p) throw new LabError('invalid-input', `${where}: tensor "${name}" is missing from the MLC shards (${quant} ${config.arch}). The shards may belong to another model or quantization.`);
    return p;
  };
  const dense = (name: string, shape: number[]): Tensor => {
    const p = get(name);
    const t: Tensor = p.data instanceof Float32Array ? { dtype: 'f32', shape: p.shape, data: p.data } : p.data instanceof Uint16Array ? { dtype: 'f16', shape: p.shape, data: p.data } : badDtype(name, p);
    checkShape(t, name, shape, where);
    return t;
  };
  /** A linear (or embedding) weight: `<base>.weight`, or `<base>.q_weight` + `<base>.q_scale` under q4. */
  const linear = (base: string, shape: number[]): Tensor => {
    if (!quantized) return dense(`${base}.weight`, shape);
    const [rows, cols] = shape;
    const w = get(`${base}.q_weight`);
    const s = get(`${base}.q_scale`);
    const groups = cols / MLC_GROUP_SIZE;
    if (!(w.data instanceof Uint32Array) || w.shape[0] !== rows || w.shape[1] !== cols / 8) {
      throw new LabError('invalid-input', `${where}: "${base}.q_weight" is ${w.dtype} [${w.shape}], expected uint32 [${rows},${cols / 8}] for a [${rows},${cols}] weight in ${quant}.`);
    }
    if (s.shape[0] !== rows || s.shape[1] !== groups || (scaleDtype === 'f16' ? !(s.data instanceof Uint16Array) : !(s.data instanceof Float32Array))) {
      throw new LabError('invalid-input', `${where}: "${base}.q_scale" is ${s.dtype} [${s.shape}], expected ${scaleDtype} [${rows},${groups}] in ${quant}.`);
    }
    return { dtype: 'q4', shape: [rows, cols], packed: w.data, scales: s.data as Float32Array | Uint16Array, scaleDtype, groupSize: MLC_GROUP_SIZE };
  };
  const C = config.hiddenSize;
  const qRows = config.numHeads * config.headDim;
  const kvRows = config.numKvHeads * config.headDim;
  const I = config.intermediateSize;
  if (quantized) {
    for (const [what, n] of [['hidden_size', C], ['intermediate_size', I], ['num_attention_heads × head_dim', qRows]] as const) {
      if (n % MLC_GROUP_SIZE !== 0) throw new LabError('unsupported', `${where}: ${what} ${n} is not a multiple of the q4 group size ${MLC_GROUP_SIZE}; this build is not supported.`);
    }
  }
  const layers: LayerWeights[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const n = names.layer(i);
    const qkv = linear(n.qkv, [qRows + 2 * kvRows, C]);
    const gateUp = linear(n.gateUp, [2 * I, C]);
    let qBias: Tensor | null = null;
    let kBias: Tensor | null = null;
    let vBias: Tensor | null = null;
    if (config.attentionBias) {
      if (config.arch !== 'qwen2') throw new LabError('unsupported', `${where}: MLC Llama builds have no attention bias; config.json asks for one.`);
      const b = dense(`${n.qkv}.bias`, [qRows + 2 * kvRows]);
      qBias = sliceRows(b, 0, qRows);
      kBias = sliceRows(b, qRows, qRows + kvRows);
      vBias = sliceRows(b, qRows + kvRows, qRows + 2 * kvRows);
    }
    layers.push({
      inputNorm: dense(n.inputNorm, shapes.layer.inputNorm),
      q: sliceRows(qkv, 0, qRows),
      k: sliceRows(qkv, qRows, qRows + kvRows),
      v: sliceRows(qkv, qRows + kvRows, qRows + 2 * kvRows),
      qBias,
      kBias,
      vBias,
      o: linear(n.o, shapes.layer.o),
      postNorm: dense(n.postNorm, shapes.layer.postNorm),
      gate: sliceRows(gateUp, 0, I),
      up: sliceRows(gateUp, I, 2 * I),
      down: linear(n.down, shapes.layer.down),
    });
  }
  return {
    config,
    embed: linear(names.embed, shapes.embed),
    layers,
    finalNorm: dense(names.finalNorm, shapes.finalNorm),
    lmHead: config.tieWordEmbeddings ? null : linear(names.lmHead, shapes.lmHead),
  };
}

function badDtype(name: string, p: RawParam): never {
  throw new LabError('invalid-input', `MLC tensor "${name}" is ${p.dtype}; a float tensor was expected there.`);
}

/** Rows [r0, r1) of a [rows, ...] or [n] tensor, as a view sharing the tensor's storage. */
export function sliceRows(t: Tensor, r0: number, r1: number): Tensor {
  const rowLen = t.shape.length > 1 ? numel(t.shape.slice(1)) : 1;
  const shape = [r1 - r0, ...t.shape.slice(1)];
  switch (t.dtype) {
    case 'f32':
      return { dtype: 'f32', shape, data: t.data.subarray(r0 * rowLen, r1 * rowLen) };
    case 'f16':
      return { dtype: 'f16', shape, data: t.data.subarray(r0 * rowLen, r1 * rowLen) };
    case 'q4': {
      const words = rowLen / 8;
      const groups = rowLen / t.groupSize;
      return { ...t, shape, packed: t.packed.subarray(r0 * words, r1 * words), scales: t.scales.subarray(r0 * groups, r1 * groups) };
    }
    default:
      return t satisfies never;
  }
}
