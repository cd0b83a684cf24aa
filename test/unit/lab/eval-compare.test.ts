import { describe, expect, it } from 'vitest';
import { compareModels, describeSet, evalSetOf, UNNAMED_SET } from '../../../src/lab/eval-compare';
import type { EvalRecord } from '../../../src/store/records';

const SET = describeSet({ set: { source: 'generated', count: 3, seed: 1000 }, temperature: 0, topP: 1, maxTokens: 32, seed: 0 });
const OTHER = describeSet({ set: { source: 'ifeval', count: 20, seed: 0 }, temperature: 0.7, topP: 0.9, maxTokens: 1024, seed: 0 });

/** One evaluated prompt: its instruction ids and whether each was followed (strict). */
const prompt = (ids: string[], strict: boolean[]) => ({ key: ids.join('+'), prompt: 'p', response: 'r', instruction_id_list: ids, kwargs: ids.map(() => ({})), strict, loose: strict, finishReason: 'stop', tokens: 1 });

let clock = 0;
function record(model: number, details: ReturnType<typeof prompt>[], o: { set?: string; mode?: string; kind?: string } = {}): EvalRecord {
  return {
    runId: 'r',
    id: `e${++clock}`,
    iteration: model,
    createdAt: clock,
    kind: o.kind ?? 'ifeval',
    summary: { promptStrict: 0.25 * model, instructionStrict: 0.5, promptLoose: 0.75, instructionLoose: 1 },
    meta: { set: o.set ?? SET, mode: o.mode ?? 'plain' },
    details,
  };
}

const LOWER = 'change_case:english_lowercase';
const COMMA = 'punctuation:no_comma';
const WORDS = 'length_constraints:number_words';

describe('comparing models on one set', () => {
  it('names the set as the run’s settings describe it, and an old record without one', () => {
    expect(SET).toBe('built-in constraint prompts, 3 (seed 1000); greedy, up to 32 tokens');
    expect(OTHER).toBe('IFEval, 20 prompts (seed 0); sampled at temperature 0.7, top-p 0.9, up to 1024 tokens');
    expect(evalSetOf({ meta: { set: SET } })).toBe(SET);
    expect(evalSetOf({ meta: {} })).toBe(UNNAMED_SET);
  });

  it('counts instruction-level strict accuracy per instruction type, per model, M0 first', () => {
    const m1 = record(1, [prompt([LOWER], [true]), prompt([COMMA], [true]), prompt([LOWER, COMMA], [true, false])]);
    const m0 = record(0, [prompt([LOWER], [false]), prompt([COMMA], [true]), prompt([LOWER, COMMA], [true, false])]);
    const c = compareModels([m1, m0], SET);
    expect(c.set).toBe(SET);
    expect(c.types).toEqual([LOWER, COMMA]);
    expect(c.models.map((m) => [m.model, m.evalId, m.byType])).toEqual([
      [0, m0.id, { [LOWER]: { followed: 1, total: 2 }, [COMMA]: { followed: 1, total: 2 } }],
      [1, m1.id, { [LOWER]: { followed: 2, total: 2 }, [COMMA]: { followed: 1, total: 2 } }],
    ]);
    expect(c.models[1]).toMatchObject({ promptStrict: 0.25, instructionStrict: 0.5, promptLoose: 0.75, instructionLoose: 1 });
  });

  it('compares only plain actor evaluations on that set, the newest per model; the types are those met', () => {
    const old = record(0, [prompt([LOWER], [false])]);
    const newer = record(0, [prompt([LOWER], [true])]);
    const refined = record(0, [prompt([LOWER], [true])], { mode: 'refine' });
    const elsewhere = record(2, [prompt([WORDS], [true])], { set: OTHER });
    const judge = record(3, [], { kind: 'judge' });
    const m2 = record(2, [prompt([WORDS, LOWER], [false, true])]);
    const c = compareModels([newer, old, refined, elsewhere, judge, m2], SET);
    expect(c.models.map((m) => m.evalId)).toEqual([newer.id, m2.id]);
    expect(c.types).toEqual([LOWER, WORDS]);
    expect(c.models[0].byType).toEqual({ [LOWER]: { followed: 1, total: 1 } });
    expect(compareModels([newer], OTHER)).toEqual({ set: OTHER, types: [], models: [] });
  });
});
