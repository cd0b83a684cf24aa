/**
 * What a model folder is, from its small files alone: format, architecture, quantization, the
 * config the engine would run, parameter count, stored weight bytes, the GPU memory the lab would
 * need (planModel + checkModelFits under stated assumptions), which files are missing or are not
 * what they claim (Git LFS pointers, truncated shards), and whether its tokenizer loads.
 *
 * Works on a folder that has only the metadata (config, tensor cache, tokenizer files) and no
 * weights: an MLC build's tensor-cache.json describes every tensor; a Hugging Face checkpoint
 * without its safetensors files is estimated from config.json (and its index's total_size).
 */
import { LabError, type ErrorKind } from '../../errors';
import { hfConfigDtype, type HfDtype, type ModelConfig } from '../model/config';
import { numel } from '../model/dtypes';
import { readJson, type FileSource } from './files';
import { expectedShapes, hfNames } from './hf';
import { findTensorCacheFile, readMlcChatConfig, readTensorCache } from './mlc';
import { readModelInfo, type ModelFormat, type ModelInfo } from './model';
import { checkModelFits, planModel, type DeviceLimits, type FitReport, type ModelPlan, type PlannedTensor } from './plan';
import { checkpointFiles, SAFETENSORS_INDEX, SAFETENSORS_SINGLE } from './safetensors';
import { ChatTokenizer } from './tokenizer';

/**
 * The limits every WebGPU adapter guarantees (the spec's defaults) and shader-f16: the fit a
 * model has on any GPU with f16 support. Real adapters usually allow larger bindings, so a
 * "fits-with-splitting" here may need no splitting there.
 */
export const INSPECT_LIMITS: Readonly<DeviceLimits> = { maxBufferSize: 256 * 2 ** 20, maxStorageBufferBindingSize: 128 * 2 ** 20, shaderF16: true };
export const INSPECT_CONTEXT_TOKENS = 2048;
export const INSPECT_BATCH = 16;

export interface InspectOptions {
  limits?: DeviceLimits;
  /** KV cache tokens per sequence (capped at the model's context). */
  contextTokens?: number;
  /** Sequences decoded together. */
  batch?: number;
}

export interface UnusableFile {
  path: string;
  reason: string;
}

export interface ModelInspection {
  format: ModelFormat;
  architecture: ModelConfig['arch'];
  /** MLC builds: q4f16_1, q0f16, …; null for a Hugging Face checkpoint (unquantized). */
  quantization: string | null;
  /** The config as the engine runs it (context = maxPositionEmbeddings). */
  config: ModelConfig;
  /** Every weight the engine holds, counted from the config (a tied lm_head once). */
  parameters: number;
  weights: {
    /** Bytes of the weights as stored in the files. */
    storedBytes: number;
    /** True when the weight files are absent and the bytes follow from config.json's dtype. */
    estimated: boolean;
    /** Where the number comes from. */
    from: string;
    tensors: number;
    /** Dtypes as stored in the files (MLC: float16, uint32, bfloat16 for f32-to-bf16 float32, …; safetensors: F32, BF16, …). */
    dtypes: string[];
  };
  gpu: {
    verdict: FitReport['verdict'];
    /** Weights as held on the GPU + KV cache + activations. */
    bytes: number;
    weightBytes: number;
    kvCacheBytes: number;
    split: FitReport['split'];
    message: string;
    assumptions: DeviceLimits & { contextTokens: number; batch: number };
  };
  files: {
    /** Files the folder should hold (weights, declared tokenizer files) that are not there. */
    missing: string[];
    /** Files that are there but are not the data they should be. */
    unusable: UnusableFile[];
  };
  tokenizer: { loads: true; chatTemplate: boolean; eosTokenIds: number[] } | { loads: false; error: { kind: ErrorKind; message: string } };
}

/** The safetensors dtype and bytes per value of each dtype config.json may name. */
const HF_DTYPES: Record<HfDtype, [safetensors: string, bytes: number]> = { float32: ['F32', 4], float16: ['F16', 2], bfloat16: ['BF16', 2] };

/** Every weight tensor of a config, HF names and [out, in] shapes, as the engine holds them. */
function configTensors(c: ModelConfig, dtype: string, bytesPerValue: number): PlannedTensor[] {
  const s = expectedShapes(c);
  const out: [string, number[]][] = [[hfNames.embed, s.embed], [hfNames.finalNorm, s.finalNorm]];
  if (!c.tieWordEmbeddings) out.push([hfNames.lmHead, s.lmHead]);
  const biases = new Set(['qBias', 'kBias', 'vBias']);
  for (let i = 0; i < c.numLayers; i++) {
    const names = hfNames.layer(i);
    for (const [key, shape] of Object.entries(s.layer)) {
      if (!biases.has(key) || c.attentionBias) out.push([names[key as keyof typeof names], shape]);
    }
  }
  return out.map(([name, shape]) => ({ name, dtype, storedDtype: dtype, shape, bytes: numel(shape) * bytesPerValue }));
}

export function parameterCount(c: ModelConfig): number {
  return configTensors(c, 'F32', 4).reduce((a, t) => a + numel(t.shape), 0);
}

const LFS_POINTER = 'version https://git-lfs.github.com/spec/';

/** Why a weight file that is there cannot be used, or null when it looks right. */
async function fileProblem(source: FileSource, path: string, expectedBytes: number | null): Promise<string | null> {
  const size = await source.size(path);
  if (size !== null && size < 1024) {
    const head = source.readRange ? await source.readRange(path, 0, LFS_POINTER.length) : (await source.read(path)).subarray(0, LFS_POINTER.length);
    if (new TextDecoder().decode(head) === LFS_POINTER) return `a Git LFS pointer (${size} bytes), not the data: fetch it with \`git lfs pull\` or download the file itself`;
  }
  if (size !== null && expectedBytes !== null && size !== expectedBytes) return `${size} bytes, but the model's tensor cache says ${expectedBytes} (truncated, or from another build)`;
  return null;
}

interface WeightFiles {
  missing: string[];
  unusable: UnusableFile[];
}

async function checkFiles(source: FileSource, files: { path: string; bytes: number | null }[]): Promise<WeightFiles> {
  const missing: string[] = [];
  const unusable: UnusableFile[] = [];
  for (const f of files) {
    if (!(await source.exists(f.path))) missing.push(f.path);
    else {
      const reason = await fileProblem(source, f.path, f.bytes);
      if (reason) unusable.push({ path: f.path, reason });
    }
  }
  return { missing, unusable };
}

/** readModelInfo, with a tvmjs cache that has no chat config named for what it is. */
async function readInfo(source: FileSource): Promise<ModelInfo> {
  try {
    return await readModelInfo(source);
  } catch (e) {
    if (!(e instanceof LabError && e.kind === 'not-found')) throw e;
    const cache = await findTensorCacheFile(source).catch(() => null);
    if (!cache) throw e;
    throw new LabError(
      'unsupported',
      `${source.label}: ${cache} is here but no mlc-chat-config.json, so this is a tvmjs weight cache, not an MLC LLM build (another kind of model?). ` +
        'SPaR Lab loads MLC LLM builds (mlc-chat-config.json with model_type llama or qwen2) and Hugging Face checkpoints (config.json with safetensors).',
    );
  }
}

interface Weights {
  plan: ModelPlan;
  files: WeightFiles;
  estimated: boolean;
  /** The plan's stored bytes, or a sharded checkpoint's index total when its shards are absent. */
  storedBytes: number;
  from: string;
}

async function mlcWeights(source: FileSource): Promise<Weights> {
  const plan = await planModel(source);
  const { file, cache } = await readTensorCache(source);
  const files = await checkFiles(source, cache.records.map((s) => ({ path: s.dataPath, bytes: s.nbytes })));
  const { tokenizerFiles } = await readMlcChatConfig(source);
  for (const f of tokenizerFiles) if (!(await source.exists(f))) files.missing.push(f);
  return { plan, files, estimated: false, storedBytes: plan.weightBytes, from: file };
}

async function hfWeights(source: FileSource, info: ModelInfo): Promise<Weights> {
  const indexed = await source.exists(SAFETENSORS_INDEX);
  const paths = indexed ? await checkpointFiles(source) : [SAFETENSORS_SINGLE];
  const total = indexed ? ((await readJson(source, SAFETENSORS_INDEX)) as { metadata?: { total_size?: unknown } }).metadata?.total_size : undefined;
  const files = await checkFiles(source, paths.map((path) => ({ path, bytes: null })));
  if (files.missing.length === 0 && files.unusable.length === 0) {
    const plan = await planModel(source);
    return { plan, files, estimated: false, storedBytes: plan.weightBytes, from: 'safetensors headers' };
  }
  // Without a dtype in config.json, transformers saves what it builds: float32.
  const dtypeName = hfConfigDtype((await readJson(source, 'config.json')) as Record<string, unknown>, `${source.label}: config.json`) ?? 'float32';
  const [dtype, bytes] = HF_DTYPES[dtypeName];
  const tensors = configTensors(info.config, dtype, bytes);
  const weightBytes = tensors.reduce((a, t) => a + t.bytes, 0);
  const plan: ModelPlan = { info, files: [], tensors, weightBytes, downloadBytes: null };
  if (typeof total === 'number') return { plan, files, estimated: false, storedBytes: total, from: `${SAFETENSORS_INDEX} metadata.total_size` };
  return { plan, files, estimated: true, storedBytes: weightBytes, from: `config.json dtype ${dtypeName} (the weight files are not here)` };
}

async function inspectTokenizer(source: FileSource, config: ModelConfig): Promise<ModelInspection['tokenizer']> {
  try {
    const tok = await ChatTokenizer.fromSource(source, { eosTokenIds: config.eosTokenIds });
    return { loads: true, chatTemplate: tok.hasChatTemplate, eosTokenIds: tok.eosTokenIds };
  } catch (e) {
    if (!(e instanceof LabError)) throw e;
    return { loads: false, error: { kind: e.kind, message: e.message } };
  }
}

/** Describes a model folder; refuses (LabError) a folder whose config the lab cannot run. */
export async function inspectModel(source: FileSource, opts: InspectOptions = {}): Promise<ModelInspection> {
  const info = await readInfo(source);
  const w = info.format === 'mlc' ? await mlcWeights(source) : await hfWeights(source, info);
  const limits = opts.limits ?? INSPECT_LIMITS;
  const batch = opts.batch ?? INSPECT_BATCH;
  const contextTokens = Math.min(opts.contextTokens ?? INSPECT_CONTEXT_TOKENS, info.config.maxPositionEmbeddings);
  const fit = checkModelFits(w.plan, limits, { contextTokens, batch });
  const tokenizer = await inspectTokenizer(source, info.config);
  // A checkpoint lists no tokenizer files; tokenizer.json is missing when nothing else served.
  if (info.format === 'hf' && !tokenizer.loads && !(await source.exists('tokenizer.json'))) w.files.missing.push('tokenizer.json');
  return {
    format: info.format,
    architecture: info.config.arch,
    quantization: info.quantization,
    config: info.config,
    parameters: parameterCount(info.config),
    weights: {
      storedBytes: w.storedBytes,
      estimated: w.estimated,
      from: w.from,
      tensors: w.plan.tensors.length,
      dtypes: [...new Set(w.plan.tensors.map((t) => t.storedDtype))].sort(),
    },
    gpu: {
      verdict: fit.verdict,
      bytes: fit.gpuBytes,
      weightBytes: fit.gpuWeightBytes,
      kvCacheBytes: fit.kvCacheBytes,
      split: fit.split,
      message: fit.message,
      assumptions: { ...limits, contextTokens, batch },
    },
    files: w.files,
    tokenizer,
  };
}
