import { describe, expect, it } from 'vitest';
import { iterationSeconds, medianOf, summarize, summaryLines, type Accuracies, type JudgeScore, type SeedResult } from '../../../bench/toy-spar-summary';

const acc = (instructionStrict: number, rest = 0.5): Accuracies => ({ promptStrict: rest, instructionStrict, promptLoose: rest, instructionLoose: instructionStrict + 0.05 });

const judged = (accuracy: number, samples: number, nodes: number): JudgeScore => ({ accuracy, samples, nodes, judged: 100, invalid: 2, noOnFailing: 30, noOnFollowing: 10, yesOnFailing: 10, yesOnFollowing: 50 });

function seed(over: Partial<SeedResult> & { seed: number }): SeedResult {
  return {
    instructions: 64,
    evalPrompts: 40,
    models: { M0: acc(0.5), M1: acc(0.62), M1indep: acc(0.55), M2: acc(0.66) },
    judge: { iteration0: judged(0.8, 0.85, 0.7), iteration1: judged(0.82, 0.86, 0.75) },
    pairs: { spar0: { pairs: 20, meanWordEdits: 4 }, independent: { pairs: 25, meanWordEdits: 30 }, spar1: { pairs: 15, meanWordEdits: 3 } },
    changedFromM0: { M1: 12, M1indep: 8, M2: 20 },
    seconds: { evalM0: 60, selfplay0: 300, trainActor0: 100, trainRefiner0: 120, evalM1: 60 },
    training: {},
    skipped: {},
    ...over,
  };
}

describe('toy-spar summary', () => {
  it('takes medians of the values that are there', () => {
    expect(medianOf([3, null, 1, undefined, 2])).toBe(2);
    expect(medianOf([4, 1, 3, 2])).toBe(2.5);
    expect(medianOf([null, Number.NaN])).toBeNull();
    expect(medianOf([])).toBeNull();
  });

  it('sums an iteration from self-play and both trainings, only when all three ran', () => {
    expect(iterationSeconds(seed({ seed: 1 }))).toBe(520);
    expect(iterationSeconds(seed({ seed: 1, seconds: { selfplay0: 300, trainActor0: 100 } }))).toBeNull();
  });

  it('medians accuracies per key, gains per seed, pairs, edits and times across seeds', () => {
    const results = [
      seed({ seed: 1, models: { M0: acc(0.5), M1: acc(0.7), M1indep: acc(0.52), M2: acc(0.75) } }),
      seed({ seed: 2, models: { M0: acc(0.4), M1: acc(0.48), M1indep: acc(0.45), M2: null }, pairs: { spar0: { pairs: 10, meanWordEdits: 6 }, independent: { pairs: 12, meanWordEdits: 20 }, spar1: { pairs: 0, meanWordEdits: null } } }),
      seed({ seed: 3, models: { M0: acc(0.45), M1: acc(0.6), M1indep: acc(0.5), M2: acc(0.65) }, seconds: { selfplay0: 500, trainActor0: 150, trainRefiner0: 150 } }),
    ];
    const s = summarize(results);
    expect(s.seeds).toEqual([1, 2, 3]);
    expect(s.models.M0!.instructionStrict).toBeCloseTo(0.45);
    expect(s.models.M1!.instructionStrict).toBeCloseTo(0.6);
    expect(s.models.M1!.instructionLoose).toBeCloseTo(0.65);
    expect(s.models.M1!.promptStrict).toBe(0.5);
    // M2 exists for seeds 1 and 3: the median of two.
    expect(s.models.M2!.instructionStrict).toBeCloseTo(0.7);
    // Gains per seed: M1 +20, +8, +15 → 15; M1-indep +2, +5, +5 → 5; M2 +25, +20 → 22.5.
    expect(s.gainPoints.M1).toBeCloseTo(15);
    expect(s.gainPoints.M1indep).toBeCloseTo(5);
    expect(s.gainPoints.M2).toBeCloseTo(22.5);
    expect(s.changedFromM0).toEqual({ M1: 12, M1indep: 8, M2: 20 });
    expect(s.pairs).toEqual({ spar0: 20, independent: 25, spar1: 15 });
    expect(s.meanWordEdits).toEqual({ spar0: 4, independent: 30, spar1: 3 });
    expect(s.judge.iteration0).toEqual({ accuracy: 0.8, samples: 0.85, nodes: 0.7 });
    expect(s.seconds.selfplay0).toBe(300);
    expect(s.seconds.evalM0).toBe(60); // seed 3 did not time it
    expect(s.iterationSeconds).toBe(520); // 520, 520, 800
    expect(s.targets).toEqual({ m1GainAtLeast10Points: true, sparEditsBelowIndependent: true, iterationAtMost10Minutes: true });
  });

  it('fails targets that do not hold, and leaves those it cannot judge open', () => {
    const slow = seed({ seed: 1, models: { M0: acc(0.5), M1: acc(0.55), M1indep: null, M2: null }, seconds: { selfplay0: 700, trainActor0: 1, trainRefiner0: 1 } });
    const s = summarize([{ ...slow, pairs: { spar0: { pairs: 3, meanWordEdits: 12 }, independent: { pairs: 4, meanWordEdits: 9 }, spar1: { pairs: 0, meanWordEdits: null } } }]);
    expect(s.targets).toEqual({ m1GainAtLeast10Points: false, sparEditsBelowIndependent: false, iterationAtMost10Minutes: false });
    const none = summarize([seed({ seed: 1, models: { M0: acc(0.5), M1: null, M1indep: null, M2: null }, pairs: { spar0: { pairs: 0, meanWordEdits: null }, independent: { pairs: 0, meanWordEdits: null }, spar1: { pairs: 0, meanWordEdits: null } }, seconds: {} })]);
    expect(none.models.M1).toBeNull();
    expect(none.targets).toEqual({ m1GainAtLeast10Points: null, sparEditsBelowIndependent: null, iterationAtMost10Minutes: null });
    expect(summaryLines(none, 'SwiftShader').filter((l) => l.startsWith('n/a '))).toHaveLength(3);
  });

  it('prints the models, the deltas and each target', () => {
    const lines = summaryLines(summarize([seed({ seed: 1 })]), 'SwiftShader Device (Subzero)');
    expect(lines).toContain('M1        instruction strict  62.0%  loose  67.0%  prompt strict  50.0%  loose  50.0%  (+12.0 pts over M0; 12 responses changed)');
    expect(lines).toContain('PASS  M1 ≥ M0 + 10 points instruction-level strict: +12.0 pts');
    expect(lines).toContain("PASS  SPaR pairs' edit distance < independent pairs': 4.0 vs 30.0 words");
    expect(lines).toContain('PASS  one iteration ≤ 10 min on SwiftShader Device (Subzero): 8.7 min');
  });
});
