/** The checkers' results in words, and the tree the Trees view opens on. */
import { describe, expect, it } from 'vitest';
import { generateInstructions, INSTRUCTION_IDS } from '../../../src/eval/index';
import type { Constraint, IterationJudge, ResponseCheck } from '../../../src/lab/checks';
import { checkerSummary, constraintLabel, judgeAccuracyNumber, judgeErrorsText, refinementText } from '../../../src/ui/checker-text';
import { firstPairTree } from '../../../src/ui/tree-choice';

const check = (...passed: boolean[]): ResponseCheck => ({ passed, followed: passed.every(Boolean) });
const words: Constraint = { id: 'length_constraints:number_words', kwargs: { num_words: 50, relation: 'less than' } };
const comma: Constraint = { id: 'punctuation:no_comma', kwargs: {} };
const title: Constraint = { id: 'detectable_format:title', kwargs: {} };

describe('checker text', () => {
  it('labels each constraint in a few words with its numbers', () => {
    expect(constraintLabel(words)).toBe('fewer than 50 words');
    expect(constraintLabel(comma)).toBe('no commas');
    expect(constraintLabel({ id: 'keywords:existence', kwargs: { keywords: ['owl', 'moon'] } })).toBe('includes “owl”, “moon”');
    expect(constraintLabel({ id: 'language:response_language', kwargs: { language: 'fr' } })).toBe('in French');
  });

  it('has a label for every instruction the generator writes, with every number filled in', () => {
    const seen = new Set<string>();
    for (const r of generateInstructions({ count: 400, seed: 7, minConstraints: 1, maxConstraints: 3 })) {
      r.instruction_id_list.forEach((id, i) => {
        seen.add(id);
        const label = constraintLabel({ id, kwargs: r.kwargs[i] });
        expect(label, id).toMatch(/\S/);
        expect(label, id).not.toMatch(/undefined|null|NaN/);
      });
    }
    // The generator leaves out the instructions it cannot phrase from a seed; the rest are covered.
    expect(seen.size).toBeGreaterThan(INSTRUCTION_IDS.length - 3);
  });

  it('says what passes and fails, for a screen reader', () => {
    expect(checkerSummary(check(true, false), [words, comma])).toBe('checker: fail, 1 of 2 constraints pass (fails: no commas)');
    expect(checkerSummary(check(true), [comma])).toBe('checker: pass, 1 of 1 constraint pass');
  });

  it("gives an iteration's judge accuracy as a share and a count", () => {
    const j: IterationJudge = { iteration: 0, right: 212, fooled: 30, harsh: 10, invalid: 3, judged: 252, accuracy: 212 / 252 };
    expect(judgeAccuracyNumber(j)).toBe('84% (212/252)');
    expect(judgeErrorsText(j)).toBe('30 fooled, 10 too harsh, 3 tied, not scored');
    expect(judgeAccuracyNumber({ ...j, right: 0, fooled: 0, harsh: 0, judged: 0, accuracy: null })).toBe('no verdicts to score');
  });

  it('names what a refinement fixed, broke, and left failing', () => {
    const cs = [words, comma, title];
    expect(refinementText(cs, check(false, false, true), check(true, false, true))).toBe('fixed: fewer than 50 words · still failing: no commas');
    expect(refinementText(cs, check(false, true, true), check(true, true, false))).toBe('fixed: fewer than 50 words · broke: a <<title>>');
    expect(refinementText(cs, check(true, false, true), check(true, false, true))).toBe('fixed no constraint · still failing: no commas');
    expect(refinementText(cs, check(true, true, true), check(true, true, true), 'the root')).toBe('nothing to fix: the root already passed every constraint');
  });
});

describe('the tree the Trees view opens on', () => {
  it('is the first listed tree that yielded a pair, broken ones aside', () => {
    expect(firstPairTree([{ id: 'a', pairs: 0 }, { id: 'b', pairs: 1, problems: ['data: missing'] }, { id: 'c', pairs: 1 }, { id: 'd', pairs: 2 }])).toBe('c');
    expect(firstPairTree([{ id: 'a', pairs: 0 }])).toBeNull();
    expect(firstPairTree([])).toBeNull();
  });
});
