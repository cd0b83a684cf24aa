import { describe, expect, it } from 'vitest';
import { llamaFactoryDatasetInfo, pairsToLlamaFactoryJsonl, pairsToTrlJsonl, rftToJsonl, treesToJson } from '../../../src/spar/export';
import type { TreeRecord } from '../../../src/store/records';

const pairs = [
  { prompt: 'Say hi.\nIn "quotes".', chosen: '"hi"', rejected: 'hello', excluded: false },
  { prompt: 'skip me', chosen: 'a', rejected: 'b', excluded: true },
];
const lines = (s: string) => s.trimEnd().split('\n').map((l) => JSON.parse(l));

describe('exports', () => {
  it('TRL conversational preference rows', () => {
    expect(lines(pairsToTrlJsonl(pairs))).toEqual([
      { prompt: [{ role: 'user', content: 'Say hi.\nIn "quotes".' }], chosen: [{ role: 'assistant', content: '"hi"' }], rejected: [{ role: 'assistant', content: 'hello' }] },
    ]);
    expect(lines(pairsToTrlJsonl(pairs, { includeExcluded: true }))).toHaveLength(2);
    expect(pairsToTrlJsonl([])).toBe('');
  });

  it('SPaR / LLaMA-Factory rows and their dataset_info entry', () => {
    expect(lines(pairsToLlamaFactoryJsonl(pairs))).toEqual([
      { messages: [{ role: 'user', content: 'Say hi.\nIn "quotes".' }], chosen: { role: 'assistant', content: '"hi"' }, rejected: { role: 'assistant', content: 'hello' } },
    ]);
    expect(llamaFactoryDatasetInfo('spar_dpo.jsonl')).toMatchObject({ formatting: 'sharegpt', ranking: true, columns: { messages: 'messages', chosen: 'chosen', rejected: 'rejected' } });
  });

  it('RFT rows are chat messages, one per line', () => {
    const out = rftToJsonl([{ messages: [{ role: 'user', content: 'judge' }, { role: 'assistant', content: 'No' }] }]);
    expect(out).toBe('{"messages":[{"role":"user","content":"judge"},{"role":"assistant","content":"No"}]}\n');
  });

  it('trees as one JSON document, in iteration and prompt order; -Infinity read-outs become null', () => {
    const t = (iteration: number, promptId: string): TreeRecord => ({
      runId: 'r', id: `${iteration}:${promptId}`, iteration, promptId, status: 'done', outputs: { pairs: 0, rft: 0 }, finishedAt: 0,
      data: { prompt: 'p', mode: 'refine', seeds: { sample: 1, judge: 2, select: 3, search: 4 }, negative: null, positive: null, tree: null, stats: { modelCalls: 0, generatedTokens: 0, judgments: 0 },
        samples: [{ response: 'x', finishReason: 'stop', judge: { ok: false, tied: { tiedAttempts: [[{ text: 'c', parsed: null, verdict: null, readout: { logprobs: [-Infinity, -1], pYes: 0 } }]] } } }] },
    });
    const doc = JSON.parse(treesToJson([t(1, 'a'), t(0, 'b'), t(0, 'a')]));
    expect(doc.format).toBe('spar-lab-trees');
    expect(doc.trees.map((x: TreeRecord) => x.id)).toEqual(['0:a', '0:b', '1:a']);
    expect(doc.trees[0].data.samples[0].judge.tied.tiedAttempts[0][0].readout.logprobs).toEqual([null, -1]);
  });
});
