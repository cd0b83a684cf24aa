/**
 * Before downloading: what a model consists of (files, tensors, bytes) read from its small
 * files alone (config, tensor-cache.json, or the safetensors headers by range requests), and
 * whether it fits this GPU adapter: buffer and storage-binding limits (which tensors must be
 * split across bindings, and into how many parts), and a rough GPU memory need.
 */
import { numel } from '../model/dtypes';
import type { FileSource } from './files';
import { readModelInfo, type ModelInfo } from './model';
import { readTensorCache, storedDtype } from './mlc';
import { checkHeaderFits, checkpointFiles, parseSafetensorsHeader, safetensorsHeaderLength } from './safetensors';

export interface PlannedFile {
  path: string;
  bytes: number | null;
}

/** One stored tensor as it will be uploaded (MLC: each record; HF: each safetensors tensor). */
export interface PlannedTensor {
  name: string;
  /** The tensor's dtype: safetensors (F32, F16, BF16) or MLC (float32, float16, uint32) names. */
  dtype: string;
  /** How its bytes are stored: the dtype, or "bfloat16" for an MLC float32 record tvmjs stored as bf16 (f32-to-bf16). */
  storedDtype: string;
  shape: number[];
  /** Bytes as stored in the files. */
  bytes: number;
}

export interface ModelPlan {
  info: ModelInfo;
  files: PlannedFile[];
  tensors: PlannedTensor[];
  /** Bytes of weights as stored in the files. */
  weightBytes: number;
  /** Bytes to download (null when a size is unknown). */
  downloadBytes: number | null;
}

const SMALL_FILES = ['config.json', 'generation_config.json', 'mlc-chat-config.json', 'tensor-cache.json', 'ndarray-cache.json', 'model.safetensors.index.json', 'tokenizer.json', 'tokenizer_config.json'];

/** Reads a model's plan from its small files (no weights are downloaded). */
export async function planModel(source: FileSource): Promise<ModelPlan> {
  const info = await readModelInfo(source);
  const files: PlannedFile[] = [];
  // Tokenizer files: what an MLC build lists (vocab.json, merges.txt, … included), else a v5 checkpoint's chat_template.jinja.
  const small = new Set([...SMALL_FILES, ...(info.tokenizerFiles ?? ['chat_template.jinja'])]);
  for (const f of small) if (await source.exists(f)) files.push({ path: f, bytes: await source.size(f) });
  const tensors: PlannedTensor[] = [];
  if (info.format === 'mlc') {
    // Only tensor-cache.json: the shards may not be there (a folder with the metadata alone).
    const { cache } = await readTensorCache(source);
    for (const shard of cache.records) {
      files.push({ path: shard.dataPath, bytes: shard.nbytes });
      for (const r of shard.records) tensors.push({ name: r.name, dtype: r.dtype, storedDtype: storedDtype(r), shape: r.shape, bytes: r.nbytes });
    }
  } else {
    for (const file of await checkpointFiles(source)) {
      const header = await readSafetensorsHeader(source, file);
      files.push({ path: file, bytes: header.fileBytes });
      tensors.push(...header.tensors);
    }
  }
  const weightBytes = tensors.reduce((a, t) => a + t.bytes, 0);
  const downloadBytes = files.every((f) => f.bytes !== null) ? files.reduce((a, f) => a + f.bytes!, 0) : null;
  return { info, files, tensors, weightBytes, downloadBytes };
}

/** A checkpoint file's tensors from its header alone (two range reads), validated like a whole file. */
async function readSafetensorsHeader(source: FileSource, file: string): Promise<{ tensors: PlannedTensor[]; fileBytes: number | null }> {
  const range = source.readRange ? (s: number, e: number) => source.readRange!(file, s, e) : async (s: number, e: number) => (await source.read(file)).subarray(s, e);
  const where = `${source.label}: ${file}`;
  const size = await source.size(file);
  const n = safetensorsHeaderLength(await range(0, 8), size, where);
  const headerBytes = await range(8, 8 + n);
  // Without a known size, a short read is how a header longer than the file shows.
  checkHeaderFits(n, headerBytes.byteLength, where);
  const header = parseSafetensorsHeader(headerBytes, where, size === null ? null : size - 8 - n);
  const tensors = header.tensors.map(({ name, dtype, shape, begin, end }) => ({ name, dtype, storedDtype: dtype, shape, bytes: end - begin }));
  return { tensors, fileBytes: size ?? 8 + n + header.dataBytes };
}

/** The WebGPU adapter limits and features that decide whether and how a model loads. */
export interface DeviceLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  /** shader-f16 (f16 math). Memory does not depend on it: the kernels unpack f16 words with unpack2x16float. */
  shaderF16: boolean;
}

export interface FitOptions {
  /** Tokens of KV cache per sequence to budget for (default 2048, capped at the model's context). */
  contextTokens?: number;
  /** Sequences decoded together (default 16). */
  batch?: number;
  /** Refuse when the estimate exceeds this (e.g. what the user says the GPU has). */
  memoryBudgetBytes?: number;
}

export interface SplitTensor {
  name: string;
  bytes: number;
  /** Buffers/bindings it is split into, at row boundaries. */
  parts: number;
}

export interface FitReport {
  verdict: 'fits' | 'fits-with-splitting' | 'too-large';
  /** One paragraph for the user. */
  message: string;
  /** Weights as held on this GPU: bf16 (and MLC float32 stored as bf16) widened to f32, f16 matrices as f16, q4 packed. */
  gpuWeightBytes: number;
  kvCacheBytes: number;
  /** Weights + KV cache + activations, rough. */
  gpuBytes: number;
  split: SplitTensor[];
  problems: string[];
}

/**
 * Bytes a value takes as the engine holds it: f32 as f32; bf16 widened to f32 (WebGPU has no bf16
 * type), which includes MLC float32 records stored as bf16 (f32-to-bf16); f16 matrices as f16 with
 * or without shader-f16 (the kernels read them with unpack2x16float), f16 vectors (norms, biases)
 * widened to f32 at upload; q4's uint32 codes as stored (4-bit weights stay packed).
 */
function gpuBytesPerValue(t: PlannedTensor): number {
  switch (t.dtype.toLowerCase()) {
    case 'f32':
    case 'float32':
    case 'bf16':
    case 'bfloat16':
    case 'u32':
    case 'uint32':
      return 4;
    case 'f16':
    case 'float16':
      return t.shape.length === 1 ? 4 : 2;
    default:
      return numel(t.shape) ? t.bytes / numel(t.shape) : 0;
  }
}

const MB = (n: number) => `${(n / 1024 / 1024).toFixed(n < 10 * 1024 * 1024 ? 1 : 0)} MB`;

export function checkModelFits(plan: ModelPlan, limits: DeviceLimits, opts: FitOptions = {}): FitReport {
  const c = plan.info.config;
  const binding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const problems: string[] = [];
  const split: SplitTensor[] = [];
  let gpuWeightBytes = 0;
  for (const t of plan.tensors) {
    const bytes = numel(t.shape) * gpuBytesPerValue(t);
    gpuWeightBytes += bytes;
    if (bytes <= binding) continue;
    const rows = t.shape[0] ?? 1;
    const rowBytes = bytes / rows;
    if (rowBytes > binding) {
      problems.push(`One row of ${t.name} (${MB(rowBytes)}) is larger than this GPU's largest storage binding (${MB(binding)}).`);
      continue;
    }
    const rowsPerPart = Math.floor(binding / rowBytes);
    split.push({ name: t.name, bytes, parts: Math.ceil(rows / rowsPerPart) });
  }
  const ctx = Math.min(opts.contextTokens ?? 2048, c.maxPositionEmbeddings);
  const batch = opts.batch ?? 16;
  const kvCacheBytes = c.numLayers * 2 * c.numKvHeads * c.headDim * ctx * batch * 4;
  // Per decoded token: residual, norms, q/k/v/o, SwiGLU and the logits, f32, with headroom ×2.
  const activationBytes = 2 * 4 * batch * (6 * c.hiddenSize + 3 * c.intermediateSize + 2 * c.vocabSize);
  const gpuBytes = gpuWeightBytes + kvCacheBytes + activationBytes;
  if (opts.memoryBudgetBytes !== undefined && gpuBytes > opts.memoryBudgetBytes) {
    problems.push(`It needs about ${MB(gpuBytes)} of GPU memory; the budget is ${MB(opts.memoryBudgetBytes)}. Try a smaller or 4-bit (q4f16_1) model.`);
  }
  const verdict = problems.length ? 'too-large' : split.length ? 'fits-with-splitting' : 'fits';
  const what = `${plan.info.format === 'mlc' ? `MLC ${plan.info.quantization}` : 'safetensors'} model`;
  let message = `This ${what} has ${MB(plan.weightBytes)} of weights${plan.downloadBytes !== null ? ` (${MB(plan.downloadBytes)} to download)` : ''} and needs about ${MB(gpuBytes)} of GPU memory for ${batch} sequences of ${ctx} tokens.`;
  if (split.length) message += ` ${split.map((s) => `${s.name} (${MB(s.bytes)})`).join(', ')} ${split.length === 1 ? 'is' : 'are'} larger than the ${MB(binding)} storage binding limit and will be split into ${split.map((s) => s.parts).join(', ')} parts.`;
  if (problems.length) message += ` It will not load: ${problems.join(' ')}`;
  return { verdict, message, gpuWeightBytes, kvCacheBytes, gpuBytes, split, problems };
}

/** One progress bar over a whole model: per-file progress (a loader's onProgress) summed over the plan's files. */
export function totalProgress(plan: Pick<ModelPlan, 'downloadBytes'>, onTotal: (loaded: number, total: number | null) => void): (path: string, loaded: number) => void {
  const perFile = new Map<string, number>();
  let sum = 0;
  return (path, loaded) => {
    sum += loaded - (perFile.get(path) ?? 0);
    perFile.set(path, loaded);
    onTotal(sum, plan.downloadBytes);
  };
}
