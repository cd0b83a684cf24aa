/**
 * Every training setting as the Train view shows it: the key in a role's settings, a label, one
 * line on what it does, which roles have it (DPO's settings are the actor's only), its range
 * (train-settings.ts SETTING_RANGES, the one the settings are checked against), and whether a
 * resume keeps it from the training's start.
 */
import { defaultTrainConfig, FROZEN_ON_RESUME, intervalText, SETTING_RANGES, type ActorTrainSettings, type RoleTrainSettings, type SettingRange } from '../lab/train-settings';

export interface TrainField {
  key: keyof ActorTrainSettings;
  label: string;
  help: string;
  kind: 'int' | 'number' | 'select' | 'bool' | 'targets';
  options?: { value: string; label: string }[];
  step?: number | 'any';
  actorOnly?: boolean;
}

export const TRAIN_FIELDS: { title: string; fields: TrainField[] }[] = [
  {
    title: 'LoRA adapter',
    fields: [
      { key: 'init', label: 'Start from', help: "The role's previous adapter (iteration t continues M_t), or a fresh one (B = 0: it starts as the base).", kind: 'select', options: [{ value: 'previous', label: 'previous adapter' }, { value: 'fresh', label: 'a fresh adapter' }] },
      { key: 'rank', label: 'Rank r', help: 'Width of the low-rank update; more parameters, more capacity (fresh adapters only).', kind: 'int' },
      { key: 'alpha', label: 'Alpha', help: 'The update is scaled by alpha / r (alpha / √r with rsLoRA).', kind: 'number', step: 'any' },
      { key: 'rslora', label: 'rsLoRA', help: 'Scale by alpha / √r, which keeps large ranks stable.', kind: 'bool' },
      { key: 'targets', label: 'Target modules', help: 'Linears that get an adapter: q, k, v, o, gate, up, down (comma-separated) or "all".', kind: 'targets' },
    ],
  },
  {
    title: 'Optimization',
    fields: [
      { key: 'lr', label: 'Learning rate', help: 'Peak AdamW learning rate. LoRA needs far more than a full fine-tune (the reference: 2e-7).', kind: 'number', step: 'any' },
      { key: 'epochs', label: 'Epochs', help: 'Passes over the data.', kind: 'int' },
      { key: 'batchSize', label: 'Batch size', help: 'Examples per optimizer step.', kind: 'int' },
      { key: 'microBatchSize', label: 'Micro-batch', help: 'Examples per GPU pass; the batch is accumulated from micro-batches (less memory).', kind: 'int' },
      { key: 'schedule', label: 'Schedule', help: 'Learning rate after warmup: constant, linear to 0 (the reference) or cosine to 0.', kind: 'select', options: [{ value: 'linear', label: 'linear' }, { value: 'cosine', label: 'cosine' }, { value: 'constant', label: 'constant' }] },
      { key: 'warmupRatio', label: 'Warmup', help: 'Share of the steps over which the learning rate rises from 0.', kind: 'number', step: 0.05 },
      { key: 'maxGradNorm', label: 'Max grad norm', help: 'Gradients are scaled down to this global norm (0: no clipping).', kind: 'number', step: 'any' },
      { key: 'weightDecay', label: 'Weight decay', help: "AdamW's decoupled weight decay on the adapter.", kind: 'number', step: 'any' },
      { key: 'seed', label: 'Seed', help: "Data order and a fresh adapter's initial A.", kind: 'int' },
    ],
  },
  {
    title: 'DPO (actor)',
    fields: [
      { key: 'beta', label: 'β', help: 'How far the actor may move from the reference: the DPO temperature.', kind: 'number', step: 'any', actorOnly: true },
      { key: 'ftx', label: 'SFT term α', help: 'Adds α · (−log π(chosen) / |chosen|), keeping chosen answers likely (the reference: 0.1).', kind: 'number', step: 'any', actorOnly: true },
      {
        key: 'reference',
        label: 'Reference policy',
        help: 'Base: the model with the adapter switched off (the LoRA default; free). Previous: the adapter training starts from, M_t, like the reference’s full fine-tune (one more adapter in memory).',
        kind: 'select',
        options: [{ value: 'base', label: 'base (adapter off)' }, { value: 'previous', label: "previous iteration's actor" }],
        actorOnly: true,
      },
    ],
  },
  {
    title: 'Memory and safety',
    fields: [
      { key: 'checkpointEvery', label: 'Checkpoint every', help: 'Steps between saves of the adapter and optimizer state (0: only at the end); a pause or reload resumes from the last.', kind: 'int' },
      { key: 'recompute', label: 'Recompute activations', help: "Keep only each layer's input and recompute the rest in the backward: less GPU memory, about one more forward.", kind: 'bool' },
      { key: 'maxTokens', label: 'Max tokens per example', help: "Longer examples are left out (and counted); 0: the model's context.", kind: 'int' },
    ],
  },
];

const DEFAULTS = defaultTrainConfig();

/** A setting's default as text (the lab's LoRA defaults, not the tiny demo's). */
export function defaultText(role: 'actor' | 'refiner', key: keyof ActorTrainSettings): string {
  const v = (DEFAULTS[role] as ActorTrainSettings)[key];
  if (v === undefined) return '—';
  return Array.isArray(v) ? v.join(',') : String(v);
}

/** A numeric setting's range (for the input's min and max, and the text next to it). */
export function rangeOf(key: keyof ActorTrainSettings): SettingRange | undefined {
  return (SETTING_RANGES as Partial<Record<keyof ActorTrainSettings, SettingRange>>)[key];
}

/** "range (0, 1024]" for a numeric setting, '' for others. */
export function rangeText(key: keyof ActorTrainSettings): string {
  const r = rangeOf(key);
  return r ? `range ${intervalText(r)}` : '';
}

/** Whether a resume keeps the setting from the training's start (the adapter's shape, the data order). */
export function frozenOnResume(key: keyof ActorTrainSettings): boolean {
  return (FROZEN_ON_RESUME as readonly string[]).includes(key);
}

const LABELS = new Map(TRAIN_FIELDS.flatMap((g) => g.fields.map((f) => [f.key, f.label] as const)));
const shown = (v: unknown) => (Array.isArray(v) ? v.join(',') : String(v));

/**
 * What a resume of a training that started with `started` does with the run's settings `now`:
 * the changed settings it takes (`applied`, "Learning rate 0.01 → 0.001") and the changed ones
 * it cannot take (`ignored`: they shape the adapter or the data order).
 */
export function resumeChanges(started: RoleTrainSettings, now: RoleTrainSettings): { applied: string[]; ignored: string[] } {
  const applied: string[] = [];
  const ignored: string[] = [];
  for (const [key, label] of LABELS) {
    if (!(key in started) || !(key in now)) continue;
    const was = shown((started as Partial<ActorTrainSettings>)[key]);
    const is = shown((now as Partial<ActorTrainSettings>)[key]);
    if (was !== is) (frozenOnResume(key) ? ignored : applied).push(`${label} ${was} → ${is}`);
  }
  return { applied, ignored };
}
