/**
 * Tree-search refinement from one failing response (reference ToT/bfs.py, ToT/dfs.py,
 * ToT/base.py, ToT/task.py). Control flow, budget accounting, tie handling, selection and the
 * fallback mirror the reference line by line; comments name the reference behaviour.
 */
import type { ModelBackend } from '../backends/types';
import type { ModelCtx } from './calls';
import type { SparConfig } from './config';
import { judgeResponses } from './judge';
import { type BranchRefinement, refineBranches } from './refine';
import type { PyRandom } from './rng';
import { refineMessages } from './templates';
import type { Critique, DiscardedBranch, JudgeOutcome, Judgment, SearchTree, TreeNode } from './types';

export interface SearchInput {
  instruction: string;
  /** The failing response, its representative critique, and (for display) its judgment. */
  root: { response: string; critique: string; judgment?: Judgment };
  refiner: ModelBackend;
  config: Pick<SparConfig, 'search' | 'judge' | 'refine' | 'templates' | 'extract'>;
  /** `search` drives refine seeds, sampled selection and the critique picks; `judge` the judge seeds. */
  rng: { search: PyRandom; judge: PyRandom };
  ctx: ModelCtx;
}

/** Sampled selection met candidates that all have value 0 (the reference divides by zero). */
class ZeroValues extends Error {}

type StopRule = (budget: number) => boolean;
/** BFS checks `budget == 0` (so a budget that starts ≤ 0 never stops it); DFS checks `<= 0`. */
const BFS_STOP: StopRule = (b) => b === 0;
const DFS_STOP: StopRule = (b) => b <= 0;

export async function searchTree(input: SearchInput): Promise<SearchTree> {
  return new Search(input).run();
}

class Search {
  private readonly nodes: TreeNode[] = [];
  private readonly discarded: DiscardedBranch[] = [];
  private budget: number;
  /** Reference `node_count`: the next visit order (the root has 0). */
  private nextOrder = 1;
  /** Reference value/critique cache: response text → the node that was judged with it. */
  private readonly cache = new Map<string, number>();
  /** DFS + sampled: the node the reference's `node` variable ends up bound to at the top level. */
  private rebound: number | null = null;

  constructor(private readonly input: SearchInput) {
    this.budget = input.config.search.budget;
    const { response, critique, judgment } = input.root;
    // Reference: Node(prompt, response, critique, root_value=0).
    this.nodes.push({
      id: 0,
      parent: null,
      children: [],
      depth: 0,
      order: 0,
      response,
      refineTrace: '',
      refineCalls: [],
      critique,
      value: 0,
      ...(judgment ? { judgment } : {}),
    });
  }

  async run(): Promise<SearchTree> {
    const s = this.input.config.search;
    let outcome: SearchTree['outcome'];
    let finalNode: number | null;
    try {
      const solved = s.algorithm === 'bfs' ? await this.bfs() : await this.dfs();
      if (solved !== null) {
        outcome = 'solved';
        finalNode = solved;
      } else {
        outcome = 'fallback';
        finalNode = bestNode(this.nodes, this.walkRoot())[0];
      }
    } catch (e) {
      if (!(e instanceof ZeroValues)) throw e;
      return this.tree('zero-values', null, { negative: null, positive: null });
    }
    // tree_search.py, after the search: one random negative, then one random positive.
    const { negative, positive } = critiqueCandidates(this.nodes, this.walkRoot(), this.input.config.extract.critiqueGate);
    const rng = this.input.rng.search;
    const picks = {
      negative: negative.length ? negative[rng.sampleIndex(negative.length)] : null,
      positive: positive.length ? positive[rng.sampleIndex(positive.length)] : null,
    };
    return this.tree(outcome, finalNode, picks);
  }

  private tree(outcome: SearchTree['outcome'], finalNode: number | null, critiquePicks: SearchTree['critiquePicks']): SearchTree {
    return {
      algorithm: this.input.config.search.algorithm,
      nodes: this.nodes,
      discarded: this.discarded,
      outcome,
      finalNode,
      budgetLeft: this.budget,
      critiquePicks,
    };
  }

  /** Where the fallback and the critique RFT start: the root, or the rebound node (quirk). */
  private walkRoot(): number {
    return this.input.config.search.dfsSampledRootQuirk && this.rebound !== null ? this.rebound : 0;
  }

  // ---- BFS (reference BFS) ----

  private async bfs(): Promise<number | null> {
    const s = this.input.config.search;
    let frontier = [0];
    for (let depth = 0; depth < s.maxDepth; depth++) {
      const candidates: number[] = [];
      for (const node of frontier) {
        candidates.push(...(await this.expand(node, BFS_STOP)));
        if (this.budget === 0) break;
      }
      if (candidates.length === 0) break;
      const ranked = this.rank(candidates);
      if (this.nodes[ranked[0]].value > s.endGate) return ranked[0];
      if (this.budget === 0) break;
      frontier = this.select(ranked).selected;
    }
    return null;
  }

  // ---- DFS (reference DFS / DFS_sub) ----

  private async dfs(): Promise<number | null> {
    return this.dfsSub(0, true);
  }

  private async dfsSub(node: number, top: boolean): Promise<number | null> {
    const s = this.input.config.search;
    if (this.nodes[node].depth >= s.maxDepth) return null;
    // Note: no budget check on entry, as in the reference: once the budget is spent, each
    // further sibling still gets one judged child before `budget <= 0` stops its expansion.
    const candidates = await this.expand(node, DFS_STOP);
    if (candidates.length === 0) return null;
    const ranked = this.rank(candidates);
    if (this.nodes[ranked[0]].value > s.endGate) return ranked[0];
    if (this.budget <= 0) return null;
    const { selected, lastDrawn } = this.select(ranked);
    if (top && lastDrawn !== null) this.rebound = lastDrawn;
    for (const child of selected) {
      const found = await this.dfsSub(child, false);
      if (found !== null) return found;
    }
    return null;
  }

  // ---- shared steps ----

  /** Children ranked by value, highest first; ties keep creation order (Python's stable sort). */
  private rank(ids: number[]): number[] {
    return [...ids].sort((a, b) => this.nodes[b].value - this.nodes[a].value);
  }

  /** The next nodes to expand: greedy top min(select_branch, branch), or value-proportional draws. */
  private select(ranked: number[]): { selected: number[]; lastDrawn: number | null } {
    const s = this.input.config.search;
    const width = Math.min(s.selectBranch, s.branch);
    if (s.selection === 'greedy') return { selected: ranked.slice(0, Math.min(width, ranked.length)), lastDrawn: null };
    const values = ranked.map((id) => this.nodes[id].value);
    const drawn: number[] = [];
    let lastDrawn: number | null = null;
    for (let j = 0; j < width; j++) {
      const idx = randSelect(values, this.input.rng.search);
      lastDrawn = ranked[idx];
      if (!drawn.includes(idx)) drawn.push(idx); // duplicates skipped
    }
    return { selected: this.rank(drawn.map((i) => ranked[i])), lastDrawn };
  }

  /**
   * Creates up to `branch` children of `node`: refine, judge (with the value cache), keep. A
   * failed refinement or a tied judgment makes no child and costs no budget; every kept child
   * costs 1 and gets the next visit order; expansion stops when `stop(budget)` holds.
   */
  private async expand(node: number, stop: StopRule): Promise<number[]> {
    const { search: s } = this.input.config;
    const candidates: number[] = [];
    let done = 0;
    while (done < s.branch) {
      const count = Math.min(s.branch - done, this.branchesAtOnce(stop));
      done += count;
      const refined = await this.refine(node, count);
      const judged = await this.judgeNew(refined);
      for (const r of refined) {
        if (!r.ok) {
          this.discarded.push({ parent: node, reason: 'refine-failed', refineCalls: r.calls });
          continue;
        }
        const cachedFrom = this.cache.get(r.response);
        let judgment: Judgment;
        if (cachedFrom !== undefined) judgment = this.nodes[cachedFrom].judgment!; // the cache only names freshly judged nodes
        else {
          const outcome = judged.get(r.response)!;
          if (!outcome.ok) {
            this.discarded.push({ parent: node, reason: 'judge-tied', refineCalls: r.calls, response: r.response, tiedAttempts: tiedOf(outcome) });
            continue;
          }
          judgment = outcome.judgment;
        }
        candidates.push(this.addChild(node, r, judgment, cachedFrom));
        this.budget -= 1;
        if (stop(this.budget)) return candidates;
      }
    }
    return candidates;
  }

  /**
   * Reference order: one branch at a time. Batched: as many as can be kept before the stop rule
   * fires (each kept child costs 1), so batching never refines a branch the reference would not.
   */
  private branchesAtOnce(stop: StopRule): number {
    if (this.input.config.search.callOrder === 'reference') return 1;
    if (stop === BFS_STOP) return this.budget > 0 ? this.budget : Infinity; // == 0 never fires below 0
    return Math.max(1, this.budget); // <= 0 fires after the first kept child
  }

  private async refine(node: number, count: number): Promise<BranchRefinement[]> {
    const { instruction, refiner, config } = this.input;
    const n = this.nodes[node];
    const messages = refineMessages(config.templates, instruction, n.response, n.critique);
    return refineBranches(refiner, messages, count, config.refine, config.templates, this.input.rng.search, this.input.ctx);
  }

  /** Judges the refined texts not in the cache (each distinct text once), in one batched call. */
  private async judgeNew(refined: BranchRefinement[]): Promise<Map<string, JudgeOutcome>> {
    const texts: string[] = [];
    for (const r of refined) if (r.ok && !this.cache.has(r.response) && !texts.includes(r.response)) texts.push(r.response);
    const out = new Map<string, JudgeOutcome>();
    if (texts.length === 0) return out;
    const { instruction, refiner, config } = this.input;
    const settings = { ...config.judge, attempts: config.judge.treeAttempts, strip: false };
    const outcomes = await judgeResponses(refiner, instruction, texts, settings, config.templates, this.input.rng.judge, this.input.ctx);
    texts.forEach((t, i) => out.set(t, outcomes[i]));
    return out;
  }

  private addChild(parent: number, r: BranchRefinement & { ok: true }, judgment: Judgment, cachedFrom: number | undefined): number {
    const p = this.nodes[parent];
    const id = this.nodes.length;
    const node: TreeNode = {
      id,
      parent,
      children: [],
      depth: p.depth + 1,
      order: this.nextOrder++,
      response: r.response,
      refineTrace: r.trace,
      refineCalls: r.calls,
      critique: judgment.critiques[judgment.representative].text,
      value: judgment.value,
    };
    if (cachedFrom === undefined) {
      node.judgment = judgment;
      this.cache.set(r.response, id);
    } else node.cachedFrom = cachedFrom;
    this.nodes.push(node);
    p.children.push(id);
    return id;
  }
}

function tiedOf(o: JudgeOutcome): Critique[][] {
  return o.ok ? [] : o.tied.tiedAttempts;
}

/**
 * Reference `rand_select`: normalise, accumulate, force the last bound to 1, and walk while
 * `r >= bound`. All-zero values divide by zero in the reference; here that ends the search.
 */
export function randSelect(values: number[], rng: PyRandom): number {
  let sum = 0;
  for (const v of values) sum += v; // Python's sum(): left to right, from 0
  if (sum === 0) throw new ZeroValues();
  const bounds: number[] = [];
  let acc = 0;
  for (const v of values) {
    acc = acc + v / sum;
    bounds.push(acc);
  }
  bounds[bounds.length - 1] = 1;
  const r = rng.random();
  let i = 0;
  while (r >= bounds[i]) i++;
  return i;
}

/**
 * Reference `getBestV`: the highest value in the subtree; a later node wins ties (`>=`) because
 * each child's subtree best is compared in order against the best so far.
 */
export function bestNode(nodes: TreeNode[], id: number): [number, number] {
  const n = nodes[id];
  if (n.children.length === 0) return [id, n.value];
  let best = id;
  let bestV = n.value;
  for (const c of n.children) {
    const [sub, v] = bestNode(nodes, c);
    if (v >= bestV) {
      best = sub;
      bestV = v;
    }
  }
  return [best, bestV];
}

/**
 * Reference `getCritiqueRFT`: below `id` (itself excluded), nodes with gate < V < 1 (positive)
 * and 0 < V < gate (negative); each child's subtree is listed before the child itself.
 */
export function critiqueCandidates(nodes: TreeNode[], id: number, gate: number): { negative: number[]; positive: number[] } {
  const negative: number[] = [];
  const positive: number[] = [];
  for (const c of nodes[id].children) {
    const sub = critiqueCandidates(nodes, c, gate);
    const v = nodes[c].value;
    if (v > gate && v < 1) sub.positive.push(c);
    else if (v < gate && v > 0) sub.negative.push(c);
    negative.push(...sub.negative);
    positive.push(...sub.positive);
  }
  return { negative, positive };
}
