import { describe, expect, it } from 'vitest';
import { agreeingCritique, assembleRftDataset, extractPairs, extractRft, REFERENCE_RFT_CAPS } from '../../../src/spar/extract';
import { judgePrompt } from '../../../src/spar/templates';
import type { Critique, InstructionData, JudgedSample, Judgment, SearchTree, TreeNode, Verdict } from '../../../src/spar/types';
import { TEMPLATES } from '../../helpers/spar-world';

function judgment(verdicts: string, label: Verdict, texts?: string[]): Judgment {
  const critiques: Critique[] = [...verdicts].map((v, i) => {
    const verdict = v === 'Y' ? 'Yes' : v === 'N' ? 'No' : null;
    return { text: texts?.[i] ?? `c${i}`, parsed: verdict, verdict };
  });
  const yes = critiques.filter((c) => c.verdict === 'Yes').length;
  const no = critiques.filter((c) => c.verdict === 'No').length;
  return { critiques, yes, no, value: yes / (yes + no), label, representative: critiques.findIndex((c) => c.verdict === label), tiedAttempts: [] };
}

function sample(response: string, verdicts: string | null, label: Verdict = 'No'): JudgedSample {
  return {
    response,
    finishReason: 'stop',
    judge: verdicts === null ? { ok: false, tied: { tiedAttempts: [] } } : { ok: true, judgment: judgment(verdicts, label) },
  };
}

function node(id: number, parent: number | null, response: string, value: number, extra: Partial<TreeNode> = {}): TreeNode {
  return { id, parent, children: [], depth: parent === null ? 0 : 1, order: id, response, refineTrace: `trace of ${response}`, refineCalls: [], critique: `critique of ${response}`, value, ...extra };
}

function data(over: Partial<InstructionData>): InstructionData {
  return { prompt: 'Write two lines.', mode: 'refine', seeds: { sample: 1, judge: 2, select: 3, search: 4 }, samples: [], negative: null, positive: null, tree: null, stats: { modelCalls: 0, generatedTokens: 0, judgments: 0 }, ...over };
}

function tree(nodes: TreeNode[], finalNode: number | null, picks: SearchTree['critiquePicks'] = { negative: null, positive: null }): SearchTree {
  for (const n of nodes) if (n.parent !== null) nodes[n.parent].children.push(n.id);
  return { algorithm: 'bfs', nodes, discarded: [], outcome: 'solved', finalNode, budgetLeft: 0, critiquePicks: picks };
}

describe('pairs', () => {
  const samples = [sample('good', 'YYYYN', 'Yes'), sample('bad', 'NNNNY')];

  it('final value must exceed 0.5 (process_dpo_data), chosen = final node, rejected = root', () => {
    const make = (v: number) => data({ samples, negative: 1, tree: tree([node(0, null, 'bad', 0), node(1, 0, 'fixed', v)], 1) });
    expect(extractPairs(make(0.5), 0.5)).toEqual([]);
    expect(extractPairs(make(0.6), 0.5)).toEqual([
      { prompt: 'Write two lines.', chosen: 'fixed', rejected: 'bad', meta: { source: 'refinement', chosenValue: 0.6, rejectedValue: 0.2, rejectedSample: 1, chosenNode: 1, chosenDepth: 1, solved: true } },
    ]);
  });

  it('no pair without a tree final node, or without both samples in the ablation', () => {
    expect(extractPairs(data({ samples, negative: 1, tree: { ...tree([node(0, null, 'bad', 0)], null), outcome: 'zero-values' } }), 0.5)).toEqual([]);
    expect(extractPairs(data({ samples, mode: 'independent', negative: 1, positive: null }), 0.5)).toEqual([]);
    expect(extractPairs(data({ samples, mode: 'independent', negative: 1, positive: 0 }), 0.5)[0]).toMatchObject({ chosen: 'good', rejected: 'bad', meta: { chosenValue: 0.8 } });
  });
});

describe('RFT records', () => {
  it('the agreeing critique is the last one seen before both sides are known (process_rft_data)', () => {
    const pick = (v: string, label: Verdict) => agreeingCritique({ ...sample('x', v, label) });
    expect(pick('YYN', 'Yes')).toBe('c1');
    expect(pick('NYY', 'Yes')).toBe('c1');
    expect(pick('YxYNY', 'Yes')).toBe('c2');
    expect(pick('NNYNN', 'No')).toBe('c1');
    expect(pick('YYYYY', 'Yes')).toBeNull(); // unanimous: no record
    expect(pick('YYxxx', 'Yes')).toBeNull();
    expect(agreeingCritique(sample('x', null))).toBeNull();
  });

  it('one of each kind, in priority order, each judge prompt only once', () => {
    const t = tree(
      [node(0, null, 'bad', 0), node(1, 0, 'half', 0.4), node(2, 0, 'better', 0.6), node(3, 2, 'best', 0.8), node(4, 0, 'other', 0.7)],
      3,
      { negative: 1, positive: 4 },
    );
    const d = data({
      samples: [sample('ok', 'YYYNY', 'Yes'), sample('bad', 'NNYNN'), sample('unanimous', 'NNNNN'), sample('bad', 'NNNYN')],
      negative: 1,
      tree: t,
    });
    const rft = extractRft(d, TEMPLATES, 0.5);
    expect(rft.map((r) => r.kind)).toEqual(['refine', 'critique-positive', 'critique-negative', 'judge-no', 'judge-yes']);
    expect(rft[0].messages).toEqual([
      { role: 'user', content: judgePrompt(TEMPLATES, d.prompt, 'better') },
      { role: 'assistant', content: 'critique of better' },
      { role: 'user', content: TEMPLATES.refine },
      { role: 'assistant', content: 'trace of best' },
    ]);
    expect(rft[1].messages).toEqual([{ role: 'user', content: judgePrompt(TEMPLATES, d.prompt, 'other') }, { role: 'assistant', content: 'critique of other' }]);
    // a critique pick whose judge prompt equals the refine record's is dropped
    expect(extractRft({ ...d, tree: { ...t, critiquePicks: { negative: 1, positive: 2 } } }, TEMPLATES, 0.5).map((r) => r.kind)).not.toContain('critique-positive');
    // the second sample "bad" repeats the first's judge prompt: dropped
    expect(rft[3].messages).toEqual([{ role: 'user', content: judgePrompt(TEMPLATES, d.prompt, 'bad') }, { role: 'assistant', content: 'c1' }]);
  });

  it('the refine record wins over a judge record of the same response (the root)', () => {
    const t = tree([node(0, null, 'bad', 0), node(1, 0, 'fixed', 1)], 1);
    const d = data({ samples: [sample('bad', 'NNNYN')], negative: 0, tree: t });
    expect(extractRft(d, TEMPLATES, 0.5).map((r) => r.kind)).toEqual(['refine']);
    expect(extractRft({ ...d, tree: { ...t, nodes: t.nodes.map((n) => ({ ...n, value: n.id ? 0.5 : 0 })) } }, TEMPLATES, 0.5).map((r) => r.kind)).toEqual(['judge-no']);
  });

  it('assembles a training set across instructions: priority, de-duplication, optional caps', () => {
    const rec = (kind: string, key: string, excluded = false) => ({ kind, excluded, messages: [{ role: 'user' as const, content: key }, { role: 'assistant' as const, content: kind }] });
    const records = [rec('judge-yes', 'a'), rec('refine', 'a'), rec('critique-negative', 'b'), rec('judge-no', 'c', true), rec('judge-no', 'd')];
    expect(assembleRftDataset(records).map((r) => [r.kind, r.messages[0].content])).toEqual([
      ['refine', 'a'],
      ['critique-negative', 'b'],
      ['judge-no', 'd'],
    ]);
    const many = Array.from({ length: 30 }, (_, i) => rec('judge-no', `k${i}`));
    const capped = assembleRftDataset(many, { caps: { ...REFERENCE_RFT_CAPS, 'judge-no': 10 }, seed: 3 });
    expect(capped).toHaveLength(10);
    expect(assembleRftDataset(many, { caps: { 'judge-no': 10 }, seed: 3 })).toEqual(capped);
  });
});
