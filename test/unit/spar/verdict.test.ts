import { describe, expect, it } from 'vitest';
import { DEFAULT_TEMPLATES } from '../../../src/spar/templates';
import { parseVerdict, readoutLabels, readoutPrefix, readoutVerdict, toReadout } from '../../../src/spar/verdict';

// [critique, the reference get_acc's answer (1 Yes, 0 No, -1 invalid)], recorded from
// process_data.get_acc of thu-coai/SPaR.
const GET_ACC: [string, number][] = [
  ['Final Judgement: Yes', 1],
  ['Final Judgement: No', 0],
  ['Final Judgement (if ...): No, not Yes', 0],
  ['Final Judgement: Yes. No doubt.', 1],
  ['Final Judgement: Not sure', 0],
  ['Final Judgement: Nothing to add, Yes', 0],
  ['Final Judgement: maybe', -1],
  ['No final judgement here', -1],
  ['Yes No Final Judgement: yes', -1],
  ['Final Judgement: Yesterday', 1],
  ['Final Judgement: x Final Judgement: Yes', -1],
  ['Final Judgement Final Judgement: Yes', -1],
  ['All good. Yes.', -1],
  ['final judgement: Yes', -1],
  ['Final Judgement:\n\n  No', 0],
  ['Final JudgementYes', 1],
];

describe('parseVerdict reproduces get_acc', () => {
  for (const [text, acc] of GET_ACC) {
    it(JSON.stringify(text), () => {
      expect(parseVerdict(text, DEFAULT_TEMPLATES)).toBe(acc === 1 ? 'Yes' : acc === 0 ? 'No' : null);
    });
  }
});

describe('verdict read-out', () => {
  const t = DEFAULT_TEMPLATES;
  it('reads right after the canonical cue, replacing the critique\'s own verdict line', () => {
    expect(readoutPrefix('Step 1 ok.\nFinal Judgement (if it follows): Yes', t)).toBe(`Step 1 ok.\n${t.verdictCue}`);
    expect(readoutPrefix('Step 1 ok.  \n', t)).toBe(`Step 1 ok.\n${t.verdictCue}`);
    expect(readoutPrefix('', t)).toBe(t.verdictCue);
    expect(readoutLabels(t)).toEqual([' Yes', ' No']);
  });

  it('normalises P(Yes) over the two labels, stably', () => {
    expect(toReadout([Math.log(0.3), Math.log(0.1)]).pYes).toBeCloseTo(0.75, 12);
    expect(toReadout([-1000, -1001]).pYes).toBeCloseTo(1 / (1 + Math.exp(-1)), 12);
    expect(toReadout([-Infinity, -2]).pYes).toBe(0);
    expect(toReadout([-2, -Infinity]).pYes).toBe(1);
    expect(toReadout([-Infinity, -Infinity]).pYes).toBeNull();
    expect(toReadout([NaN, 0]).pYes).toBeNull();
  });

  it('gives no verdict at exactly one half', () => {
    expect(readoutVerdict(toReadout([-1, -1]))).toBeNull();
    expect(readoutVerdict(toReadout([-1, -2]))).toBe('Yes');
    expect(readoutVerdict(toReadout([-2, -1]))).toBe('No');
    expect(readoutVerdict(undefined)).toBeNull();
  });
});
