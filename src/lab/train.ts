/**
 * Training in the worker: the actor's DPO on an iteration's kept pairs and the refiner's SFT on
 * its kept RFT records (assembled as src/spar does it: kinds in priority order, de-duplicated by
 * first user message), on the lab engine holding the role's model (GpuTrainEngine with WebGPU,
 * CpuTrainEngine otherwise). Frozen roles (web-llm, endpoints) are refused.
 *
 * Iterations: the data of iteration t trains the adapter `${role}-it${t}`, which makes M_{t+1}
 * (R_{t+1} for the refiner). It starts from the role's newest earlier adapter (or a fresh one for
 * the first, or when asked), and iteration t+1's self-play and later evaluations use it: this
 * service is their AdapterSource. DPO's reference is the base with the adapter switched off, or
 * (an option) the adapter the training started from.
 *
 * Pause = abort: the Trainer saves a checkpoint, and a later start (after a reload too) resumes
 * from it. A resume keeps the adapter's shape and the data order of the first start, and takes
 * the run's optimizer settings as they are now (train-settings.ts resumeSettings): after a stop
 * on NaN or a diverging gradient (the Trainer's message, the last good adapter kept) a lower
 * learning rate can be tried without discarding the steps done. Steps stream to the listener
 * (throttled) and the Trainer logs each as a TrainLogRecord.
 */
import { isCancelled, LabError, toWireError } from '../errors';
import type { LoraAdapter } from '../engine/model/weights';
import { checkpointId, recordToState } from '../engine/train/checkpoint';
import { chatsFromRecords, checkLength, encodeChat, encodePair, pairsFromRecords, type EncodedPair } from '../engine/train/data';
import type { TrainSequence } from '../engine/train/engine';
import { adapterSettings, cloneAdapter, createAdapter } from '../engine/train/lora';
import { mergedCheckpoint } from '../engine/train/merge';
import { exportPeft } from '../engine/train/peft';
import { Trainer, type StepMetrics, type TrainPhase, type TrainTask } from '../engine/train/trainer';
import { peftBaseModel, type PeftBase } from '../models/hf-base';
import { assembleRftDataset } from '../spar/extract';
import type { AdapterRecord, RunRecord, TrainLogRecord } from '../store/records';
import { runProblems } from '../store/validate';
import type { ExportFile } from './exports';
import type { JobSlot } from './jobs';
import { requireCapability, type ModelHost } from './models';
import { describeBinding, modelKey, parseRunConfig, type IterationEntry, type Role, type RoleBinding, type TrainEntry, type TrainEntryTiming, type TrainStatus } from './run-config';
import type { AdapterSource } from './selfplay';
import type { LabStoreLike } from './store';
import { resumeSettings, trainerSettings, type ActorTrainSettings, type RefinerTrainSettings } from './train-settings';

export type TrainLiveState = 'loading' | 'training' | 'pausing' | TrainStatus;

export interface TrainMemory {
  bytes: number;
  peakBytes: number;
}

export interface TrainProgress {
  iteration: number;
  role: Role;
  state: TrainLiveState;
  step: number;
  totalSteps: number;
}

/** What a live training is doing: loading its model, then the trainer's phases (compiling, DPO's reference pass, steps). */
export type TrainLivePhase = { phase: 'loading' } | TrainPhase;

/** What the service tells the page as it happens (the worker turns these into events). */
export interface TrainListener {
  /** Steps finished since the last call (at most one call per throttle interval), and GPU memory now. */
  steps(runId: string, iteration: number, role: Role, metrics: StepMetrics[], memory: TrainMemory | null): void;
  state(runId: string, progress: TrainProgress): void;
  /** The phase a training is in, as it changes (and as the reference pass goes on). */
  phase?(runId: string, iteration: number, role: Role, phase: TrainLivePhase): void;
  run(run: RunRecord): void;
}

/** A stored adapter (a checkpoint while training, the trained adapter when done), without its tensors. */
export interface AdapterSummary {
  id: string;
  iteration: number;
  role: Role;
  name: string;
  status: 'training' | 'done';
  step: number;
  totalSteps: number;
  savedAt: number;
  rank: number;
  alpha: number;
  rslora: boolean;
  targets: string[];
  parameters: number;
}

/** What training one role on one iteration would use, and whether it can start. */
export interface RolePlan {
  role: Role;
  /** The adapter this training makes, e.g. "actor-it0". */
  adapter: string;
  /** Pairs (actor) or RFT records (refiner) of the iteration. */
  total: number;
  excluded: number;
  /** RFT records left out as duplicates (same first user message as a higher-priority one). */
  duplicates: number;
  /** What will be trained on (before the length check, which needs the tokenizer). */
  examples: number;
  /** The role's newest earlier trained adapter, if any. */
  previous: string | null;
  /** Its stored adapter (checkpoint or trained), if any. */
  checkpoint: AdapterSummary | null;
  entry: TrainEntry | null;
  /** The settings a start uses: the run's, with the frozen ones (FROZEN_ON_RESUME) of the first start when resuming. */
  settings: ActorTrainSettings | RefinerTrainSettings;
  /** Why it cannot start now (null: it can). */
  blocked: string | null;
  /** The base model a PEFT export names, with the sentence the export shows (null: not a lab-engine role). */
  peftBase: PeftBase | null;
}

export interface TrainPlan {
  iteration: number;
  actor: RolePlan;
  refiner: RolePlan;
}

export interface TrainOutcome {
  state: TrainStatus;
  entry: TrainEntry;
  run: RunRecord;
}

export interface TrainDeps {
  store: LabStoreLike;
  models: ModelHost;
  jobs: JobSlot;
  listener?: TrainListener;
  now?: () => number;
  /** Minimum ms between step messages (default 150). */
  throttleMs?: number;
}

interface Active {
  runId: string;
  iteration: number;
  role: Role;
  controller: AbortController;
  state: TrainLiveState;
}

/** The adapter trained on iteration t's data for a role: M_{t+1} or R_{t+1}. */
export function adapterName(role: Role, iteration: number): string {
  return `${role}-it${iteration}`;
}

const QUIET: TrainListener = { steps() {}, state() {}, run() {} };

export class TrainService implements AdapterSource {
  private active: Active | null = null;
  private readonly now: () => number;
  private readonly listener: TrainListener;

  constructor(private readonly d: TrainDeps) {
    this.now = d.now ?? Date.now;
    this.listener = d.listener ?? QUIET;
  }

  status(): { runId: string; iteration: number; role: Role; state: TrainLiveState } | null {
    const a = this.active;
    return a && { runId: a.runId, iteration: a.iteration, role: a.role, state: a.state };
  }

  /** Stops the running training after its current step; its checkpoint is kept for a resume. */
  pause(runId: string): boolean {
    const a = this.active;
    if (!a || a.runId !== runId) return false;
    if (a.state === 'training' || a.state === 'loading') {
      a.state = 'pausing';
      this.listener.state(runId, { iteration: a.iteration, role: a.role, state: 'pausing', step: 0, totalSteps: 0 });
    }
    a.controller.abort();
    return true;
  }

  // ---- adapters for self-play and evaluation (AdapterSource) -------------------------------

  /**
   * The newest trained adapter of a role from an iteration before `before`. Refuses one trained
   * over another model than the role's model now, rather than applying it to the wrong base.
   */
  async latest(runId: string, role: Role, before: number): Promise<{ adapter: LoraAdapter; trainedOn: number } | null> {
    const config = parseRunConfig((await this.d.store.getRun(runId)).config);
    const found = await this.newestDone(runId, role, before, config.iterations);
    if (!found) return null;
    const base = config.iterations.find((e) => e.iteration === found.trainedOn)?.training?.[role]?.base;
    const now = config.models[role];
    if (base && now.kind === 'lab' && modelKey(now.model) !== base) {
      throw new LabError(
        'invalid-input',
        `The ${role}'s newest adapter (${found.adapter.name}) was trained over ${base}, but the ${role} is now ${describeBinding(now)}. ` +
          `Set the ${role}'s model back in Setup, or discard that adapter in Train to go on with the base model.`,
      );
    }
    return found;
  }

  private async newestDone(runId: string, role: Role, before: number, iterations: IterationEntry[]): Promise<{ adapter: LoraAdapter; trainedOn: number } | null> {
    const last = Math.min(before - 1, Math.max(-1, ...iterations.map((e) => e.iteration)));
    for (let t = last; t >= 0; t--) {
      const rec = await this.d.store.get('adapters', runId, checkpointId(t, role));
      if (rec && rec.config.status === 'done') return { adapter: recordToState(rec).adapter, trainedOn: t };
    }
    return null;
  }

  // ---- what the Train view shows -------------------------------------------------------------

  async plan(runId: string, iteration: number): Promise<TrainPlan> {
    const run = await this.d.store.getRun(runId);
    // A training marked "training" that no tab runs is paused (recovery could not write it yet).
    const config = parseRunConfig((await this.interrupted(run)) ?? run.config);
    const it = config.iterations.find((e) => e.iteration === iteration);
    if (!it) throw new LabError('not-found', `This run has no iteration ${iteration} yet; run its self-play first.`);
    const plan = async (role: Role): Promise<RolePlan> => {
      const data = await this.data(runId, iteration, role);
      const rec = await this.d.store.get('adapters', runId, checkpointId(iteration, role));
      const entry = it.training?.[role] ?? null;
      const previous = await this.newestDone(runId, role, iteration, config.iterations);
      const settings = rec && entry ? resumeSettings(entry.settings, config.train[role]) : config.train[role];
      let blocked: string | null = null;
      if (it.status !== 'done' && it.status !== 'cancelled') blocked = `Self-play of iteration ${iteration} is ${it.status}; finish it (or cancel it) before training on its data.`;
      else if (rec?.config.status === 'done') blocked = `Already trained (${rec.step} steps). Discard it to train again.`;
      else if (data.examples === 0) blocked = `Iteration ${iteration} has no ${role === 'actor' ? 'kept pairs' : 'kept RFT records'} to train on.`;
      else {
        try {
          // Frozen roles: refused with the reason (checked without loading anything).
          requireCapability(it.models[role], role, 'train');
        } catch (e) {
          blocked = (e as Error).message;
        }
      }
      return {
        role,
        adapter: adapterName(role, iteration),
        total: data.total,
        excluded: data.excluded,
        duplicates: data.duplicates,
        examples: data.examples,
        previous: previous?.adapter.name ?? null,
        checkpoint: rec ? summarize(rec) : null,
        entry,
        settings,
        blocked,
        peftBase: this.peftBase(it.models[role]),
      };
    };
    return { iteration, actor: await plan('actor'), refiner: await plan('refiner') };
  }

  /** Every stored adapter of a run (checkpoints and trained ones), oldest iteration first. */
  async checkpoints(runId: string): Promise<AdapterSummary[]> {
    return (await this.d.store.list('adapters', runId)).map(summarize).sort((a, b) => a.iteration - b.iteration || (a.role < b.role ? -1 : 1));
  }

  /** The step logs of one training, in step order. */
  async logs(runId: string, iteration: number, role: Role): Promise<Pick<TrainLogRecord, 'step' | 'time' | 'metrics'>[]> {
    const prefix = `${iteration}:${role}:`;
    return (await this.d.store.list('trainLogs', runId)).filter((r) => r.id.startsWith(prefix)).map(({ step, time, metrics }) => ({ step, time, metrics }));
  }

  // ---- training ------------------------------------------------------------------------------

  /**
   * Trains (or resumes training) one role on one iteration's data until it is done, paused or
   * fails. Rejects only when it cannot start (another job, no data, a frozen role, a model that
   * will not load).
   */
  async start(runId: string, o: { iteration: number; role: Role; signal?: AbortSignal; onProgress?: (p: { label: string; done: number; total?: number }) => void }): Promise<TrainOutcome> {
    const run = await this.d.store.getRun(runId);
    return this.d.jobs.run({ kind: 'train', runId, runName: run.name, startedAt: this.now() }, () => this.go(run, o));
  }

  private async go(run: RunRecord, o: Parameters<TrainService['start']>[1]): Promise<TrainOutcome> {
    const { iteration, role } = o;
    const { store } = this.d;
    const plan = (await this.plan(run.id, iteration))[role];
    if (plan.blocked) throw new LabError(plan.checkpoint?.status === 'done' ? 'exists' : 'invalid-input', plan.blocked);
    const config = parseRunConfig(run.config);
    const it = config.iterations.find((e) => e.iteration === iteration)!;
    const binding: RoleBinding = it.models[role];
    const settings = plan.settings;
    const resuming = plan.checkpoint !== null && plan.entry !== null;
    const name = plan.adapter;

    const controller = new AbortController();
    const active: Active = { runId: run.id, iteration, role, controller, state: 'loading' };
    this.active = active;
    const onOuterAbort = () => this.pause(run.id);
    o.signal?.addEventListener('abort', onOuterAbort, { once: true });
    const tell = (state: TrainLiveState, step: number, totalSteps: number) => this.listener.state(run.id, { iteration, role, state, step, totalSteps });
    const phase = (p: TrainLivePhase) => this.listener.phase?.(run.id, iteration, role, p);
    try {
      tell('loading', plan.checkpoint?.step ?? 0, plan.checkpoint?.totalSteps ?? 0);
      phase({ phase: 'loading' });
      const started = this.now();
      const host = await this.d.models.trainable(binding, role, { signal: controller.signal, onProgress: o.onProgress });
      const loadSeconds = (this.now() - started) / 1000;
      const { training } = host;

      // The data, as token sequences; longer than the limit: left out and counted.
      const limit = Math.min(settings.maxTokens > 0 ? settings.maxTokens : Infinity, training.contextLength);
      const fits = (seq: TrainSequence) => {
        try {
          checkLength(seq, limit, 'An example');
          return true;
        } catch {
          return false;
        }
      };
      const data = await this.data(run.id, iteration, role);
      let task: TrainTask;
      let examples: number;
      let tooLong: number;
      // The adapter this one starts from (resume: the one it started from), and its weights.
      const from = resuming ? await this.adapterByName(run.id, role, plan.entry!.from) : plan.previous && settings.init === 'previous' ? await this.adapterByName(run.id, role, plan.previous) : null;
      const reference = role === 'actor' && (settings as ActorTrainSettings).reference === 'previous' && from ? from.name : null;
      if (role === 'actor') {
        const s = settings as ActorTrainSettings;
        const pairs: EncodedPair[] = pairsFromRecords(data.pairs).map((p) => encodePair(training.tokenizer, p));
        const kept = pairs.filter((p) => fits(p.chosen) && fits(p.rejected));
        task = { kind: 'dpo', pairs: kept, beta: s.beta, ftx: s.ftx, reference };
        examples = kept.length;
        tooLong = pairs.length - kept.length;
      } else {
        const chats = chatsFromRecords(data.rft).map((c) => encodeChat(training.tokenizer, c));
        const kept = chats.filter(fits);
        task = { kind: 'sft', chats: kept };
        examples = kept.length;
        tooLong = chats.length - kept.length;
      }
      if (examples === 0) throw new LabError('invalid-input', `Every example is longer than ${limit} tokens. Raise the length limit, or exclude the long ones in Pairs.`);

      const initial = from ? cloneAdapter(from, name) : createAdapter(name, training.config, { rank: settings.rank, alpha: settings.alpha, rslora: settings.rslora, targets: settings.targets }, { seed: settings.seed });
      await host.engine.setAdapter(initial);
      if (reference) await host.engine.setAdapter(from!);

      const engine = training.trainEngine({ recompute: settings.recompute });
      let pending: StepMetrics[] = [];
      let lastFlush = 0;
      let last: StepMetrics | null = null;
      const flush = () => {
        if (pending.length) this.listener.steps(run.id, iteration, role, pending, engine.memory());
        pending = [];
        lastFlush = this.now();
      };
      const trainer = this.guard(engine, () => new Trainer({
        engine,
        adapter: name,
        task,
        settings: trainerSettings(settings),
        persistence: { store, runId: run.id, iteration, role },
        signal: controller.signal,
        warmUp: engine.compilesKernels === true,
        onPhase: phase,
        onStep: (m) => {
          last = m;
          pending.push(m);
          if (active.state === 'loading') {
            active.state = 'training';
            tell('training', m.step, m.totalSteps);
          }
          if (this.now() - lastFlush >= (this.d.throttleMs ?? 150)) flush();
        },
      }));
      const entry: TrainEntry = {
        status: 'training',
        adapter: name,
        from: from?.name ?? null,
        reference,
        base: binding.kind === 'lab' ? modelKey(binding.model) : describeBinding(binding),
        engine: this.d.models.engineKind.name,
        lora: adapterSettings(initial),
        settings,
        examples,
        excluded: data.excluded,
        tooLong,
        duplicates: data.duplicates,
        step: plan.checkpoint?.step ?? 0,
        totalSteps: trainer.totalSteps,
        startedAt: plan.entry?.startedAt ?? this.now(),
        updatedAt: this.now(),
      };
      await this.saveEntry(run.id, iteration, role, entry).catch((e) => {
        engine.release();
        throw e;
      });
      if (active.state === 'loading' && !controller.signal.aborted) {
        active.state = 'training';
        tell('training', entry.step, entry.totalSteps);
      }

      let state: TrainStatus;
      try {
        const result = await trainer.run();
        state = 'done';
        entry.step = result.steps;
        entry.finishedAt = this.now();
        delete entry.error;
      } catch (e) {
        state = isCancelled(e) ? 'paused' : 'failed';
        entry.step = (await store.get('adapters', run.id, checkpointId(iteration, role)))?.step ?? 0;
        if (state === 'failed') entry.error = stopError(e, entry.step);
        else delete entry.error;
      } finally {
        flush();
        entry.timing = addTiming(plan.entry?.timing, { wallSeconds: (this.now() - started) / 1000, loadSeconds, ...trainer.timing });
        entry.peakBytes = engine.memory()?.peakBytes ?? null;
        engine.release();
      }
      entry.status = state;
      const lastStep: StepMetrics | null = last;
      if (lastStep) entry.last = numbers(lastStep);
      let saved: RunRecord;
      try {
        saved = await this.saveEntry(run.id, iteration, role, entry);
      } catch (e) {
        // The training ends here all the same (a full quota refused this last write too). Storage
        // still says "training", which no tab runs: it reads as paused at its checkpoint (see interrupted).
        state = entry.status = 'failed';
        entry.error ??= stopError(e, entry.step);
        saved = await this.d.store.getRun(run.id);
      }
      active.state = state;
      tell(state, entry.step, entry.totalSteps);
      return { state, entry, run: saved };
    } catch (e) {
      // Could not start: the history stays as it was (the page hears the error).
      if (isCancelled(e)) throw new LabError('cancelled', 'Cancelled while loading the model.');
      throw e;
    } finally {
      o.signal?.removeEventListener('abort', onOuterAbort);
      this.active = null;
    }
  }

  /**
   * Deletes one role's training of an iteration (its adapter or checkpoint, and its logs), so it
   * can be trained again with other settings or data. Refused for an adapter a later self-play
   * iteration used: that iteration's history names it.
   */
  async discard(runId: string, iteration: number, role: Role): Promise<void> {
    // Holding the run's lock: a training of it in any tab would go on writing the steps deleted here.
    await this.d.jobs.exclusive(runId, () => this.discardNow(runId, iteration, role));
  }

  private async discardNow(runId: string, iteration: number, role: Role): Promise<void> {
    const run = await this.d.store.getRun(runId);
    const config = parseRunConfig(run.config);
    const name = adapterName(role, iteration);
    const user = config.iterations.find((e) => e.adapters[role] === name);
    if (user) {
      throw new LabError('invalid-input', `Self-play of iteration ${user.iteration} used ${name}; its trees and pairs came from it, so it is kept. Start a new run to try other training settings from here.`);
    }
    await this.d.store.delete('adapters', runId, checkpointId(iteration, role));
    for (const r of await this.d.store.list('trainLogs', runId)) if (r.iteration === iteration && r.role === role) await this.d.store.delete('trainLogs', runId, r.id);
    const it = config.iterations.find((e) => e.iteration === iteration);
    if (it?.training?.[role]) {
      const training = { ...it.training };
      delete training[role];
      await this.writeIteration(runId, iteration, (e) => ({ ...e, training }));
    }
  }

  /**
   * Trainings left "training" by a reload or crash (nothing runs them now), or by a last save a
   * full quota refused, become paused, with the step of their last checkpoint: a start resumes
   * them. Each run is written holding its lock, so a tab that starts it meanwhile is not overwritten.
   */
  async recoverInterrupted(): Promise<void> {
    // A broken run is left as it is (the runs list shows it as broken): it must not stop the lab starting.
    for (const listed of (await this.d.store.listRuns()).filter((r) => runProblems(r).length === 0 && markedTraining(r).length > 0)) {
      await this.d.jobs
        .exclusive(listed.id, async () => {
          const run = await this.d.store.getRun(listed.id);
          if (markedTraining(run).length > 0) this.listener.run(await this.d.store.updateRun(run.id, { config: await this.paused(run) }));
        })
        .catch((e) => {
          if (!(e instanceof LabError && e.kind === 'busy')) throw e; // busy: a tab trains it, it is not interrupted
        });
    }
  }

  /**
   * The run's config as recovery writes it, if it has trainings marked "training" that no tab
   * runs: what the views show while a full quota keeps recovery from writing it (null: none).
   */
  async interrupted(run: RunRecord): Promise<Record<string, unknown> | null> {
    if (runProblems(run).length > 0 || markedTraining(run).length === 0 || (await this.d.jobs.isHeldAnywhere(run.id))) return null;
    return this.paused(run);
  }

  /** The run's config with its "training" trainings paused at their last checkpoint's step. */
  private async paused(run: RunRecord): Promise<Record<string, unknown>> {
    const steps = new Map<string, number>();
    for (const [iteration, role] of markedTraining(run)) steps.set(`${iteration}:${role}`, (await this.d.store.get('adapters', run.id, checkpointId(iteration, role)))?.step ?? 0);
    const iterations = parseRunConfig(run.config).iterations.map((e) => {
      const training = { ...e.training };
      for (const role of ['actor', 'refiner'] as const) {
        const t = training[role];
        if (t?.status === 'training') training[role] = { ...t, status: 'paused', step: steps.get(`${e.iteration}:${role}`) ?? 0 };
      }
      return e.training ? { ...e, training } : e;
    });
    return { ...run.config, iterations };
  }

  // ---- exports -------------------------------------------------------------------------------

  /**
   * A role's adapter of an iteration as files: PEFT's adapter_config.json and
   * adapter_model.safetensors (put both in one folder for PeftModel.from_pretrained), or the
   * base with the adapter merged in as a Hugging Face checkpoint (config.json, model.safetensors).
   */
  async exportAdapter(runId: string, iteration: number, role: Role, kind: 'peft' | 'merged', opts: { signal?: AbortSignal; onProgress?: (p: { label: string; done: number; total?: number }) => void } = {}): Promise<ExportFile[]> {
    const rec = await this.d.store.get('adapters', runId, checkpointId(iteration, role));
    if (!rec) throw new LabError('not-found', `No ${role} adapter has been trained on iteration ${iteration}.`);
    const { adapter } = recordToState(rec);
    const config = parseRunConfig((await this.d.store.getRun(runId)).config);
    const binding = config.iterations.find((e) => e.iteration === iteration)?.models[role] ?? config.models[role];
    const base = this.peftBase(binding);
    const files =
      kind === 'peft'
        ? exportPeft(adapter, { baseModel: base?.repo, revision: base?.revision })
        : mergedCheckpoint((await this.d.models.trainable(binding, role, opts)).training.weights, adapter);
    return Object.entries(files).map(([fileName, bytes]) => ({
      fileName,
      blob: new Blob([bytes as Uint8Array<ArrayBuffer>], { type: fileName.endsWith('.json') ? 'application/json' : 'application/octet-stream' }),
      count: 1,
    }));
  }

  // ---- internals -----------------------------------------------------------------------------

  /** The Hugging Face base of a role's model for PEFT exports (what loading it found, where it is loaded). */
  private peftBase(b: RoleBinding): PeftBase | null {
    return b.kind === 'lab' ? peftBaseModel(b.model, this.d.models.get(modelKey(b.model)) ?? null) : null;
  }

  /** `fn`'s result; if it throws, the train engine's buffers are freed first. */
  private guard<T>(engine: { release(): void }, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      engine.release();
      throw e;
    }
  }

  /** An iteration's records for a role: what training uses and what it leaves out. */
  private async data(runId: string, iteration: number, role: Role) {
    if (role === 'actor') {
      const pairs = (await this.d.store.list('pairs', runId)).filter((p) => p.iteration === iteration);
      const kept = pairs.filter((p) => !p.excluded);
      return { pairs: kept, rft: [], total: pairs.length, excluded: pairs.length - kept.length, duplicates: 0, examples: kept.length };
    }
    const rft = (await this.d.store.list('rft', runId)).filter((r) => r.iteration === iteration);
    const excluded = rft.filter((r) => r.excluded).length;
    const assembled = assembleRftDataset(rft);
    return { pairs: [], rft: assembled, total: rft.length, excluded, duplicates: rft.length - excluded - assembled.length, examples: assembled.length };
  }

  private async adapterByName(runId: string, role: Role, name: string | null): Promise<LoraAdapter | null> {
    const m = name ? /-it(\d+)$/.exec(name) : null;
    if (!m) return null;
    const rec = await this.d.store.get('adapters', runId, checkpointId(Number(m[1]), role));
    if (!rec) throw new LabError('not-found', `The ${role} adapter ${name} this training started from is gone; discard this training and start again.`);
    return recordToState(rec).adapter;
  }

  private saveEntry(runId: string, iteration: number, role: Role, entry: TrainEntry): Promise<RunRecord> {
    entry.updatedAt = this.now();
    return this.writeIteration(runId, iteration, (e) => ({ ...e, training: { ...e.training, [role]: structuredClone(entry) } }));
  }

  /** Rewrites one iteration entry of the run's history (re-read first: Setup may have changed meanwhile). */
  private async writeIteration(runId: string, iteration: number, change: (e: IterationEntry) => IterationEntry): Promise<RunRecord> {
    const run = await this.d.store.getRun(runId);
    const iterations = parseRunConfig(run.config).iterations.map((e) => (e.iteration === iteration ? change(e) : e));
    const saved = await this.d.store.updateRun(runId, { config: { ...run.config, iterations } });
    this.listener.run(saved);
    return saved;
  }
}

/** The trainings a run's history marks as running, as [iteration, role]. */
function markedTraining(run: RunRecord): [number, Role][] {
  return parseRunConfig(run.config).iterations.flatMap((e) => (['actor', 'refiner'] as const).filter((r) => e.training?.[r]?.status === 'training').map((r): [number, Role] => [e.iteration, r]));
}

function summarize(r: AdapterRecord): AdapterSummary {
  const c = r.config as Record<string, unknown>;
  const shapes = (c.shapes ?? {}) as Record<string, [number, number]>;
  return {
    id: r.id,
    iteration: r.iteration,
    role: r.role,
    name: String(c.name),
    status: c.status === 'done' ? 'done' : 'training',
    step: r.step,
    totalSteps: Number(c.totalSteps),
    savedAt: r.createdAt,
    rank: Number(c.rank),
    alpha: Number(c.alpha),
    rslora: Boolean(c.rslora),
    targets: (c.targets as string[]) ?? [],
    parameters: Object.values(shapes).reduce((n, [a, b]) => n + a * b, 0),
  };
}

/** Why a training stopped, for its history; a write that storage refused says what is kept and what to do. */
function stopError(e: unknown, checkpointStep: number): { kind: string; message: string } {
  const w = toWireError(e);
  if (w.kind !== 'quota' && w.kind !== 'storage') return { kind: w.kind, message: w.message };
  const why = w.kind === 'quota' ? 'browser storage is full' : `saving failed (${w.message})`;
  const kept = checkpointStep > 0 ? `The checkpoint of step ${checkpointStep} is saved and a resume goes on from it` : 'No checkpoint was saved yet, so a resume starts again from step 0';
  const free = w.kind === 'quota' ? ' Free space first: export and delete old runs, or delete cached models in Models.' : '';
  return { kind: w.kind, message: `Training stopped: ${why}. ${kept}.${free}` };
}

/** A training's time over its sessions: a resume adds its own to what the entry holds. */
function addTiming(before: TrainEntryTiming | undefined, now: TrainEntryTiming): TrainEntryTiming {
  const sum = (k: keyof TrainEntryTiming) => (before?.[k] ?? 0) + now[k];
  return {
    wallSeconds: sum('wallSeconds'),
    loadSeconds: sum('loadSeconds'),
    compileSeconds: sum('compileSeconds'),
    referenceSeconds: sum('referenceSeconds'),
    steps: sum('steps'),
    stepSeconds: sum('stepSeconds'),
    stepTokens: sum('stepTokens'),
  };
}

function numbers(m: StepMetrics): Record<string, number> {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => typeof v === 'number' && Number.isFinite(v))) as Record<string, number>;
}
