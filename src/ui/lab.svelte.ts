/**
 * The page's side of the lab: the only module that talks to the lab worker. It exports verbs
 * (createRun, startSelfPlay, exportFile, …) and reactive state that components read, and folds
 * the worker's events (run changes, self-play progress, finished trees, streamed text) into
 * that state. Components never post messages themselves.
 */
import { LabError } from '../errors';
import type { GpuReport } from '../engine/gpu/report';
import type { RunSummary, StorageReport } from '../store/lab-store';
import { storageReport } from '../store/lab-store';
import type { EvalRecord, RunRecord } from '../store/records';
import type { TreeSummary } from '../lab/browse';
import type { ModelSummary } from '../lab/models';
import type { ExportKind } from '../lab/exports';
import type { GenerateOptions } from '../lab/prompts';
import type { SelfPlayState, SelfPlayStats } from '../lab/selfplay';
import type { TrainLivePhase, TrainLiveState, TrainMemory } from '../lab/train';
import type { StepMetrics } from '../engine/train/trainer';
import type { CallPurpose } from '../spar/calls';
import type { LabEvent, Method, Params, Progress, Result } from '../../workers/protocol';
import { LabClient } from '../../workers/rpc';
import { startWebLlmWorker, type WebLlmLoadProgress } from '../../workers/webllm-link';
import { startTransformersWorker, type TransformersLoadProgress, type TransformersLoadSpec } from '../../workers/transformers-link';
import { describeSource, parseRunConfig, webLlmIds, type Role } from '../lab/run-config';
import type { TransformersStatus } from '../lab/transformers-host';
import type { WebLlmStatus } from '../lab/webllm-host';
import { buildCatalog, type CatalogEntry } from '../models/catalog';
import type { ModelDetails, StoredModel } from '../models/model-cache';

/** The web-llm worker as the page sees it (started only when a web-llm choice is used). */
export interface WebLlmState {
  state: 'off' | 'starting' | 'ready' | 'failed';
  /** web-llm's chat models (from the worker's hello), for the picker. */
  catalog: CatalogEntry[];
  /** web-llm's model library version, e.g. "v0_2_86/base". */
  version: string;
  status: WebLlmStatus;
  /** The load in progress, whoever started it. */
  progress: { modelIds: string[]; progress: WebLlmLoadProgress } | null;
}

/** The transformers.js worker as the page sees it (started only when a transformers.js choice is used). */
export interface TransformersState {
  state: 'off' | 'starting' | 'ready' | 'failed';
  /** What it runs on (status.runtime: WebGPU, cross-origin isolation, wasm threads) and the models it holds. */
  status: TransformersStatus;
  /** The load in progress (bytes of the model's graph), whoever started it; `key` is its transformersKey. */
  progress: { key: string; progress: TransformersLoadProgress } | null;
}

/** What the page knows about a run's self-play right now. */
export interface LiveSelfPlay {
  state: SelfPlayState;
  stats: SelfPlayStats | null;
  text: { promptId: string; purpose: CallPurpose; text: string } | null;
  /** Finished instructions of this session, newest first. */
  trees: TreeSummary[];
}

/** What the page knows about a run's training right now. */
export interface LiveTraining {
  iteration: number;
  role: Role;
  state: TrainLiveState;
  step: number;
  totalSteps: number;
  memory: TrainMemory | null;
  /** What it is doing (absent until the worker says). */
  phase?: TrainLivePhase;
}

export interface CallOptions {
  /** Show a progress bar with this label while the call runs. */
  task?: string;
  /**
   * The control that asked, as the key of a <Feedback at={key}> beside it: the call's progress
   * and error show there, in view, instead of in the banner at the top of the page.
   */
  at?: string;
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
}

class Lab {
  gpu = $state<GpuReport | null>(null);
  storage = $state<StorageReport | null>(null);
  runs = $state<RunSummary[] | null>(null);
  /** The newest error worth showing to the user; cleared by dismissError(). */
  error = $state<LabError | null>(null);
  /** A long operation in progress, shown as a progress bar (beside the control `at`, where given). */
  task = $state<{ label: string; progress: Progress | null; at?: string } | null>(null);
  /** The control whose web-llm load is in progress (its <Feedback> shows the download). */
  webllmAt = $state<string | null>(null);
  /** Models loaded in the worker, and the engine that holds them (with why it is not WebGPU, where it is not). */
  models = $state<{ engine: string; whyNotWebGpu: string | null; models: ModelSummary[]; apiKeys: string[] }>({ engine: '', whyNotWebGpu: null, models: [], apiKeys: [] });
  webllm = $state<WebLlmState>({ state: 'off', catalog: [], version: '', status: { attached: false, loaded: null }, progress: null });
  transformers = $state<TransformersState>({ state: 'off', status: { attached: false, runtime: null, loaded: [] }, progress: null });
  /** Model files stored in this browser (both engines' caches); null until read. */
  stored = $state<StoredModel[] | null>(null);
  /** Exact sizes and support of web-llm models, fetched when a model is picked ('failed': offline, keep the estimate). */
  details = $state<Record<string, ModelDetails | 'failed'>>({});
  /** Self-play state per run id. */
  live = $state<Record<string, LiveSelfPlay>>({});
  /** Training state per run id. */
  training = $state<Record<string, LiveTraining>>({});
  /** The actor M_t an evaluation started in this page is scoring, per run id. */
  evaluating = $state<Record<string, number>>({});
  /**
   * Steps streamed in this session per run id, for the training now (the Train view adds the
   * stored log). Raw state, replaced on each event: thousands of points need no deep reactivity.
   */
  trainSteps = $state.raw<Record<string, StepMetrics[]>>({});
  /** Bumped whenever a run's stored results change (views reload what they show). */
  revision = $state<Record<string, number>>({});

  private client: LabClient;
  /** Which control each error shown beside one belongs to (see errorAt). */
  private errorPlaces = new WeakMap<LabError, string>();
  private webllmStart: Promise<boolean> | null = null;
  private transformersStart: Promise<boolean> | null = null;

  constructor() {
    const worker = new Worker(new URL('../../workers/lab.worker.ts', import.meta.url), { type: 'module', name: 'lab' });
    this.client = new LabClient(worker);
    worker.addEventListener('error', (e) => {
      const err = new LabError('internal', `The lab worker crashed: ${e.message || 'unknown error'}. Reload the page; finished work is saved.`);
      this.client.failAll(err);
      this.error = err;
    });
    this.client.onEvent((ev) => this.onEvent(ev));
  }

  async start(): Promise<void> {
    // persist() is only offered to pages, not workers: ask here, once.
    void storageReport(true).then((s) => (this.storage = s));
    await Promise.all([
      this.guard(async () => (this.gpu = await this.client.call('gpu.report', {}))),
      this.refreshRuns(),
      this.refreshModels(),
      this.refreshStored(),
    ]);
  }

  /**
   * Starts the web-llm worker (a large script, so only when a web-llm choice is used) and
   * connects it to the lab worker. Resolves false (with the error shown) where it cannot start.
   */
  ensureWebLlm(): Promise<boolean> {
    this.webllmStart ??= (async () => {
      this.webllm.state = 'starting';
      try {
        const handle = startWebLlmWorker();
        handle.onCrash((e) => {
          this.error = e;
          this.webllm.state = 'failed';
          this.webllmStart = null; // the next web-llm choice starts a fresh worker
          handle.terminate();
        });
        const port = handle.createPort();
        const [hello, status] = await Promise.all([handle.hello(), this.client.call('webllm.attach', { port }, { transfer: [port] })]);
        this.webllm.catalog = buildCatalog(hello.modelList);
        this.webllm.version = hello.modelVersion;
        this.webllm.status = { attached: status.attached, loaded: status.loaded };
        this.webllm.state = 'ready';
        void this.refreshStored(); // rows get web-llm's model ids
        return true;
      } catch (e) {
        this.showError(e);
        this.webllm.state = 'failed';
        this.webllmStart = null;
        return false;
      }
    })();
    return this.webllmStart;
  }

  /**
   * Starts the transformers.js worker (it loads ONNX Runtime, so only when a transformers.js
   * choice is used) and connects it to the lab worker. Resolves false (with the error shown) where it cannot start.
   */
  ensureTransformers(): Promise<boolean> {
    this.transformersStart ??= (async () => {
      this.transformers.state = 'starting';
      try {
        const handle = startTransformersWorker();
        handle.onCrash((e) => {
          this.error = e;
          this.transformers.state = 'failed';
          this.transformersStart = null; // the next transformers.js choice starts a fresh worker
          handle.terminate();
        });
        const port = handle.createPort();
        // hello() fails at once where the worker's script does not load; the attach alone would wait.
        const [, status] = await Promise.all([handle.hello(), this.client.call('transformers.attach', { port }, { transfer: [port] })]);
        this.transformers.status = status;
        this.transformers.state = 'ready';
        return true;
      } catch (e) {
        this.showError(e);
        this.transformers.state = 'failed';
        this.transformersStart = null;
        return false;
      }
    })();
    return this.transformersStart;
  }

  /** Loads an ONNX model into transformers.js (a hub model downloads what is not cached; a picked folder comes with its files). */
  async loadTransformers(spec: TransformersLoadSpec, at?: string): Promise<boolean> {
    if (!(await this.ensureTransformers())) return false;
    const r = await this.call('transformers.load', { spec }, { at });
    if (r) this.transformers.status = r;
    return r !== null;
  }

  async unloadTransformers(key: string): Promise<void> {
    const r = await this.call('transformers.unload', { key });
    if (r) this.transformers.status = r;
  }

  /** Loads web-llm models together (downloading what is missing; a broken download continues where it stopped). */
  async loadWebLlm(modelIds: string[], at?: string): Promise<boolean> {
    if (!(await this.ensureWebLlm())) return false;
    this.webllmAt = at ?? null;
    try {
      const r = await this.call('webllm.load', { modelIds }, { at });
      if (r) this.webllm.status = r;
      await this.refreshStored();
      return r !== null;
    } finally {
      this.webllmAt = null;
    }
  }

  /** Continues a web-llm download that broke off (web-llm fetches only the missing files). */
  async continueDownload(baseUrl: string, at?: string): Promise<boolean> {
    if (!(await this.ensureWebLlm())) return false;
    const id = this.webllm.catalog.find((e) => e.baseUrl === baseUrl)?.modelId;
    if (!id) {
      this.showError(new LabError('not-found', `web-llm does not list a model stored under ${baseUrl}, so it cannot continue its download. Delete the files and pick a model from the list.`), at);
      return false;
    }
    return this.loadWebLlm([id], at);
  }

  async unloadWebLlm(): Promise<void> {
    const r = await this.call('webllm.unload', {});
    if (r) this.webllm.status = r;
  }

  /** Exact download size and support of one web-llm model, once (offline: the estimate stays). */
  async webLlmDetails(modelId: string): Promise<void> {
    if (this.details[modelId] || this.webllm.state !== 'ready') return;
    try {
      this.details[modelId] = await this.client.call('webllm.details', { modelId });
    } catch {
      this.details[modelId] = 'failed';
    }
  }

  async refreshStored(): Promise<void> {
    const s = await this.call('models.stored', {});
    if (s) this.stored = s;
    this.storage = await storageReport();
  }

  /** Deletes a model's files from both engines' caches. */
  async deleteStored(model: StoredModel, at?: string): Promise<boolean> {
    // web-llm's catalog names the model's .wasm, deleted with it.
    if (model.webllmFiles > 0) await this.ensureWebLlm();
    const r = await this.call('models.deleteStored', { baseUrl: model.baseUrl }, { at });
    for (const id of r?.models ?? []) delete this.details[id];
    await this.refreshStored();
    return r !== null;
  }

  /** A run whose roles use web-llm or transformers.js needs their workers before self-play or an evaluation. */
  private async workersFor(runId: string): Promise<void> {
    const run = this.runs?.find((r) => r.id === runId) ?? (await this.client.call('runs.get', { runId }).catch(() => null));
    if (!run) return;
    let config;
    try {
      config = parseRunConfig(run.config);
    } catch {
      return; // the worker reports a bad config itself
    }
    if (webLlmIds([config.models.actor, config.models.refiner]).length) await this.ensureWebLlm();
    if (config.models.actor.kind === 'transformers' || config.models.refiner.kind === 'transformers') await this.ensureTransformers();
  }

  /** Any protocol method; on failure shows the error and resolves null. */
  async call<M extends Method>(method: M, params: Params<M>, opts: CallOptions = {}): Promise<Result<M> | null> {
    if (method === 'selfplay.start' || method === 'eval.run' || method === 'train.start') await this.workersFor((params as Params<'eval.run'>).runId);
    const run = async (onProgress?: (p: Progress) => void) =>
      this.client.call(method, params, {
        signal: opts.signal,
        onProgress: (p) => {
          onProgress?.(p);
          opts.onProgress?.(p);
        },
      });
    let out: Result<M> | null = null;
    const ok = opts.task ? await this.withTask(opts.task, async (p) => void (out = await run(p)), opts.at) : await this.guard(async () => void (out = await run()), opts.at);
    return ok ? out : null;
  }

  async refreshRuns(): Promise<void> {
    await this.guard(async () => {
      this.runs = await this.client.call('runs.list', {});
      this.storage = await this.client.call('storage.report', {});
    });
  }

  async refreshModels(): Promise<void> {
    const m = await this.call('models.list', {});
    if (m) {
      const { webllm, transformers, ...rest } = m;
      this.models = rest;
      this.webllm.status = webllm;
      this.transformers.status = transformers;
    }
  }

  /** Creates a run; `instructions` (a preset's) are added to it at once. */
  async createRun(name: string, config?: Record<string, unknown>, at?: string, instructions?: GenerateOptions): Promise<RunRecord | null> {
    const run = await this.call('runs.create', { name, config }, { at });
    if (run && instructions) await this.call('prompts.generate', { runId: run.id, ...instructions }, { task: "Adding the preset's instructions", at });
    if (run) await this.refreshRuns();
    return run;
  }

  async renameRun(runId: string, name: string): Promise<boolean> {
    const ok = (await this.call('runs.rename', { runId, name })) !== null;
    await this.refreshRuns();
    return ok;
  }

  async deleteRun(runId: string, at?: string): Promise<boolean> {
    const ok = (await this.call('runs.delete', { runId }, { at })) !== null;
    await this.refreshRuns();
    return ok;
  }

  async exportRun(runId: string, at?: string): Promise<boolean> {
    const r = await this.call('runs.export', { runId }, { task: 'Exporting run', at });
    if (r) download(r.blob, r.fileName);
    return r !== null;
  }

  async importRun(file: File, at?: string): Promise<boolean> {
    const r = await this.call('runs.import', { file, asCopy: true }, { task: `Importing ${file.name}`, at });
    await this.refreshRuns();
    return r !== null;
  }

  /** Downloads one of a run's data files (pairs, RFT, trees). */
  async exportFile(runId: string, kind: ExportKind, iteration?: number, at?: string): Promise<boolean> {
    const r = await this.call('exports.file', { runId, kind, iteration }, { task: 'Preparing the file', at });
    if (r) download(r.blob, r.fileName);
    return r !== null;
  }

  async loadModel(request: Params<'models.load'>['request'], at?: string): Promise<ModelSummary | null> {
    const label =
      request.type === 'tiny'
        ? `Generating the tiny model (seed ${request.seed})`
        : request.type === 'hub'
          ? `Loading ${request.repo}`
          : request.type === 'bundled'
            ? `Loading ${describeSource(request)}`
            : `Loading ${request.label}`;
    const m = await this.call('models.load', { request }, { task: label, at });
    await this.refreshModels();
    return m;
  }

  async unloadModel(key: string): Promise<void> {
    await this.call('models.unload', { key });
    await this.refreshModels();
  }

  async setApiKey(baseUrl: string, apiKey: string): Promise<void> {
    await this.call('models.setApiKey', { baseUrl, apiKey });
    await this.refreshModels();
  }

  /** The models an endpoint lists; a failure comes back (for the form to show) instead of in the banner. */
  async endpointModels(baseUrl: string): Promise<{ models: string[] } | { error: LabError }> {
    try {
      return { models: await this.client.call('models.endpointModels', { baseUrl }) };
    } catch (e) {
      return { error: e instanceof LabError ? e : new LabError('internal', String(e)) };
    }
  }

  /**
   * Starts or resumes self-play (`retryFailed`: run the iteration's failed instructions again
   * too); resolves when it stops (done, paused, cancelled, failed).
   */
  async startSelfPlay(runId: string, iteration?: number, retryFailed?: boolean): Promise<void> {
    const before = this.live[runId];
    this.live[runId] = { state: 'loading', stats: before?.stats ?? null, text: null, trees: [] };
    const out = await this.call('selfplay.start', { runId, iteration, retryFailed }, { task: undefined });
    const live = this.live[runId];
    if (out) {
      live.state = out.state;
      live.stats = out.stats;
      if (out.state === 'failed') {
        const it = (out.run.config.iterations as { iteration: number; error?: { kind: string; message: string } }[] | undefined)?.find((e) => e.iteration === out.stats.iteration);
        if (it?.error) this.error = new LabError(it.error.kind as LabError['kind'], it.error.message);
      }
    } else this.afterRefusedStart(runId, this.live, before, SELFPLAY_BUSY);
    this.bump(runId);
    await this.refreshModels();
    await this.refreshRuns();
  }

  async pauseSelfPlay(runId: string): Promise<void> {
    await this.call('selfplay.pause', { runId });
  }

  async cancelSelfPlay(runId: string): Promise<void> {
    await this.call('selfplay.cancel', { runId });
  }

  /** Trains (or resumes) one role on one iteration's data; resolves when it stops (done, paused, failed). */
  async startTraining(runId: string, iteration: number, role: Role): Promise<void> {
    const before = this.training[runId];
    this.training[runId] = { iteration, role, state: 'loading', step: 0, totalSteps: 0, memory: null };
    this.trainSteps = { ...this.trainSteps, [runId]: [] };
    const out = await this.call('train.start', { runId, iteration, role });
    const live = this.training[runId];
    if (out) {
      live.state = out.state;
      live.step = out.entry.step;
      live.totalSteps = out.entry.totalSteps;
      if (out.state === 'failed' && out.entry.error) this.error = new LabError(out.entry.error.kind as LabError['kind'], out.entry.error.message);
    } else this.afterRefusedStart(runId, this.training, before, TRAINING_BUSY);
    this.bump(runId);
    await this.refreshModels();
    await this.refreshRuns();
  }

  async pauseTraining(runId: string): Promise<void> {
    await this.call('train.pause', { runId });
  }

  async discardTraining(runId: string, iteration: number, role: Role): Promise<boolean> {
    const ok = (await this.call('train.discard', { runId, iteration, role })) !== null;
    if (ok && this.training[runId]?.iteration === iteration && this.training[runId]?.role === role) delete this.training[runId];
    this.bump(runId);
    return ok;
  }

  /**
   * Scores the actor M_model on the run's held-out set (the Evaluate view's "Evaluate" control
   * shows its progress and errors); resolves with the stored evaluation, or null.
   */
  async evaluateActor(runId: string, model: number): Promise<EvalRecord | null> {
    if (this.evaluating[runId] !== undefined) return null; // its controls are disabled meanwhile
    this.evaluating[runId] = model;
    try {
      return await this.call('eval.run', { runId, model }, { task: `Evaluating M${model}`, at: 'eval-run' });
    } finally {
      delete this.evaluating[runId];
      this.bump(runId);
    }
  }

  /** Downloads an adapter: PEFT's two files, or the base with it merged in. */
  async exportAdapter(runId: string, iteration: number, role: Role, kind: 'peft' | 'merged'): Promise<boolean> {
    const files = await this.call('exports.adapter', { runId, iteration, role, kind }, { task: kind === 'peft' ? 'Preparing the PEFT adapter' : 'Merging the adapter into the base' });
    for (const f of files ?? []) download(f.blob, f.fileName);
    return files !== null;
  }

  /**
   * A start that came back with an error: what the page shows for the run goes back to what it
   * was, or to what another tab's job reported meanwhile (a 'busy' refusal: that tab runs it).
   * Any other error ended this tab's job, so a "running" state left by its events is stale.
   */
  private afterRefusedStart(runId: string, shown: Record<string, { state: string }>, before: { state: string } | undefined, busy: readonly string[]): void {
    const now = shown[runId];
    if (now.state === 'loading') {
      if (before) shown[runId] = before;
      else delete shown[runId];
    } else if (this.error?.kind !== 'busy' && busy.includes(now.state)) now.state = 'failed';
  }

  /** Marks a run's results as changed, so views showing them reload. */
  bump(runId: string): void {
    this.revision[runId] = (this.revision[runId] ?? 0) + 1;
  }

  dismissError(): void {
    this.error = null;
  }

  /** Shows an error: beside the control `at` (its <Feedback>), or in the banner at the top. */
  showError(e: unknown, at?: string): void {
    const error = e instanceof LabError ? e : new LabError('internal', String(e));
    if (at) this.errorPlaces.set(error, at);
    this.error = error;
  }

  /** The control the shown error belongs to; null for the banner (so does any error set without one). */
  get errorAt(): string | null {
    return this.error ? (this.errorPlaces.get(this.error) ?? null) : null;
  }

  private onEvent(ev: LabEvent): void {
    switch (ev.type) {
      case 'device-lost':
        this.error = new LabError('device-lost', ev.message);
        void this.refreshModels();
        break;
      case 'run.updated': {
        const i = this.runs?.findIndex((r) => r.id === ev.run.id) ?? -1;
        if (this.runs && i >= 0) this.runs[i] = { ...this.runs[i], ...ev.run };
        break;
      }
      case 'runs.changed':
        void this.refreshRuns();
        break;
      case 'selfplay.progress': {
        const live = (this.live[ev.runId] ??= { state: ev.state, stats: null, text: null, trees: [] });
        live.state = ev.state;
        live.stats = ev.stats;
        break;
      }
      case 'selfplay.tree': {
        const live = (this.live[ev.runId] ??= { state: 'running', stats: null, text: null, trees: [] });
        live.trees = [ev.tree, ...live.trees].slice(0, 200);
        this.bump(ev.runId);
        break;
      }
      case 'selfplay.text': {
        const live = this.live[ev.runId];
        if (live) live.text = { promptId: ev.promptId, purpose: ev.purpose, text: ev.text };
        break;
      }
      case 'train.state': {
        const p = ev.progress;
        const live = this.training[ev.runId];
        const same = live && live.iteration === p.iteration && live.role === p.role;
        if (!same) this.trainSteps = { ...this.trainSteps, [ev.runId]: [] };
        const next = same ? live : (this.training[ev.runId] = { iteration: p.iteration, role: p.role, state: p.state, step: 0, totalSteps: 0, memory: null });
        next.state = p.state;
        if (p.totalSteps) {
          next.step = p.step;
          next.totalSteps = p.totalSteps;
        }
        break;
      }
      case 'train.phase': {
        const live = this.training[ev.runId];
        if (live && live.iteration === ev.iteration && live.role === ev.role) live.phase = ev.phase;
        break;
      }
      case 'train.steps': {
        let live = this.training[ev.runId];
        if (!live || live.iteration !== ev.iteration || live.role !== ev.role) {
          live = this.training[ev.runId] = { iteration: ev.iteration, role: ev.role, state: 'training', step: 0, totalSteps: 0, memory: null };
          this.trainSteps = { ...this.trainSteps, [ev.runId]: [] };
        }
        const last = ev.metrics.at(-1)!;
        this.trainSteps = { ...this.trainSteps, [ev.runId]: [...(this.trainSteps[ev.runId] ?? []), ...ev.metrics].slice(-5000) };
        live.step = last.step;
        live.totalSteps = last.totalSteps;
        live.memory = ev.memory;
        break;
      }
      case 'webllm.progress':
        this.webllm.progress = { modelIds: ev.modelIds, progress: ev.progress };
        break;
      case 'webllm.status':
        this.webllm.status = ev.status;
        this.webllm.progress = null;
        void this.refreshStored();
        break;
      case 'transformers.progress':
        this.transformers.progress = { key: ev.key, progress: ev.progress };
        break;
      case 'transformers.status':
        this.transformers.status = ev.status;
        this.transformers.progress = null;
        void this.refreshStored(); // a hub model's files are in the lab's cache now
        break;
      case 'ready':
      case 'log':
        break;
      default:
        ev satisfies never;
    }
  }

  private async withTask(label: string, fn: (onProgress: (p: Progress) => void) => Promise<void>, at?: string): Promise<boolean> {
    this.task = { label, progress: null, at };
    try {
      return await this.guard(() => fn((progress) => (this.task = { label, progress, at })), at);
    } finally {
      this.task = null;
    }
  }

  /** Runs fn; on failure shows the error (beside the control `at`, where given) and returns false. */
  private async guard(fn: () => Promise<unknown>, at?: string): Promise<boolean> {
    try {
      await fn();
      return true;
    } catch (e) {
      this.showError(e, at);
      return false;
    }
  }
}

/** The live states of a job still running (the views show Pause for them). */
const SELFPLAY_BUSY: readonly SelfPlayState[] = ['loading', 'running', 'pausing', 'cancelling'];
const TRAINING_BUSY: readonly TrainLiveState[] = ['loading', 'training', 'pausing'];

function download(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export const lab = new Lab();
