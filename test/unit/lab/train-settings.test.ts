/**
 * Training settings: every numeric setting has a range, values outside it are refused with a
 * message naming the setting and the range, and a resume keeps exactly the settings that shape
 * the adapter and the data order.
 */
import { describe, expect, it } from 'vitest';
import { LabError } from '../../../src/errors';
import { defaultTrainConfig, FROZEN_ON_RESUME, parseTrainConfig, resumeSettings, SETTING_RANGES, type ActorTrainSettings } from '../../../src/lab/train-settings';
import { tinyDemoTrain } from '../../../src/lab/presets';

const refused = (actor: Partial<Record<keyof ActorTrainSettings, unknown>>): LabError => {
  try {
    parseTrainConfig({ actor });
  } catch (e) {
    return e as LabError;
  }
  throw new Error(`accepted ${JSON.stringify(actor)}`);
};

describe('training settings bounds', () => {
  it('refuses alpha 1e30, naming the setting and its range', () => {
    expect(refused({ alpha: 1e30 })).toMatchObject({ kind: 'invalid-input', message: 'Invalid training settings: train.actor.alpha must be a number in (0, 1024] (got 1e+30).' });
    expect(parseTrainConfig({ actor: { alpha: 1024 } }).actor.alpha).toBe(1024);
  });

  it('bounds every numeric setting on both sides, for both roles', () => {
    const defaults = defaultTrainConfig();
    const numeric = Object.keys(defaults.actor).filter((k) => typeof defaults.actor[k as keyof ActorTrainSettings] === 'number');
    expect(Object.keys(SETTING_RANGES).sort()).toEqual(numeric.sort());
    for (const [key, r] of Object.entries(SETTING_RANGES)) {
      const role = key === 'beta' || key === 'ftx' ? 'actor' : 'refiner';
      const bad = (v: number) => () => parseTrainConfig({ [role]: { [key]: v, ...(key === 'microBatchSize' ? { batchSize: 1024 } : {}) } });
      const named = new RegExp(`train\\.${role}\\.${key} must be a (whole )?number in [[(]`);
      expect(bad(r.above ? r.min : r.min - 1), `${key} below`).toThrow(named);
      expect(bad(r.below ? r.max : r.max + 1), `${key} above`).toThrow(named);
      expect(bad(r.max * 2 + 1), `${key} far above`).toThrow(named);
      expect(bad(NaN), `${key} NaN`).toThrow(named);
      if (r.integer) expect(bad(Math.max(r.min, 0) + 1.5), `${key} fraction`).toThrow(named);
      // Both ends (where they are allowed) are accepted, and every preset lies inside.
      if (!r.above) expect(() => bad(r.min)()).not.toThrow();
      if (!r.below) expect(() => bad(r.max)()).not.toThrow();
    }
    for (const c of [defaults, tinyDemoTrain()]) expect(parseTrainConfig(c)).toEqual(c);
  });

  it('refuses a seed Python cannot take and a micro-batch above the batch', () => {
    expect(refused({ seed: 1e300 }).message).toMatch(/train\.actor\.seed must be a whole number in \[-9007199254740991, 9007199254740991\]/);
    expect(refused({ batchSize: 4, microBatchSize: 8 }).message).toMatch(/microBatchSize must not exceed the batch size/);
  });
});

describe('resumeSettings', () => {
  it("keeps the adapter's shape and the data order, takes everything else as it is now", () => {
    const started = defaultTrainConfig().actor;
    const now: ActorTrainSettings = {
      ...started, lr: 1e-6, schedule: 'constant', warmupRatio: 0, maxGradNorm: 0.5, weightDecay: 0.01, beta: 0.05, ftx: 0, checkpointEvery: 3, recompute: true, microBatchSize: 2,
      rank: 64, alpha: 128, rslora: true, targets: ['q', 'k', 'v', 'o'], init: 'fresh', reference: 'previous', epochs: 3, batchSize: 16, seed: 7, maxTokens: 512,
    };
    const s = resumeSettings(started, now);
    for (const k of FROZEN_ON_RESUME) expect(s[k], k).toEqual(started[k]);
    expect(s).toMatchObject({ lr: 1e-6, schedule: 'constant', warmupRatio: 0, maxGradNorm: 0.5, weightDecay: 0.01, beta: 0.05, ftx: 0, checkpointEvery: 3, recompute: true, microBatchSize: 2 });
    // A micro-batch larger than the kept batch is cut to it.
    expect(resumeSettings({ ...started, batchSize: 2 }, { ...now, microBatchSize: 8 }).microBatchSize).toBe(2);
    // The refiner has no DPO reference: none appears.
    const refiner = defaultTrainConfig().refiner;
    expect('reference' in resumeSettings(refiner, { ...refiner, lr: 1e-5 })).toBe(false);
  });
});
