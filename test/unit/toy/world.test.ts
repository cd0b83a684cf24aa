import { beforeAll, describe, expect, it } from 'vitest';
import { loadLanguageProfiles } from '../../../src/eval/langdetect';
import { PyRandom } from '../../../src/py-random';
import { checkToyAnswer, isHeldOut, refineDraft, renderDraft, TOY_CONSTRAINTS, toyAnswer, toyInstructions, type ToyConstraint } from '../../../src/toy/world';
import { toyCritique, toyRefineReply, toyTrainingExamples, TOY_TEMPLATES } from '../../../src/toy/roles';
import { templateProblems } from '../../../src/spar/templates';
import { parseVerdict } from '../../../src/spar/verdict';
import { extractRefined } from '../../../src/spar/refine';
import { TOPICS } from '../../../src/toy/grammar';

beforeAll(() => loadLanguageProfiles(), 120_000);

describe('toy instructions', () => {
  it('are distinct, deterministic, and carry 1–3 toy constraints', () => {
    const a = toyInstructions({ count: 300, seed: 3, split: 'train' });
    expect(toyInstructions({ count: 300, seed: 3, split: 'train' })).toEqual(a);
    expect(new Set(a.map((x) => x.record.prompt)).size).toBe(300);
    for (const x of a) {
      expect(x.record.instruction_id_list.length).toBeGreaterThanOrEqual(1);
      expect(x.record.instruction_id_list.length).toBeLessThanOrEqual(3);
      for (const id of x.record.instruction_id_list) expect(TOY_CONSTRAINTS).toContain(id);
      expect(x.record.prompt).toContain(TOPICS[x.topic].name);
    }
  });

  it('keep held-out (topic, constraint) combinations out of training', () => {
    const train = toyInstructions({ count: 2000, seed: 1, split: 'train' });
    const held = toyInstructions({ count: 300, seed: 1, split: 'heldout' });
    for (const x of train) for (const c of x.record.instruction_id_list) expect(isHeldOut(x.topic, c as ToyConstraint)).toBe(false);
    for (const x of held) expect(x.record.instruction_id_list.some((c) => isHeldOut(x.topic, c as ToyConstraint))).toBe(true);
    const trainPrompts = new Set(train.map((x) => x.record.prompt));
    expect(held.some((x) => trainPrompts.has(x.record.prompt))).toBe(false);
  });
});

describe('toy answers', () => {
  const insts = toyInstructions({ count: 600, seed: 11, split: 'train' });

  it("follow exactly the constraints they are drawn to follow, by the IFEval checkers' verdict", () => {
    const rng = new PyRandom(5);
    let mismatches = 0;
    for (const inst of insts) {
      const follow = inst.record.instruction_id_list.map(() => rng.random() < 0.5);
      const a = toyAnswer(inst, follow, rng);
      expect(checkToyAnswer(inst, a.text)).toEqual(a.passes);
      if (a.passes.some((p, i) => p !== follow[i])) mismatches++;
    }
    expect(mismatches).toBe(0);
  });

  it('are readable: words of the toy grammar, no replacement characters', () => {
    const rng = new PyRandom(6);
    for (const inst of insts.slice(0, 100)) {
      const text = toyAnswer(inst, inst.record.instruction_id_list.map(() => true), rng).text;
      expect(text).not.toMatch(/\uFFFD|\{|\}|undefined/);
      expect(text.split(/\s+/).length).toBeGreaterThan(5);
    }
  });

  it('are refined by small edits that make every failing constraint pass', () => {
    const rng = new PyRandom(7);
    let failed = 0;
    for (const inst of insts) {
      const follow = inst.record.instruction_id_list.map(() => rng.random() < 0.5);
      const a = toyAnswer(inst, follow, rng);
      const failing = inst.record.instruction_id_list.filter((_, i) => !a.passes[i]) as ToyConstraint[];
      const refined = renderDraft(refineDraft(inst, a.draft, failing, rng));
      if (!checkToyAnswer(inst, refined).every(Boolean)) failed++;
    }
    // Only langdetect calling a short all-caps text non-English may leave one failing.
    expect(failed).toBeLessThan(insts.length * 0.01);
  });
});

describe('toy roles', () => {
  it('speak the protocol of the Toy world templates', () => {
    expect(templateProblems(TOY_TEMPLATES)).toEqual([]);
    const [inst] = toyInstructions({ count: 1, seed: 2, split: 'train' });
    const passes = inst.record.instruction_id_list.map((_, i) => i !== 0);
    expect(parseVerdict(toyCritique(inst, passes), TOY_TEMPLATES)).toBe('No');
    expect(parseVerdict(toyCritique(inst, passes.map(() => true)), TOY_TEMPLATES)).toBe('Yes');
    expect(extractRefined(toyRefineReply(inst, passes, 'the new answer'), TOY_TEMPLATES)).toBe('the new answer');
  });

  it('make training conversations of each role ending in an assistant turn', () => {
    const ex = toyTrainingExamples(20, 4);
    expect(ex.filter((e) => e.role === 'actor')).toHaveLength(20);
    expect(ex.filter((e) => e.role === 'refine').every((e) => e.messages.length === 4)).toBe(true);
    for (const e of ex) expect(e.messages.at(-1)!.role).toBe('assistant');
  });
});
