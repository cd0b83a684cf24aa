import { describe, expect, it } from 'vitest';
import { applyConfigPatch, modelKey, nextIteration, parseRunConfig, type IterationEntry } from '../../../src/lab/run-config';
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
    expect(() => parseRunConfig({ models: { refiner: { kind: 'openai', baseUrl: 'localhost', model: 'x' } } })).toThrow(/server URL/);
    expect(() => parseRunConfig({ models: { actor: { kind: 'lab', model: { type: 'hub', repo: 'no-slash' } } } })).toThrow(/owner\/name/);
    expect(() => parseRunConfig({ eval: { set: { source: 'ifeval', count: 0, seed: 0 } } })).toThrow(/number of prompts/);
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
