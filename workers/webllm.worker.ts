/// <reference lib="webworker" />
/**
 * web-llm's engine in its own worker: WebWorkerMLCEngineHandler, serving several endpoints —
 * the page (this worker's own message channel) and any MessagePort the page connects (the lab
 * worker's). Each web-llm reply goes back to the endpoint that asked (by the request's uuid);
 * load progress goes to all of them. See webllm-link.ts for the two client sides.
 *
 * Before a load it checks what web-llm itself would only find after downloading the model
 * library: that there is WebGPU, and that the GPU has the features and limits the model needs
 * (shader-f16 for f16 builds, the storage binding size). It answers our `hello` with web-llm's
 * model list, so the page can show the picker without loading web-llm.
 */
import { WebWorkerMLCEngineHandler, modelVersion, prebuiltAppConfig, type AppConfig } from '@mlc-ai/web-llm';
import { probeWebGpu } from '../src/engine/gpu/report';
import { buildCatalog, webLlmFit } from '../src/models/catalog';
import { isSparMessage, type SparFromWebLlm, type SparToWebLlm, type WebLlmHello } from './webllm-messages';

interface Endpoint {
  postMessage(message: unknown): void;
}
interface EngineMessage {
  kind?: string;
  uuid?: string;
  content?: unknown;
}

const scope = self as unknown as DedicatedWorkerGlobalScope;
const handler = new WebWorkerMLCEngineHandler();
const endpoints = new Set<Endpoint>([scope]);
const replyTo = new Map<string, Endpoint>();
let appConfig: AppConfig = prebuiltAppConfig;

handler.postMessage = (msg: EngineMessage) => {
  const to = msg.uuid ? replyTo.get(msg.uuid) : undefined;
  if (!to) {
    for (const e of endpoints) e.postMessage(msg); // load progress: everyone
    return;
  }
  if (msg.kind === 'return' || msg.kind === 'throw') replyTo.delete(msg.uuid!);
  to.postMessage(msg);
};

/** Why these models cannot load on this GPU, as web-llm-style "Name: message" (null: go ahead). */
async function preflight(modelIds: string[]): Promise<string | null> {
  const gpu = await probeWebGpu();
  if (!gpu.available) return `WebGPUNotAvailableError: ${gpu.reason}`;
  const catalog = buildCatalog(appConfig.model_list);
  for (const id of modelIds) {
    const entry = catalog.find((e) => e.modelId === id);
    if (!entry) continue; // web-llm names an unknown id itself
    const fit = webLlmFit(entry, gpu, catalog);
    if (!fit.usable) return `FeatureSupportError: ${id}: ${fit.problems.join(' ')}`;
  }
  return null;
}

function dispatch(from: Endpoint, msg: EngineMessage): void {
  try {
    handler.onmessage(msg);
  } catch (e) {
    if (msg.uuid) from.postMessage({ kind: 'throw', uuid: msg.uuid, content: String(e) });
  }
}

function hello(): WebLlmHello {
  return {
    modelVersion,
    modelList: appConfig.model_list,
    webgpu: typeof navigator !== 'undefined' && 'gpu' in navigator,
    loaded: handler.modelId ? [...handler.modelId] : null,
  };
}

function receive(from: Endpoint, data: unknown): void {
  if (isSparMessage(data)) {
    const m = data as SparToWebLlm;
    if (m.spar === 'hello') from.postMessage({ spar: 'hello', id: m.id, hello: hello() } satisfies SparFromWebLlm);
    else if (m.spar === 'connect') {
      endpoints.add(m.port);
      m.port.onmessage = (ev: MessageEvent) => receive(m.port, ev.data);
    }
    return;
  }
  const msg = data as EngineMessage;
  if (msg.uuid) replyTo.set(msg.uuid, from);
  if (msg.kind === 'setAppConfig' && msg.content) appConfig = msg.content as AppConfig;
  if (msg.kind === 'reload') {
    const ids = (msg.content as { modelId: string[] }).modelId;
    void preflight(ids).then(
      (problem) => {
        if (!problem) return dispatch(from, msg);
        replyTo.delete(msg.uuid!);
        from.postMessage({ kind: 'throw', uuid: msg.uuid, content: problem });
      },
      () => dispatch(from, msg),
    );
    return;
  }
  dispatch(from, msg);
}

scope.onmessage = (ev: MessageEvent) => receive(scope, ev.data);
