/**
 * transformers.js set up for the lab, and one ONNX causal LM loaded with it (for the transformers
 * worker, workers/transformers.worker.ts; importing this pulls in transformers.js and ONNX Runtime
 * Web).
 *
 * - Offline: ONNX Runtime's WebAssembly build (ort-wasm-simd-threaded.asyncify.{mjs,wasm}, the one
 *   transformers.js v4 runs for both WebGPU and wasm) ships as the app's own assets; by default
 *   transformers.js would fetch it from a CDN.
 * - Model files: transformers.js never downloads anything itself (allowRemoteModels off). It asks
 *   for each file by a virtual local path, which `env.fetch` answers from the model's FileSource:
 *   the models shipped with the app, a picked folder, or the hub through hubSource, so hub files
 *   land in the lab's own Cache Storage, keyed by their hub URLs like the lab engine's, with
 *   progress and the same offline errors. transformers.js's own cache stays off.
 * - Threads: ONNX Runtime's wasm runs on every core where the page is cross-origin isolated
 *   (SharedArrayBuffer), on one thread otherwise; `runtimeInfo()` says which.
 * - The tokenizer and chat template are the lab's (ChatTokenizer over the same files), so a model
 *   is prompted, stopped and scored exactly as the lab engine would.
 */
import { AutoModelForCausalLM, env } from '@huggingface/transformers';
import ortMjsUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url';
import ortWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { LabError } from '../errors';
import type { FileSource } from '../engine/load/files';
import { ChatTokenizer } from '../engine/load/tokenizer';
import type { OnnxDtype } from '../lab/run-config';
import { readOnnxConfig, requireDtype } from '../models/onnx-model';
import { createTransformersBackend } from './transformers';
import { transformersLm, type TransformersModel } from './transformers-lm';
import type { ModelBackend } from './types';

export type OnnxDevice = 'webgpu' | 'wasm';

export interface TransformersRuntimeInfo {
  /** transformers.js's version. */
  version: string;
  /** navigator.gpu exists here (an adapter may still be missing). */
  webgpu: boolean;
  /** The page is cross-origin isolated, so wasm can run multi-threaded. */
  crossOriginIsolated: boolean;
  /** Threads ONNX Runtime's wasm uses (1 without cross-origin isolation). */
  wasmThreads: number;
}

/** Where env.fetch finds a loading model's files: <VIRTUAL_ROOT><id>/<path>. */
const VIRTUAL_ROOT = 'https://models.spar-lab.invalid/';
const loading = new Map<string, { source: FileSource; read: (path: string, loaded: number, total: number | null) => void; error: unknown }>();
let nextId = 1;
let configured: TransformersRuntimeInfo | null = null;

/** Sets transformers.js up once (asset URLs, threads, file access); what it runs on. */
export function runtimeInfo(): TransformersRuntimeInfo {
  if (configured) return configured;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
  const threads = isolated ? Math.max(1, globalThis.navigator?.hardwareConcurrency ?? 1) : 1;
  const wasm = env.backends.onnx.wasm!;
  wasm.wasmPaths = { mjs: new URL(ortMjsUrl, self.location.href).href, wasm: new URL(ortWasmUrl, self.location.href).href };
  wasm.numThreads = threads;
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = VIRTUAL_ROOT;
  env.useBrowserCache = false;
  const realFetch = env.fetch;
  env.fetch = (input: string | URL, init?: RequestInit) => {
    const url = String(input);
    return url.startsWith(VIRTUAL_ROOT) ? serveFile(url.slice(VIRTUAL_ROOT.length)) : realFetch(input, init);
  };
  configured = { version: env.version, webgpu: typeof navigator !== 'undefined' && 'gpu' in navigator, crossOriginIsolated: isolated, wasmThreads: threads };
  return configured;
}

/** One file of a loading model, for transformers.js: 404 when the source has no such file. */
async function serveFile(idAndPath: string): Promise<Response> {
  const slash = idAndPath.indexOf('/');
  const entry = loading.get(idAndPath.slice(0, slash));
  const path = decodeURIComponent(idAndPath.slice(slash + 1));
  if (!entry) return new Response(null, { status: 404 });
  try {
    if (!(await entry.source.exists(path))) return new Response(null, { status: 404 });
    const bytes = await entry.source.read(path, (p, loaded, total) => entry.read(p, loaded, total));
    return new Response(bytes as Uint8Array<ArrayBuffer>, { status: 200, headers: { 'content-length': String(bytes.byteLength) } });
  } catch (e) {
    // transformers.js reports a failed local read as a missing file; keep ours (offline, cancelled…).
    entry.error ??= e;
    throw e;
  }
}

export interface OnnxLoadOptions {
  device: OnnxDevice;
  dtype: OnnxDtype;
  /** Names the model in labels and messages. */
  name: string;
  /** Bytes of the graph file and its external data read so far, per file, as they are read. */
  onProgress?: (p: { file: string; loaded: number; total: number | null }) => void;
  signal?: AbortSignal;
}

export interface LoadedOnnxModel {
  modelType: string;
  vocabSize: number;
  contextLength: number | null;
  /** The backend serving this model (one per model; roles share it). */
  backend: ModelBackend;
  dispose(): Promise<void>;
}

/** Loads an ONNX causal LM from its files (config.json, tokenizer files, onnx/model*.onnx). */
export async function loadOnnxModel(source: FileSource, opts: OnnxLoadOptions): Promise<LoadedOnnxModel> {
  const info = runtimeInfo();
  if (opts.device === 'webgpu' && !info.webgpu) throw new LabError('no-webgpu', 'This browser has no WebGPU, so transformers.js cannot run on it here; choose wasm (the CPU) instead.');
  await requireDtype(source, opts.dtype);
  const config = await readOnnxConfig(source);
  const weights = new Set(config.files(opts.dtype));
  const tokenizer = await ChatTokenizer.fromSource(source, { eosTokenIds: config.eosTokenIds });
  if (opts.signal?.aborted) throw new LabError('cancelled', 'Model loading cancelled.');

  const id = `m${nextId++}`;
  const entry = {
    source,
    error: undefined as unknown,
    read: (path: string, loaded: number, total: number | null) => {
      if (weights.has(path)) opts.onProgress?.({ file: path, loaded, total });
    },
  };
  loading.set(id, entry);
  let model: TransformersModel & { dispose(): Promise<unknown> };
  try {
    model = (await AutoModelForCausalLM.from_pretrained(id, { device: opts.device, dtype: opts.dtype })) as unknown as typeof model;
  } catch (e) {
    throw entry.error ?? runtimeError(e, opts);
  } finally {
    loading.delete(id);
  }
  if (opts.signal?.aborted) {
    await model.dispose();
    throw new LabError('cancelled', 'Model loading cancelled.');
  }
  const where = opts.device === 'wasm' ? `wasm, ${info.wasmThreads} thread${info.wasmThreads === 1 ? '' : 's'}` : 'WebGPU';
  return {
    modelType: config.modelType,
    vocabSize: config.vocabSize,
    contextLength: config.contextLength,
    backend: createTransformersBackend({
      lm: transformersLm(model, config.vocabSize),
      tokenizer,
      eosTokenIds: config.eosTokenIds,
      contextLength: config.contextLength,
      label: `transformers.js · ${opts.name} · ${opts.dtype} on ${where}`,
    }),
    dispose: async () => void (await model.dispose()),
  };
}

/** ONNX Runtime's failures as LabErrors that say what to do. */
function runtimeError(e: unknown, opts: OnnxLoadOptions): LabError {
  const text = e instanceof Error ? e.message : String(e);
  if (/out of memory|memory access out of bounds|Array buffer allocation failed|std::bad_alloc/i.test(text)) {
    return new LabError('out-of-memory', `${opts.name} does not fit in memory on ${opts.device} (${text}). Choose a smaller model or a smaller dtype (q4).`, { cause: e });
  }
  if (opts.device === 'webgpu' && /webgpu|adapter|no available backend/i.test(text)) {
    return new LabError('no-webgpu', `transformers.js could not start WebGPU (${text}). Choose wasm (the CPU) instead.`, { cause: e });
  }
  return new LabError('unsupported', `transformers.js could not load ${opts.name} (${text}).`, { cause: e });
}
