/**
 * What a Hugging Face repository offers transformers.js, read before anything large is
 * downloaded: config.json (is it a causal language model transformers.js can generate with?),
 * the files in its onnx/ folder with their sizes (the hub's tree API), grouped into weight
 * variants by dtype, and each variant's total download with the tokenizer and config files. Setup
 * shows this next to the browser's free space, so "Qwen2.5-0.5B-Instruct, q4: 786 MB" is known
 * before the download starts.
 *
 * transformers.js reads a dtype's graph and its declared external-data chunks (named as
 * onnx-files.ts says); a variant whose chunks do not match the declaration is not offered. The
 * lab reads those files through hubSource, which keeps them in the lab's cache under their hub
 * URL (…/resolve/<revision>/<path>, hubFileUrl's); transformers.js's own cache keys them the same
 * way. Files in either are already downloaded.
 *
 * Pure apart from fetch and the caches, both injectable for tests.
 */
import { LabError } from '../errors';
import { HUB_ENDPOINT, LAB_MODEL_CACHE, hubFileUrl, type CacheLike } from '../engine/load/fetch';
import { ONNX_DTYPES, type OnnxDtype } from '../lab/run-config';
import { formatBytes } from '../format';
import { declaredDataChunks, dtypeOfOnnxFile, isExternalDataOf } from './onnx-files';

/** transformers.js's Cache API cache (env.cacheKey). */
export const TRANSFORMERS_CACHE = 'transformers-cache';

/** Order in the list: the lab's dtypes first, largest to smallest, then the rest. */
const DTYPE_ORDER = ['fp32', 'fp16', 'q8', 'q4', 'int8', 'uint8', 'q4f16', 'bnb4', 'q2', 'q2f16', 'q1', 'q1f16'];

/**
 * model_types transformers.js 4.3.2 generates text with (AutoModelForCausalLM's mapping,
 * MODEL_FOR_CAUSAL_LM_MAPPING_NAMES); a unit test keeps this list equal to the installed
 * package's, so the page need not load transformers.js to tell.
 */
export const CAUSAL_LM_TYPES: ReadonlySet<string> = new Set([
  'bloom', 'gpt2', 'gpt_oss', 'jais', 'gptj', 'gpt_bigcode', 'gpt_neo', 'gpt_neox', 'codegen', 'llama', 'nanochat', 'apertus',
  'llama4_text', 'arcee', 'afmoe', 'lfm2', 'lfm2_moe', 'lfm3', 'smollm3', 'exaone', 'olmo', 'olmo2', 'olmo3', 'olmo_hybrid',
  'mobilellm', 'granite', 'granitemoehybrid', 'cohere', 'cohere2', 'gemma', 'gemma2', 'vaultgemma', 'gemma3_text', 'gemma3',
  'helium', 'glm', 'glm_moe_dsa', 'openelm', 'qwen2', 'qwen2_moe', 'qwen3', 'qwen3_moe', 'qwen3_next', 'qwen2_vl', 'qwen2_5_vl',
  'qwen3_vl', 'qwen3_vl_moe', 'qwen3_5', 'qwen3_5_text', 'qwen3_5_moe', 'gemma3n', 'gemma4', 'phi', 'phi3', 'mpt', 'opt', 'mbart',
  'mistral', 'mistral4', 'ministral', 'ministral3', 'ernie4_5', 'starcoder2', 'deepseek_v3', 'deepseek_v4', 'falcon', 'falcon_h1',
  'nemotron_h', 'trocr', 'solar_open', 'stablelm', 'modernbert-decoder', 'hunyuan_v1_dense', 'youtu', 'zaya', 'hrm_text', 'phi3_v',
]);

/** The files transformers.js reads beside the weights to generate: the model's config and its tokenizer. */
export const ONNX_SIDE_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json'] as const;

/** ONNX builds that run in transformers.js, to start from (sizes come from the hub when checked). */
export const SUGGESTED_ONNX_MODELS: readonly { repo: string; title: string; note: string }[] = [
  { repo: 'onnx-community/SmolLM2-135M-Instruct-ONNX', title: 'SmolLM2 135M Instruct', note: 'the smallest chat model; quick on WebAssembly' },
  { repo: 'onnx-community/SmolLM2-360M-Instruct-ONNX', title: 'SmolLM2 360M Instruct', note: 'a little larger, still fine on a CPU' },
  { repo: 'onnx-community/Qwen2.5-0.5B-Instruct', title: 'Qwen2.5 0.5B Instruct', note: 'follows instructions well for its size' },
  { repo: 'onnx-community/Qwen3-0.6B-ONNX', title: 'Qwen3 0.6B', note: 'a newer architecture the lab engine cannot run' },
  { repo: 'onnx-community/Llama-3.2-1B-Instruct', title: 'Llama 3.2 1B Instruct', note: 'a capable refiner; WebGPU recommended' },
  { repo: 'onnx-community/gemma-3-1b-it-ONNX', title: 'Gemma 3 1B IT', note: 'a capable refiner; WebGPU recommended' },
];

/** The ONNX dtypes of the models shipped with the app (their public/models/<name>/onnx/ export). */
export const SHIPPED_ONNX_DTYPES: Record<string, readonly OnnxDtype[]> = { 'spar-toy': ['fp32'] };

export interface OnnxFile {
  /** Path in the repository, e.g. "onnx/model_q4.onnx". */
  path: string;
  bytes: number;
  /** Already stored in this browser (the lab's cache or transformers.js's). */
  cached: boolean;
}

export interface OnnxVariant {
  /** transformers.js's dtype name (fp32, fp16, q8, q4, q4f16, int8, uint8, bnb4, …). */
  dtype: string;
  /** The .onnx file and its external-data chunks. */
  files: OnnxFile[];
  /** Weights plus the side files: everything loading this variant reads. */
  totalBytes: number;
  /** What is not cached yet: what loading it downloads. */
  downloadBytes: number;
  /** The lab offers it (one of ONNX_DTYPES, and loadable as it is). */
  supported: boolean;
  /** Why the lab does not offer it, or null. */
  why: string | null;
}

export interface OnnxRepoReport {
  repo: string;
  revision: string;
  modelType: string | null;
  architectures: string[];
  /** transformers.js can generate with at least one variant the lab offers; otherwise `problem` says why not. */
  usable: boolean;
  problem: string | null;
  /** The side files the repository has (config, tokenizer), every variant reads them. */
  side: OnnxFile[];
  variants: OnnxVariant[];
  /** Other .onnx files in onnx/ (other sessions of multi-part models), named for the record. */
  others: string[];
}

export interface InspectOptions {
  revision?: string;
  /** Default https://huggingface.co (tests point it elsewhere). */
  endpoint?: string;
  fetch?: typeof fetch;
  /** Cache Storage, to tell what is downloaded already; null: do not look. Default: the browser's. */
  caches?: { open(name: string): Promise<CacheLike> } | null;
  signal?: AbortSignal;
}

interface TreeEntry {
  type: string;
  path: string;
  size?: number;
  lfs?: { size?: number };
}

/** GET a JSON answer of the hub, with the lab's wording for what went wrong. */
async function hubJson(url: string, what: string, repo: string, opts: InspectOptions): Promise<unknown> {
  const doFetch = opts.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
  const host = new URL(opts.endpoint ?? HUB_ENDPOINT).host;
  let res: Response;
  try {
    res = await doFetch(url, { signal: opts.signal });
  } catch (e) {
    if ((e as Error)?.name === 'AbortError') throw new LabError('cancelled', 'Check cancelled.');
    throw new LabError(
      'network',
      `Could not check ${repo}: this browser is offline or ${host} cannot be reached (${(e as Error).message}). ` +
        'Nothing was downloaded. Models transformers.js downloaded before still load offline (the Models panel lists them).',
      { cause: e },
    );
  }
  // The hub answers 401 for a repository that does not exist as for a private one.
  if (res.status === 404 || res.status === 401) {
    throw new LabError('not-found', `${host} has no public repository ${repo}${opts.revision && opts.revision !== 'main' ? ` at revision ${opts.revision}` : ''} (${what}: HTTP ${res.status}). Check the name, written owner/name.`);
  }
  if (res.status === 403) throw new LabError('network', `${repo} is gated (${what}: HTTP 403): SPaR Lab downloads public models only. Download it yourself and open the folder instead.`);
  if (!res.ok) throw new LabError('network', `Reading ${what} of ${repo} failed with HTTP ${res.status}. Try again later.`);
  try {
    return await res.json();
  } catch (e) {
    throw new LabError('invalid-input', `${repo}: ${what} is not valid JSON (${(e as Error).message}).`, { cause: e });
  }
}

/** The hub's file list of a folder (callers check the repository name first, with hubFileUrl). */
function treeUrl(repo: string, revision: string, endpoint: string, folder = ''): string {
  return `${endpoint}/api/models/${repo}/tree/${encodeURIComponent(revision)}${folder ? `/${folder}` : ''}`;
}

function entries(json: unknown, what: string, repo: string): TreeEntry[] {
  if (!Array.isArray(json)) throw new LabError('invalid-input', `${repo}: the hub's list of ${what} is not a list.`);
  return json.filter((e): e is TreeEntry => typeof e === 'object' && e !== null && typeof e.path === 'string' && typeof e.type === 'string');
}

const sizeOf = (e: TreeEntry) => e.lfs?.size ?? e.size ?? 0;

/** Why the lab does not offer a variant transformers.js has, or null. */
function whyNot(dtype: string, data: { present: number; declared: number; file: string }): string | null {
  if (!(ONNX_DTYPES as readonly string[]).includes(dtype)) {
    return `SPaR Lab offers ${ONNX_DTYPES.join(', ')}; transformers.js loads this file only as dtype "${dtype}".`;
  }
  if (data.present !== data.declared) {
    return data.declared === 0
      ? `Its weights are in ${data.present} external-data file(s) that config.json's transformers.js_config does not declare (use_external_data_format), so transformers.js would not fetch them.`
      : `config.json declares ${data.declared} external-data file(s) for ${data.file}; the repository has ${data.present}.`;
  }
  return null;
}

/** Reads a repository's config.json and file list (a few kB) and says what transformers.js can load from it. */
export async function inspectOnnxRepo(repo: string, opts: InspectOptions = {}): Promise<OnnxRepoReport> {
  const revision = opts.revision?.trim() || 'main';
  const endpoint = opts.endpoint ?? HUB_ENDPOINT;
  const name = repo.trim();
  const configUrl = hubFileUrl(name, 'config.json', revision, endpoint); // refuses a name that is not owner/name
  const root = entries(await hubJson(treeUrl(name, revision, endpoint), 'its file list', name, { ...opts, revision }), 'files', name);
  const base: Omit<OnnxRepoReport, 'usable' | 'problem'> = { repo: name, revision, modelType: null, architectures: [], side: [], variants: [], others: [] };
  const hasConfig = root.some((e) => e.type === 'file' && e.path === 'config.json');
  if (!hasConfig) return { ...base, usable: false, problem: `${name} has no config.json, so it is not a model transformers.js can load.` };

  const config = (await hubJson(configUrl, 'config.json', name, { ...opts, revision })) as Record<string, unknown> | null;
  const modelType = typeof config?.model_type === 'string' ? config.model_type : null;
  const architectures = Array.isArray(config?.architectures) ? config.architectures.filter((a): a is string => typeof a === 'string') : [];
  const cached = await cachedUrls(opts.caches === undefined ? browserCaches() : opts.caches);
  const fileOf = (e: TreeEntry): OnnxFile => ({ path: e.path, bytes: sizeOf(e), cached: cached.has(hubFileUrl(name, e.path, revision, endpoint)) });
  const side = root.filter((e) => e.type === 'file' && (ONNX_SIDE_FILES as readonly string[]).includes(e.path)).map(fileOf);
  const described = { ...base, modelType, architectures, side };

  if (modelType === null || !CAUSAL_LM_TYPES.has(modelType)) {
    const kind = modelType ? `a ${modelType} model${architectures.length ? ` (${architectures.join(', ')})` : ''}` : 'a model whose config.json names no model_type';
    return { ...described, usable: false, problem: `${name} is ${kind}, not a causal language model transformers.js can generate text with (an encoder, a classifier or an embedding model cannot write answers).` };
  }
  if (!root.some((e) => e.type === 'directory' && e.path === 'onnx')) {
    return { ...described, usable: false, problem: `${name} has no onnx/ folder: transformers.js runs ONNX weights only. Look for an ONNX build of this model (e.g. under huggingface.co/onnx-community).` };
  }

  const onnx = entries(await hubJson(treeUrl(name, revision, endpoint, 'onnx'), 'its onnx/ folder', name, { ...opts, revision }), 'ONNX files', name).filter((e) => e.type === 'file');
  const sideBytes = side.reduce((a, f) => a + f.bytes, 0);
  const sideDownload = side.reduce((a, f) => a + (f.cached ? 0 : f.bytes), 0);
  const variants: OnnxVariant[] = [];
  const others: string[] = [];
  for (const e of onnx) {
    if (!e.path.endsWith('.onnx')) continue;
    const dtype = dtypeOfOnnxFile(e.path);
    if (dtype === null) {
      others.push(e.path);
      continue;
    }
    const data = onnx.filter((d) => isExternalDataOf(e.path, d.path)).map(fileOf);
    const files = [fileOf(e), ...data];
    const fileName = e.path.slice(e.path.lastIndexOf('/') + 1);
    const why = whyNot(dtype, { present: data.length, declared: declaredDataChunks(config, fileName), file: fileName });
    variants.push({
      dtype,
      files,
      totalBytes: sideBytes + files.reduce((a, f) => a + f.bytes, 0),
      downloadBytes: sideDownload + files.reduce((a, f) => a + (f.cached ? 0 : f.bytes), 0),
      supported: why === null,
      why,
    });
  }
  variants.sort((a, b) => DTYPE_ORDER.indexOf(a.dtype) - DTYPE_ORDER.indexOf(b.dtype));
  const offered = variants.filter((v) => v.supported);
  let problem: string | null = null;
  if (!variants.length) {
    problem = `${name}'s onnx/ folder has no model*.onnx${others.length ? ` (it has ${others.join(', ')}: a model in several parts)` : ''}; transformers.js generates with onnx/model.onnx or one of its dtype variants (model_q4.onnx, …).`;
  } else if (!offered.length) {
    problem = `${name} has ONNX weights only as ${variants.map((v) => v.dtype).join(', ')}; SPaR Lab offers ${ONNX_DTYPES.join(', ')}.`;
  }
  if (!side.some((f) => f.path === 'tokenizer.json')) problem ??= `${name} has no tokenizer.json, which transformers.js needs to turn text into tokens.`;
  return { ...described, usable: problem === null, problem, variants, others };
}

function browserCaches(): { open(name: string): Promise<CacheLike> } | null {
  return (globalThis as { caches?: { open(name: string): Promise<CacheLike> } }).caches ?? null;
}

/** URLs stored in the caches ONNX model files land in (none where there is no Cache Storage or it cannot be read). */
async function cachedUrls(caches: { open(name: string): Promise<CacheLike> } | null): Promise<Set<string>> {
  const out = new Set<string>();
  if (!caches) return out;
  try {
    for (const name of [LAB_MODEL_CACHE, TRANSFORMERS_CACHE]) {
      const cache = (await caches.open(name)) as CacheLike & { keys?: () => Promise<readonly Request[]> };
      for (const r of (await cache.keys?.()) ?? []) out.add(r.url);
    }
  } catch {
    // only a hint: without it everything counts as to download
  }
  return out;
}

/** The dtype to preselect: what runs best on the device among those offered. */
export function preferredDtype(report: OnnxRepoReport, device: 'webgpu' | 'wasm', shaderF16: boolean): OnnxDtype | null {
  const order: OnnxDtype[] = device === 'wasm' ? ['q8', 'q4', 'fp32', 'fp16'] : shaderF16 ? ['q4', 'fp16', 'fp32', 'q8'] : ['q4', 'fp32', 'q8', 'fp16'];
  const offered = new Set(report.variants.filter((v) => v.supported).map((v) => v.dtype));
  return order.find((d) => offered.has(d)) ?? null;
}

export interface StorageFit {
  verdict: 'fits' | 'tight' | 'too-large' | 'unknown';
  message: string;
}

/**
 * Whether a download fits the browser's free storage (navigator.storage.estimate(): quota − usage).
 * "tight" above 80% of what is free: the download may fit, runs then have little room.
 */
export function storageFit(bytes: number, storage: { usage: number | null; quota: number | null } | null): StorageFit {
  if (bytes === 0) return { verdict: 'fits', message: 'Every file is in this browser already: nothing to download.' };
  if (storage?.usage == null || storage.quota == null) {
    return { verdict: 'unknown', message: `Downloads ${formatBytes(bytes)}; this browser does not say how much space is free.` };
  }
  const free = Math.max(0, storage.quota - storage.usage);
  if (bytes > free) {
    return {
      verdict: 'too-large',
      message: `Downloads ${formatBytes(bytes)}, but this browser lets the lab store only ${formatBytes(free)} more. Delete models you no longer use (Models panel) or pick a smaller dtype.`,
    };
  }
  if (bytes > 0.8 * free) return { verdict: 'tight', message: `Downloads ${formatBytes(bytes)} of the ${formatBytes(free)} this browser has free: little room is left for runs afterwards.` };
  return { verdict: 'fits', message: `Downloads ${formatBytes(bytes)}; ${formatBytes(free)} free in this browser's storage.` };
}
