/**
 * The whole contract between the page and the lab worker. The page sends requests; the worker
 * answers each with exactly one `result` or `error`, and may send `progress` for it before
 * that. `cancel` aborts a request in flight. Events not tied to a request (e.g. GPU device
 * lost) come as `event`.
 *
 * Adding a method = one entry in LabApi plus its handler in lab.worker.ts (the compiler
 * refuses a missing handler).
 */
import type { WireError } from '../src/errors';
import type { GpuReport } from '../src/engine/gpu/report';
import type { RunRecord } from '../src/store/records';
import type { RunSummary, StorageReport } from '../src/store/lab-store';

export interface LabApi {
  'gpu.report': { params: Record<string, never>; result: GpuReport };
  'storage.report': { params: Record<string, never>; result: StorageReport };
  'runs.list': { params: Record<string, never>; result: RunSummary[] };
  'runs.create': { params: { name: string; config?: Record<string, unknown> }; result: RunRecord };
  'runs.rename': { params: { runId: string; name: string }; result: RunRecord };
  'runs.delete': { params: { runId: string }; result: null };
  'runs.export': { params: { runId: string }; result: { fileName: string; blob: Blob } };
  'runs.import': { params: { file: Blob; asCopy?: boolean }; result: RunRecord };
}

export type Method = keyof LabApi;
export type Params<M extends Method> = LabApi[M]['params'];
export type Result<M extends Method> = LabApi[M]['result'];

export interface Progress {
  /** What is happening, for a person ("Writing trees"). */
  label: string;
  done: number;
  /** Absent when the amount of work is unknown. */
  total?: number;
}

/** Events the worker sends on its own. */
export type LabEvent =
  | { type: 'ready' }
  | { type: 'device-lost'; message: string }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string };

export type ToWorker =
  | { [M in Method]: { type: 'request'; id: number; method: M; params: Params<M> } }[Method]
  | { type: 'cancel'; id: number };

export type FromWorker =
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; error: WireError }
  | { type: 'progress'; id: number; progress: Progress }
  | { type: 'event'; event: LabEvent };

/** What a handler gets besides its params. */
export interface HandlerContext {
  signal: AbortSignal;
  progress(p: Progress): void;
}

export type Handlers = { [M in Method]: (params: Params<M>, ctx: HandlerContext) => Promise<Result<M>> };
