import { describe, expect, it } from 'vitest';
import { createScriptedBackend } from '../../../src/backends/scripted';
import type { ModelCtx } from '../../../src/spar/calls';
import { parseSparConfig, type SparConfig } from '../../../src/spar/config';
import { hash32, PyRandom } from '../../../src/spar/rng';
import { searchTree } from '../../../src/spar/search';
import type { SearchTree } from '../../../src/spar/types';
import fixture from '../../fixtures/spar/reference-traces.json';

// Traces of the reference implementation's tree search (thu-coai/SPaR ToT code, run unchanged
// with a fake OpenAI client) on 200 random scripted scenarios: see
// test/fixtures/spar/gen_reference_traces.py. Our search must make the same calls in the same
// order (with the same refine seeds from the same Python-compatible random stream), and build
// the same tree, spend the same budget, and pick the same final node and critique RFT nodes.

type Scenario = (typeof fixture.cases)[number]['scenario'];
type Reference = (typeof fixture.cases)[number]['reference'];

const TEST_TEMPLATES = {
  judge: 'JUDGE {instruction} ||| {response} ||| Final Judgement (Yes or No)',
  refine: 'REFINE. Final Refined Output: [[start]] ... [[end]]',
};

/** The generator's scripted model, answer for answer. */
function scenarioModel(sc: Scenario) {
  const seen = new Map<string, number>();
  const occurrence = (key: string) => {
    const o = seen.get(key) ?? 0;
    seen.set(key, o + 1);
    return o;
  };
  let judgeOccurrence = 0;
  return createScriptedBackend({
    generate: (req, at) => {
      const response = req.messages[0].content.split(' ||| ')[1];
      if (req.messages.length === 1) {
        if (at.sample === 0) judgeOccurrence = occurrence(`J${response}`);
        return critique(sc, response, judgeOccurrence, at.sample);
      }
      return refineReply(sc, response, occurrence(`R${response}`));
    },
  });
}

function critique(sc: Scenario, response: string, o: number, j: number): string {
  const u = hash32(`${sc.modelSeed}|J|${response}|${o}|${j}`) % 100;
  const quality = hash32(`${sc.modelSeed}|Q|${response}`) % sc.qualityMax;
  if (u < sc.pInvalid) return `Check of ${response} (${o}.${j}): I cannot decide.`;
  const verdict = (u - sc.pInvalid) * 100 < quality * (100 - sc.pInvalid) ? 'Yes' : 'No';
  return `Check of ${response} (${o}.${j}).\nFinal Judgement (if the Output accurately follows the Prompt): ${verdict}`;
}

function refineReply(sc: Scenario, parent: string, o: number): string {
  let u = hash32(`${sc.modelSeed}|R|${parent}|${o}`) % 100;
  if (u < sc.pNoMark) return 'Reflection on how to refine the Output: no idea.';
  u -= sc.pNoMark;
  if (u < sc.pEmpty) return 'Reflection on how to refine the Output: x\nFinal Refined Output: [[start]]   [[end]]';
  u -= sc.pEmpty;
  const text = u < sc.pDup ? `pool${u % 2}` : `${parent}.${o}`;
  return `Reflection on how to refine the Output: fix it.\nFinal Refined Output: [[start]] ${text} [[end]]`;
}

function configFor(sc: Scenario, callOrder: 'reference' | 'batched', quirk = true): SparConfig {
  return parseSparConfig({
    judge: { k: sc.k },
    search: {
      algorithm: sc.algorithm as 'bfs' | 'dfs',
      branch: sc.branch,
      selectBranch: sc.selectBranch,
      maxDepth: sc.maxDepth,
      endGate: sc.endGate,
      budget: sc.budget,
      selection: sc.selection as 'greedy' | 'sampled',
      callOrder,
      dfsSampledRootQuirk: quirk,
    },
    templates: { ...parseSparConfig().templates, ...TEST_TEMPLATES },
  });
}

async function runOurs(sc: Scenario, callOrder: 'reference' | 'batched', quirk = true) {
  const refiner = scenarioModel(sc);
  const ctx: ModelCtx = { stats: { modelCalls: 0, generatedTokens: 0, judgments: 0 } };
  const tree = await searchTree({
    instruction: sc.prompt,
    root: { response: 'r', critique: 'The root critique.' },
    refiner,
    config: configFor(sc, callOrder, quirk),
    rng: { search: new PyRandom(sc.searchSeed), judge: new PyRandom(1) },
    ctx,
  });
  const calls = refiner.calls.flatMap((c) =>
    c.method !== 'generate'
      ? []
      : c.requests.map((r) => {
          const response = r.messages[0].content.split(' ||| ')[1];
          return r.messages.length === 1 ? ['judge', response, r.n] : ['refine', response, r.sampling.seed];
        }),
  );
  return { tree, calls };
}

function comparable(tree: SearchTree) {
  const n = tree.nodes;
  const pick = (id: number | null) => (id === null ? null : [n[id].response, n[id].critique]);
  return {
    outcome: tree.outcome,
    final: tree.finalNode === null ? undefined : n[tree.finalNode].order,
    budgetLeft: tree.budgetLeft,
    nodes: [...n]
      .sort((a, b) => a.order - b.order)
      .map((x) => [x.order, x.parent === null ? null : n[x.parent].order, x.depth, x.response, x.value, x.critique, x.refineTrace]),
    picks: { negative: pick(tree.critiquePicks.negative), positive: pick(tree.critiquePicks.positive) },
  };
}

function expected(ref: Reference) {
  if (ref.outcome === 'zero-values') return { outcome: 'zero-values' };
  return { outcome: ref.outcome, final: ref.final, budgetLeft: ref.budgetLeft, nodes: ref.nodes, picks: ref.picks };
}

describe('tree search conforms to the reference implementation', () => {
  it('covers the interesting cases', () => {
    const refs = fixture.cases.map((c) => c.reference);
    const count = (f: (r: Reference) => boolean) => refs.filter(f).length;
    expect(count((r) => r.outcome === 'solved')).toBeGreaterThan(20);
    expect(count((r) => r.outcome === 'fallback')).toBeGreaterThan(20);
    expect(count((r) => r.outcome === 'zero-values')).toBeGreaterThan(2);
    expect(count((r) => (r.nodes ?? []).some((x) => (x[2] as number) >= 3))).toBeGreaterThan(5);
    expect(count((r) => r.budgetLeft === 0)).toBeGreaterThan(5);
    expect(count((r) => r.budgetLeft !== undefined && r.budgetLeft < 0)).toBeGreaterThan(2); // DFS past an exhausted budget
    // value-cache hits: the same refined text at two nodes
    expect(count((r) => new Set((r.nodes ?? []).map((x) => x[3])).size < (r.nodes ?? []).length)).toBeGreaterThan(5);
    // refinements that failed and were retried or skipped
    expect(count((r) => r.calls.filter((c) => c[0] === 'refine').length > (r.nodes ?? []).length + 3)).toBeGreaterThan(5);
    expect(count((r) => r.picks?.negative != null && r.picks?.positive != null)).toBeGreaterThan(5);
  });

  for (const { scenario: sc, reference: ref } of fixture.cases) {
    const label = `${sc.name}: ${sc.algorithm} b${sc.branch}/${sc.selectBranch} d${sc.maxDepth} budget ${sc.budget} gate ${sc.endGate} ${sc.selection} k${sc.k}`;
    it(label, async () => {
      const ours = await runOurs(sc, 'reference');
      expect(ours.calls).toEqual(ref.calls);
      const got = comparable(ours.tree);
      expect(ref.outcome === 'zero-values' ? { outcome: got.outcome } : got).toEqual(expected(ref));
    });
  }

  it('batched call order builds the same trees when answers do not depend on call order', async () => {
    // Greedy selection (sampled draws interleave with refine seeds differently) and no failed
    // refinements (their retries are numbered differently when branches run together).
    const cases = fixture.cases.filter((c) => c.scenario.selection === 'greedy' && c.scenario.pNoMark === 0 && c.scenario.pEmpty === 0);
    expect(cases.length).toBeGreaterThan(5);
    for (const { scenario: sc, reference: ref } of cases) {
      const ours = await runOurs(sc, 'batched');
      const { picks: _ours, ...got } = comparable(ours.tree);
      const { picks: _ref, ...want } = expected(ref) as ReturnType<typeof comparable>;
      expect(got, sc.name).toEqual(want);
      // Fewer, larger requests: every node's branches went out as one request.
      expect(ours.calls.filter((c) => c[0] === 'refine').length).toBeLessThanOrEqual(ref.calls.filter((c) => c[0] === 'refine').length);
    }
  });

  it('without the DFS-sampled root quirk, only the fallback and critique picks of such searches differ', async () => {
    let differing = 0;
    for (const { scenario: sc, reference: ref } of fixture.cases) {
      if (ref.outcome === 'zero-values') continue;
      const got = comparable((await runOurs(sc, 'reference', false)).tree);
      const want = expected(ref) as ReturnType<typeof comparable>;
      expect({ ...got, final: 0, picks: null }).toEqual({ ...want, final: 0, picks: null });
      if (got.final !== want.final || JSON.stringify(got.picks) !== JSON.stringify(want.picks)) {
        differing++;
        expect([sc.algorithm, sc.selection]).toEqual(['dfs', 'sampled']);
      }
    }
    expect(differing).toBeGreaterThan(0);
  });
});
