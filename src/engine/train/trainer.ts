/**
 * The training loop, engine-agnostic: it asks a TrainEngine (train/engine.ts) for the loss and
 * LoRA gradients of each micro-batch, accumulates a step, clips, steps AdamW on the host and
 * hands the new weights back to the engine. DPO (actor) and SFT (refiner's RFT data) differ only
 * in the loss function and in DPO's reference log-probs, computed once per pair and cached.
 * Before the first step come the phases a user would otherwise wait through unexplained
 * (TrainPhase): compiling (a dropped warm-up micro-batch) and DPO's reference pass, timed apart
 * from the steps, so tokens per second measure the steps alone (TrainTiming).
 *
 * Safety: a NaN or infinite loss or gradient discards the step and stops training with a
 * LabError of kind 'nan'; a gradient norm above EXPLODING_GRAD_NORM or at most
 * VANISHING_GRAD_NORM does the same with kind 'diverged'. The engine keeps the adapter of the
 * last good step, which is saved too, and the message says what was saved (nothing before the
 * first step). Checkpoints (adapter, AdamW state, step, schedule position) go to the store every
 * `checkpointEvery` steps and at the end; a new Trainer over the same data resumes from the last
 * one (after a reload), replaying the same data order. Only the data order (epochs, batch size,
 * seed) and the task (DPO's reference) must match: a resume may change the learning rate, the
 * schedule, clipping, weight decay, micro-batch, β and the SFT term.
 */
import { LabError } from '../../errors';
import { PyRandom } from '../../py-random';
import type { LoraAdapter } from '../model/weights';
import { checkpointId, recordToState, stateToRecord, trainLogId, type RecordPlace, type TrainPersistence, type TrainPut, type TrainState } from './checkpoint';
import type { EncodedPair } from './data';
import { maskedCount, type TrainEngine, type TrainSequence } from './engine';
import { adapterTensors } from './lora';
import { dpoLossFn, emptyDpoStats, sftLossFn, type DpoStats } from './losses';
import { AdamW, clipGradNorm, DEFAULT_ADAMW, learningRate, type AdamWSettings, type Schedule } from './optim';

export interface TrainSettings {
  /** Peak learning rate. */
  lr: number;
  epochs: number;
  /** Examples (pairs or chats) per optimizer step. */
  batchSize: number;
  /** Examples per engine call; batchSize / microBatchSize calls accumulate one step. */
  microBatchSize: number;
  schedule: Schedule;
  warmupRatio: number;
  /** Global grad-norm clip (0: none). */
  maxGradNorm: number;
  adamw: AdamWSettings;
  /** Data order. */
  seed: number;
  /** Steps between checkpoints (0: only at the end). */
  checkpointEvery: number;
}

const COMMON: Omit<TrainSettings, 'lr'> = {
  epochs: 1,
  batchSize: 8,
  microBatchSize: 1,
  schedule: 'linear',
  warmupRatio: 0.1,
  maxGradNorm: 1,
  adamw: DEFAULT_ADAMW,
  seed: 42,
  checkpointEvery: 10,
};

/**
 * DPO of the actor: SPaR's reference (LLaMA-Factory: β 0.1, pref_ftx 0.1, 1 epoch, linear,
 * warmup 0.1) with a LoRA learning rate: 5e-6, LLaMA-Factory's LoRA DPO example (the reference's
 * 2e-7 is for a full fine-tune).
 */
export const DEFAULT_DPO: Readonly<TrainSettings & { beta: number; ftx: number }> = { ...COMMON, lr: 5e-6, beta: 0.1, ftx: 0.1 };

/** SFT of the refiner on RFT records: LLaMA-Factory's LoRA SFT example learning rate, 1e-4. */
export const DEFAULT_SFT: Readonly<TrainSettings> = { ...COMMON, lr: 1e-4 };

/**
 * Gradient norms (before clipping) that stop training. Real LoRA gradients are O(0.1–100), and
 * the largest alpha / r the lab allows (1024) scales them by at most that: far above it, the
 * adapter is diverging. At or below VANISHING no step can move the adapter any more: the loss of
 * every example in the step is saturated (its gradient underflowed to 0), which a too-large
 * alpha, learning rate or β causes; AdamW's momentum and weight decay would go on changing it
 * with no signal.
 */
export const EXPLODING_GRAD_NORM = 1e6;
export const VANISHING_GRAD_NORM = 1e-30;

export type TrainTask =
  | {
      kind: 'dpo';
      pairs: readonly EncodedPair[];
      beta: number;
      /** Weight α of the SFT term α·(−log π(chosen)/|chosen|); 0: plain DPO. */
      ftx: number;
      /** The reference policy: the base (null, default) or another adapter held by the engine. */
      reference?: string | null;
    }
  | { kind: 'sft'; chats: readonly TrainSequence[] };

export interface StepMetrics {
  /** Optimizer steps done (1-based). */
  step: number;
  totalSteps: number;
  /** Fractional epoch at the end of this step. */
  epoch: number;
  lr: number;
  loss: number;
  /** Global norm before clipping. */
  gradNorm: number;
  /** Tokens through the trained forward+backward per second of this step. */
  tokensPerSec: number;
  tokens: number;
  seconds: number;
  /** DPO only (means over the step's pairs). */
  rewardChosen?: number;
  rewardRejected?: number;
  rewardMargin?: number;
  rewardAccuracy?: number;
  logpChosen?: number;
  logpRejected?: number;
  /** DPO: mean −log π(c)/|c| (the SFT term before α). SFT: mean token NLL (= loss). */
  nll?: number;
}

/**
 * What the trainer is doing, for a progress line. Before the first step it may compile (the
 * first micro-batch run once, its gradients dropped: a GPU compiles its kernels on first use,
 * tens of seconds for a new model) and, for DPO, compute the reference log-probs of every pair
 * the remaining steps use. Then it runs steps (onStep tells each).
 */
export type TrainPhase = { phase: 'compile' } | { phase: 'reference'; done: number; total: number } | { phase: 'steps' };

/**
 * Where a training's time went, in seconds. Tokens per second are the steps' tokens over the
 * steps' own time: compiling and the reference pass are counted apart.
 */
export interface TrainTiming {
  compileSeconds: number;
  referenceSeconds: number;
  /** Optimizer steps run, their time and the tokens through their forward and backward passes. */
  steps: number;
  stepSeconds: number;
  stepTokens: number;
}

export interface TrainerOptions {
  engine: TrainEngine;
  /**
   * The adapter trained. The engine must hold it (its initial weights) before run(), unless a
   * checkpoint is resumed: then the engine is given the checkpoint's weights.
   */
  adapter: string;
  task: TrainTask;
  settings?: Partial<TrainSettings>;
  /** Where checkpoints and logs go; none: nothing is saved. */
  persistence?: { store: TrainPersistence } & RecordPlace;
  /** Resume from the saved checkpoint when there is one (default true). */
  resume?: boolean;
  onStep?: (m: StepMetrics) => void;
  /** Told as each phase starts (and as the reference pass goes on). */
  onPhase?: (p: TrainPhase) => void;
  /**
   * Run the first micro-batch once before the first step, its gradients dropped, so the engine
   * compiles what it compiles on first use outside the steps' time (the GPU engine; the CPU has
   * nothing to compile).
   */
  warmUp?: boolean;
  signal?: AbortSignal;
  /** Clock in ms (performance.now by default). */
  now?: () => number;
}

export interface TrainResult {
  /** Steps done in total (including before a resume). */
  steps: number;
  totalSteps: number;
  /** Step the run started from (0, or the checkpoint's). */
  resumedFrom: number;
  /** Metrics of the steps run by this call. */
  metrics: StepMetrics[];
  adapter: LoraAdapter;
}

/** FNV-1a over numbers and strings: a cheap fingerprint of the data and settings. */
function fingerprint(parts: (string | readonly number[] | Uint8Array)[]): string {
  let h = 0x811c9dc5;
  const mix = (x: number) => {
    h ^= x & 0xffff;
    h = Math.imul(h, 0x01000193);
    h ^= x >>> 16;
    h = Math.imul(h, 0x01000193);
  };
  for (const p of parts) {
    if (typeof p === 'string') for (let i = 0; i < p.length; i++) mix(p.charCodeAt(i));
    else for (let i = 0; i < p.length; i++) mix(p[i]);
    mix(0xfffff);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

export class Trainer {
  readonly settings: TrainSettings;
  readonly totalSteps: number;
  readonly stepsPerEpoch: number;
  private readonly examples: number;
  private readonly refCache = new Map<number, readonly [number, number]>();
  private readonly now: () => number;
  /** This run's time so far (run() fills it in as it goes, also when it stops early). */
  readonly timing: TrainTiming = { compileSeconds: 0, referenceSeconds: 0, steps: 0, stepSeconds: 0, stepTokens: 0 };

  constructor(readonly opts: TrainerOptions) {
    const base = opts.task.kind === 'dpo' ? DEFAULT_DPO : DEFAULT_SFT;
    const s: TrainSettings = { ...base, ...opts.settings, adamw: { ...base.adamw, ...opts.settings?.adamw } };
    if (!(s.lr > 0) || !Number.isFinite(s.lr)) throw new LabError('invalid-input', `The learning rate must be a positive number (got ${s.lr}).`);
    for (const [k, v] of Object.entries({ epochs: s.epochs, batchSize: s.batchSize, microBatchSize: s.microBatchSize })) {
      if (!Number.isInteger(v) || v < 1) throw new LabError('invalid-input', `Training setting ${k} must be a positive integer (got ${v}).`);
    }
    if (opts.task.kind === 'dpo' && (opts.task.reference ?? null) === opts.adapter) {
      throw new LabError('invalid-input', 'DPO: the reference policy cannot be the adapter being trained.');
    }
    this.settings = s;
    this.examples = opts.task.kind === 'dpo' ? opts.task.pairs.length : opts.task.chats.length;
    if (this.examples === 0) throw new LabError('invalid-input', `Nothing to train on: no ${opts.task.kind === 'dpo' ? 'preference pairs' : 'chats'}.`);
    this.stepsPerEpoch = Math.ceil(this.examples / s.batchSize);
    this.totalSteps = s.epochs * this.stepsPerEpoch;
    this.now = opts.now ?? (() => performance.now());
  }

  /**
   * The data, its order and the task: a checkpoint made with other ones is not resumed. The
   * optimizer settings are left out, so a resume can take new ones.
   */
  private fingerprint(): string {
    const t = this.opts.task;
    const seqs = t.kind === 'dpo' ? t.pairs.flatMap((p) => [p.chosen, p.rejected]) : t.chats;
    const task = t.kind === 'dpo' ? `dpo:${t.reference ?? ''}` : 'sft';
    const { epochs, batchSize, seed } = this.settings;
    return fingerprint([task, JSON.stringify({ epochs, batchSize, seed }), ...seqs.flatMap((q) => [q.tokens, q.mask])]);
  }

  /** The example order of every epoch, the same on every run with the same seed. */
  private orders(): number[][] {
    const rng = new PyRandom(this.settings.seed);
    return Array.from({ length: this.settings.epochs }, () => rng.shuffle(Array.from({ length: this.examples }, (_, i) => i)));
  }

  async run(): Promise<TrainResult> {
    const { engine, adapter: name, persistence } = this.opts;
    const s = this.settings;
    const total = this.totalSteps;
    const print = this.fingerprint();
    let saved: TrainState | null = null;
    if (persistence && this.opts.resume !== false) {
      const rec = await persistence.store.get('adapters', persistence.runId, checkpointId(persistence.iteration, persistence.role));
      if (rec) {
        saved = recordToState(rec);
        if (saved.fingerprint !== print) {
          throw new LabError(
            'invalid-input',
            `The saved ${persistence.role} checkpoint of iteration ${persistence.iteration} (step ${saved.step} of ${saved.totalSteps}) was made with other data or another data order ` +
              '(epochs, batch size, seed, DPO reference). Delete it to train from scratch, or restore the data and those settings.',
          );
        }
      }
    }
    // From the checkpoint (the engine gets its weights), or from the adapter the engine holds.
    const adapter = saved ? { ...saved.adapter, name } : await engine.getAdapter(name);
    const params = adapterTensors(adapter).map((t) => t.data);
    const opt = saved?.optimizer ? new AdamW(s.adamw, saved.optimizer.moments) : AdamW.forShapes(s.adamw, params.map((p) => p.length));
    opt.t = saved?.optimizer?.t ?? 0;
    let step = saved?.step ?? 0;
    if (saved) {
      await engine.setAdapter(adapter);
      if (saved.status === 'done') return { steps: saved.step, totalSteps: total, resumedFrom: saved.step, metrics: [], adapter };
    }
    const resumedFrom = step;
    let savedStep = step;
    const state = (status: TrainState['status']): TrainState => ({
      adapter,
      step,
      totalSteps: total,
      status,
      fingerprint: print,
      optimizer: status === 'done' ? null : { t: opt.t, moments: opt.moments },
      settings: { ...s, task: this.opts.task.kind },
    });
    const save = async (status: TrainState['status'], logs: TrainPut[] = []) => {
      if (!persistence) return;
      await persistence.store.putAll([{ store: 'adapters', record: stateToRecord(state(status), persistence) }, ...logs]);
      savedStep = step;
    };

    const orders = this.orders();
    const batchAt = (k: number) => {
      const b = k % this.stepsPerEpoch;
      return orders[Math.floor(k / this.stepsPerEpoch)].slice(b * s.batchSize, (b + 1) * s.batchSize);
    };
    const stopped = () => new LabError('cancelled', `Training cancelled before step ${step + 1} of ${total}${persistence ? '; it resumes from there' : ''}.`);
    if (this.opts.warmUp && step < total) {
      this.opts.onPhase?.({ phase: 'compile' });
      const t0 = this.now();
      await this.warmUp(batchAt(step).slice(0, s.microBatchSize));
      this.timing.compileSeconds += (this.now() - t0) / 1000;
    }
    if (this.opts.task.kind === 'dpo') {
      // Each pair the remaining steps use, in the order they use them.
      const ids = [...new Set(Array.from({ length: total - step }, (_, i) => batchAt(step + i)).flat())];
      const t0 = this.now();
      for (let i = 0; i < ids.length; i += s.microBatchSize) {
        if (this.opts.signal?.aborted) throw stopped();
        this.opts.onPhase?.({ phase: 'reference', done: i, total: ids.length });
        await this.ensureReference(ids.slice(i, i + s.microBatchSize));
      }
      this.timing.referenceSeconds += (this.now() - t0) / 1000;
    }
    this.opts.onPhase?.({ phase: 'steps' });
    const metrics: StepMetrics[] = [];
    while (step < total) {
      if (this.opts.signal?.aborted) {
        if (step > savedStep) await save('training');
        throw new LabError('cancelled', `Training cancelled after step ${step} of ${total}${persistence ? '; it resumes from there' : ''}.`);
      }
      const t0 = this.now();
      const epoch = Math.floor(step / this.stepsPerEpoch);
      const b = step % this.stepsPerEpoch;
      const batch = batchAt(step);
      const lr = learningRate(s, step, total);

      const result = await this.accumulate(batch);
      const grads = adapterTensors({ rank: adapter.rank, layers: await engine.takeGradients(name) }).map((t) => t.data);
      const gradNorm = Number.isFinite(result.loss) ? clipGradNorm(grads, s.maxGradNorm) : NaN;
      const problem = this.problem(result.loss, gradNorm, persistence !== undefined && step > 0);
      if (problem) {
        const wrote = step > savedStep && persistence !== undefined;
        if (wrote) await save('training');
        throw new LabError(problem.kind, `Training stopped at step ${step + 1} of ${total}: ${problem.what}. That step was discarded; ${this.kept(step, wrote)}. ${problem.advice}`);
      }
      opt.step(params, grads, lr);
      await engine.setAdapter(adapter);
      step++;

      const seconds = (this.now() - t0) / 1000;
      const m: StepMetrics = {
        step,
        totalSteps: total,
        epoch: epoch + Math.min(this.examples, (b + 1) * s.batchSize) / this.examples,
        lr,
        loss: result.loss,
        gradNorm,
        tokensPerSec: seconds > 0 ? result.tokens / seconds : 0,
        tokens: result.tokens,
        seconds,
        ...result.extra,
      };
      metrics.push(m);
      this.timing.steps++;
      this.timing.stepSeconds += seconds;
      this.timing.stepTokens += result.tokens;
      this.opts.onStep?.(m);
      if (persistence) {
        const log: TrainPut = {
          store: 'trainLogs',
          record: {
            runId: persistence.runId,
            id: trainLogId(persistence.iteration, persistence.role, step),
            iteration: persistence.iteration,
            role: persistence.role,
            step,
            time: Date.now(),
            metrics: Object.fromEntries(Object.entries(m).filter(([, v]) => typeof v === 'number')) as Record<string, number>,
          },
        };
        const checkpoint = step === total || (s.checkpointEvery > 0 && step % s.checkpointEvery === 0);
        if (checkpoint) await save(step === total ? 'done' : 'training', [log]);
        else await persistence.store.putAll([log]);
      }
    }
    if (step > savedStep) await save('done');
    return { steps: step, totalSteps: total, resumedFrom, metrics, adapter };
  }

  /**
   * Why a step's loss and gradient norm (before clipping) must stop training, if they must, and
   * what to change; `resumable`: a checkpoint to go on from exists.
   */
  private problem(loss: number, gradNorm: number, resumable: boolean): { kind: 'nan' | 'diverged'; what: string; advice: string } | null {
    const s = this.settings;
    const dpo = this.opts.task.kind === 'dpo';
    const clip = s.maxGradNorm > 0 ? `harder clipping (max grad norm now ${s.maxGradNorm})` : 'clipping (max grad norm, now off)';
    const calmer =
      `Try a lower learning rate (now ${s.lr} at its peak), ${clip}${dpo ? ' or a smaller β' : ''}, or look for odd data in this batch.` +
      (resumable ? ' A resume takes changed optimizer settings.' : '');
    if (!Number.isFinite(loss)) return { kind: 'nan', what: `the loss is ${loss}`, advice: calmer };
    if (!Number.isFinite(gradNorm)) return { kind: 'nan', what: 'the gradients are not finite', advice: calmer };
    if (gradNorm > EXPLODING_GRAD_NORM) return { kind: 'diverged', what: `the gradient norm is ${gradNorm.toExponential(2)}, above ${EXPLODING_GRAD_NORM}: the adapter is diverging`, advice: calmer };
    if (gradNorm <= VANISHING_GRAD_NORM) {
      return {
        kind: 'diverged',
        what: `the gradient vanished (norm ${gradNorm === 0 ? '0' : gradNorm.toExponential(2)}): every example's loss is saturated, so no step can move the adapter`,
        advice:
          `This comes from too large a LoRA alpha, learning rate (now ${s.lr} at its peak)${dpo ? ' or β' : ''}; lower them.` +
          (resumable ? ` A resume takes a changed learning rate${dpo ? ' or β' : ''}; alpha belongs to the adapter, so changing it means training again from scratch.` : ''),
      };
    }
    return null;
  }

  /** What a stop leaves: `step` steps are done; `wrote`: their adapter was saved just now. */
  private kept(step: number, wrote: boolean): string {
    if (!this.opts.persistence) return step === 0 ? 'the adapter is as it was before training (nothing is saved)' : `the adapter after step ${step} is kept in memory (nothing is saved)`;
    if (step === 0) return 'nothing was saved (no step had finished), so training starts over';
    return wrote ? `the adapter after step ${step} is saved as a checkpoint to resume from` : `the checkpoint of step ${step}, saved before, is kept to resume from`;
  }

  /**
   * One forward and backward pass over `ids` (and, for DPO, their reference log-probs) whose
   * results are dropped: the loss is 0 and the gradients taken and thrown away. The adapter is
   * untouched.
   */
  private async warmUp(ids: number[]): Promise<void> {
    const { engine, adapter: name, task } = this.opts;
    const seqs = task.kind === 'dpo' ? ids.flatMap((id) => [task.pairs[id].chosen, task.pairs[id].rejected]) : ids.map((id) => task.chats[id]);
    if (task.kind === 'dpo') await engine.logprobs(seqs, task.reference ?? null);
    await engine.accumulateGradients(seqs, name, (lps) => ({ loss: 0, dlogprobs: lps.map((l) => new Float32Array(l.length)) }));
    await engine.takeGradients(name);
  }

  /** Loss and gradients of one optimizer step, accumulated over micro-batches in the engine. */
  private async accumulate(batch: number[]): Promise<{ loss: number; tokens: number; extra: Partial<StepMetrics> }> {
    const { engine, adapter: name, task } = this.opts;
    const micro = this.settings.microBatchSize;
    let loss = 0;
    let tokens = 0;
    if (task.kind === 'dpo') {
      const stats: DpoStats = emptyDpoStats();
      for (let i = 0; i < batch.length; i += micro) {
        const ids = batch.slice(i, i + micro);
        const seqs = ids.flatMap((id) => [task.pairs[id].chosen, task.pairs[id].rejected]);
        tokens += seqs.reduce((n, q) => n + q.tokens.length, 0);
        const fn = dpoLossFn({ beta: task.beta, ftx: task.ftx, ref: ids.map((id) => this.refCache.get(id)!), weight: 1 / batch.length, stats });
        loss += await engine.accumulateGradients(seqs, name, fn);
        if (!Number.isFinite(loss)) break;
      }
      const n = Math.max(1, stats.pairs);
      return {
        loss,
        tokens,
        extra: {
          rewardChosen: stats.chosenReward / n,
          rewardRejected: stats.rejectedReward / n,
          rewardMargin: (stats.chosenReward - stats.rejectedReward) / n,
          rewardAccuracy: stats.correct / n,
          logpChosen: stats.policyChosen / n,
          logpRejected: stats.policyRejected / n,
          nll: stats.sft / n,
        },
      };
    }
    const stepTokens = batch.reduce((n, id) => n + maskedCount(task.chats[id]), 0);
    const stats = { tokens: 0, nll: 0 };
    const fn = sftLossFn({ stepTokens, stats });
    for (let i = 0; i < batch.length; i += micro) {
      const seqs = batch.slice(i, i + micro).map((id) => task.chats[id]);
      tokens += seqs.reduce((n, q) => n + q.tokens.length, 0);
      loss += await engine.accumulateGradients(seqs, name, fn);
      if (!Number.isFinite(loss)) break;
    }
    return { loss, tokens, extra: { nll: stats.nll / Math.max(1, stats.tokens) } };
  }

  /** Reference log-probs of pairs not seen yet: once per pair, with the adapter off (or the reference adapter on). */
  private async ensureReference(ids: number[]): Promise<void> {
    const task = this.opts.task;
    if (task.kind !== 'dpo') return;
    const missing = ids.filter((id) => !this.refCache.has(id));
    if (missing.length === 0) return;
    const lps = await this.opts.engine.logprobs(
      missing.flatMap((id) => [task.pairs[id].chosen, task.pairs[id].rejected]),
      task.reference ?? null,
    );
    const sum = (a: ArrayLike<number>) => {
      let x = 0;
      for (let i = 0; i < a.length; i++) x += a[i];
      return x;
    };
    missing.forEach((id, i) => this.refCache.set(id, [sum(lps[2 * i]), sum(lps[2 * i + 1])]));
  }
}
