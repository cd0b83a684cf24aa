import { describe, expect, it } from 'vitest';
import { createScriptedBackend } from '../../../src/backends/scripted';
import type { EvalSettings } from '../../../src/lab/run-config';
import type { PromptResult } from '../../../src/lab/evaluate';
import { labWorld, newRun } from '../../helpers/lab-world';
import { fixed, world } from '../../helpers/spar-world';

// The actor answers in lowercase with a comma: lowercase constraints pass, no-comma fails.
const answer = 'here is my answer, all in lowercase';
const actorModels = () => ({ actor: createScriptedBackend({ label: 'actor', generate: () => answer }), refiner: world({ votes: () => 'YYYYY' }).refiner });
const upload = (records: unknown[]): EvalSettings => ({ set: { source: 'upload', name: 'set.jsonl', records }, temperature: 0, topP: 1, maxTokens: 64, seed: 0 });
const rec = (key: number, prompt: string, ids: string[]) => ({ key, prompt, instruction_id_list: ids, kwargs: ids.map(() => ({})) });

describe('evaluation service', () => {
  it('scores the actor strict and loose with the four accuracies, a breakdown and per-prompt results', async () => {
    const { store, lab } = labWorld({ models: actorModels });
    const run = await newRun(store);
    const settings = upload([
      rec(1, 'Answer in lowercase.', ['change_case:english_lowercase']),
      rec(2, 'Answer without commas.', ['punctuation:no_comma']),
      rec(3, 'Lowercase and no commas.', ['change_case:english_lowercase', 'punctuation:no_comma']),
    ]);
    const seen: number[] = [];
    const r = await lab.evals.evaluateActor(run.id, { settings, batch: 2, onProgress: (p) => p.total && seen.push(p.done) });
    expect(r.kind).toBe('ifeval');
    expect(r.iteration).toBe(0);
    expect(r.summary).toMatchObject({ promptStrict: 1 / 3, instructionStrict: 2 / 4, promptLoose: 1 / 3, instructionLoose: 2 / 4, prompts: 3, instructions: 4, heldOutDropped: 0 });
    expect(seen).toEqual([0, 2, 3]);
    const details = r.details as unknown as PromptResult[];
    expect(details.map((d) => d.strict)).toEqual([[true], [false], [true, false]]);
    expect(details[0].response).toBe(answer);
    expect(r.meta).toMatchObject({ model: 'actor', modelIndex: 0, adapter: null });

    const got = await lab.evals.get(run.id, r.id);
    expect(got.strict!.byInstruction['punctuation:no_comma']).toEqual({ total: 2, followed: 0, accuracy: 0 });
    expect(got.strict!.byCategory.change_case).toEqual({ total: 2, followed: 2, accuracy: 1 });
    const list = await lab.evals.list(run.id);
    expect(list).toHaveLength(1);
    expect('details' in list[0]).toBe(false);
  });

  it('holds out the run\'s training prompts', async () => {
    const { store, lab } = labWorld({ models: actorModels });
    const run = await newRun(store);
    await lab.prompts.add(run.id, [rec(1, 'Answer in lowercase.', ['change_case:english_lowercase']) as never], 'train');
    const r = await lab.evals.evaluateActor(run.id, { settings: upload([rec(1, 'Answer in lowercase.', ['change_case:english_lowercase']), rec(2, 'Answer without commas.', ['punctuation:no_comma'])]) });
    expect(r.summary).toMatchObject({ prompts: 1, heldOutDropped: 1 });
    await expect(lab.evals.evaluateActor(run.id, { settings: upload([rec(1, 'Answer in lowercase.', ['change_case:english_lowercase'])]) })).rejects.toMatchObject({ kind: 'invalid-input' });
  });

  it('evaluates the newest actor adapter as M(t+1)', async () => {
    const adapter = { name: 'actor-it1', rank: 1, alpha: 1, scale: 1, targets: [], layers: [] };
    const { store, lab } = labWorld({ models: actorModels, adapters: { latest: async (_r, role) => (role === 'actor' ? { adapter, trainedOn: 1 } : null) } });
    const run = await newRun(store);
    const r = await lab.evals.evaluateActor(run.id, { settings: upload([rec(1, 'Answer in lowercase.', ['change_case:english_lowercase'])]) });
    expect(r.iteration).toBe(2);
    expect(r.meta).toMatchObject({ modelIndex: 2, adapter: 'actor-it1' });
  });

  it('scores any model M_t, M0 after training too, with the refiner of its generation; compares them on one set', async () => {
    const made = (name: string, trainedOn: number) => ({ adapter: { name, rank: 1, alpha: 1, scale: 1, targets: [], layers: [] }, trainedOn });
    const trained = { actor: [made('actor-it0', 0), made('actor-it1', 1)], refiner: [made('refiner-it0', 0)] };
    const adapters = { latest: async (_r: string, role: 'actor' | 'refiner', before: number) => trained[role].filter((a) => a.trainedOn < before).at(-1) ?? null };
    const { store, lab } = labWorld({ models: actorModels, adapters });
    const run = await newRun(store);
    const settings = upload([rec(1, 'Answer in lowercase.', ['change_case:english_lowercase']), rec(2, 'Answer without commas.', ['punctuation:no_comma'])]);

    const m0 = await lab.evals.evaluateActor(run.id, { model: 0, settings });
    expect(m0.iteration).toBe(0);
    expect(m0.meta).toMatchObject({ modelIndex: 0, adapter: null });
    const m1 = await lab.evals.evaluateActor(run.id, { model: 1, settings: { ...settings, refine: { enabled: true, branch: 2, maxDepth: 1, budget: 2 } } });
    expect(m1.meta).toMatchObject({ modelIndex: 1, adapter: 'actor-it0', mode: 'refine', refinerIndex: 1, refinerAdapter: 'refiner-it0' });
    const newest = await lab.evals.evaluateActor(run.id, { settings });
    expect(newest.meta).toMatchObject({ modelIndex: 2, adapter: 'actor-it1' });
    await expect(lab.evals.evaluateActor(run.id, { model: 3, settings })).rejects.toMatchObject({
      kind: 'not-found',
      message: 'There is no M3 yet: the actor has not been trained on iteration 2 (Train makes it).',
    });

    // M1 was only scored with inference-time refinement: the comparison has M0 and M2.
    const c = await lab.evals.compare(run.id, String(m0.meta!.set));
    expect(c.models.map((m) => [m.model, m.evalId])).toEqual([
      [0, m0.id],
      [2, newest.id],
    ]);
    expect(c.types).toEqual(['change_case:english_lowercase', 'punctuation:no_comma']);
    expect(c.models[0].byType).toEqual({ 'change_case:english_lowercase': { followed: 1, total: 1 }, 'punctuation:no_comma': { followed: 0, total: 1 } });
  });

  it('inference-time refinement: the refiner judges each response and refines the failing ones before the check', async () => {
    // The refiner says No to the actor's answer (it has a comma) and Yes to its refinement,
    // which drops the comma; the lowercase-only prompt is judged Yes and kept.
    const fixedText = 'here is my answer all in lowercase';
    const refinerWorld = world({
      votes: (response, _o, instruction) => (instruction.includes('commas') && response.includes(',') ? 'NNNNN' : 'YYYYY'),
      refine: () => fixed(fixedText),
    });
    const { store, lab } = labWorld({ models: () => ({ actor: createScriptedBackend({ label: 'actor', generate: () => answer }), refiner: refinerWorld.refiner }) });
    const run = await newRun(store);
    const settings: EvalSettings = {
      ...upload([rec(1, 'Answer in lowercase.', ['change_case:english_lowercase']), rec(2, 'Answer without commas.', ['punctuation:no_comma'])]),
      refine: { enabled: true, branch: 2, maxDepth: 1, budget: 2 },
    };
    const r = await lab.evals.evaluateActor(run.id, { settings });
    expect(r.summary).toMatchObject({ promptStrict: 1, promptStrictBefore: 0.5, refined: 1, judgedNo: 1 });
    expect(r.meta).toMatchObject({ mode: 'refine', refinerIndex: 0, refinerAdapter: null, refine: { branch: 2, maxDepth: 1, budget: 2 } });
    const [kept, refined] = r.details as unknown as PromptResult[];
    expect(kept.refinement).toMatchObject({ verdict: 'Yes', nodes: 0, changed: false });
    expect(kept.response).toBe(answer);
    expect(refined.refinement).toMatchObject({ original: answer, verdict: 'No', nodes: 2, outcome: 'solved', value: 1, changed: true, strict: [false] });
    expect(refined).toMatchObject({ response: fixedText, strict: [true] });
  });

  it("scores the refiner's verdicts against the checkers", async () => {
    // Every sample is judged Yes; the actor's samples "<prompt>/s<i>" contain capitals, so the
    // lowercase constraint fails for all of them: every Yes is wrong.
    const { store, lab } = labWorld({ models: () => world({ votes: () => 'YYYYY' }) });
    const run = await newRun(store);
    await lab.prompts.add(run.id, [rec(1, 'Write in lowercase.', ['change_case:english_lowercase']), rec(2, 'No constraints here.', [])] as never, 'test');
    await lab.selfplay.start(run.id);
    const r = await lab.evals.evaluateJudge(run.id, 0);
    expect(r.kind).toBe('judge');
    expect(r.summary).toMatchObject({ judged: 5, invalid: 0, accuracy: 0, yesOnFailing: 5, 'samples.judged': 5, 'nodes.judged': 0 });
    expect(r.summary.precisionNo).toBeUndefined();
    await expect(lab.evals.evaluateJudge(run.id, 4)).rejects.toMatchObject({ kind: 'not-found' });
  });
});
