import { describe, expect, it } from 'vitest';
import { createScriptedBackend } from '../../../src/backends/scripted';
import type { VerdictMode } from '../../../src/spar/config';
import { judgeResponses } from '../../../src/spar/judge';
import { checkModels } from '../../../src/spar/pipeline';
import { PyRandom } from '../../../src/spar/rng';
import { config, critique, newCtx, parseJudge, TEMPLATES, world } from '../../helpers/spar-world';

function settings(verdict: VerdictMode = 'parsed', attempts = 1, strip = true) {
  const c = config();
  return { ...c.judge, verdict, attempts, strip };
}

/** A refiner whose critiques have the given letters and whose read-out gives P(Yes) per critique. */
function readoutModel(letters: string, pYes: number[]) {
  return createScriptedBackend({
    generate: (_req, at) => critique(`c${at.sample}`, letters[at.sample]),
    verdict: (req) => {
      const p = pYes[Number(/c(\d+)/.exec(req.prefix)![1])];
      return [Math.log(p), Math.log(1 - p)];
    },
  });
}

describe('k-vote judgment', () => {
  it('value = #Yes / (#Yes + #No), invalid ignored; No wins only a strict majority', async () => {
    const { refiner } = world({ votes: (r) => ({ a: 'YYNxx', b: 'NNYxY', c: 'NxNxN' })[r]! });
    const out = await judgeResponses(refiner, 'q', ['a', 'b', 'c'], settings(), TEMPLATES, new PyRandom(1), newCtx());
    expect(out.map((o) => o.ok && [o.judgment.value, o.judgment.label, o.judgment.yes, o.judgment.no])).toEqual([
      [2 / 3, 'Yes', 2, 1],
      false, // b ties 2–2: dropped after its one attempt
      [0, 'No', 0, 3],
    ]);
    // all three went out as one call of three requests, k samples each
    expect(refiner.calls).toHaveLength(1);
    expect(refiner.calls[0].requests.map((r) => (r as { n: number }).n)).toEqual([5, 5, 5]);
  });

  it('retries only the tied responses, in one batched call per attempt', async () => {
    const { refiner } = world({ votes: (r, o) => (r === 'tie' ? ['YYNNx', 'xxxxx', 'NNNYx'][o] : 'YYYYY') });
    const ctx = newCtx();
    const [tie, yes] = await judgeResponses(refiner, 'q', ['tie', 'yes'], settings('parsed', 3), TEMPLATES, new PyRandom(1), ctx);
    expect(refiner.calls.map((c) => c.requests.length)).toEqual([2, 1, 1]);
    expect(tie.ok && tie.judgment.tiedAttempts.length).toBe(2);
    expect(tie.ok && tie.judgment.label).toBe('No');
    expect(yes.ok && yes.judgment.value).toBe(1);
    expect(ctx.stats).toMatchObject({ modelCalls: 4, judgments: 2 });
  });

  it('strips critiques for sample judgments (judge.py) but not inside the search (get_value)', async () => {
    const refiner = createScriptedBackend({ generate: () => '  Final Judgement: Yes \n' });
    const [stripped] = await judgeResponses(refiner, 'q', ['a'], settings('parsed', 1, true), TEMPLATES, new PyRandom(1), newCtx());
    const [raw] = await judgeResponses(refiner, 'q', ['a'], settings('parsed', 1, false), TEMPLATES, new PyRandom(1), newCtx());
    expect(stripped.ok && stripped.judgment.critiques[0].text).toBe('Final Judgement: Yes');
    expect(raw.ok && raw.judgment.critiques[0].text).toBe('  Final Judgement: Yes \n');
  });

  it('draws one seed per request from the judge stream', async () => {
    const { refiner } = world({ votes: () => 'Y' });
    await judgeResponses(refiner, 'q', ['a', 'b'], settings(), TEMPLATES, new PyRandom(5), newCtx());
    const r = new PyRandom(5);
    const expected = [r.randint(1, 1e8), r.randint(1, 1e8)];
    expect(refiner.calls[0].requests.map((q) => (q as { sampling: { seed: number } }).sampling.seed)).toEqual(expected);
    expect(parseJudge((refiner.calls[0].requests[1] as { messages: { content: string }[] }).messages[0].content).response).toBe('b');
  });
});

describe('verdict settings', () => {
  it("'readout' votes with P(Yes) vs P(No) after each critique, even without a verdict in the text", async () => {
    const refiner = readoutModel('xxxxx', [0.9, 0.8, 0.3, 0.6, 0.5]);
    const [o] = await judgeResponses(refiner, 'q', ['a'], settings('readout'), TEMPLATES, new PyRandom(1), newCtx());
    expect(o.ok && [o.judgment.yes, o.judgment.no, o.judgment.value, o.judgment.label]).toEqual([3, 1, 0.75, 'Yes']);
    expect(o.ok && o.judgment.critiques[4].verdict).toBeNull(); // exactly 1/2: no verdict
    const req = refiner.calls[1];
    expect(req.method).toBe('verdict');
    expect(req.requests).toHaveLength(5);
    const first = req.requests[0] as { prefix: string; labels: string[]; messages: { content: string }[] };
    expect(first.prefix).toBe(`c0: I cannot tell.\n${TEMPLATES.verdictCue}`);
    expect(first.labels).toEqual([' Yes', ' No']);
    expect(parseJudge(first.messages[0].content).response).toBe('a');
  });

  it("'parsed-else-readout' reads out only critiques without a valid verdict", async () => {
    const refiner = readoutModel('NNxxY', [0.9, 0.9, 0.9, 0.9, 0.9]);
    const [o] = await judgeResponses(refiner, 'q', ['a'], settings('parsed-else-readout'), TEMPLATES, new PyRandom(1), newCtx());
    expect(refiner.calls[1].requests).toHaveLength(2);
    expect(o.ok && o.judgment.critiques.map((c) => c.verdict)).toEqual(['No', 'No', 'Yes', 'Yes', 'Yes']);
    expect(o.ok && o.judgment.critiques.map((c) => c.parsed)).toEqual(['No', 'No', null, null, 'Yes']);
  });

  it("'readout-mean' values a response by the mean P(Yes), a smooth value", async () => {
    const refiner = readoutModel('YYYYY', [0.9, 0.2, 0.3, 0.4, 0.1]);
    const [o] = await judgeResponses(refiner, 'q', ['a'], settings('readout-mean'), TEMPLATES, new PyRandom(1), newCtx());
    expect(o.ok && o.judgment.value).toBeCloseTo(0.38, 12);
    expect(o.ok && o.judgment.label).toBe('No');
    expect(o.ok && o.judgment.representative).toBe(1); // first critique read as No
  });

  it('refuses a read-out setting when the refiner cannot read out', () => {
    const { actor, refiner } = world({ votes: () => 'Y' });
    expect(() => checkModels(config({ judge: { verdict: 'readout' } }), { actor, refiner })).toThrow(/cannot read out verdict probabilities/);
    expect(() => checkModels(config(), { actor, refiner })).not.toThrow();
  });
});
