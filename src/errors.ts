/**
 * One error type for the whole lab. Every failure that reaches a user carries a `kind` (what
 * went wrong, machine-readable, stable across the worker boundary) and a message that says
 * what to do next.
 */
export type ErrorKind =
  | 'no-webgpu' // the browser has no WebGPU, or no adapter
  | 'device-lost' // the GPU device was lost; reload the model
  | 'out-of-memory' // the GPU or the tab ran out of memory
  | 'unsupported' // a model, format or feature we do not support (the message names what is)
  | 'invalid-input' // a malformed file, setting or request (the message names the line/field)
  | 'not-found' // a run, record or model that does not exist
  | 'exists' // would overwrite something that exists
  | 'quota' // browser storage is full; nothing from the failed write was saved
  | 'blocked' // another tab holds an older version of the database open
  | 'version' // the database was written by a newer version of the lab
  | 'storage' // any other IndexedDB failure
  | 'network' // a download or an HTTP backend failed
  | 'timeout'
  | 'nan' // NaN/Inf in training; the last good state is kept
  | 'diverged' // training stopped on a vanishing or exploding gradient; the last good state is kept
  | 'cancelled'
  | 'busy' // another long job (self-play, evaluation) is running; one at a time
  | 'internal'; // a bug: please report it

export class LabError extends Error {
  override name = 'LabError';
  constructor(
    readonly kind: ErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What crosses the worker boundary: plain data, rebuilt into a LabError on the other side. */
export interface WireError {
  kind: ErrorKind;
  message: string;
  stack?: string;
}

export function toWireError(e: unknown): WireError {
  if (e instanceof LabError) return { kind: e.kind, message: e.message, stack: e.stack };
  if (e instanceof Error) {
    if (e.name === 'AbortError') return { kind: 'cancelled', message: 'Cancelled.' };
    return { kind: 'internal', message: `${e.name}: ${e.message}`, stack: e.stack };
  }
  return { kind: 'internal', message: String(e) };
}

export function fromWireError(w: WireError): LabError {
  const err = new LabError(w.kind, w.message);
  if (w.stack) err.stack = w.stack;
  return err;
}

export function isCancelled(e: unknown): boolean {
  return e instanceof LabError ? e.kind === 'cancelled' : e instanceof Error && e.name === 'AbortError';
}
