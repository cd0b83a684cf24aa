/// <reference lib="webworker" />
/**
 * transformers.js in its own worker: loads ONNX models (transformers-runtime.ts) and runs their
 * backends' calls, for every client — the page (this worker's own channel) and each MessagePort
 * the page connects (the lab worker's). The protocol is transformers-messages.ts; the clients are
 * in transformers-link.ts. Models are keyed by source, device and dtype, loaded once and shared by
 * every client and role.
 */
import type { ModelBackend } from '../src/backends/types';
import { loadOnnxModel, runtimeInfo, type LoadedOnnxModel } from '../src/backends/transformers-runtime';
import { hubSource } from '../src/engine/load/fetch';
import { browserFilesSource, type FileSource } from '../src/engine/load/files';
import { urlSource } from '../src/engine/load/url-source';
import { LabError, toWireError } from '../src/errors';
import { BUNDLED_MODELS, describeSource } from '../src/lab/run-config';
import {
  describeSpec,
  specSource,
  transformersKey,
  type FromTransformers,
  type ToTransformers,
  type TransformersApi,
  type TransformersLoadProgress,
  type TransformersLoadSpec,
  type TransformersMethod,
  type TransformersModelInfo,
} from './transformers-messages';

interface Endpoint {
  postMessage(message: FromTransformers): void;
}

interface Context {
  signal: AbortSignal;
  progress(p: TransformersLoadProgress): void;
  text(request: number, sample: number, delta: string): void;
}

const scope = self as unknown as DedicatedWorkerGlobalScope;
const models = new Map<string, { info: TransformersModelInfo; model: LoadedOnnxModel }>();
const loading = new Map<string, Promise<TransformersModelInfo>>();

/** The models shipped with the app sit under its base URL on the page's origin (as for the lab worker). */
function bundledUrl(name: keyof typeof BUNDLED_MODELS): string {
  const { origin } = self.location;
  if (origin === 'null') throw new LabError('internal', 'This worker has no address to find the models shipped with the app from.');
  return new URL(`${import.meta.env.BASE_URL}models/${name}/`, `${origin}/`).href;
}

function source(spec: TransformersLoadSpec, signal: AbortSignal): FileSource {
  const s = spec.source;
  if (s.type === 'hub') return hubSource(s.repo, { revision: s.revision, signal });
  if (s.type === 'bundled') return urlSource(bundledUrl(s.name), describeSource(s), { signal });
  if (!s.files?.length) throw new LabError('invalid-input', 'No files were chosen. Choose the ONNX model folder (config.json, tokenizer.json, onnx/model*.onnx).');
  return browserFilesSource(s.files, s.label);
}

function nameOf(spec: TransformersLoadSpec): string {
  const s = spec.source;
  return s.type === 'hub' ? (s.repo.split('/').pop() ?? s.repo) : s.type === 'bundled' ? BUNDLED_MODELS[s.name].title : s.label;
}

async function load(spec: TransformersLoadSpec, ctx: Context): Promise<TransformersModelInfo> {
  const key = transformersKey({ model: specSource(spec), device: spec.device, dtype: spec.dtype });
  const have = models.get(key);
  if (have && spec.source.type !== 'files') return have.info;
  const pending = loading.get(key);
  if (pending) return pending;
  const run = (async () => {
    const model = await loadOnnxModel(source(spec, ctx.signal), { device: spec.device, dtype: spec.dtype, name: nameOf(spec), onProgress: ctx.progress, signal: ctx.signal });
    await unload(key); // a folder picked again replaces the old one
    const info: TransformersModelInfo = {
      key,
      source: specSource(spec),
      device: spec.device,
      dtype: spec.dtype,
      description: describeSpec(spec),
      modelType: model.modelType,
      vocabSize: model.vocabSize,
      contextLength: model.contextLength,
      label: model.backend.info.label,
    };
    models.set(key, { info, model });
    return info;
  })().finally(() => loading.delete(key));
  loading.set(key, run);
  return run;
}

async function unload(key: string): Promise<boolean> {
  const have = models.get(key);
  if (!have) return false;
  models.delete(key);
  await have.model.dispose();
  return true;
}

function backend(key: string): ModelBackend {
  const have = models.get(key);
  if (!have) throw new LabError('not-found', `transformers.js holds no model ${key}; load it first.`);
  return have.model.backend;
}

type Handlers = { [M in TransformersMethod]: (params: TransformersApi[M]['params'], ctx: Context) => Promise<TransformersApi[M]['result']> };

const handlers: Handlers = {
  hello: async () => ({ ...runtimeInfo(), loaded: [...models.values()].map((m) => m.info) }),
  load: ({ spec }, ctx) => load(spec, ctx),
  unload: ({ key }) => unload(key),
  generate: ({ key, requests }, ctx) => backend(key).generate(requests, { signal: ctx.signal, onText: ctx.text }),
  score: ({ key, requests }, ctx) => backend(key).score!(requests, { signal: ctx.signal }),
  verdict: ({ key, requests }, ctx) => backend(key).verdict!(requests, { signal: ctx.signal }),
};

function serve(endpoint: Endpoint, listen: (receive: (data: ToTransformers) => void) => void): void {
  const inFlight = new Map<number, AbortController>();
  listen((msg) => {
    if (msg.type === 'connect') {
      serve(msg.port, (receive) => (msg.port.onmessage = (ev: MessageEvent) => receive(ev.data as ToTransformers)));
      return;
    }
    if (msg.type === 'cancel') {
      inFlight.get(msg.id)?.abort();
      return;
    }
    const { id } = msg;
    const controller = new AbortController();
    inFlight.set(id, controller);
    const ctx: Context = {
      signal: controller.signal,
      progress: (progress) => endpoint.postMessage({ type: 'progress', id, progress }),
      text: (request, sample, delta) => endpoint.postMessage({ type: 'text', id, request, sample, delta }),
    };
    const handler = handlers[msg.method] as (p: unknown, c: Context) => Promise<unknown>;
    Promise.resolve()
      .then(() => handler(msg.params, ctx))
      .then(
        (value) => endpoint.postMessage({ type: 'result', id, value }),
        (e) => endpoint.postMessage({ type: 'error', id, error: controller.signal.aborted ? { kind: 'cancelled', message: 'Cancelled.' } : toWireError(e) }),
      )
      .finally(() => inFlight.delete(id));
  });
}

serve(scope as unknown as Endpoint, (receive) => (scope.onmessage = (ev: MessageEvent) => receive(ev.data as ToTransformers)));
