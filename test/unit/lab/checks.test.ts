/** The checkers' results beside the refiner's votes: per response, per tree, per iteration, per pair. */
import { describe, expect, it } from 'vitest';
import { checkableRecord, checkTree, fixedConstraints, brokenConstraints, judgeAccuracyByIteration, tallyTree, type ResponseCheck } from '../../../src/lab/checks';
import type { InstructionData, JudgedSample, Judgment, TreeNode, Verdict } from '../../../src/spar/types';
import { labWorld, newRun } from '../../helpers/lab-world';
import { fixed, world } from '../../helpers/spar-world';

// Two constraints the checkers decide without language detection: no commas, wrapped in quotes.
const prompt = { id: 'p000000', prompt: 'Answer in quotes, without commas.', instructionIds: ['punctuation:no_comma', 'startend:quotation'], kwargs: [{}, {}] };
const BOTH = '"all fine here"'; // [pass, pass]
const NEITHER = 'Capital, comma'; // [fail, fail]
const COMMA = '"lower, comma"'; // [fail, pass]
const BARE = 'no quotes no comma'; // [pass, fail]

const judgment = (label: Verdict): Judgment => ({ critiques: [], yes: label === 'Yes' ? 3 : 1, no: label === 'Yes' ? 1 : 3, value: label === 'Yes' ? 0.75 : 0.25, label, representative: 0, tiedAttempts: [] });
const sample = (response: string, label: Verdict | null): JudgedSample => ({
  response,
  finishReason: 'stop',
  judge: label ? { ok: true, judgment: judgment(label) } : { ok: false, tied: { tiedAttempts: [] } },
});
const node = (id: number, parent: number | null, response: string, label?: Verdict, cachedFrom?: number): TreeNode => ({
  id, parent, children: [], depth: parent === null ? 0 : 1, order: id, response, refineTrace: '', refineCalls: [], critique: '',
  value: label === 'Yes' ? 0.75 : 0.25, ...(label ? { judgment: judgment(label) } : {}), ...(cachedFrom !== undefined ? { cachedFrom } : {}),
});

/** Samples: right (No on a failing one), right, fooled, too harsh, tied. Nodes: the root, right, fooled, a reused judgment. */
const data: InstructionData = {
  prompt: prompt.prompt,
  mode: 'refine',
  seeds: { sample: 0, judge: 0, select: 0, search: 0 },
  samples: [sample(COMMA, 'No'), sample(BOTH, 'Yes'), sample(BARE, 'Yes'), sample(BOTH, 'No'), sample(NEITHER, null)],
  negative: 0,
  positive: null,
  tree: {
    algorithm: 'bfs',
    nodes: [node(0, null, COMMA, 'No'), node(1, 0, BOTH, 'Yes'), node(2, 0, BARE, 'Yes'), node(3, 0, BOTH, undefined, 1)],
    discarded: [],
    outcome: 'solved',
    finalNode: 1,
    budgetLeft: 0,
    critiquePicks: { negative: null, positive: null },
  },
  stats: { modelCalls: 0, generatedTokens: 0, judgments: 0 },
};

const check = (...passed: boolean[]): ResponseCheck => ({ passed, followed: passed.every(Boolean) });

describe('checker verdicts', () => {
  it('reads a prompt as the checkers do, or not at all', () => {
    expect(checkableRecord(prompt)).toMatchObject({ key: 'p000000', instruction_id_list: ['punctuation:no_comma', 'startend:quotation'] });
    expect(checkableRecord({ ...prompt, instructionIds: [], kwargs: [] })).toBeNull();
    expect(checkableRecord({ ...prompt, instructionIds: ['custom:rhymes'], kwargs: [{}] })).toBeNull();
    expect(checkableRecord({ ...prompt, instructionIds: ['length_constraints:number_words'], kwargs: [{ num_words: 'many' }] })).toBeNull();
    expect(checkableRecord(null)).toBeNull();
  });

  it('checks every sample and every tree node, constraint by constraint', () => {
    const checks = checkTree(data, checkableRecord(prompt)!);
    expect(checks.constraints.map((c) => c.id)).toEqual(['punctuation:no_comma', 'startend:quotation']);
    expect(checks.samples).toEqual([check(false, true), check(true, true), check(true, false), check(true, true), check(false, false)]);
    expect(checks.nodes).toEqual([check(false, true), check(true, true), check(true, false), check(true, true)]);
  });

  it("counts the judge's verdicts as the judge evaluation does: samples, and nodes below the root with their own judgment", () => {
    const tally = tallyTree(data, checkTree(data, checkableRecord(prompt)!));
    expect(tally).toEqual({ right: 3, fooled: 2, harsh: 1, invalid: 1 });
  });

  it('sums tallies per iteration, in iteration order', () => {
    const t = (right: number, fooled: number, harsh: number, invalid: number) => ({ right, fooled, harsh, invalid });
    expect(judgeAccuracyByIteration([
      { iteration: 1, tally: t(1, 1, 0, 0) },
      { iteration: 0, tally: t(3, 2, 1, 1) },
      { iteration: 1, tally: t(2, 0, 0, 2) },
      { iteration: 2, tally: t(0, 0, 0, 4) },
    ])).toEqual([
      { iteration: 0, right: 3, fooled: 2, harsh: 1, invalid: 1, judged: 6, accuracy: 0.5 },
      { iteration: 1, right: 3, fooled: 1, harsh: 0, invalid: 2, judged: 4, accuracy: 0.75 },
      { iteration: 2, right: 0, fooled: 0, harsh: 0, invalid: 4, judged: 0, accuracy: null },
    ]);
  });

  it('names the constraints a refinement fixed and broke', () => {
    expect(fixedConstraints(check(false, false, true), check(true, false, true))).toEqual([0]);
    expect(fixedConstraints(check(false, true), check(true, false))).toEqual([0]);
    expect(brokenConstraints(check(false, true), check(true, false))).toEqual([1]);
    expect(fixedConstraints(check(true, true), check(true, true))).toEqual([]);
  });
});

describe('checker verdicts of stored trees and pairs', () => {
  // The actor's samples have commas; the refiner votes No on a comma and Yes otherwise, except
  // that it is fooled by one sample, and its refinement drops the commas. The prompts ask for no
  // commas, and one for English too (language detection: the service must load the profiles).
  const samples = () => ['one, two', 'three four', 'five, six', 'seven eight', 'nine, ten'];
  const votes = (response: string) => (response === 'five, six' ? 'YYYYN' : response.includes(',') ? 'NNNNY' : 'YYYYY');
  const models = () => world({ samples, votes, refine: (parent) => fixed(parent.replaceAll(',', '')) });
  const prompts = [
    { key: 1, prompt: 'Write without commas.', instruction_id_list: ['punctuation:no_comma'], kwargs: [{}] },
    { key: 2, prompt: 'Write in English without commas.', instruction_id_list: ['language:response_language', 'punctuation:no_comma'], kwargs: [{ language: 'en' }, {}] },
    { key: 3, prompt: 'Anything goes.', instruction_id_list: [], kwargs: [] },
  ];

  async function played() {
    const w = labWorld({ models });
    const run = await newRun(w.store);
    await w.lab.prompts.add(run.id, prompts as never, 'test');
    await w.lab.selfplay.start(run.id);
    return { ...w, run };
  }

  it("gives the judge's accuracy per iteration as the judge evaluation scores it", async () => {
    const { lab, run } = await played();
    const [it0, ...rest] = await lab.browse.judgeAccuracy(run.id);
    expect(rest).toEqual([]);
    const reference = (await lab.evals.evaluateJudge(run.id, 0)).summary;
    expect(it0).toMatchObject({ iteration: 0, judged: reference.judged, invalid: reference.invalid, fooled: reference.yesOnFailing, harsh: reference.noOnFollowing, right: reference.noOnFailing + reference.yesOnFollowing });
    expect(it0.accuracy).toBeCloseTo(reference.accuracy);
    expect(it0.fooled).toBeGreaterThan(0);
  }, 60_000); // the first in this file to load the language profiles

  it('keeps the per-iteration accuracy current while self-play writes trees', async () => {
    const w = labWorld({ models });
    const run = await newRun(w.store);
    await w.lab.prompts.add(run.id, prompts as never, 'test');
    expect(await w.lab.browse.judgeAccuracy(run.id)).toEqual([]);
    await w.lab.selfplay.start(run.id);
    await new Promise((r) => setTimeout(r, 0));
    const live = await w.lab.browse.judgeAccuracy(run.id);
    w.lab.browse.forget(run.id);
    expect(await w.lab.browse.judgeAccuracy(run.id)).toEqual(live);
    expect(live[0].judged).toBeGreaterThan(0);
  });

  it('a tree comes with its checks, a page of pairs with what each refinement fixed', async () => {
    const { lab, run, store } = await played();
    const trees = await store.list('trees', run.id);
    const byPrompt = new Map((await store.list('prompts', run.id)).map((p) => [p.id, p]));
    for (const t of trees) {
      const { checks } = await lab.browse.tree(run.id, t.id);
      if (byPrompt.get(t.promptId)!.instructionIds.length === 0) {
        expect(checks).toBeNull();
        continue;
      }
      const noComma = checks!.constraints.findIndex((c) => c.id === 'punctuation:no_comma');
      expect(checks!.samples.map((c) => c.passed[noComma])).toEqual(t.data.samples.map((s) => !s.response.includes(',')));
      expect(checks!.nodes.map((c) => c.passed[noComma])).toEqual(t.data.tree!.nodes.map((n) => !n.response.includes(',')));
    }
    const pairs = await lab.browse.pairs(run.id, { limit: 100 });
    expect(pairs.items.length).toBeGreaterThan(0);
    expect(pairs.checks).toHaveLength(pairs.items.length);
    expect(pairs.items.some((p) => byPrompt.get(p.promptId)!.instructionIds.length > 0)).toBe(true);
    pairs.items.forEach((p, i) => {
      const c = pairs.checks[i];
      if (byPrompt.get(p.promptId)!.instructionIds.length === 0) return expect(c).toBeNull();
      const noComma = c!.constraints.findIndex((x) => x.id === 'punctuation:no_comma');
      expect(fixedConstraints(c!.rejected, c!.chosen)).toContain(noComma);
    });
  });
});
