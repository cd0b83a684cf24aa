/**
 * The messages between the web-llm worker and its clients (webllm-link.ts) that are ours, not
 * web-llm's: a module of its own so the web-llm worker, which imports web-llm statically, does
 * not also pull in the client side that imports web-llm lazily.
 */
import type { ModelRecordLike } from '../src/models/catalog';

export interface WebLlmHello {
  /** web-llm's model library version (libraries are built per version), e.g. "v0_2_86/base". */
  modelVersion: string;
  /** web-llm's prebuiltAppConfig.model_list (or the app config set since). */
  modelList: ModelRecordLike[];
  /** navigator.gpu exists in the web-llm worker. */
  webgpu: boolean;
  /** The model ids the engine holds now (null: none). */
  loaded: string[] | null;
}

export interface WebLlmLoadProgress {
  /** 0…1 of the current phase (web-llm's own figure). */
  fraction: number;
  phase: 'download' | 'load' | 'done' | 'other';
  /** web-llm's text, e.g. "Fetching param cache[3/12]: 120MB fetched. 25% completed, …". */
  text: string;
  elapsedSeconds: number;
}

export type SparToWebLlm = { spar: 'hello'; id: number } | { spar: 'connect'; port: MessagePort };
export type SparFromWebLlm = { spar: 'hello'; id: number; hello: WebLlmHello };

export function isSparMessage(d: unknown): d is { spar: string } {
  return typeof d === 'object' && d !== null && typeof (d as { spar?: unknown }).spar === 'string';
}
