/**
 * The protocol of the transformers.js worker (transformers.worker.ts), shared by the worker and its
 * clients (transformers-link.ts): a module of its own, holding only types and pure helpers, so
 * that importing it pulls in neither transformers.js nor the worker.
 *
 * A client sends `request`s; the worker answers each with one `result` or `error` under its id,
 * and before that may send `progress` (a load's bytes) and `text` (a generation's stream) for it.
 * `cancel` aborts a request in flight. The page also sends `connect` with a MessagePort, which the
 * worker then serves as one more client (the lab worker's).
 */
import type { GenerateRequest, Generation, ScoreRequest, ScoreResult, VerdictRequest, VerdictResult } from '../src/backends/types';
import type { TransformersRuntimeInfo } from '../src/backends/transformers-runtime';
import type { PickedFile } from '../src/engine/load/files';
import type { WireError } from '../src/errors';
import { describeBinding, modelKey, type OnnxDtype, type OnnxSourceSpec } from '../src/lab/run-config';

export type { TransformersRuntimeInfo } from '../src/backends/transformers-runtime';

/** A model to load: where its files are (a picked folder's files come along), and how to run it. */
export interface TransformersLoadSpec {
  source: Exclude<OnnxSourceSpec, { type: 'files' }> | { type: 'files'; label: string; files: (File | PickedFile)[] };
  device: 'webgpu' | 'wasm';
  dtype: OnnxDtype;
}

/** A model the worker holds. */
export interface TransformersModelInfo {
  /** transformersKey of its source, device and dtype. */
  key: string;
  source: OnnxSourceSpec;
  device: 'webgpu' | 'wasm';
  dtype: OnnxDtype;
  /** e.g. "transformers.js SPaR-toy (shipped with the app) · wasm fp32". */
  description: string;
  /** config.json's model_type, e.g. "llama", "gemma3_text". */
  modelType: string;
  vocabSize: number;
  /** max_position_embeddings; null where config.json does not say. */
  contextLength: number | null;
  /** The backend's label, e.g. "transformers.js · SPaR-toy · fp32 on wasm, 1 thread". */
  label: string;
}

/** What the worker runs on and what it holds (its answer to `hello`). */
export interface TransformersHello extends TransformersRuntimeInfo {
  loaded: TransformersModelInfo[];
}

/** Bytes of a model's graph (onnx/…) read so far: downloaded, or read from the cache, the app or a picked folder. */
export interface TransformersLoadProgress {
  file: string;
  loaded: number;
  /** null where the size is not known in advance. */
  total: number | null;
}

export interface TransformersApi {
  hello: { params: Record<string, never>; result: TransformersHello };
  /** Loads a model (once: asking again for a loaded one answers at once; a picked folder replaces the earlier one). */
  load: { params: { spec: TransformersLoadSpec }; result: TransformersModelInfo };
  /** Frees a model; false where it was not loaded. */
  unload: { params: { key: string }; result: boolean };
  generate: { params: { key: string; requests: GenerateRequest[] }; result: Generation[][] };
  score: { params: { key: string; requests: ScoreRequest[] }; result: ScoreResult[] };
  verdict: { params: { key: string; requests: VerdictRequest[] }; result: VerdictResult[] };
}

export type TransformersMethod = keyof TransformersApi;

export type ToTransformers =
  | { [M in TransformersMethod]: { type: 'request'; id: number; method: M; params: TransformersApi[M]['params'] } }[TransformersMethod]
  | { type: 'cancel'; id: number }
  | { type: 'connect'; port: MessagePort };

export type FromTransformers =
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; error: WireError }
  | { type: 'progress'; id: number; progress: TransformersLoadProgress }
  | { type: 'text'; id: number; request: number; sample: number; delta: string };

/** One loaded model per source, device and dtype. */
export function transformersKey(b: { model: OnnxSourceSpec; device: 'webgpu' | 'wasm'; dtype: OnnxDtype }): string {
  return `${modelKey(b.model)}|${b.device}|${b.dtype}`;
}

/** The source as it is stored in a run's config (a picked folder without its files). */
export function specSource(spec: TransformersLoadSpec): OnnxSourceSpec {
  return spec.source.type === 'files' ? { type: 'files', label: spec.source.label } : spec.source;
}

export function describeSpec(spec: TransformersLoadSpec): string {
  return describeBinding({ kind: 'transformers', model: specSource(spec), device: spec.device, dtype: spec.dtype });
}
