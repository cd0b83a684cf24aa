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
import type { PromptFormat } from '../src/eval/loaders';
import type { Accuracy } from '../src/eval/evaluate';
import type { CallPurpose } from '../src/spar/calls';
import type { EvalRecord, PairRecord, PromptRecord, RftRecord, RunRecord, TreeRecord } from '../src/store/records';
import type { RunSummary, StorageReport } from '../src/store/lab-store';
import type { Page, PairPatch, RecordFilter, RftPatch, TreeFilter, TreeSummary } from '../src/lab/browse';
import type { IterationJudge, PairChecks, TreeChecks } from '../src/lab/checks';
import type { EvalListItem } from '../src/lab/evaluate';
import type { ModelComparison } from '../src/lab/eval-compare';
import type { ExportFile, ExportKind } from '../src/lab/exports';
import type { ActiveJob } from '../src/lab/jobs';
import type { LoadRequest, ModelSummary, PlanReport } from '../src/lab/models';
import type { TransformersStatus } from '../src/lab/transformers-host';
import type { WebLlmStatus } from '../src/lab/webllm-host';
import type { ModelDetails, StoredModel } from '../src/models/model-cache';
import type { WebLlmLoadProgress } from './webllm-link';
import type { TransformersLoadProgress, TransformersLoadSpec } from './transformers-messages';
import type { AddResult, GenerateOptions, ListOptions } from '../src/lab/prompts';
import type { EvalSettings, Role, RunConfigPatch } from '../src/lab/run-config';
import type { SelfPlayOutcome, SelfPlayState, SelfPlayStats } from '../src/lab/selfplay';
import type { AdapterSummary, TrainLivePhase, TrainLiveState, TrainMemory, TrainOutcome, TrainPlan, TrainProgress } from '../src/lab/train';
import type { StepMetrics } from '../src/engine/train/trainer';
import type { TrainLogRecord } from '../src/store/records';

export interface LabApi {
  'gpu.report': { params: Record<string, never>; result: GpuReport };
  'storage.report': { params: Record<string, never>; result: StorageReport };
  'runs.list': { params: Record<string, never>; result: RunSummary[] };
  'runs.create': { params: { name: string; config?: Record<string, unknown> }; result: RunRecord };
  'runs.rename': { params: { runId: string; name: string }; result: RunRecord };
  'runs.delete': { params: { runId: string }; result: null };
  'runs.export': { params: { runId: string }; result: { fileName: string; blob: Blob } };
  'runs.import': { params: { file: Blob; asCopy?: boolean }; result: RunRecord };
  'runs.get': { params: { runId: string }; result: RunSummary };
  /** Setup for the next iterations (a running iteration keeps the settings it started with). */
  'runs.updateConfig': { params: { runId: string; patch: RunConfigPatch }; result: RunRecord };

  'prompts.list': { params: { runId: string } & ListOptions; result: Page<PromptRecord> };
  'prompts.generate': { params: { runId: string } & GenerateOptions; result: AddResult };
  /** The bundled official IFEval prompts: all, or `count` of them after a seeded shuffle. */
  'prompts.addIfeval': { params: { runId: string; count?: number; seed?: number }; result: AddResult };
  /** An IFEval or SPaR-style JSON/JSONL file; bad lines come back in `errors`, good ones are added. */
  'prompts.import': { params: { runId: string; file: Blob; name: string; format?: PromptFormat }; result: AddResult };
  'prompts.clear': { params: { runId: string }; result: { removed: number } };

  /** Size and fit of a hub or local model, reading only its small files. */
  'models.plan': { params: { request: LoadRequest }; result: PlanReport };
  /** Loads a model into the worker (progress: bytes read or downloaded). */
  'models.load': { params: { request: LoadRequest }; result: ModelSummary };
  /** `whyNotWebGpu`: why lab-engine models run on the CPU reference here (null on WebGPU). */
  'models.list': {
    params: Record<string, never>;
    result: { engine: string; whyNotWebGpu: string | null; models: ModelSummary[]; apiKeys: string[]; webllm: WebLlmStatus; transformers: TransformersStatus };
  };
  'models.unload': { params: { key: string }; result: null };
  /** Kept in the worker's memory for this session only. An empty key forgets it. */
  'models.setApiKey': { params: { baseUrl: string; apiKey: string }; result: null };
  /** The model names an OpenAI-compatible server lists (GET <base URL>/models, with this session's key). */
  'models.endpointModels': { params: { baseUrl: string }; result: string[] };
  /** Model files in this browser, both engines' caches (named after web-llm's models once web-llm is attached). */
  'models.stored': { params: Record<string, never>; result: StoredModel[] };
  /** Deletes one model's files from both engines' caches (its web-llm variants and unused .wasm with it). */
  'models.deleteStored': { params: { baseUrl: string }; result: { files: number; models: string[] } };

  /**
   * Connects the web-llm worker (one end of a MessageChannel it serves; send it in `transfer`).
   * Answers with what web-llm holds and how many models it lists.
   */
  'webllm.attach': { params: { port: MessagePort }; result: WebLlmStatus & { models: number } };
  /** Loads web-llm models together, downloading what is not cached (progress: web-llm's). */
  'webllm.load': { params: { modelIds: string[] }; result: WebLlmStatus };
  'webllm.unload': { params: Record<string, never>; result: WebLlmStatus };
  /** Exact download size, lab-engine and read-out support of one web-llm model (reads two small files). */
  'webllm.details': { params: { modelId: string }; result: ModelDetails };

  /**
   * Connects the transformers.js worker (one end of a MessageChannel it serves; send it in
   * `transfer`). Answers with what it runs on (WebGPU, cross-origin isolation, wasm threads) and holds.
   */
  'transformers.attach': { params: { port: MessagePort }; result: TransformersStatus };
  /** Loads an ONNX model into the transformers.js worker (a picked folder with its files; progress: bytes of its graph). */
  'transformers.load': { params: { spec: TransformersLoadSpec }; result: TransformersStatus };
  'transformers.unload': { params: { key: string }; result: TransformersStatus };

  /** Runs or resumes an iteration; resolves when it is done, paused, cancelled or failed. */
  'selfplay.start': { params: { runId: string; iteration?: number; retryFailed?: boolean }; result: SelfPlayOutcome };
  /** Pauses the run's self-play, in this tab or (asked over the tabs' channel) the tab that runs it; false: none runs. */
  'selfplay.pause': { params: { runId: string }; result: boolean };
  'selfplay.cancel': { params: { runId: string }; result: boolean };
  'jobs.current': {
    params: Record<string, never>;
    result: {
      job: ActiveJob | null;
      selfplay: { runId: string; iteration: number; state: SelfPlayState; stats: SelfPlayStats | null } | null;
      train: { runId: string; iteration: number; role: Role; state: TrainLiveState } | null;
    };
  };

  /** What training one iteration's data would use per role, and whether each can start. */
  'train.plan': { params: { runId: string; iteration: number }; result: TrainPlan };
  /** Trains or resumes one role on one iteration's data; resolves when it is done, paused or failed. */
  'train.start': { params: { runId: string; iteration: number; role: Role }; result: TrainOutcome };
  /** Stops training after the current step (in whichever tab runs it); the checkpoint is kept for a resume. */
  'train.pause': { params: { runId: string }; result: boolean };
  /** Deletes one role's training of an iteration (adapter or checkpoint, and its logs). */
  'train.discard': { params: { runId: string; iteration: number; role: Role }; result: null };
  /** One training's step log. */
  'train.logs': { params: { runId: string; iteration: number; role: Role }; result: Pick<TrainLogRecord, 'step' | 'time' | 'metrics'>[] };
  /** Every stored adapter of the run (checkpoints and trained ones), without tensors. */
  'train.checkpoints': { params: { runId: string }; result: AdapterSummary[] };
  /** A trained adapter as PEFT files (adapter_config.json, adapter_model.safetensors), or merged into the base (config.json, model.safetensors). */
  'exports.adapter': { params: { runId: string; iteration: number; role: Role; kind: 'peft' | 'merged' }; result: ExportFile[] };

  'trees.list': { params: { runId: string } & TreeFilter; result: Page<TreeSummary> & { iterations: number[] } };
  'trees.get': { params: { runId: string; id: string }; result: { tree: TreeRecord; prompt: PromptRecord | null; checks: TreeChecks | null } };
  /** The refiner's verdicts on the stored trees against the checkers, per iteration. */
  'trees.judge': { params: { runId: string }; result: IterationJudge[] };
  'pairs.list': { params: { runId: string } & RecordFilter; result: Page<PairRecord> & { checks: (PairChecks | null)[] } };
  'pairs.update': { params: { runId: string; id: string; patch: PairPatch }; result: PairRecord };
  'rft.list': { params: { runId: string } & RecordFilter; result: Page<RftRecord> };
  'rft.update': { params: { runId: string; id: string; patch: RftPatch }; result: RftRecord };
  'exports.file': { params: { runId: string; kind: ExportKind; iteration?: number }; result: ExportFile };

  /** IFEval-style accuracy of the actor M_model (default the newest) on the run's held-out set. */
  'eval.run': { params: { runId: string; model?: number; settings?: EvalSettings }; result: EvalRecord };
  /** The models evaluated on one prompt set (as `meta.set` names it), side by side, per instruction type. */
  'eval.compare': { params: { runId: string; set: string }; result: ModelComparison };
  /** The refiner's verdicts in one iteration against the checkers. */
  'eval.judge': { params: { runId: string; iteration: number }; result: EvalRecord };
  'eval.list': { params: { runId: string }; result: EvalListItem[] };
  'eval.get': { params: { runId: string; id: string }; result: { record: EvalRecord; strict: Accuracy | null; loose: Accuracy | null } };
  'eval.delete': { params: { runId: string; id: string }; result: null };
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
  /** A web-llm load's progress, whoever started it (self-play, an evaluation, the Models panel). */
  | { type: 'webllm.progress'; modelIds: string[]; progress: WebLlmLoadProgress }
  /** What web-llm holds changed (a load finished or failed, an unload). */
  | { type: 'webllm.status'; status: WebLlmStatus }
  /** A transformers.js load's progress (bytes of the model's graph), whoever started it; `key` is its transformersKey. */
  | { type: 'transformers.progress'; key: string; progress: TransformersLoadProgress }
  /** What the transformers.js worker holds changed (a load finished or failed, an unload). */
  | { type: 'transformers.status'; status: TransformersStatus }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  /** A run record changed in the worker (status, iteration history). */
  | { type: 'run.updated'; run: RunRecord }
  /** Another tab created, imported, renamed or deleted runs: the list is to be read again. */
  | { type: 'runs.changed' }
  | { type: 'selfplay.progress'; runId: string; state: SelfPlayState; stats: SelfPlayStats }
  /** An instruction finished: its tree, pairs and RFT records are stored. */
  | { type: 'selfplay.tree'; runId: string; iteration: number; tree: TreeSummary }
  /** The text generated so far by the latest model call (throttled, last 2000 characters). */
  | { type: 'selfplay.text'; runId: string; iteration: number; promptId: string; purpose: CallPurpose; text: string }
  /** Training steps finished since the last such event (throttled), and GPU memory now (null on the CPU). */
  | { type: 'train.steps'; runId: string; iteration: number; role: Role; metrics: StepMetrics[]; memory: TrainMemory | null }
  | { type: 'train.state'; runId: string; progress: TrainProgress }
  /** What a training is doing now: loading, compiling GPU kernels, DPO's reference pass, steps. */
  | { type: 'train.phase'; runId: string; iteration: number; role: Role; phase: TrainLivePhase };

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
