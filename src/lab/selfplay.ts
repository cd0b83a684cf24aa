/**
 * The self-play run loop in the worker: starts or resumes one iteration of a run
 * (src/spar `runIteration` with the iteration's frozen settings, the run's prompts and the
 * store), pauses (abort; finished trees stay and a resume skips them), cancels (the same, and
 * the iteration is closed), and reports live progress: instructions done, judgments made,
 * model calls, tokens/s, ETA, the text being generated, and each finished tree.
 */
import { isCancelled, LabError, toWireError, type ErrorKind } from '../errors';
import type { LoraAdapter } from '../engine/model/weights';
import { runIteration, type SparProgress } from '../spar/pipeline';
import type { CallPurpose } from '../spar/calls';
import type { RunRecord, RunStatus } from '../store/records';
import { recordProblems, runProblems } from '../store/validate';
import type { BrowseService, TreeSummary } from './browse';
import { contextProblems, longestInstruction } from './context-check';
import type { JobSlot } from './jobs';
import type { ModelHost } from './models';
import type { RetryNotice } from '../backends/openai';
import { nextIteration, parseRunConfig, type IterationEntry, type IterationStatus, type Role } from './run-config';
import type { LabStoreLike } from './store';

export interface SelfPlayStats extends SparProgress {
  iteration: number;
  /** Wall time of this session (since start or resume), ms. */
  elapsedMs: number;
  /** Instructions finished in this session. */
  finishedNow: number;
  /** Generated tokens per second in this session (null before any). */
  tokensPerSecond: number | null;
  /** Time left at this session's pace (null before the first instruction finishes). */
  etaMs: number | null;
  /** Requests a model server was asked again in this session (an endpoint that failed: unreachable, 429, 5xx, timeout). */
  retries: number;
  /** The latest retry, while no model call has finished since it (null otherwise). */
  retrying: SelfPlayRetry | null;
}

/** A retry of a role's request, as the page shows it. */
export interface SelfPlayRetry extends RetryNotice {
  role: Role;
}

export type SelfPlayState = 'loading' | 'running' | 'pausing' | 'cancelling' | IterationStatus;

/** What the service tells the page, as it happens (the worker turns these into events). */
export interface SelfPlayListener {
  progress(runId: string, state: SelfPlayState, stats: SelfPlayStats): void;
  tree(runId: string, iteration: number, summary: TreeSummary): void;
  text(runId: string, iteration: number, promptId: string, purpose: CallPurpose, text: string): void;
  run(run: RunRecord): void;
}

/**
 * Adapters from training: the newest adapter of a role trained on an iteration before
 * `before`. Iteration t's self-play uses the adapters trained on iteration t-1's data. The lab
 * wires the training service's (train.ts, from the stored adapters).
 */
export interface AdapterSource {
  latest(runId: string, role: Role, before: number): Promise<{ adapter: LoraAdapter; trainedOn: number } | null>;
}

/** No adapters: every iteration uses the base models (services built without training, tests). */
export const NO_ADAPTERS: AdapterSource = { latest: async () => null };

export interface SelfPlayOutcome {
  state: IterationStatus;
  stats: SelfPlayStats;
  run: RunRecord;
}

export interface SelfPlayDeps {
  store: LabStoreLike;
  models: ModelHost;
  jobs: JobSlot;
  browse: BrowseService;
  listener: SelfPlayListener;
  adapters?: AdapterSource;
  now?: () => number;
  /** Minimum ms between progress and text messages (default 120). */
  throttleMs?: number;
}

export interface StartOptions {
  /** Default: resume the open iteration, or start the next. */
  iteration?: number;
  /** Run instructions recorded as failed again. */
  retryFailed?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: { label: string; done: number; total?: number }) => void;
}

interface Active {
  runId: string;
  iteration: number;
  controller: AbortController;
  stop: 'pause' | 'cancel' | null;
  state: SelfPlayState;
  stats: SelfPlayStats | null;
}

export class SelfPlayService {
  private active: Active | null = null;
  private readonly now: () => number;

  constructor(private readonly d: SelfPlayDeps) {
    this.now = d.now ?? Date.now;
  }

  /** The iteration running now, if any. */
  status(): { runId: string; iteration: number; state: SelfPlayState; stats: SelfPlayStats | null } | null {
    const a = this.active;
    return a && { runId: a.runId, iteration: a.iteration, state: a.state, stats: a.stats };
  }

  pause(runId: string): boolean {
    return this.stop(runId, 'pause');
  }

  cancel(runId: string): boolean {
    return this.stop(runId, 'cancel');
  }

  /**
   * Runs (or resumes) an iteration until it finishes, is paused or cancelled, or fails.
   * Rejects only when it cannot start (another job, no prompts, a model that will not load).
   */
  async start(runId: string, o: StartOptions = {}): Promise<SelfPlayOutcome> {
    const run = await this.d.store.getRun(runId);
    return this.d.jobs.run({ kind: 'selfplay', runId, runName: run.name, startedAt: this.now() }, () => this.go(run, o));
  }

  /**
   * Runs marked running that nothing runs (the page was reloaded or crashed mid-iteration, or a
   * full quota refused the last save) become paused, so they can be resumed. Each is written
   * holding its lock, so a tab that starts it meanwhile is not overwritten.
   */
  async recoverInterrupted(): Promise<RunRecord[]> {
    const fixed: RunRecord[] = [];
    // A broken run or tree is left as it is (the lists show it as broken): it must not stop the lab starting.
    for (const listed of (await this.d.store.listRuns()).filter((r) => runProblems(r).length === 0 && r.status === 'running')) {
      const saved = await this.d.jobs
        .exclusive(listed.id, async () => {
          const run = await this.d.store.getRun(listed.id);
          return run.status === 'running' ? this.d.store.updateRun(run.id, await this.paused(run)) : null;
        })
        .catch((e) => {
          if (e instanceof LabError && e.kind === 'busy') return null; // a tab runs it: not interrupted
          throw e;
        });
      if (saved) fixed.push(saved);
    }
    return fixed;
  }

  /**
   * The run as recovery writes it, if it is marked running and no tab runs it: what the lists
   * show while a full quota keeps recovery from writing it (null: not interrupted).
   */
  async interrupted(run: RunRecord): Promise<Pick<RunRecord, 'status' | 'config'> | null> {
    if (run.status !== 'running' || runProblems(run).length > 0 || (await this.d.jobs.isHeldAnywhere(run.id))) return null;
    return this.paused(run);
  }

  /** A run's running iterations paused, with their counts taken from the stored trees. */
  private async paused(run: RunRecord): Promise<Pick<RunRecord, 'status' | 'config'>> {
    const config = { ...run.config };
    const trees = (await this.d.store.list('trees', run.id)).filter((t) => recordProblems('trees', t).length === 0);
    const iterations = Array.isArray(config.iterations)
      ? (config.iterations as IterationEntry[]).map((e) => {
          if (e.status !== 'running') return e;
          // Its counts were last written when it started: take them from the stored trees.
          const mine = trees.filter((t) => t.iteration === e.iteration);
          const sum = (f: (t: (typeof mine)[number]) => number) => mine.reduce((a, t) => a + f(t), 0);
          return { ...e, status: 'paused' as const, finished: mine.length, failed: sum((t) => Number(t.status === 'failed')), pairs: sum((t) => t.outputs.pairs), rft: sum((t) => t.outputs.rft) };
        })
      : [];
    return { status: 'paused', config: { ...config, iterations } };
  }

  private stop(runId: string, how: 'pause' | 'cancel'): boolean {
    const a = this.active;
    if (!a || a.runId !== runId) return false;
    a.stop ??= how;
    a.state = how === 'pause' ? 'pausing' : 'cancelling';
    if (a.stats) this.d.listener.progress(runId, a.state, a.stats);
    a.controller.abort();
    return true;
  }

  private async go(run: RunRecord, o: StartOptions): Promise<SelfPlayOutcome> {
    const { store, listener } = this.d;
    const config = parseRunConfig(run.config);
    const next = nextIteration(config.iterations);
    const last = config.iterations.at(-1);
    const iteration = o.iteration ?? next.iteration;
    if (iteration !== next.iteration && iteration !== last?.iteration) {
      throw new LabError('invalid-input', `Iteration ${iteration} cannot start now: the next iteration of this run is ${next.iteration}.`);
    }
    const prompts = await store.list('prompts', run.id);
    if (prompts.length === 0) throw new LabError('invalid-input', 'This run has no instructions yet. Add some in Data first.');

    const controller = new AbortController();
    const active: Active = { runId: run.id, iteration, controller, stop: null, state: 'loading', stats: null };
    this.active = active;
    const onOuterAbort = () => this.stop(run.id, 'pause');
    o.signal?.addEventListener('abort', onOuterAbort, { once: true });
    try {
      const existing = config.iterations.find((e) => e.iteration === iteration);
      // A resume keeps the settings the iteration started with.
      const entry: IterationEntry = existing
        ? { ...existing }
        : {
            iteration,
            status: 'running',
            startedAt: this.now(),
            updatedAt: this.now(),
            spar: config.spar,
            models: config.models,
            labels: { actor: '', refiner: '' },
            adapters: {},
            instructions: prompts.length,
            finished: 0,
            failed: 0,
            pairs: 0,
            rft: 0,
          };
      const adapters: Partial<Record<Role, LoraAdapter>> = {};
      entry.generation = { actor: 0, refiner: 0 };
      for (const role of ['actor', 'refiner'] as const) {
        const found = await (this.d.adapters ?? NO_ADAPTERS).latest(run.id, role, iteration);
        if (found) adapters[role] = found.adapter;
        entry.generation[role] = found ? found.trainedOn + 1 : 0;
      }
      entry.adapters = { actor: adapters.actor?.name, refiner: adapters.refiner?.name };
      // Retries are shown until a model call finishes after them (each retry is reported at once).
      const retry = { count: 0, last: null as SelfPlayRetry | null, callsBefore: 0 };
      let latest: SparProgress | null = null;
      const onRetry = (role: Role, r: RetryNotice) => {
        retry.count++;
        retry.last = { ...r, role };
        retry.callsBefore = latest?.modelCalls ?? 0;
        if (!latest) return;
        active.stats = stats(latest);
        listener.progress(run.id, active.state, active.stats);
      };
      const models = await this.d.models.backends(entry.models, { adapters, signal: controller.signal, onProgress: o.onProgress, onRetry });
      this.checkContexts(entry, prompts, existing !== undefined);
      entry.labels = { actor: models.actor.info.label, refiner: models.refiner.info.label };
      entry.status = 'running';
      entry.instructions = prompts.length;
      delete entry.error;
      await this.save(run.id, entry, 'running');

      const startedAt = this.now();
      let baseline: SparProgress | null = null;
      let lastEmit = 0;
      const stats = (p: SparProgress): SelfPlayStats => {
        baseline ??= p;
        latest = p;
        if (retry.last && p.modelCalls > retry.callsBefore) retry.last = null;
        const elapsedMs = this.now() - startedAt;
        const finishedNow = p.finished - baseline.finished;
        const tokens = p.generatedTokens - baseline.generatedTokens;
        const left = p.total - p.finished;
        return {
          ...p,
          iteration,
          elapsedMs,
          finishedNow,
          tokensPerSecond: elapsedMs > 0 && tokens > 0 ? (tokens * 1000) / elapsedMs : null,
          etaMs: left === 0 ? 0 : finishedNow > 0 ? (elapsedMs / finishedNow) * left : null,
          retries: retry.count,
          retrying: retry.last,
        };
      };
      const throttle = this.d.throttleMs ?? 120;
      let lastFinished = -1;
      const onProgress = (p: SparProgress) => {
        active.stats = stats(p);
        const t = this.now();
        if (p.finished === lastFinished && t - lastEmit < throttle) return;
        lastFinished = p.finished;
        lastEmit = t;
        if (active.state === 'loading') active.state = 'running';
        listener.progress(run.id, active.state, active.stats);
        o.onProgress?.({ label: `Iteration ${iteration}`, done: p.finished, total: p.total });
      };
      let textKey = '';
      let text = '';
      let lastText = 0;
      const onText = (promptId: string, purpose: CallPurpose, request: number, sample: number, delta: string) => {
        const key = `${promptId}/${purpose}/${request}/${sample}`;
        if (key !== textKey) {
          textKey = key;
          text = '';
        }
        text += delta;
        const t = this.now();
        if (t - lastText < throttle) return;
        lastText = t;
        listener.text(run.id, iteration, promptId, purpose, text.slice(-2000));
      };

      let state: IterationStatus;
      let final: SparProgress | null = null;
      try {
        final = await runIteration({
          runId: run.id,
          iteration,
          prompts,
          config: entry.spar,
          models,
          store,
          signal: controller.signal,
          retryFailed: o.retryFailed,
          onProgress,
          onText,
          onInstruction: (r) => {
            void this.d.browse.noteTree(r.tree).then((s) => listener.tree(run.id, iteration, s));
          },
        });
        state = 'done';
      } catch (e) {
        if (isCancelled(e) && active.stop !== null) state = active.stop === 'cancel' ? 'cancelled' : 'paused';
        else if (isCancelled(e)) state = 'paused';
        else {
          state = 'failed';
          entry.error = stopError(e, active.stats);
        }
      }
      const s = active.stats ?? stats(final ?? emptyProgress(prompts.length));
      entry.status = state;
      entry.finished = s.finished;
      entry.failed = s.failed;
      entry.pairs = s.pairs;
      entry.rft = s.rft;
      if (state === 'done' || state === 'cancelled') entry.finishedAt = this.now();
      let saved: RunRecord;
      try {
        saved = await this.save(run.id, entry, state);
      } catch (e) {
        // The iteration ends here all the same (a full quota refused this last write too). Storage
        // still says "running", which no tab runs: it reads as paused (see interrupted) and resumes
        // from the stored trees.
        state = entry.status = 'failed';
        entry.error ??= stopError(e, s);
        saved = withIteration(await this.d.store.getRun(run.id), entry, state);
      }
      active.state = state;
      listener.progress(run.id, state, s);
      return { state, stats: s, run: saved };
    } catch (e) {
      // Could not start (a model failed to load): the iteration stays as it was.
      if (isCancelled(e)) throw new LabError('cancelled', 'Cancelled while loading the models.');
      throw e;
    } finally {
      o.signal?.removeEventListener('abort', onOuterAbort);
      this.active = null;
    }
  }

  /**
   * Refuses settings whose longest prompts the loaded models cannot hold, before any model call
   * (context-check.ts), saying what to change; a resumed iteration keeps its settings, so it
   * says how to change them.
   */
  private checkContexts(entry: IterationEntry, prompts: readonly { prompt: string }[], resuming: boolean): void {
    const windows = { actor: this.d.models.contextWindow(entry.models.actor), refiner: this.d.models.contextWindow(entry.models.refiner) };
    const problems = contextProblems(entry.spar, longestInstruction(prompts), windows);
    if (problems.length === 0) return;
    const frozen = resuming ? ` Iteration ${entry.iteration} keeps the settings and models it started with: cancel it in Self-play, change them, and start a new iteration.` : '';
    throw new LabError('invalid-input', `Self-play did not start: ${problems.join(' ')}${frozen}`);
  }

  /** Writes the iteration entry into the run's history and the run's status. */
  private async save(runId: string, entry: IterationEntry, status: RunStatus): Promise<RunRecord> {
    // Re-read: the user may have edited the setup for later iterations meanwhile.
    entry.updatedAt = this.now();
    const { config } = withIteration(await this.d.store.getRun(runId), entry, status);
    const saved = await this.d.store.updateRun(runId, { status, config });
    this.d.listener.run(saved);
    return saved;
  }
}

/** The run with `entry` in its iteration history and `status` as its status. */
function withIteration(run: RunRecord, entry: IterationEntry, status: RunStatus): RunRecord {
  const iterations = parseRunConfig(run.config).iterations.filter((e) => e.iteration !== entry.iteration);
  iterations.push(entry);
  iterations.sort((a, b) => a.iteration - b.iteration);
  return { ...run, status, config: { ...run.config, iterations } };
}

/** Why an iteration stopped, for its history; a write that storage refused says what is kept and what to do. */
function stopError(e: unknown, stats: SelfPlayStats | null): { kind: ErrorKind; message: string } {
  const w = toWireError(e);
  if (w.kind !== 'quota' && w.kind !== 'storage') return { kind: w.kind, message: w.message };
  const kept = stats ? `The ${stats.finished} finished instruction${stats.finished === 1 ? ' is' : 's are'} saved` : 'Finished instructions are saved';
  const why = w.kind === 'quota' ? 'browser storage is full' : `saving failed (${w.message})`;
  const free = w.kind === 'quota' ? 'Free space (export and delete old runs, or delete cached models in Models), then resume' : 'Resume to go on';
  return { kind: w.kind, message: `Self-play stopped: ${why}. ${kept}; the instructions being written were not, and a resume redoes them. ${free}.` };
}

function emptyProgress(total: number): SparProgress {
  return { total, finished: 0, failed: 0, inFlight: 0, pairs: 0, rft: 0, modelCalls: 0, generatedTokens: 0, judgments: 0 };
}
