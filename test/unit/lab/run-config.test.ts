import { describe, expect, it } from 'vitest';
import {
  applyConfigPatch,
  checkSource,
  describeBinding,
  describeSource,
  endpointProblems,
  modelKey,
  nextIteration,
  NEW_ENDPOINT,
  parseRunConfig,
  requireCompleteBinding,
  SPAR_TOY,
  type IterationEntry,
} from '../../../src/lab/run-config';
import { PRESETS, TINY_DEMO_TEMPLATES, tinyDemoSpar } from '../../../src/lab/presets';
import { defaultSparConfig, templateProblems } from '../../../src/spar/index';

describe('run config', () => {
  it('fills defaults: SPaR reference settings, the tiny model for both roles, IFEval evaluation', () => {
    const c = parseRunConfig({});
    expect(c.spar).toEqual(defaultSparConfig());
    expect(c.models.actor).toEqual({ kind: 'lab', model: { type: 'tiny', seed: 1 } });
    expect(c.eval.set).toEqual({ source: 'ifeval', count: 20, seed: 0 });
    expect(c.iterations).toEqual([]);
  });

  it('names bad fields', () => {
    expect(() => parseRunConfig({ spar: { search: { branch: 0 } } })).toThrow(/spar.search.branch/);
    expect(() => parseRunConfig({ models: { actor: { kind: 'webgpu?' } } })).toThrow(/actor's model: unknown backend kind/);
    expect(() => parseRunConfig({ models: { refiner: { kind: 'openai', baseUrl: 8000, model: 'x' } } })).toThrow(/refiner's model: the server URL must be text/);
    expect(() => parseRunConfig({ models: { actor: { kind: 'lab', model: { type: 'hub', repo: 'no-slash' } } } })).toThrow(/owner\/name/);
    expect(() => parseRunConfig({ eval: { set: { source: 'ifeval', count: 0, seed: 0 } } })).toThrow(/number of prompts/);
  });

  it('reads a model shipped with the app back as it was written, and refuses one the app does not ship', () => {
    const stored = JSON.parse(JSON.stringify(SPAR_TOY));
    expect(stored).toEqual({ type: 'bundled', name: 'spar-toy' });
    expect(checkSource(stored)).toEqual(SPAR_TOY);
    expect(modelKey(SPAR_TOY)).toBe('bundled:spar-toy');
    expect(describeSource(SPAR_TOY)).toBe('SPaR-toy (shipped with the app)');
    const both = parseRunConfig(applyConfigPatch({}, { models: { actor: { kind: 'lab', model: SPAR_TOY }, refiner: { kind: 'lab', model: SPAR_TOY } } })).models;
    expect(both).toEqual({ actor: { kind: 'lab', model: SPAR_TOY }, refiner: { kind: 'lab', model: SPAR_TOY } });
    expect(() => checkSource({ type: 'bundled', name: 'gpt-5' }, 'actor')).toThrow(`The actor's model source: the app ships no model "gpt-5" (it ships spar-toy).`);
    expect(() => checkSource({ type: 'bundled', name: 'toString' })).toThrow(/ships no model "toString"/);
  });

  it("reads the toy world's held-out evaluation set and checks it", () => {
    const c = parseRunConfig({ preset: 'toy-world', eval: { set: { source: 'toy', count: 40, seed: 0 } } });
    expect(c.preset).toBe('toy-world');
    expect(c.eval.set).toEqual({ source: 'toy', count: 40, seed: 0 });
    expect(() => parseRunConfig({ eval: { set: { source: 'toy', count: 0, seed: 0 } } })).toThrow(/number of prompts must be a whole number/);
    expect(() => parseRunConfig({ eval: { set: { source: 'toy', count: 4, seed: 0.5 } } })).toThrow(/seed must be a whole number/);
    expect(parseRunConfig({ preset: 'no-such-preset' }).preset).toBe('custom');
  });

  it('a models patch naming one role keeps the other (two quick edits in Setup must not undo each other)', () => {
    const actor = { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1', model: 'a', verdict: true } as const;
    const both = applyConfigPatch(applyConfigPatch({}, { models: { actor } }), { models: { refiner: { ...actor, model: 'r' } } });
    expect(parseRunConfig(both).models).toEqual({ actor, refiner: { ...actor, model: 'r' } });
  });

  it('keeps an endpoint while it is being filled in; a start says what is missing', () => {
    // Choosing "OpenAI-compatible endpoint" in Setup saves this before the user has typed anything.
    const chosen = applyConfigPatch({}, { models: { actor: NEW_ENDPOINT, refiner: { kind: 'lab', model: { type: 'tiny', seed: 1 } } } });
    const actor = parseRunConfig(chosen).models.actor;
    expect(actor).toEqual({ kind: 'openai', baseUrl: 'http://localhost:8000/v1', model: '', verdict: true });
    expect(describeBinding(actor)).toBe('no model chosen yet at http://localhost:8000/v1');
    expect(() => requireCompleteBinding(actor, 'actor')).toThrow(
      "The actor's OpenAI-compatible endpoint is not complete: name the model the server serves (“Check” lists them). Fill it in under Setup → Actor.",
    );

    const typo = parseRunConfig({ models: { refiner: { kind: 'openai', baseUrl: ' localhost:8000/v1 ', model: ' qwen ' } } }).models.refiner;
    expect(typo).toEqual({ kind: 'openai', baseUrl: 'localhost:8000/v1', model: 'qwen', verdict: true });
    expect(() => requireCompleteBinding(typo, 'refiner')).toThrow(/refiner's OpenAI-compatible endpoint is not complete: the base URL must start with http:\/\/ or https:\/\/ \(it is "localhost:8000\/v1"\)/);
    expect(endpointProblems({ kind: 'openai', baseUrl: '', model: '', verdict: false })).toEqual([
      "give the server's base URL, e.g. http://localhost:8000/v1",
      'name the model the server serves (“Check” lists them)',
    ]);

    const done = { kind: 'openai', baseUrl: 'http://127.0.0.1:8000/v1', model: 'qwen', verdict: false } as const;
    expect(endpointProblems(done)).toEqual([]);
    expect(() => requireCompleteBinding(done, 'actor')).not.toThrow();
  });

  it('patches keep the iteration history and are checked', () => {
    const raw = { iterations: [{ iteration: 0, status: 'done' }], spar: {} };
    const next = applyConfigPatch(raw, { preset: 'tiny-demo', spar: tinyDemoSpar() });
    expect(next.iterations).toBe(raw.iterations);
    expect(next.preset).toBe('tiny-demo');
    expect(() => applyConfigPatch(raw, { spar: { sample: { n: -1 } } })).toThrow(/spar.sample.n/);
  });

  it('the next iteration resumes an open one, else starts after the last', () => {
    const e = (iteration: number, status: IterationEntry['status']) => ({ iteration, status }) as IterationEntry;
    expect(nextIteration([])).toEqual({ iteration: 0, resume: false });
    expect(nextIteration([e(0, 'done')])).toEqual({ iteration: 1, resume: false });
    expect(nextIteration([e(0, 'done'), e(1, 'paused')])).toEqual({ iteration: 1, resume: true });
    expect(nextIteration([e(0, 'failed')])).toEqual({ iteration: 0, resume: true });
    expect(nextIteration([e(0, 'cancelled')])).toEqual({ iteration: 1, resume: false });
  });

  it('presets are valid settings; the tiny demo reads verdicts out and uses the batched order', () => {
    const tiny = tinyDemoSpar();
    expect(templateProblems(TINY_DEMO_TEMPLATES)).toEqual([]);
    expect(tiny.judge.verdict).toBe('parsed-else-readout');
    expect(tiny.search.callOrder).toBe('batched');
    expect([tiny.sample.n, tiny.judge.k, tiny.search.branch, tiny.search.maxDepth]).toEqual([2, 2, 2, 2]);
    const paper = PRESETS.paper.spar();
    expect({ ...paper, search: { ...paper.search, callOrder: 'reference' } }).toEqual(defaultSparConfig());
    expect(modelKey({ type: 'hub', repo: 'a/b' })).toBe('hub:a/b@main');
  });
});
