import { describe, expect, it } from 'vitest';
import { defaultSparConfig, parseSparConfig } from '../../../src/spar/config';
import { DEFAULT_TEMPLATES, judgePrompt, templateProblems } from '../../../src/spar/templates';

describe('SPaR settings', () => {
  it('defaults to the reference values', () => {
    const c = parseSparConfig();
    expect(c).toEqual(defaultSparConfig());
    expect(c.sample).toMatchObject({ n: 5, temperature: 0.9, topP: 0.9 });
    expect(c.judge).toMatchObject({ k: 5, temperature: 0.7, topP: 1, sampleAttempts: 1, treeAttempts: 3, verdict: 'parsed' });
    expect(c.refine).toMatchObject({ temperature: 0.7, attempts: 3, callAttempts: 3, maxTokens: 3072 });
    expect(c.search).toMatchObject({ algorithm: 'bfs', branch: 3, selectBranch: 2, maxDepth: 3, endGate: 0.5, budget: 1000, selection: 'greedy', callOrder: 'reference' });
    expect(c.extract).toEqual({ minFinalValue: 0.5, critiqueGate: 0.5 });
  });

  it('fills what a run stores partially, and survives JSON', () => {
    const c = parseSparConfig(JSON.parse(JSON.stringify({ seed: 9, search: { algorithm: 'dfs' }, templates: { refine: `${DEFAULT_TEMPLATES.refine}\nBe brief.` } })));
    expect(c.seed).toBe(9);
    expect(c.search.algorithm).toBe('dfs');
    expect(c.search.branch).toBe(3);
    expect(c.templates.refine).toMatch(/Be brief\.$/);
    expect(c.templates.judge).toBe(DEFAULT_TEMPLATES.judge);
  });

  it('names every bad or unknown field', () => {
    const bad = () => parseSparConfig({ concurrency: 0, search: { branch: 1.5, brnach: 2, selection: 'best' }, judge: { topP: 0, verdict: 'logits' }, sample: { stop: [''] } } as never);
    expect(bad).toThrow(/spar\.search\.brnach is not a setting/);
    let err: unknown;
    try {
      parseSparConfig({ concurrency: 0, search: { branch: 1.5, selection: 'best' }, judge: { topP: 0, verdict: 'logits' }, sample: { stop: [''] } } as never);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ kind: 'invalid-input' });
    for (const field of ['concurrency', 'search.branch', 'search.selection', 'judge.topP', 'judge.verdict', 'sample.stop']) {
      expect((err as Error).message).toContain(`spar.${field}`);
    }
    expect(() => parseSparConfig('fast' as never)).toThrow(/spar must be an object/);
  });

  it('checks that templates keep the protocol', () => {
    expect(templateProblems(DEFAULT_TEMPLATES)).toEqual([]);
    const broken = { ...DEFAULT_TEMPLATES, judge: 'Is this good? {response}', refine: 'Fix it.' };
    expect(templateProblems(broken)).toEqual([
      'templates.judge must contain {instruction}',
      'templates.judge must ask for a line starting with "Final Judgement"',
      'templates.refine must show the markers [[start]] and [[end]]',
    ]);
    expect(() => parseSparConfig({ templates: { judge: '' } })).toThrow(/templates\.judge must be a non-empty string/);
  });

  it('fills the judge prompt in one pass, so placeholders inside a response stay as written', () => {
    const t = { ...DEFAULT_TEMPLATES, judge: 'P: {instruction} | O: {response} | Final Judgement' };
    expect(judgePrompt(t, 'say {response}', 'I said {instruction} $& $1')).toBe('P: say {response} | O: I said {instruction} $& $1 | Final Judgement');
  });
});
