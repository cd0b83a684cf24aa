/**
 * The two ends of the protocol in protocol.ts: `serve` (worker side) dispatches requests to
 * handlers; `LabClient` (page side) turns calls into promises. Both take a MessagePort-like
 * endpoint, so tests can connect them with a MessageChannel.
 */
import { LabError, fromWireError, toWireError } from '../src/errors';
import type { FromWorker, Handlers, LabEvent, Method, Params, Progress, Result, ToWorker } from './protocol';

export interface Endpoint {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (ev: MessageEvent) => void): void;
}

export function serve(endpoint: Endpoint, handlers: Handlers): { emit(event: LabEvent): void } {
  const inFlight = new Map<number, AbortController>();
  const post = (m: FromWorker) => endpoint.postMessage(m);
  endpoint.addEventListener('message', (ev) => {
    const msg = ev.data as ToWorker;
    if (msg.type === 'cancel') {
      inFlight.get(msg.id)?.abort();
      return;
    }
    const { id, method, params } = msg;
    const controller = new AbortController();
    inFlight.set(id, controller);
    const handler = handlers[method] as (p: unknown, ctx: Parameters<Handlers[Method]>[1]) => Promise<unknown>;
    Promise.resolve()
      .then(() => {
        if (!handler) throw new LabError('internal', `The worker has no method "${String(method)}".`);
        return handler(params, {
          signal: controller.signal,
          progress: (progress) => post({ type: 'progress', id, progress }),
        });
      })
      .then(
        (value) => post({ type: 'result', id, value }),
        (e) => post({ type: 'error', id, error: controller.signal.aborted ? { kind: 'cancelled', message: 'Cancelled.' } : toWireError(e) }),
      )
      .finally(() => inFlight.delete(id));
  });
  return { emit: (event) => post({ type: 'event', event }) };
}

export interface CallOptions {
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** Objects moved to the worker with the params rather than copied (a MessagePort must be). */
  transfer?: Transferable[];
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  onProgress?: (p: Progress) => void;
}

export class LabClient {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private listeners = new Set<(e: LabEvent) => void>();

  constructor(private endpoint: Endpoint) {
    endpoint.addEventListener('message', (ev) => this.receive(ev.data as FromWorker));
  }

  call<M extends Method>(method: M, params: Params<M>, opts: CallOptions = {}): Promise<Result<M>> {
    const id = this.nextId++;
    if (opts.signal?.aborted) return Promise.reject(new LabError('cancelled', 'Cancelled.'));
    return new Promise<Result<M>>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onProgress: opts.onProgress });
      opts.signal?.addEventListener('abort', () => this.endpoint.postMessage({ type: 'cancel', id } satisfies ToWorker), {
        once: true,
      });
      this.endpoint.postMessage({ type: 'request', id, method, params } as ToWorker, opts.transfer ?? []);
    });
  }

  onEvent(listener: (e: LabEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Fails every call in flight, e.g. when the worker itself crashed. */
  failAll(error: LabError): void {
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }

  private receive(msg: FromWorker): void {
    if (msg.type === 'event') {
      for (const l of this.listeners) l(msg.event);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.type === 'progress') p.onProgress?.(msg.progress);
    else {
      this.pending.delete(msg.id);
      if (msg.type === 'result') p.resolve(msg.value);
      else p.reject(fromWireError(msg.error));
    }
  }
}
