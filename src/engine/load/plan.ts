/**
 * Before downloading: what a model consists of (files, tensors, bytes) read from its small
 * files alone (config, tensor-cache.json, or the safetensors headers by range requests), and
 * whether it fits this GPU adapter: buffer and storage-binding limits (which tensors must be
 * split across bindings, and into how many parts), and a rough GPU memory need.
 */
import { LabError } from '../../errors';
import type { FileSource } from './files';
import { readModelInfo, type ModelInfo } from './model';
import { readTensorCache } from './mlc';
import { checkpointFiles } from './safetensors';

export interface PlannedFile {
  path: string;
  bytes: number | null;
}

/** One stored tensor as it will be uploaded (MLC: each record; HF: each safetensors tensor). */
export interface PlannedTensor {
  name: string;
  /** Stored dtype: safetensors (F32, F16, BF16) or MLC (float32, float16, uint32) names. */
  dtype: string;
  shape: number[];
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
  for (const f of SMALL_FILES) if (await source.exists(f)) files.push({ path: f, bytes: await source.size(f) });
  const tensors: PlannedTensor[] = [];
  if (info.format === 'mlc') {
    const { cache } = await readTensorCache(source);
    for (const shard of cache.records) {
      files.push({ path: shard.dataPath, bytes: shard.nbytes });
      for (const r of shard.records) tensors.push({ name: r.name, dtype: r.dtype, shape: r.shape, bytes: r.format === 'f32-to-bf16' ? r.nbytes * 2 : r.nbytes });
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

async function readSafetensorsHeader(source: FileSource, file: string): Promise<{ tensors: PlannedTensor[]; fileBytes: number | null }> {
  const range = source.readRange ? (s: number, e: number) => source.readRange!(file, s, e) : async (s: number, e: number) => (await source.read(file)).subarray(s, e);
  const head = await range(0, 8);
  if (head.byteLength < 8) throw new LabError('invalid-input', `${source.label}: ${file} is too short to be a safetensors file.`);
  const n = Number(new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true));
  if (n > 100 * 1024 * 1024) throw new LabError('invalid-input', `${source.label}: ${file} is not a safetensors file (header length ${n}).`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(await range(8, 8 + n)));
  } catch {
    throw new LabError('invalid-input', `${source.label}: the header of ${file} is not JSON; download the file again.`);
  }
  const tensors: PlannedTensor[] = [];
  let end = 0;
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    tensors.push({ name, dtype: t.dtype, shape: t.shape, bytes: t.data_offsets[1] - t.data_offsets[0] });
    end = Math.max(end, t.data_offsets[1]);
  }
  return { tensors, fileBytes: (await source.size(file)) ?? 8 + n + end };
}

/** The WebGPU adapter limits and features that decide whether and how a model loads. */
export interface DeviceLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  /** shader-f16: f16 weights stay f16 on the GPU; without it they are widened to f32. */
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
  /** Weights as held on this GPU (f16 widened to f32 without shader-f16). */
  gpuWeightBytes: number;
  kvCacheBytes: number;
  /** Weights + KV cache + activations, rough. */
  gpuBytes: number;
  split: SplitTensor[];
  problems: string[];
}

const MB = (n: number) => `${(n / 1024 / 1024).toFixed(n < 10 * 1024 * 1024 ? 1 : 0)} MB`;

export function checkModelFits(plan: ModelPlan, limits: DeviceLimits, opts: FitOptions = {}): FitReport {
  const c = plan.info.config;
  const binding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const problems: string[] = [];
  const split: SplitTensor[] = [];
  let gpuWeightBytes = 0;
  for (const t of plan.tensors) {
    const dt = t.dtype.toLowerCase();
    const half = dt === 'f16' || dt === 'float16' || dt === 'bf16' || dt === 'bfloat16';
    const bytes = half && !limits.shaderF16 ? t.bytes * 2 : t.bytes;
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
  if (!limits.shaderF16 && plan.tensors.some((t) => /^(f16|float16|bf16|bfloat16)$/i.test(t.dtype))) message += ' This GPU has no shader-f16, so 16-bit weights are widened to f32.';
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
