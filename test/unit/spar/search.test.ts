import { describe, expect, it } from 'vitest';
import type { SparConfig } from '../../../src/spar/config';
import { PyRandom } from '../../../src/spar/rng';
import { bestNode, critiqueCandidates, searchTree } from '../../../src/spar/search';
import type { SearchTree, TreeNode } from '../../../src/spar/types';
import { callLog, config, EMPTY, fixed, newCtx, NOMARK, world } from '../../helpers/spar-world';

// Votes per response name: V0 = 0, V2 = 0.2 … V10 = 1 (k = 5).
const V = { 0: 'NNNNN', 2: 'YNNNN', 4: 'YYNNN', 6: 'YYYNN', 8: 'YYYYN', 10: 'YYYYY' } as const;

async function search(
  votes: Record<string, string>,
  s: Partial<SparConfig['search']> = {},
  opts: { refine?: (parent: string, o: number) => string; seed?: number; votesFn?: (r: string, o: number) => string } = {},
) {
  const { refiner } = world({ votes: opts.votesFn ?? ((r) => votes[r] ?? V[0]), refine: opts.refine });
  const tree = await searchTree({
    instruction: 'q',
    root: { response: 'r', critique: 'root critique' },
    refiner,
    config: config({ search: s }),
    rng: { search: new PyRandom(opts.seed ?? 1), judge: new PyRandom(2) },
    ctx: newCtx(),
  });
  const node = (name: string): TreeNode => {
    const n = tree.nodes.find((x) => x.response === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  };
  return { tree, refiner, node, final: finalName(tree), log: callLog(refiner) };
}

function finalName(t: SearchTree): string | null {
  return t.finalNode === null ? null : t.nodes[t.finalNode].response;
}

describe('BFS (reference defaults: branch 3, select 2, depth 3, gate 0.5, greedy)', () => {
  it('succeeds at depth 1 after judging every branch of the level, interleaving refine and judge calls', async () => {
    const { tree, final, log } = await search({ 'r.1': V[6], 'r.2': V[10] });
    expect(final).toBe('r.2'); // the best of the level, not the first above the gate
    expect(tree.outcome).toBe('solved');
    expect(log).toEqual([
      ['refine', 'r'], ['judge', 'r.0'],
      ['refine', 'r'], ['judge', 'r.1'],
      ['refine', 'r'], ['judge', 'r.2'],
    ]);
    expect(tree.nodes.map((n) => [n.response, n.depth, n.order, n.parent, n.value])).toEqual([
      ['r', 0, 0, null, 0], ['r.0', 1, 1, 0, 0], ['r.1', 1, 2, 0, 0.6], ['r.2', 1, 3, 0, 1],
    ]);
    expect(tree.budgetLeft).toBe(997);
  });

  it('succeeds at depth 2, expanding the frontier best first', async () => {
    const { final, log, node } = await search({ 'r.0': V[2], 'r.1': V[4], 'r.0.1': V[8] });
    expect(final).toBe('r.0.1');
    // frontier = top 2 of [r.1 0.4, r.0 0.2, r.2 0]: r.1 first
    expect(log.filter(([k]) => k === 'refine').map(([, p]) => p)).toEqual(['r', 'r', 'r', 'r.1', 'r.1', 'r.1', 'r.0', 'r.0', 'r.0']);
    expect(node('r.0.1')).toMatchObject({ depth: 2, order: 8, critique: expect.stringContaining('Final Judgement') });
    expect(node('r.0.1').refineTrace).toBe(fixed('r.0.1'));
  });

  it('succeeds at depth 3 and falls back when max_depth stops it one level short', async () => {
    const votes = { 'r.0': V[2], 'r.0.0': V[4], 'r.0.0.0': V[8] };
    const deep = await search(votes, { branch: 1, selectBranch: 1 });
    expect(deep.final).toBe('r.0.0.0');
    expect(deep.tree.outcome).toBe('solved');
    const short = await search(votes, { branch: 1, selectBranch: 1, maxDepth: 2 });
    expect(short.final).toBe('r.0.0');
    expect(short.tree.outcome).toBe('fallback');
  });

  it('stops mid-level when the budget runs out, and still checks that level for a solution', async () => {
    const votes = { 'r.0': V[2], 'r.1': V[4], 'r.1.0': V[4] };
    const { tree, final, log } = await search(votes, { budget: 4 });
    expect(log.filter(([k]) => k === 'judge')).toHaveLength(4);
    expect(tree.budgetLeft).toBe(0);
    expect(tree.nodes).toHaveLength(5);
    // getBestV: r.1.0 (0.4) beats r.0 (0.2) and ties with its parent r.1, later node wins
    expect(final).toBe('r.1.0');
    const solvedAtZero = await search({ ...votes, 'r.1.0': V[8] }, { budget: 4 });
    expect(solvedAtZero.final).toBe('r.1.0');
    expect(solvedAtZero.tree.outcome).toBe('solved');
  });

  it('a budget that starts at 0 never stops BFS (the reference checks == 0 after spending)', async () => {
    const { tree } = await search({}, { budget: 0, branch: 2, maxDepth: 2 });
    expect(tree.nodes).toHaveLength(1 + 2 + 4);
    expect(tree.budgetLeft).toBe(-6);
  });

  it('greedy selection keeps creation order among equal values', async () => {
    const { log } = await search({ 'r.0': V[4], 'r.1': V[4], 'r.2': V[4] }, { maxDepth: 2 });
    expect(log.filter(([k]) => k === 'refine').map(([, p]) => p).slice(3)).toEqual(['r.0', 'r.0', 'r.0', 'r.1', 'r.1', 'r.1']);
  });

  it('falls back to the best node of the whole tree, the later node winning ties (getBestV >=)', async () => {
    const { final, tree } = await search({ 'r.0': V[4], 'r.1': V[4], 'r.0.0': V[4] }, { branch: 2, selectBranch: 1, maxDepth: 2 });
    expect(tree.outcome).toBe('fallback');
    expect(final).toBe('r.1');
    expect(bestNode(tree.nodes, 0)[1]).toBe(0.4);
  });

  it('with max_depth 0, or when every refinement fails, the root itself is final', async () => {
    const none = await search({}, { maxDepth: 0 });
    expect(none.final).toBe('r');
    expect(none.log).toEqual([]);
    const failing = await search({}, { branch: 2 }, { refine: () => NOMARK });
    expect(failing.final).toBe('r');
    expect(failing.tree.discarded.map((d) => [d.reason, d.refineCalls.length])).toEqual([['refine-failed', 9], ['refine-failed', 9]]);
    expect(failing.tree.budgetLeft).toBe(1000);
  });
});

describe('refinement retries (reference get_refine inside the search loop)', () => {
  const replies = (list: string[]) => (_p: string, o: number) => list[o] ?? fixed(`late${o}`);

  it('a reply without the start marker is retried up to 3 calls, three times over: 9 calls, then the branch is skipped', async () => {
    const { tree, log } = await search({}, { branch: 1, maxDepth: 1 }, { refine: replies(Array(9).fill(NOMARK)) });
    expect(log.filter(([k]) => k === 'refine')).toHaveLength(9);
    expect(tree.discarded[0]).toMatchObject({ reason: 'refine-failed', parent: 0 });
    expect(tree.nodes).toHaveLength(1);
  });

  it('an empty output ends an inner attempt at once: 3 empty replies skip the branch', async () => {
    const { tree, log } = await search({}, { branch: 1, maxDepth: 1 }, { refine: replies([EMPTY, EMPTY, EMPTY, fixed('never')]) });
    expect(log.filter(([k]) => k === 'refine')).toHaveLength(3);
    expect(tree.discarded[0].refineCalls.map((c) => c.extracted)).toEqual(['', '', '']);
  });

  it('keeps every attempt and the successful reply as the trace', async () => {
    const { node } = await search({}, { branch: 1, maxDepth: 1 }, { refine: replies([NOMARK, NOMARK, NOMARK, EMPTY, NOMARK, fixed('good')]) });
    const n = node('good');
    expect(n.refineCalls.map((c) => c.extracted)).toEqual([null, null, null, '', null, 'good']);
    expect(n.refineTrace).toBe(fixed('good'));
    // one seed per call, drawn from the search stream as the reference's randint(1, 1e8)
    expect(new Set(n.refineCalls.map((c) => c.seed)).size).toBe(6);
    for (const c of n.refineCalls) expect(c.seed).toBeGreaterThanOrEqual(1);
  });

  it('takes the text after the first start marker up to the first end marker, trimmed', async () => {
    const odd = 'x [[start]]  a [[end]] b [[end]] [[start]] c';
    const missingEnd = 'Final Refined Output: [[start]] open ended ';
    const { tree } = await search({}, { branch: 2, maxDepth: 1 }, { refine: replies([odd, missingEnd]) });
    expect(tree.nodes.slice(1).map((n) => n.response)).toEqual(['a', 'open ended']);
  });
});

describe('judging inside the search', () => {
  it('retries ties (including all-invalid votes) up to 3 times, then drops the child without spending budget', async () => {
    const votesFn = (r: string, o: number) => (r === 'r.0' ? 'YYNNx' : r === 'r.1' ? ['xxxxx', 'YYYNx'][o] ?? V[0] : V[0]);
    const { tree, log, node } = await search({}, { branch: 3, maxDepth: 1 }, { votesFn });
    expect(log.filter(([k, r]) => k === 'judge' && r === 'r.0')).toHaveLength(3);
    expect(tree.discarded).toMatchObject([{ reason: 'judge-tied', response: 'r.0' }]);
    expect(tree.discarded[0].tiedAttempts).toHaveLength(3);
    expect(node('r.1').value).toBe(0.75); // 3 Yes, 1 No, 1 invalid ignored
    expect(node('r.1').judgment!.tiedAttempts).toHaveLength(1);
    expect(node('r.1').order).toBe(1); // the dropped child took no visit number
    expect(tree.budgetLeft).toBe(998);
  });

  it('judges a repeated refinement once (value cache), but charges budget and a visit for it', async () => {
    const { tree, log } = await search({ same: V[4] }, { branch: 3, maxDepth: 2 }, { refine: () => fixed('same') });
    expect(log.filter(([k]) => k === 'judge')).toEqual([['judge', 'same']]);
    const sames = tree.nodes.filter((n) => n.response === 'same');
    expect(sames.length).toBe(3 + 6);
    expect(sames.slice(1).every((n) => n.cachedFrom === sames[0].id && n.value === 0.4 && n.critique === sames[0].critique)).toBe(true);
    expect(tree.budgetLeft).toBe(1000 - 9);
  });

  it('the representative critique is the first one agreeing with the majority', async () => {
    const { node } = await search({ 'r.0': 'NYNYY' }, { branch: 1, maxDepth: 1 });
    const n = node('r.0');
    expect(n.judgment!.representative).toBe(1);
    expect(n.critique).toBe(n.judgment!.critiques[1].text);
  });
});

describe('DFS', () => {
  it('goes deep before wide, while BFS finishes each level first', async () => {
    const votes = { 'r.0': V[4], 'r.1': V[2], 'r.0.0': V[4], 'r.0.1': V[2] };
    const s = { branch: 2, selectBranch: 2, maxDepth: 3 };
    const parents = (log: [string, string][]) => log.filter(([k]) => k === 'refine').map(([, p]) => p).filter((p, i, a) => a[i - 1] !== p);
    const dfs = await search(votes, { ...s, algorithm: 'dfs' });
    expect(parents(dfs.log)).toEqual(['r', 'r.0', 'r.0.0', 'r.0.1', 'r.1', 'r.1.0', 'r.1.1']);
    const bfs = await search(votes, { ...s, algorithm: 'bfs' });
    expect(parents(bfs.log)).toEqual(['r', 'r.0', 'r.1', 'r.0.0', 'r.0.1']);
  });

  it('stops at the first child above the gate and returns it', async () => {
    const { final, tree } = await search({ 'r.0': V[2], 'r.0.1': V[8], 'r.1': V[6] }, { algorithm: 'dfs', branch: 2 });
    expect(final).toBe('r.1'); // found among the root's children before going deeper
    expect(tree.nodes).toHaveLength(3);
  });

  it('after the budget is spent, each further sibling still gets one judged child (no check on entry)', async () => {
    const { tree, node } = await search({ 'r.0': V[2], 'r.1': V[4] }, { algorithm: 'dfs', branch: 2, budget: 3 });
    expect(node('r.1.0').depth).toBe(2); // spends the last unit
    expect(node('r.0.0').depth).toBe(2); // the reference's extra child
    expect(tree.budgetLeft).toBe(-1);
    expect(tree.nodes).toHaveLength(5);
  });
});

describe('sampled (value-proportional) selection', () => {
  it('draws from the seeded stream, skips duplicate draws, and is reproducible', async () => {
    const votes = { 'r.0': V[2], 'r.1': V[4], 'r.2': V[2] };
    const a = await search(votes, { selection: 'sampled', maxDepth: 2 }, { seed: 7 });
    const b = await search(votes, { selection: 'sampled', maxDepth: 2 }, { seed: 7 });
    expect(a.log).toEqual(b.log);
    const expanded = [...new Set(a.log.filter(([k]) => k === 'refine').map(([, p]) => p))].slice(1);
    expect(expanded.length).toBeGreaterThanOrEqual(1);
    expect(expanded.length).toBeLessThanOrEqual(2);
    expect(expanded.every((p) => p !== 'r.2' || votes['r.2'])).toBe(true);
    // nodes drawn are expanded best first
    const values = expanded.map((p) => a.node(p).value);
    expect([...values].sort((x, y) => y - x)).toEqual(values);
  });

  it('ends the search with no final node when every candidate of a level has value 0 (the reference divides by zero)', async () => {
    const { tree } = await search({}, { selection: 'sampled' });
    expect(tree.outcome).toBe('zero-values');
    expect(tree.finalNode).toBeNull();
    expect(tree.critiquePicks).toEqual({ negative: null, positive: null });
    expect(tree.nodes).toHaveLength(4);
  });
});

describe('critique RFT candidates (getCritiqueRFT)', () => {
  it('lists each child subtree before the child, excluding the root and values 0, 1 and the gate', async () => {
    const votes = { 'r.0': V[2], 'r.1': V[6], 'r.0.0': V[8], 'r.0.1': V[4], 'r.1.0': V[2], 'r.1.1': V[6] };
    const { tree } = await search(votes, { branch: 2, selectBranch: 2, maxDepth: 2, endGate: 0.9 });
    expect(tree.outcome).toBe('fallback');
    const names = (ids: number[]) => ids.map((i) => tree.nodes[i].response);
    const c = critiqueCandidates(tree.nodes, 0, 0.5);
    expect(names(c.negative)).toEqual(['r.0.1', 'r.0', 'r.1.0']);
    expect(names(c.positive)).toEqual(['r.0.0', 'r.1.1', 'r.1']);
    // one of each was drawn after the search
    expect(c.negative).toContain(tree.critiquePicks.negative);
    expect(c.positive).toContain(tree.critiquePicks.positive);
  });
});
