/**
 * A run's training settings, one set per role: the actor's DPO on an iteration's pairs and the
 * refiner's SFT on its RFT records, each with its LoRA shape. Plain JSON in the run config
 * (`train`), read with `parseTrainConfig` (defaults filled in, every field checked against its
 * range in SETTING_RANGES). When a role's training of an iteration starts, the settings are
 * written into that iteration's history entry (run-config.ts TrainEntry). A resume keeps the
 * ones that shape the adapter and the data order, and takes the run's optimizer settings as they
 * are now (`resumeSettings`), so a stopped training can go on with, say, a lower learning rate.
 */
import { LabError } from '../errors';
import type { LinearName } from '../engine/model/weights';
import { DEFAULT_LORA, parseTargets } from '../engine/train/lora';
import { DEFAULT_ADAMW, type Schedule } from '../engine/train/optim';
import { DEFAULT_DPO, DEFAULT_SFT, EXPLODING_GRAD_NORM, type TrainSettings } from '../engine/train/trainer';

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

/**
 * The range of a numeric setting: [min, max], with an open end where `above` (min excluded) or
 * `below` (max excluded) says so; `integer`: whole numbers only.
 */
export interface SettingRange {
  min: number;
  max: number;
  integer?: boolean;
  above?: boolean;
  below?: boolean;
}

type NumericSetting = { [K in keyof ActorTrainSettings]: ActorTrainSettings[K] extends number ? K : never }[keyof ActorTrainSettings];

// Every numeric setting is bounded. The bounds are wide (a stored run outside them could not be
// opened) but refuse values that only break training: alpha 1e30 makes every update swamp the
// base weights, and anything past Number.MAX_SAFE_INTEGER cannot seed Python's generator.
export const SETTING_RANGES: Record<NumericSetting, SettingRange> = {
  rank: { min: 1, max: 256, integer: true },
  // alpha / r up to 1024: a thousand times the scale of alpha = r, far past any recipe (r or 2r).
  alpha: { min: 0, max: 1024, above: true },
  lr: { min: 0, max: 1, above: true, below: true },
  epochs: { min: 1, max: 1000, integer: true },
  batchSize: { min: 1, max: 1024, integer: true },
  microBatchSize: { min: 1, max: 1024, integer: true },
  warmupRatio: { min: 0, max: 1 },
  // 0: no clipping. The trainer stops on a larger gradient norm, so a larger clip would never act.
  maxGradNorm: { min: 0, max: EXPLODING_GRAD_NORM },
  weightDecay: { min: 0, max: 1, below: true },
  checkpointEvery: { min: 0, max: 1_000_000, integer: true },
  seed: { min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER, integer: true },
  maxTokens: { min: 0, max: 1 << 20, integer: true },
  beta: { min: 0, max: 100, above: true },
  ftx: { min: 0, max: 100 },
};

/** A range as an interval: "[1, 256]", "(0, 1024]". */
export function intervalText(r: SettingRange): string {
  return `${r.above ? '(' : '['}${r.min}, ${r.max}${r.below ? ')' : ']'}`;
}

/** A range as the error messages write it: "a whole number in [1, 256]", "a number in (0, 1024]". */
export function describeRange(r: SettingRange): string {
  return `${r.integer ? 'a whole number' : 'a number'} in ${intervalText(r)}`;
}

function inRange(v: number, r: SettingRange): boolean {
  return (r.integer ? Number.isInteger(v) : true) && (r.above ? v > r.min : v >= r.min) && (r.below ? v < r.max : v <= r.max);
}

/**
 * Settings a resumed training keeps from its start: the adapter's shape (a checkpoint's tensors
 * have it), where it starts from and its DPO reference, and the data order (a checkpoint's step
 * counts into the order that epochs, batch size, seed and the length limit make).
 */
export const FROZEN_ON_RESUME = ['init', 'rank', 'alpha', 'rslora', 'targets', 'reference', 'epochs', 'batchSize', 'seed', 'maxTokens'] as const satisfies readonly (keyof ActorTrainSettings)[];

/** What a resume trains with: the frozen settings as it `started`, everything else as the run's settings are `now`. */
export function resumeSettings<S extends RoleTrainSettings>(started: S, now: S): S {
  const frozen = Object.fromEntries(FROZEN_ON_RESUME.filter((k) => k in started).map((k) => [k, (started as Partial<ActorTrainSettings>)[k]]));
  const s: S = { ...now, ...frozen };
  s.microBatchSize = Math.min(s.microBatchSize, s.batchSize);
  return s;
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
  ranged(problems, 'train.actor', actor, 'beta');
  ranged(problems, 'train.actor', actor, 'ftx');
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
  for (const k of ['rank', 'alpha', 'lr', 'epochs', 'batchSize', 'microBatchSize', 'warmupRatio', 'maxGradNorm', 'weightDecay', 'checkpointEvery', 'maxTokens', 'seed'] as const) ranged(problems, p, s, k);
  if (Number.isInteger(s.batchSize) && Number.isInteger(s.microBatchSize) && s.microBatchSize > s.batchSize) problems.push(`${p}.microBatchSize must not exceed the batch size`);
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

function ranged<S extends RoleTrainSettings>(problems: string[], path: string, s: S, k: keyof S & NumericSetting): void {
  const v: unknown = s[k];
  const r = SETTING_RANGES[k];
  if (typeof v !== 'number' || !Number.isFinite(v) || !inRange(v, r)) problems.push(`${path}.${k} must be ${describeRange(r)} (got ${JSON.stringify(v)})`);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
