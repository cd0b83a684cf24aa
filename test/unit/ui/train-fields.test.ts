/** The Train view's settings table: ranges from the settings' own bounds, and what a resume will and will not take. */
import { describe, expect, it } from 'vitest';
import { defaultTrainConfig, SETTING_RANGES } from '../../../src/lab/train-settings';
import { frozenOnResume, rangeOf, rangeText, resumeChanges, TRAIN_FIELDS } from '../../../src/ui/train-fields';

describe('train fields', () => {
  it('shows the range every numeric setting is checked against', () => {
    const fields = TRAIN_FIELDS.flatMap((g) => g.fields);
    for (const f of fields.filter((f) => f.kind === 'int' || f.kind === 'number')) {
      expect(rangeOf(f.key), f.key).toBe(SETTING_RANGES[f.key as keyof typeof SETTING_RANGES]);
      expect(rangeOf(f.key)!.integer ?? false, f.key).toBe(f.kind === 'int');
    }
    expect(fields.filter((f) => rangeOf(f.key)).map((f) => f.key).sort()).toEqual(Object.keys(SETTING_RANGES).sort());
    expect(rangeText('alpha')).toBe('range (0, 1024]');
    expect(rangeText('rank')).toBe('range [1, 256]');
    expect(rangeText('targets')).toBe('');
  });

  it('lists the changes a resume takes and the ones it cannot', () => {
    const started = defaultTrainConfig().actor;
    expect(resumeChanges(started, started)).toEqual({ applied: [], ignored: [] });
    const now = { ...started, lr: 1e-6, beta: 0.05, rank: 16, targets: ['q', 'k', 'v'] as typeof started.targets };
    expect(resumeChanges(started, now)).toEqual({ applied: ['Learning rate 0.000005 → 0.000001', 'β 0.1 → 0.05'], ignored: ['Rank r 8 → 16', 'Target modules q,v → q,k,v'] });
    expect(frozenOnResume('rank')).toBe(true);
    expect(frozenOnResume('lr')).toBe(false);
  });
});
