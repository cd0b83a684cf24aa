/**
 * The worker's model host: loads models by source (the generated tiny demo model, a model
 * shipped with the app, a Hugging Face repository, a folder of local files), keeps each loaded
 * once, and hands out role-bound backends — a lab-engine view with the role's adapters, a web-llm
 * model (frozen; see webllm-host.ts), a transformers.js ONNX model (frozen; see
 * transformers-host.ts), or an OpenAI-compatible endpoint. Actor and refiner on the same model share
 * one loaded base (two views over one engine); web-llm roles are loaded together in one call.
 */
import { parameterCount } from '../engine/load/inspect';
import { createOpenAIBackend, type OpenAIBackendOptions, type RetryNotice } from '../backends/openai';
import { listEndpointModels } from '../backends/openai-models';
import { TRANSFORMERS_CAPABILITIES } from '../backends/transformers';
import { WEBLLM_CAPABILITIES } from '../backends/webllm';
import type { ModelBackend } from '../backends/types';
import { LabError } from '../errors';
import { hubSource, offlineError, type HubSourceOptions } from '../engine/load/fetch';
import { browserFilesSource, memorySource, type FileSource, type PickedFile } from '../engine/load/files';
import { loadModel, type LoadedModel } from '../engine/load/model';
import { urlSource } from '../engine/load/url-source';
import { checkModelFits, planModel, totalProgress, type DeviceLimits, type FitReport } from '../engine/load/plan';
import type { LoraAdapter } from '../engine/model/weights';
import { tinyModelFiles } from '../engine/tiny/tiny';
import { nameOrPathOf } from '../models/hf-base';
import type { Models } from '../spar/instruction';
import { CPU_ENGINE, type EngineKind, type LabEngineLike, type Trainable } from './engine';
import { BUNDLED_MODELS, describeSource, modelKey, requireCompleteBinding, TINY_MODEL_CONTEXT, webLlmIds, type ModelSourceSpec, type Role, type RoleBinding } from './run-config';
import { madeForPreset, type ModelWindow } from './context-check';
import { TransformersHost, type TransformersHostOptions } from './transformers-host';
import { WebLlmHost, type WebLlmHostOptions } from './webllm-host';

/** The tiny demo model's shape: the generator's defaults with room for the demo's prompts. */
export const TINY_DEMO_SHAPE = { maxPositionEmbeddings: TINY_MODEL_CONTEXT } as const;

/** A source to load, with the files themselves where the source is local. */
export type LoadRequest = Exclude<ModelSourceSpec, { type: 'files' }> | { type: 'files'; label: string; files: (File | PickedFile)[] };

export interface ModelSummary {
  key: string;
  source: ModelSourceSpec;
  /** Short name, e.g. "SmolLM2-135M-Instruct-q4f16_1-MLC" or "tiny-1". */
  name: string;
  description: string;
  /** Which engine holds it ("CPU reference engine", "WebGPU engine"). */
  engine: string;
  format: 'hf' | 'mlc';
  /** config.json's _name_or_path of a local checkpoint: the model it was saved from (PEFT exports name it as the base). */
  nameOrPath: string | null;
  quantization: string | null;
  arch: string;
  layers: number;
  hiddenSize: number;
  vocabSize: number;
  contextLength: number;
  parameters: number;
  loadedAt: number;
  /** The fit check made before loading (absent without WebGPU or for the tiny model). */
  fit: FitReport | null;
}

export interface PlanReport {
  name: string;
  format: 'hf' | 'mlc';
  quantization: string | null;
  arch: string;
  parameters: number;
  weightBytes: number;
  downloadBytes: number | null;
  /** Null where this browser has no WebGPU to check against. */
  fit: FitReport | null;
}

export interface ModelHostOptions {
  /** Default: the CPU reference (the worker passes the WebGPU engine where there is WebGPU). */
  engine?: EngineKind;
  /** Hub access (tests point it at a local server or a fake fetch). */
  hub?: Pick<HubSourceOptions, 'endpoint' | 'fetch' | 'caches'>;
  /**
   * Where the models shipped with the app are: the absolute URL of the folder holding one folder
   * per model (the worker's: `<app base URL>models/` on the page's origin).
   */
  bundled?: { baseUrl: string; fetch?: typeof fetch };
  /** How OpenAI-compatible endpoints are asked (tests: a fake fetch, short retry waits); default the backend's. */
  endpoints?: Pick<OpenAIBackendOptions, 'fetch' | 'maxRetries' | 'retryDelayMs' | 'maxRetryDelayMs' | 'timeoutMs'>;
  /** This device's WebGPU limits for the fit check; null where there is no WebGPU. */
  limits?: () => Promise<DeviceLimits | null>;
  onDeviceLost?: (key: string, message: string) => void;
  /** web-llm's events and hub access (the connection itself is attached later by the page). */
  webllm?: WebLlmHostOptions;
  /** transformers.js's events (the connection itself is attached later by the page). */
  transformers?: TransformersHostOptions;
  now?: () => number;
}

/** What a step may need of a role's model beyond generating and judging. */
export type RoleNeed = 'train' | 'score' | 'lora';

const NEED_TEXT: Record<RoleNeed, string> = {
  train: 'train LoRA adapters',
  score: 'score a given text (DPO and SFT need log-probabilities of the pairs)',
  lora: "apply the run's LoRA adapters",
};

/**
 * Refuses a role whose backend cannot do what a step needs (training, scoring, adapters), with
 * a message that says how to go on. web-llm, transformers.js and endpoints serve frozen models;
 * only the lab engine trains.
 */
export function requireCapability(b: RoleBinding, role: Role, need: RoleNeed): void {
  if (b.kind === 'lab') return;
  if (b.kind === 'webllm' && WEBLLM_CAPABILITIES[need]) return;
  if (b.kind === 'transformers' && TRANSFORMERS_CAPABILITIES[need]) return;
  const who =
    b.kind === 'webllm'
      ? `web-llm (${b.model}), which serves frozen models`
      : b.kind === 'transformers'
        ? `transformers.js (${describeSource(b.model)}), which serves frozen models`
        : `an OpenAI-compatible endpoint (${b.model}), which serves a frozen model`;
  const instead =
    b.kind === 'webllm'
      ? 'Switch it to the lab engine in Setup: for web-llm models the lab engine can load, "Weights web-llm cached" uses the same files without a second download.'
      : b.kind === 'transformers'
        ? "Switch it to the lab engine in Setup, with the model's safetensors checkpoint (the lab engine does not read ONNX)."
        : 'Switch it to the lab engine in Setup.';
  throw new LabError('unsupported', `The ${role} is served by ${who} and cannot ${NEED_TEXT[need]}. ${instead}`);
}

interface LoadOptions {
  signal?: AbortSignal;
  onProgress?: (p: { label: string; done: number; total?: number }) => void;
}

/** Told when a role's model server is asked again after a failed request (endpoints retry; other backends do not). */
export type RetryListener = (role: Role, r: RetryNotice) => void;

interface Entry {
  summary: ModelSummary;
  engine: LabEngineLike;
}

export class ModelHost {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<Entry>>();
  /** API keys by endpoint URL: memory only, never stored or exported. */
  private readonly apiKeys = new Map<string, string>();
  readonly engineKind: EngineKind;
  /** web-llm's models, once the page has attached the web-llm worker. */
  readonly webllm: WebLlmHost;
  /** transformers.js's models, once the page has attached the transformers.js worker. */
  readonly transformers: TransformersHost;

  constructor(private readonly opts: ModelHostOptions = {}) {
    this.engineKind = opts.engine ?? CPU_ENGINE;
    this.webllm = new WebLlmHost(opts.webllm);
    this.transformers = new TransformersHost(opts.transformers);
  }

  /** A model is loading (a download may be writing to the caches). */
  get loadingAny(): boolean {
    return this.loading.size > 0 || this.webllm.loading || this.transformers.loading;
  }

  list(): ModelSummary[] {
    return [...this.entries.values()].map((e) => e.summary);
  }

  get(key: string): ModelSummary | undefined {
    return this.entries.get(key)?.summary;
  }

  /** What loading a hub or local model would take, and whether it fits this GPU (nothing downloaded but small files). */
  async plan(req: LoadRequest, opts: LoadOptions = {}): Promise<PlanReport> {
    if (req.type === 'tiny') throw new LabError('invalid-input', 'The tiny model is generated in memory; there is nothing to plan.');
    const source = this.source(req, opts.signal);
    const plan = await planModel(source).catch((e) => Promise.reject(offlineError(source, e)));
    const limits = await this.limits();
    const c = plan.info.config;
    return {
      name: nameOf(req),
      format: plan.info.format,
      quantization: plan.info.quantization,
      arch: c.arch,
      parameters: parameterCount(c),
      weightBytes: plan.weightBytes,
      downloadBytes: plan.downloadBytes,
      fit: limits ? checkModelFits(plan, limits) : null,
    };
  }

  /** Loads a model (once: a second request for the same source gets the same model). */
  async load(req: LoadRequest, opts: LoadOptions = {}): Promise<ModelSummary> {
    const key = modelKey(req.type === 'files' ? { type: 'files', label: req.label } : req);
    const have = this.entries.get(key);
    if (have && req.type !== 'files') return have.summary;
    if (have) this.unload(key); // a folder picked again replaces the old one
    let pending = this.loading.get(key);
    if (!pending) {
      pending = this.doLoad(key, req, opts).finally(() => this.loading.delete(key));
      this.loading.set(key, pending);
    }
    return (await pending).summary;
  }

  unload(key: string): boolean {
    const e = this.entries.get(key);
    if (!e) return false;
    e.engine.destroy();
    this.entries.delete(key);
    return true;
  }

  setApiKey(baseUrl: string, apiKey: string): void {
    if (apiKey) this.apiKeys.set(baseUrl.trim(), apiKey);
    else this.apiKeys.delete(baseUrl.trim());
  }

  hasApiKey(baseUrl: string): boolean {
    return this.apiKeys.has(baseUrl.trim());
  }

  /** Endpoints that have a key this session (never the keys themselves). */
  apiKeyUrls(): string[] {
    return [...this.apiKeys.keys()];
  }

  /** The models an endpoint lists, asked with this session's key for it. */
  endpointModels(baseUrl: string, signal?: AbortSignal): Promise<string[]> {
    return listEndpointModels(baseUrl, { apiKey: this.apiKeys.get(baseUrl.trim()), signal });
  }

  /**
   * Backends for both roles, loading lab-engine models that can be loaded without the user
   * (tiny, hub) and applying the given adapters. Local folders must have been opened first.
   */
  async backends(
    bindings: Record<Role, RoleBinding>,
    opts: LoadOptions & { adapters?: Partial<Record<Role, LoraAdapter>>; onRetry?: RetryListener } = {},
  ): Promise<Models> {
    for (const role of ['actor', 'refiner'] as const) {
      requireCompleteBinding(bindings[role], role); // before any model loads
      if (opts.adapters?.[role]) requireCapability(bindings[role], role, 'lora');
    }
    // Both roles' web-llm models in one load: a load replaces what web-llm held.
    const ids = webLlmIds([bindings.actor, bindings.refiner]);
    if (ids.length) await this.webllm.load(ids, opts);
    const actor = await this.backend(bindings.actor, 'actor', { ...opts, adapter: opts.adapters?.actor });
    const refiner = await this.backend(bindings.refiner, 'refiner', { ...opts, adapter: opts.adapters?.refiner });
    return { actor, refiner };
  }

  /** One role's backend (e.g. the actor, for an evaluation). */
  async backend(b: RoleBinding, role: Role, opts: LoadOptions & { adapter?: LoraAdapter; onRetry?: RetryListener } = {}): Promise<ModelBackend> {
    requireCompleteBinding(b, role);
    if (b.kind === 'openai') {
      const onRetry = opts.onRetry && ((r: RetryNotice) => opts.onRetry!(role, r));
      return createOpenAIBackend({ ...this.opts.endpoints, baseUrl: b.baseUrl, model: b.model, apiKey: this.apiKeys.get(b.baseUrl), verdict: b.verdict, label: `${b.model} at ${b.baseUrl} · ${role}`, onRetry });
    }
    if (b.kind === 'webllm') {
      if (opts.adapter) requireCapability(b, role, 'lora');
      return this.webllm.backend(b.model, role, opts);
    }
    if (b.kind === 'transformers') {
      if (opts.adapter) requireCapability(b, role, 'lora');
      return this.transformers.backend(b, role, opts);
    }
    const entry = await this.ensure(b.model, opts);
    const adapter = opts.adapter;
    if (adapter) await entry.engine.setAdapter(adapter);
    return entry.engine.view({ adapters: adapter ? [adapter.name] : [], role: adapter ? `${role} (${adapter.name})` : `${role} (base)` });
  }

  /**
   * What the context check needs of a role's model, where it is a loaded lab-engine model: its
   * usable context and its own chat tokenizer. Null for others (web-llm, transformers.js,
   * endpoints), which are not checked here (transformers.js refuses a prompt longer than its
   * context itself).
   */
  contextWindow(b: RoleBinding): ModelWindow | null {
    if (b.kind !== 'lab') return null;
    const training = this.entries.get(modelKey(b.model))?.engine.training;
    if (!training) return null;
    return {
      name: describeSource(b.model),
      contextLength: training.contextLength,
      countChat: (messages) => training.tokenizer.encodeChat(messages, { addGenerationPrompt: true }).length,
      madeFor: madeForPreset(b.model),
    };
  }

  /**
   * The lab engine holding a role's model, for training its adapters (loaded if need be). Frozen
   * roles (web-llm, transformers.js, endpoints) are refused with a message that says how to go on.
   */
  async trainable(b: RoleBinding, role: Role, opts: LoadOptions = {}): Promise<{ engine: LabEngineLike; training: Trainable; summary: ModelSummary }> {
    requireCapability(b, role, 'train');
    if (b.kind !== 'lab') throw new LabError('internal', `The ${role} is not served by the lab engine.`);
    const entry = await this.ensure(b.model, opts);
    const training = entry.engine.training;
    if (!training) throw new LabError('unsupported', `The ${this.engineKind.name} cannot train adapters.`);
    return { engine: entry.engine, training, summary: entry.summary };
  }

  private async ensure(spec: ModelSourceSpec, opts: LoadOptions): Promise<Entry> {
    const key = modelKey(spec);
    const have = this.entries.get(key);
    if (have) return have;
    if (spec.type === 'files') {
      throw new LabError('not-found', `The model folder “${spec.label}” is not open (local files cannot be reopened after a reload). Open the folder again in Setup.`);
    }
    await this.load(spec, opts);
    return this.entries.get(key)!;
  }

  private async doLoad(key: string, req: LoadRequest, opts: LoadOptions): Promise<Entry> {
    const progress = opts.onProgress ?? (() => {});
    const name = nameOf(req);
    let loaded: LoadedModel;
    let fit: FitReport | null = null;
    let nameOrPath: string | null = null;
    if (req.type === 'tiny') {
      progress({ label: 'Generating the tiny model', done: 0 });
      loaded = await loadModel(memorySource(tinyModelFiles({ format: 'hf', seed: req.seed, ...TINY_DEMO_SHAPE }), name));
    } else {
      const source = this.source(req, opts.signal);
      progress({ label: 'Reading the model description', done: 0 });
      const plan = await planModel(source).catch((e) => Promise.reject(offlineError(source, e)));
      const limits = await this.limits();
      if (limits) {
        fit = checkModelFits(plan, limits);
        if (fit.verdict === 'too-large') throw new LabError('out-of-memory', fit.message);
      }
      const label = req.type === 'hub' ? 'Downloading (or reading from the browser cache)' : req.type === 'bundled' ? 'Reading the files shipped with the app' : 'Reading the files';
      const onFile = totalProgress(plan, (done, total) => progress({ label, done, total: total ?? undefined }));
      loaded = await loadModel(source, { onProgress: (path, done) => onFile(path, done) }).catch((e) => Promise.reject(offlineError(source, e)));
      // Small files (tokenizer, configs) are read without progress: close the bar at 100%.
      if (plan.downloadBytes !== null) progress({ label, done: plan.downloadBytes, total: plan.downloadBytes });
      if (req.type === 'files' && loaded.format === 'hf') nameOrPath = await nameOrPathOf(source);
    }
    if (opts.signal?.aborted) throw new LabError('cancelled', 'Cancelled.');
    progress({ label: `Starting the ${this.engineKind.name}`, done: 0 });
    const engine = await this.engineKind.create(loaded, name);
    const c = loaded.config;
    const summary: ModelSummary = {
      key,
      source: req.type === 'files' ? { type: 'files', label: req.label } : req,
      name,
      description: describeSource(req.type === 'files' ? { type: 'files', label: req.label } : req),
      engine: this.engineKind.name,
      format: loaded.format,
      nameOrPath,
      quantization: loaded.quantization,
      arch: c.arch,
      layers: c.numLayers,
      hiddenSize: c.hiddenSize,
      vocabSize: c.vocabSize,
      contextLength: c.maxPositionEmbeddings,
      parameters: parameterCount(c),
      loadedAt: (this.opts.now ?? Date.now)(),
      fit,
    };
    engine.onDeviceLost?.((message) => {
      // The model is gone with its device: forget it, so the next use loads it again.
      if (this.entries.get(key)?.engine === engine) this.entries.delete(key);
      try {
        engine.destroy();
      } catch {
        // already unusable
      }
      this.opts.onDeviceLost?.(key, message);
    });
    const entry = { summary, engine };
    this.entries.set(key, entry);
    return entry;
  }

  private source(req: LoadRequest, signal?: AbortSignal): FileSource {
    if (req.type === 'hub') return hubSource(req.repo, { revision: req.revision, signal, ...this.opts.hub });
    if (req.type === 'bundled') {
      const bundled = this.opts.bundled;
      if (!bundled) throw new LabError('internal', `${describeSource(req)} is served with the app, and this model host was not told the app's address.`);
      return urlSource(new URL(`${req.name}/`, bundled.baseUrl.endsWith('/') ? bundled.baseUrl : `${bundled.baseUrl}/`).href, describeSource(req), { fetch: bundled.fetch, signal });
    }
    if (req.type === 'files') {
      if (!req.files?.length) throw new LabError('invalid-input', 'No files were chosen. Choose the model folder (config.json or mlc-chat-config.json, weights, tokenizer.json).');
      return browserFilesSource(req.files, req.label);
    }
    throw new LabError('internal', `No file source for ${req.type}.`);
  }

  private async limits(): Promise<DeviceLimits | null> {
    return this.opts.limits ? this.opts.limits() : null;
  }
}

function nameOf(req: LoadRequest): string {
  if (req.type === 'tiny') return `tiny-${req.seed}`;
  if (req.type === 'hub') return req.repo.split('/').pop() ?? req.repo;
  if (req.type === 'bundled') return BUNDLED_MODELS[req.name].title;
  return req.label;
}
