/**
 * How the page and the lab worker reach transformers.js, which lives in its own worker
 * (transformers.worker.ts), as web-llm does (webllm-link.ts):
 *
 *   page                                        transformers.worker.ts
 *    ├─ startTransformersWorker() ── Worker ──►  the models (ONNX Runtime sessions, tokenizers)
 *    │     .hello(): runtime, threads, loaded     ▲   every request answered to its asker:
 *    │     .createPort() ───── MessagePort ───────┘   progress, streamed text, result or error
 *    └─► lab worker: connectTransformers(port).load(spec) → .backend(model) → ModelBackend
 *
 * The page starts the worker only when a role or the Models panel uses transformers.js, and hands
 * the lab worker one end of a MessageChannel the worker serves. Neither the page nor the lab worker
 * imports transformers.js: only the worker does.
 */
import { LabError, fromWireError } from '../src/errors';
import type { CallOptions, ModelBackend } from '../src/backends/types';
import type {
  FromTransformers,
  ToTransformers,
  TransformersApi,
  TransformersHello,
  TransformersLoadProgress,
  TransformersLoadSpec,
  TransformersMethod,
  TransformersModelInfo,
} from './transformers-messages';

export type { TransformersHello, TransformersLoadProgress, TransformersLoadSpec, TransformersModelInfo } from './transformers-messages';

interface Port {
  postMessage(message: ToTransformers, transfer?: Transferable[]): void;
}

interface RequestOptions {
  signal?: AbortSignal;
  onProgress?: (p: TransformersLoadProgress) => void;
  onText?: CallOptions['onText'];
}

interface Pending extends RequestOptions {
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/** Requests over one endpoint of the worker, with failAll for when the worker dies. */
class Requester {
  private next = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(private readonly port: Port) {}

  request<M extends TransformersMethod>(method: M, params: TransformersApi[M]['params'], opts: RequestOptions = {}): Promise<TransformersApi[M]['result']> {
    if (opts.signal?.aborted) return Promise.reject(new LabError('cancelled', 'Cancelled.'));
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const onAbort = () => this.port.postMessage({ type: 'cancel', id });
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        ...opts,
        resolve: (v) => {
          opts.signal?.removeEventListener('abort', onAbort);
          resolve(v as TransformersApi[M]['result']);
        },
        reject: (e) => {
          opts.signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      this.port.postMessage({ type: 'request', id, method, params } as ToTransformers);
    });
  }

  receive(m: FromTransformers): void {
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'progress') p.onProgress?.(m.progress);
    else if (m.type === 'text') p.onText?.(m.request, m.sample, m.delta);
    else {
      this.pending.delete(m.id);
      if (m.type === 'result') p.resolve(m.value);
      else p.reject(fromWireError(m.error));
    }
  }

  failAll(e: LabError): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}

// ---- page side ----------------------------------------------------------------------------

export interface TransformersWorkerHandle {
  readonly worker: Worker;
  /** What the worker runs on (WebGPU, cross-origin isolation, wasm threads) and holds. Nothing is loaded. */
  hello(): Promise<TransformersHello>;
  /** A new port served by the worker, to transfer to the lab worker (or connectTransformers here). */
  createPort(): MessagePort;
  /** The worker failed (its script did not load, or it crashed). The rest of the lab keeps working. */
  onCrash(listener: (e: LabError) => void): () => void;
  terminate(): void;
}

export function startTransformersWorker(
  worker: Worker = new Worker(new URL('./transformers.worker.ts', import.meta.url), { type: 'module', name: 'transformers' }),
): TransformersWorkerHandle {
  const req = new Requester(worker);
  const crash = new Set<(e: LabError) => void>();
  worker.addEventListener('message', (ev: MessageEvent) => req.receive(ev.data as FromTransformers));
  worker.addEventListener('error', (ev: ErrorEvent) => {
    const e = new LabError('internal', `The transformers.js worker failed (${ev.message || 'its script did not load'}). transformers.js models are unavailable; the lab engine, web-llm and endpoints still work. Reload the page to try again.`);
    req.failAll(e);
    for (const l of crash) l(e);
  });
  return {
    worker,
    hello: () => req.request('hello', {}),
    createPort() {
      const channel = new MessageChannel();
      worker.postMessage({ type: 'connect', port: channel.port2 } satisfies ToTransformers, [channel.port2]);
      return channel.port1;
    },
    onCrash(l) {
      crash.add(l);
      return () => crash.delete(l);
    },
    terminate: () => worker.terminate(),
  };
}

// ---- lab-worker side ----------------------------------------------------------------------

export interface TransformersLoadOptions {
  onProgress?: (p: TransformersLoadProgress) => void;
  /** Aborting stops reading or downloading the files (those already stored stay). */
  signal?: AbortSignal;
}

export interface TransformersConnection {
  hello(): Promise<TransformersHello>;
  /** The model, loaded where the worker does not hold it yet. Rejects with LabErrors (not-found, no-webgpu, out-of-memory, network…). */
  load(spec: TransformersLoadSpec, opts?: TransformersLoadOptions): Promise<TransformersModelInfo>;
  unload(key: string): Promise<boolean>;
  /** The model interface over a loaded model: every call runs in the worker. */
  backend(model: TransformersModelInfo, label?: string): ModelBackend;
  close(): void;
}

/** transformers.js over a port from TransformersWorkerHandle.createPort (works in any worker or the page). */
export function connectTransformers(port: MessagePort): TransformersConnection {
  const req = new Requester(port);
  port.onmessage = (ev: MessageEvent) => req.receive(ev.data as FromTransformers);
  return {
    hello: () => req.request('hello', {}),
    load: (spec, opts = {}) => req.request('load', { spec }, opts),
    unload: (key) => req.request('unload', { key }),
    backend: (model, label = model.label) => ({
      info: { label, kind: 'transformers' },
      generate: (requests, o = {}) => req.request('generate', { key: model.key, requests }, { signal: o.signal, onText: o.onText }),
      score: (requests, o = {}) => req.request('score', { key: model.key, requests }, { signal: o.signal }),
      verdict: (requests, o = {}) => req.request('verdict', { key: model.key, requests }, { signal: o.signal }),
    }),
    close() {
      req.failAll(new LabError('cancelled', 'The transformers.js connection was closed.'));
      port.onmessage = null;
      port.close();
    },
  };
}
