import { describe, expect, it } from 'vitest';
import { evalSetRecords, ifevalPrompts, promptId } from '../../../src/lab/prompts';
import { labWorld, newRun } from '../../helpers/lab-world';
import { world } from '../../helpers/spar-world';
import { isHeldOut, toyInstructions, type ToyConstraint } from '../../../src/toy/world';

const setup = async () => {
  const w = labWorld({ models: () => world({ votes: () => 'YYYYY' }) });
  return { ...w, run: await newRun(w.store) };
};

describe('prompt service', () => {
  it('adds generated prompts in order with their constraints, without duplicates', async () => {
    const { lab, run } = await setup();
    const first = await lab.prompts.generate(run.id, { count: 5, seed: 7, maxConstraints: 2 });
    expect(first).toMatchObject({ added: 5, duplicates: 0 });
    const again = await lab.prompts.generate(run.id, { count: 7, seed: 7, maxConstraints: 2 });
    expect(again.added + again.duplicates).toBe(7);
    expect(again.duplicates).toBeGreaterThanOrEqual(5);
    const { items, total } = await lab.prompts.list(run.id, { limit: 100 });
    expect(total).toBe(5 + again.added);
    expect(items.map((p) => p.id)).toEqual(items.map((_, i) => promptId(i)));
    for (const p of items) {
      expect(p.instructionIds.length).toBeGreaterThanOrEqual(1);
      expect(p.instructionIds.length).toBeLessThanOrEqual(2);
      expect(p.kwargs).toHaveLength(p.instructionIds.length);
      expect(p.source).toBe('generated (seed 7)');
    }
    const found = await lab.prompts.list(run.id, { query: items[0].instructionIds[0] });
    expect(found.items.every((p) => p.instructionIds.includes(items[0].instructionIds[0]))).toBe(true);
  });

  it('imports a file with bad lines: the errors name the lines, the good lines are added', async () => {
    const { lab, run } = await setup();
    const text = [
      JSON.stringify({ key: 1, prompt: 'Write a haiku in all lowercase letters.', instruction_id_list: ['change_case:english_lowercase'], kwargs: [{}] }),
      '{ not json',
      JSON.stringify({ key: 2, prompt: 'x', instruction_id_list: ['no:such'], kwargs: [{}] }),
      JSON.stringify({ prompt: 'Plain SPaR prompt without constraints.' }),
    ].join('\n');
    const r = await lab.prompts.importText(run.id, text, { name: 'mine.jsonl' });
    expect(r.added).toBe(2);
    expect(r.total).toBe(4);
    expect(r.errors.map((e) => e.line)).toEqual([2, 3]);
    const { items } = await lab.prompts.list(run.id);
    expect(items.map((p) => p.source)).toEqual(['mine.jsonl', 'mine.jsonl']);
    expect(items[0].instructionIds).toEqual(['change_case:english_lowercase']);
    expect(items[1].instructionIds).toEqual([]);
  });

  it('bundles the 541 official IFEval prompts, and draws seeded subsets', async () => {
    const all = await ifevalPrompts();
    expect(all).toHaveLength(541);
    expect(all[0].key).toBe(1000);
    const a = await evalSetRecords({ source: 'ifeval', count: 10, seed: 3 });
    const b = await evalSetRecords({ source: 'ifeval', count: 10, seed: 3 });
    expect(a.map((r) => r.key)).toEqual(b.map((r) => r.key));
    expect(new Set(a.map((r) => r.key)).size).toBe(10);
    const { lab, run } = await setup();
    expect(await lab.prompts.addIfeval(run.id, { count: 10, seed: 3 })).toMatchObject({ added: 10 });
  });

  it("adds the toy world's training split, and evaluates on its held-out split, which shares no prompt with it", async () => {
    const { lab, run } = await setup();
    expect(await lab.prompts.generate(run.id, { source: 'toy', count: 16, seed: 0 })).toMatchObject({ added: 16, duplicates: 0 });
    const { items } = await lab.prompts.list(run.id, { limit: 100 });
    const expected = toyInstructions({ count: 16, seed: 0, split: 'train' });
    expect(items.map((p) => [p.prompt, p.instructionIds, p.kwargs])).toEqual(expected.map((t) => [t.record.prompt, t.record.instruction_id_list, t.record.kwargs]));
    expect(items.every((p) => p.source === 'toy world (seed 0)')).toBe(true);

    const held = await evalSetRecords({ source: 'toy', count: 40, seed: 0 });
    expect(held.map((r) => r.prompt)).toEqual(toyInstructions({ count: 40, seed: 0, split: 'heldout' }).map((t) => t.record.prompt));
    // Every held-out prompt has a (topic, constraint) combination no training prompt has.
    const heldOut = toyInstructions({ count: 40, seed: 0, split: 'heldout' });
    expect(heldOut.every((t) => t.record.instruction_id_list.some((c) => isHeldOut(t.topic, c as ToyConstraint)))).toBe(true);
    expect(expected.every((t) => t.record.instruction_id_list.every((c) => !isHeldOut(t.topic, c as ToyConstraint)))).toBe(true);
    const training = new Set(items.map((p) => p.prompt));
    expect(held.filter((r) => training.has(r.prompt))).toEqual([]);
  });

  it('clears prompts only before self-play has results', async () => {
    const { lab, run, store } = await setup();
    await lab.prompts.generate(run.id, { count: 3, seed: 1 });
    expect(await lab.prompts.clear(run.id)).toBe(3);
    await lab.prompts.generate(run.id, { count: 2, seed: 1 });
    await lab.selfplay.start(run.id);
    await expect(lab.prompts.clear(run.id)).rejects.toMatchObject({ kind: 'exists' });
    expect(await store.count('prompts', run.id)).toBe(2);
  });
});
