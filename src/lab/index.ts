/**
 * The lab's worker-side services, DOM-free: the model host, the self-play loop, training,
 * evaluation, browsing and editing results, prompts and exports. `createLab` wires them over one store;
 * workers/lab.worker.ts maps protocol methods onto them, and tests use them directly.
 */
import { BrowseService } from './browse';
import { EvalService } from './evaluate';
import { JobSlot, type LocksLike } from './jobs';
import { ModelHost } from './models';
import { PromptService } from './prompts';
import { SelfPlayService, type AdapterSource, type SelfPlayListener } from './selfplay';
import type { LabStoreLike } from './store';
import { TrainService, type TrainListener } from './train';

export interface Lab<S extends LabStoreLike = LabStoreLike> {
  store: S;
  models: ModelHost;
  jobs: JobSlot;
  browse: BrowseService;
  prompts: PromptService;
  selfplay: SelfPlayService;
  train: TrainService;
  evals: EvalService;
}

export interface LabOptions {
  models?: ModelHost;
  listener: SelfPlayListener;
  trainListener?: TrainListener;
  /** Where self-play and evaluation get trained adapters (default: the training service's, from the store). */
  adapters?: AdapterSource;
  locks?: LocksLike | null;
  now?: () => number;
  throttleMs?: number;
}

export function createLab<S extends LabStoreLike>(store: S, o: LabOptions): Lab<S> {
  const models = o.models ?? new ModelHost({ now: o.now });
  const jobs = new JobSlot(o.locks ?? null);
  const browse = new BrowseService(store);
  const train = new TrainService({ store, models, jobs, listener: o.trainListener, now: o.now, throttleMs: o.throttleMs });
  const adapters = o.adapters ?? train;
  return {
    store,
    models,
    jobs,
    browse,
    prompts: new PromptService(store),
    selfplay: new SelfPlayService({ store, models, jobs, browse, listener: o.listener, adapters, now: o.now, throttleMs: o.throttleMs }),
    train,
    evals: new EvalService({ store, models, jobs, adapters, now: o.now }),
  };
}

export { applyConfigPatch, defaultRunConfig, describeBinding, describeSource, modelKey, nextIteration, parseRunConfig } from './run-config';
export type * from './run-config';
export { PRESETS, TINY_DEMO_TEMPLATES, paperSpar, presetPatch, tinyDemoSpar, type Preset } from './presets';
export { EXPORT_KINDS, exportFile, type ExportFile, type ExportKind } from './exports';
export { summarizeTree, type Page, type TreeSummary } from './browse';
export { CPU_ENGINE, WEBGPU_ENGINE, chooseLabEngine, chosenEngine, type EngineChoice, type EngineKind, type LabEngineLike } from './engine';
export { TrainService, adapterName, type AdapterSummary, type RolePlan, type TrainListener, type TrainLiveState, type TrainMemory, type TrainOutcome, type TrainPlan, type TrainProgress } from './train';
export { defaultTrainConfig, parseTrainConfig, trainerSettings, type ActorTrainSettings, type RefinerTrainSettings, type RoleTrainSettings, type TrainConfig } from './train-settings';
export { NO_ADAPTERS, type AdapterSource, type SelfPlayOutcome, type SelfPlayState, type SelfPlayStats } from './selfplay';
export type { ModelSummary, LoadRequest, PlanReport } from './models';
