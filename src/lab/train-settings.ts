/**
 * A run's training settings, one set per role: the actor's DPO on an iteration's pairs and the
 * refiner's SFT on its RFT records, each with its LoRA shape. Plain JSON in the run config
 * (`train`), read with `parseTrainConfig` (defaults filled in, every field checked). When a
 * role's training of an iteration starts, the settings are frozen into that iteration's history
 * entry (run-config.ts TrainEntry), so a resume after a reload uses the same ones.
 */
import { LabError } from '../errors';
import type { LinearName } from '../engine/model/weights';
import { DEFAULT_LORA, parseTargets } from '../engine/train/lora';
import { DEFAULT_ADAMW, type Schedule } from '../engine/train/optim';
import { DEFAULT_DPO, DEFAULT_SFT, type TrainSettings } from '../engine/train/trainer';

export interface RoleTrainSettings {
  /** LoRA r, lora_alpha, rsLoRA and target modules (of a fresh adapter; a continued one keeps its own). */
  rank: number;
  alpha: number;
  rslora: boolean;
  targets: LinearName[];
  /** Start from the role's newest trained adapter ('previous'), or from a fresh one. */
  init: 'previous' | 'fresh';
  lr: number;
  epochs: number;
  batchSize: number;
  microBatchSize: number;
  schedule: Schedule;
  warmupRatio: number;
  maxGradNorm: number;
  weightDecay: number;
  /** Optimizer steps between checkpoints (0: only at the end). */
  checkpointEvery: number;
  /** Recompute each layer's activations in the backward instead of keeping them (less memory). */
  recompute: boolean;
  /** Seeds the data order and a fresh adapter's A. */
  seed: number;
  /** Longest example in tokens (0: the model's context); longer ones are left out and counted. */
  maxTokens: number;
}

export interface ActorTrainSettings extends RoleTrainSettings {
  /** DPO β. */
  beta: number;
  /** Weight α of the SFT term α·(−log π(chosen)/|chosen|) (LLaMA-Factory pref_ftx; SPaR: 0.1). */
  ftx: number;
  /**
   * DPO's reference policy: 'base' (the model with the adapter switched off; SPAR.md) or
   * 'previous' (the adapter this training starts from, i.e. M_t, the model that made the pairs).
   */
  reference: 'base' | 'previous';
}

export type RefinerTrainSettings = RoleTrainSettings;

export interface TrainConfig {
  actor: ActorTrainSettings;
  refiner: RefinerTrainSettings;
}

function common(t: TrainSettings): RoleTrainSettings {
  return {
    rank: DEFAULT_LORA.rank,
    alpha: DEFAULT_LORA.alpha,
    rslora: DEFAULT_LORA.rslora,
    targets: [...DEFAULT_LORA.targets],
    init: 'previous',
    lr: t.lr,
    epochs: t.epochs,
    batchSize: t.batchSize,
    microBatchSize: t.microBatchSize,
    schedule: t.schedule,
    warmupRatio: t.warmupRatio,
    maxGradNorm: t.maxGradNorm,
    weightDecay: t.adamw.weightDecay,
    checkpointEvery: t.checkpointEvery,
    recompute: false,
    seed: t.seed,
    maxTokens: 0,
  };
}

/** SPaR's training recipe with LoRA learning rates (engine/train/trainer.ts DEFAULT_DPO, DEFAULT_SFT). */
export function defaultTrainConfig(): TrainConfig {
  return {
    actor: { ...common(DEFAULT_DPO), beta: DEFAULT_DPO.beta, ftx: DEFAULT_DPO.ftx, reference: 'base' },
    refiner: common(DEFAULT_SFT),
  };
}

/** The Trainer's settings from a role's settings. */
export function trainerSettings(s: RoleTrainSettings): TrainSettings {
  return {
    lr: s.lr,
    epochs: s.epochs,
    batchSize: s.batchSize,
    microBatchSize: s.microBatchSize,
    schedule: s.schedule,
    warmupRatio: s.warmupRatio,
    maxGradNorm: s.maxGradNorm,
    adamw: { ...DEFAULT_ADAMW, weightDecay: s.weightDecay },
    seed: s.seed,
    checkpointEvery: s.checkpointEvery,
  };
}

/** Defaults filled in, every field checked; a LabError names each bad field. */
export function parseTrainConfig(input: unknown = {}): TrainConfig {
  const d = defaultTrainConfig();
  if (!isObject(input)) throw new LabError('invalid-input', 'Training settings must be an object.');
  const problems: string[] = [];
  const actor = { ...d.actor, ...role(input.actor, 'actor', d.actor, problems) } as ActorTrainSettings;
  const refiner = { ...d.refiner, ...role(input.refiner, 'refiner', d.refiner, problems) } as RefinerTrainSettings;
  num(problems, 'train.actor.beta', actor.beta, (v) => v > 0 && v <= 100, 'a number in (0, 100]');
  num(problems, 'train.actor.ftx', actor.ftx, (v) => v >= 0 && v <= 100, 'a number in [0, 100]');
  if (actor.reference !== 'base' && actor.reference !== 'previous') problems.push(`train.actor.reference must be "base" or "previous" (got ${JSON.stringify(actor.reference)})`);
  if (problems.length) throw new LabError('invalid-input', `Invalid training settings: ${problems.join('; ')}.`);
  return { actor, refiner };
}

function role(raw: unknown, name: string, d: RoleTrainSettings, problems: string[]): Partial<RoleTrainSettings> {
  if (raw === undefined) return {};
  if (!isObject(raw)) {
    problems.push(`train.${name} must be an object`);
    return {};
  }
  const known = new Set([...Object.keys(d), ...(name === 'actor' ? ['beta', 'ftx', 'reference'] : [])]);
  for (const k of Object.keys(raw)) if (!known.has(k)) problems.push(`train.${name}.${k} is not a setting`);
  const s = { ...d, ...raw } as RoleTrainSettings;
  const p = `train.${name}`;
  const int = (k: keyof RoleTrainSettings, min: number) => num(problems, `${p}.${k}`, s[k], (v) => Number.isInteger(v) && v >= min, `a whole number ≥ ${min}`);
  int('rank', 1);
  num(problems, `${p}.alpha`, s.alpha, (v) => v > 0, 'a positive number');
  num(problems, `${p}.lr`, s.lr, (v) => v > 0 && v < 1, 'a number in (0, 1)');
  int('epochs', 1);
  int('batchSize', 1);
  int('microBatchSize', 1);
  if (Number.isInteger(s.batchSize) && Number.isInteger(s.microBatchSize) && s.microBatchSize > s.batchSize) problems.push(`${p}.microBatchSize must not exceed the batch size`);
  num(problems, `${p}.warmupRatio`, s.warmupRatio, (v) => v >= 0 && v <= 1, 'a number in [0, 1]');
  num(problems, `${p}.maxGradNorm`, s.maxGradNorm, (v) => v >= 0, 'a number ≥ 0 (0: no clipping)');
  num(problems, `${p}.weightDecay`, s.weightDecay, (v) => v >= 0 && v < 1, 'a number in [0, 1)');
  int('checkpointEvery', 0);
  int('maxTokens', 0);
  num(problems, `${p}.seed`, s.seed, (v) => Number.isInteger(v), 'a whole number');
  if (!['constant', 'linear', 'cosine'].includes(s.schedule)) problems.push(`${p}.schedule must be constant, linear or cosine (got ${JSON.stringify(s.schedule)})`);
  if (s.init !== 'previous' && s.init !== 'fresh') problems.push(`${p}.init must be "previous" or "fresh" (got ${JSON.stringify(s.init)})`);
  for (const k of ['rslora', 'recompute'] as const) if (typeof s[k] !== 'boolean') problems.push(`${p}.${k} must be true or false`);
  try {
    s.targets = parseTargets(s.targets);
  } catch (e) {
    problems.push(`${p}.targets: ${(e as Error).message}`);
  }
  return s;
}

function num(problems: string[], path: string, v: unknown, ok: (v: number) => boolean, what: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) problems.push(`${path} must be ${what} (got ${JSON.stringify(v)})`);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
