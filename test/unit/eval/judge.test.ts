/** Judge accuracy against the checkers' ground truth. */
import { describe, expect, it } from 'vitest';
import { checkerVerdict, judgeAccuracy, validateKwargs, type IfevalRecord } from '../../../src/eval';

describe('judgeAccuracy', () => {
  it('computes accuracy and precision/recall of "No", ignoring missing verdicts', () => {
    const items = [
      { verdict: 'No' as const, followed: false },
      { verdict: 'No' as const, followed: false },
      { verdict: 'No' as const, followed: true },
      { verdict: 'Yes' as const, followed: false },
      { verdict: 'Yes' as const, followed: true },
      { verdict: null, followed: true },
    ];
    expect(judgeAccuracy(items)).toEqual({
      judged: 5,
      invalid: 1,
      accuracy: 3 / 5,
      precisionNo: 2 / 3,
      recallNo: 2 / 3,
      noOnFailing: 2,
      noOnFollowing: 1,
      yesOnFailing: 1,
      yesOnFollowing: 1,
    });
  });

  it('reports undefined rates as null', () => {
    expect(judgeAccuracy([])).toMatchObject({ judged: 0, accuracy: null, precisionNo: null, recallNo: null });
    expect(judgeAccuracy([{ verdict: 'Yes', followed: true }])).toMatchObject({ accuracy: 1, precisionNo: null, recallNo: null });
  });

  it('takes the truth from the strict checkers', () => {
    const rec: IfevalRecord = {
      key: 1,
      prompt: 'Say hi without commas, in quotes.',
      instruction_id_list: ['punctuation:no_comma', 'startend:quotation'],
      kwargs: [validateKwargs('punctuation:no_comma', {}), validateKwargs('startend:quotation', {})],
    };
    expect(checkerVerdict(rec, '"hi there"')).toBe('Yes');
    expect(checkerVerdict(rec, '"hi, there"')).toBe('No');
    expect(checkerVerdict(rec, 'Sure:\n"hi there"')).toBe('No');
  });
});
