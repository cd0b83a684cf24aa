/**
 * How the page and the lab worker reach web-llm's engine, which lives in its own worker
 * (webllm.worker.ts, web-llm's WebWorkerMLCEngineHandler).
 *
 *   page                                   webllm.worker.ts
 *    ├─ startWebLlmWorker() ── Worker ────► handler (one MLCEngine, the GPU memory)
 *    │     .hello(): model list, loaded      ▲   replies go back to the asking endpoint,
 *    │     .onProgress(): load progress      │   load progress to every endpoint
 *    │     .createPort() ─── MessagePort ────┘
 *    └─► lab worker: connectWebLlm(port).load([...ids]) → WebLlmEngine → createWebLlmBackend
 *
 * The page makes the worker and hands the lab worker one end of a MessageChannel whose other
 * end the web-llm worker serves. The lab worker (which runs SPaR) then holds a web-llm engine
 * client (web-llm's WebWorkerMLCEngine over that port) and the page still sees every load's
 * progress. The page never imports web-llm: the model list comes from the worker's hello.
 * The lab worker imports web-llm's client lazily (its own chunk), only when a role uses it.
 *
 * Our own messages carry `spar`; web-llm's carry `kind` and `uuid`.
 */
import { LabError } from '../src/errors';
import type { WebLlmEngine } from '../src/backends/webllm';
import { webLlmError } from '../src/backends/webllm-errors';
import { isSparMessage, type SparFromWebLlm, type SparToWebLlm, type WebLlmHello, type WebLlmLoadProgress } from './webllm-messages';

export { isSparMessage, type SparFromWebLlm, type SparToWebLlm, type WebLlmHello, type WebLlmLoadProgress } from './webllm-messages';

interface InitProgressReport {
  progress: number;
  timeElapsed: number;
  text: string;
}

export function toLoadProgress(r: InitProgressReport): WebLlmLoadProgress {
  const phase = /^Fetching param cache/i.test(r.text) ? 'download' : /^Loading model from cache/i.test(r.text) ? 'load' : /^Finish loading/i.test(r.text) ? 'done' : 'other';
  return { fraction: Number.isFinite(r.progress) ? r.progress : 0, phase, text: r.text, elapsedSeconds: r.timeElapsed };
}

/** hello() over an endpoint, with failAll for when the worker dies. */
function helloRequester(post: (m: SparToWebLlm) => void) {
  let next = 1;
  const pending = new Map<number, { resolve(h: WebLlmHello): void; reject(e: unknown): void }>();
  return {
    hello: () =>
      new Promise<WebLlmHello>((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve, reject });
        post({ spar: 'hello', id });
      }),
    receive(m: SparFromWebLlm) {
      pending.get(m.id)?.resolve(m.hello);
      pending.delete(m.id);
    },
    failAll(e: LabError) {
      for (const p of pending.values()) p.reject(e);
      pending.clear();
    },
  };
}

function isInitProgress(d: unknown): d is { kind: 'initProgressCallback'; content: InitProgressReport } {
  return typeof d === 'object' && d !== null && (d as { kind?: unknown }).kind === 'initProgressCallback';
}

// ---- page side ----------------------------------------------------------------------------

export interface WebLlmWorkerHandle {
  readonly worker: Worker;
  /** The worker's answer: web-llm's model list, whether it sees WebGPU, what is loaded. No download. */
  hello(): Promise<WebLlmHello>;
  /** A new port served by the web-llm worker, to transfer to the lab worker (or connectWebLlm here). */
  createPort(): MessagePort;
  /** Every load's progress, whoever started it. Returns the unsubscribe. */
  onProgress(listener: (p: WebLlmLoadProgress) => void): () => void;
  /** The worker failed (its script did not load, or it crashed). The rest of the lab keeps working. */
  onCrash(listener: (e: LabError) => void): () => void;
  terminate(): void;
}

export function startWebLlmWorker(worker: Worker = new Worker(new URL('./webllm.worker.ts', import.meta.url), { type: 'module', name: 'webllm' })): WebLlmWorkerHandle {
  const req = helloRequester((m) => worker.postMessage(m));
  const progress = new Set<(p: WebLlmLoadProgress) => void>();
  const crash = new Set<(e: LabError) => void>();
  worker.addEventListener('message', (ev: MessageEvent) => {
    const d = ev.data;
    if (isSparMessage(d)) {
      if (d.spar === 'hello') req.receive(d as SparFromWebLlm);
    } else if (isInitProgress(d)) {
      const p = toLoadProgress(d.content);
      for (const l of progress) l(p);
    }
  });
  worker.addEventListener('error', (ev: ErrorEvent) => {
    const e = new LabError('internal', `The web-llm worker failed (${ev.message || 'its script did not load'}). web-llm models are unavailable; the lab engine and OpenAI-compatible endpoints still work. Reload the page to try again.`);
    req.failAll(e);
    for (const l of crash) l(e);
  });
  return {
    worker,
    hello: req.hello,
    createPort() {
      const channel = new MessageChannel();
      worker.postMessage({ spar: 'connect', port: channel.port2 } satisfies SparToWebLlm, [channel.port2]);
      return channel.port1;
    },
    onProgress(l) {
      progress.add(l);
      return () => progress.delete(l);
    },
    onCrash(l) {
      crash.add(l);
      return () => crash.delete(l);
    },
    terminate: () => worker.terminate(),
  };
}

// ---- lab-worker side ----------------------------------------------------------------------

export interface LoadOptions {
  onProgress?: (p: WebLlmLoadProgress) => void;
  /** Aborting unloads (web-llm stops downloading; the files already stored stay). */
  signal?: AbortSignal;
}

export interface WebLlmConnection {
  hello(): Promise<WebLlmHello>;
  /**
   * The engine with exactly these models loaded: attaches when the worker holds them already,
   * else loads them (downloading what is not cached; a retry after a broken download continues
   * with the missing files). Several ids load together, e.g. a small actor and a larger refiner.
   * Rejects with LabErrors (no-webgpu, unsupported, out-of-memory, device-lost, network, quota…).
   */
  load(modelIds: string[], opts?: LoadOptions): Promise<WebLlmEngine>;
  /** Frees the engine's GPU memory (and cancels a load in progress). */
  unload(): Promise<void>;
  close(): void;
}

/** The web-llm engine over a port from WebLlmWorkerHandle.createPort (works in any worker or the page). */
export function connectWebLlm(port: MessagePort): WebLlmConnection {
  // web-llm's client takes any object with postMessage and an onmessage it sets.
  const shim: { onmessage: ((ev: MessageEvent) => void) | null; postMessage(m: unknown): void } = { onmessage: null, postMessage: (m) => port.postMessage(m) };
  const req = helloRequester((m) => port.postMessage(m));
  let onProgress: ((p: WebLlmLoadProgress) => void) | undefined;
  port.onmessage = (ev: MessageEvent) => {
    const d = ev.data;
    if (isSparMessage(d)) {
      if (d.spar === 'hello') req.receive(d as SparFromWebLlm);
      return;
    }
    if (isInitProgress(d)) onProgress?.(toLoadProgress(d.content));
    else shim.onmessage?.(ev);
  };
  type Client = import('@mlc-ai/web-llm').WebWorkerMLCEngine;
  let client: Promise<Client> | null = null;
  const engine = () => (client ??= import('@mlc-ai/web-llm').then(({ WebWorkerMLCEngine }) => new WebWorkerMLCEngine(shim)));

  return {
    hello: req.hello,
    async load(modelIds, opts = {}) {
      if (modelIds.length === 0) throw new LabError('invalid-input', 'Name at least one web-llm model to load.');
      if (opts.signal?.aborted) throw new LabError('cancelled', 'Model loading cancelled.');
      const e = await engine();
      const { loaded } = await req.hello();
      if (loaded && loaded.length === modelIds.length && loaded.every((id, i) => id === modelIds[i])) {
        e.modelId = [...modelIds]; // attach: the worker's engine holds exactly these already
        return e;
      }
      onProgress = opts.onProgress;
      const onAbort = () => void e.unload().catch(() => undefined);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        await e.reload(modelIds);
      } catch (err) {
        throw opts.signal?.aborted ? new LabError('cancelled', 'Model loading cancelled.') : webLlmError(err, 'load', modelIds.join(', '));
      } finally {
        opts.signal?.removeEventListener('abort', onAbort);
        onProgress = undefined;
      }
      // web-llm's reload returns quietly when unload() aborted it.
      if (opts.signal?.aborted) throw new LabError('cancelled', 'Model loading cancelled.');
      return e;
    },
    async unload() {
      if (!client) return;
      try {
        await (await client).unload();
      } catch (err) {
        throw webLlmError(err, 'load');
      }
    },
    close() {
      port.onmessage = null;
      port.close();
    },
  };
}
