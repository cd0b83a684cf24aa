/**
 * Reading a run's results page by page: tree summaries (a tree's full record is loaded on
 * demand), preference pairs and RFT records with filters, and edits (text, exclude). Tree
 * summaries are cached per run, so a list of thousands of trees is read from the store once
 * and kept current as self-play writes new trees. Where a prompt has checkable constraints, a
 * tree and a page of pairs come with the checkers' results, and the judge's accuracy per
 * iteration is kept (checks.ts, judge-tallies.ts).
 */
import { LabError } from '../errors';
import { prepareFor, type IfevalRecord } from '../eval/index';
import type { SearchOutcome } from '../spar/types';
import type { PairRecord, PromptRecord, RftRecord, TreeRecord } from '../store/records';
import type { LabStoreLike } from './store';
import { recordProblems } from '../store/validate';
import { checkableRecord, checkPair, checkTree, type IterationJudge, type PairChecks, type TreeChecks } from './checks';
import { JudgeTallies } from './judge-tallies';

export interface TreeSummary {
  id: string;
  iteration: number;
  promptId: string;
  /** The prompt's position in the run (for ordering), -1 when the prompt is gone. */
  index: number;
  prompt: string;
  constraints: string[];
  status: 'done' | 'failed';
  error?: string;
  errorKind?: string;
  samples: number;
  /** Values of the judged samples (null = tied, dropped). */
  sampleValues: (number | null)[];
  outcome: SearchOutcome | null;
  nodes: number;
  depth: number;
  finalValue: number | null;
  pairs: number;
  rft: number;
  modelCalls: number;
  finishedAt: number;
  /** What is wrong with a broken record (written by an older version or by hand); absent when it is usable. */
  problems?: string[];
}

export function summarizeTree(t: TreeRecord, p?: Pick<PromptRecord, 'index' | 'instructionIds'>): TreeSummary {
  const problems = recordProblems('trees', t);
  if (problems.length) return brokenTreeSummary(t, problems, p);
  const tree = t.data.tree;
  const final = tree && tree.finalNode !== null ? tree.nodes[tree.finalNode] : null;
  return {
    id: t.id,
    iteration: t.iteration,
    promptId: t.promptId,
    index: p?.index ?? -1,
    prompt: t.data.prompt,
    constraints: p?.instructionIds ?? [],
    status: t.status,
    ...(t.error ? { error: t.error, errorKind: t.errorKind } : {}),
    samples: t.data.samples.length,
    sampleValues: t.data.samples.map((s) => (s.judge.ok ? s.judge.judgment.value : null)),
    outcome: tree?.outcome ?? null,
    nodes: tree?.nodes.length ?? 0,
    depth: tree ? Math.max(...tree.nodes.map((n) => n.depth)) : 0,
    finalValue: final ? final.value : null,
    pairs: t.outputs.pairs,
    rft: t.outputs.rft,
    modelCalls: t.data.stats.modelCalls,
    finishedAt: t.finishedAt,
  };
}

/** A broken tree's row: what can be read of it, and its problems (the list shows it as broken). */
function brokenTreeSummary(t: TreeRecord, problems: string[], p?: Pick<PromptRecord, 'index' | 'instructionIds'>): TreeSummary {
  const data = (typeof t.data === 'object' && t.data !== null ? t.data : {}) as Partial<TreeRecord['data']>;
  return {
    id: String(t.id),
    iteration: Number.isInteger(t.iteration) ? t.iteration : -1,
    promptId: String(t.promptId),
    index: p?.index ?? -1,
    prompt: typeof data.prompt === 'string' ? data.prompt : '',
    constraints: p?.instructionIds ?? [],
    status: t.status === 'done' ? 'done' : 'failed',
    samples: 0,
    sampleValues: [],
    outcome: null,
    nodes: 0,
    depth: 0,
    finalValue: null,
    pairs: 0,
    rft: 0,
    modelCalls: 0,
    finishedAt: typeof t.finishedAt === 'number' ? t.finishedAt : 0,
    problems,
  };
}

export interface TreeFilter {
  /** Only this tree: asks whether it passes the other filters (total 1) or not (total 0). */
  id?: string;
  iteration?: number;
  /** Case-insensitive search in the prompt text and constraint ids. */
  query?: string;
  /** 'refined': has a tree with children; 'pairs': yielded a pair; 'failed': a model call failed. */
  show?: 'all' | 'refined' | 'pairs' | 'no-tree' | 'failed';
  offset?: number;
  limit?: number;
}

export interface Page<T> {
  items: T[];
  total: number;
}

export interface RecordFilter {
  iteration?: number;
  query?: string;
  excluded?: 'all' | 'kept' | 'excluded';
  /** RFT only: one kind. */
  kind?: string;
  offset?: number;
  limit?: number;
}

export type PairPatch = Partial<Pick<PairRecord, 'chosen' | 'rejected' | 'excluded'>>;
export type RftPatch = Partial<Pick<RftRecord, 'messages' | 'excluded'>>;

export class BrowseService {
  private readonly summaries = new Map<string, Promise<Map<string, TreeSummary>>>();
  private readonly tallies: JudgeTallies;

  constructor(private readonly store: LabStoreLike) {
    this.tallies = new JudgeTallies(store);
  }

  /** Tree summaries of a run, filtered, in prompt order within each iteration. */
  async trees(runId: string, f: TreeFilter = {}): Promise<Page<TreeSummary> & { iterations: number[] }> {
    const all = [...(await this.summaryMap(runId)).values()];
    const iterations = [...new Set(all.map((s) => s.iteration))].filter((it) => it >= 0).sort((a, b) => a - b);
    const q = f.query?.trim().toLowerCase();
    const list = all
      .filter((s) => (f.id === undefined || s.id === f.id) && (f.iteration === undefined || s.iteration === f.iteration))
      .filter((s) => !q || s.prompt.toLowerCase().includes(q) || s.constraints.some((c) => c.includes(q)) || s.promptId === q)
      .filter((s) => {
        switch (f.show ?? 'all') {
          case 'refined':
            return s.nodes > 1;
          case 'pairs':
            return s.pairs > 0;
          case 'no-tree':
            return s.nodes === 0 && s.status === 'done';
          case 'failed':
            return s.status === 'failed';
          default:
            return true;
        }
      })
      .sort((a, b) => a.iteration - b.iteration || a.index - b.index || (a.promptId < b.promptId ? -1 : 1));
    const offset = f.offset ?? 0;
    return { items: list.slice(offset, offset + (f.limit ?? 50)), total: list.length, iterations };
  }

  /** One tree with its prompt, and the checkers' results when the prompt has checkable constraints. */
  async tree(runId: string, id: string): Promise<{ tree: TreeRecord; prompt: PromptRecord | null; checks: TreeChecks | null }> {
    const tree = await this.store.get('trees', runId, id);
    if (!tree) throw new LabError('not-found', `No tree ${id} in this run.`);
    const prompt = (await this.store.get('prompts', runId, tree.promptId)) ?? null;
    const rec = recordProblems('trees', tree).length ? null : checkableRecord(prompt);
    if (rec) await prepareFor([rec]);
    return { tree, prompt, checks: rec ? checkTree(tree.data, rec) : null };
  }

  /** The judge's accuracy against the checkers per iteration, over checkable samples and tree nodes. */
  judgeAccuracy(runId: string): Promise<IterationJudge[]> {
    return this.tallies.byIteration(runId);
  }

  /** Keeps the cached list current when self-play writes a tree. */
  async noteTree(tree: TreeRecord): Promise<TreeSummary> {
    const prompt = await this.store.get('prompts', tree.runId, tree.promptId);
    const summary = summarizeTree(tree, prompt);
    const cached = this.summaries.get(tree.runId);
    if (cached) (await cached).set(tree.id, summary);
    await this.tallies.note(tree);
    return summary;
  }

  /** Forgets a run's cached summaries and judge tallies (after an import, a delete). */
  forget(runId: string): void {
    this.summaries.delete(runId);
    this.tallies.forget(runId);
  }

  /** A page of pairs, with the checkers' results per pair (`checks[i]` for `items[i]`; null: nothing to check). */
  async pairs(runId: string, f: RecordFilter = {}): Promise<Page<PairRecord> & { checks: (PairChecks | null)[] }> {
    const q = f.query?.trim().toLowerCase();
    const list = (await this.store.list('pairs', runId)).filter(
      (p) =>
        keep(p, f) &&
        (!q || [p.prompt, p.chosen, p.rejected].some((t) => lower(t).includes(q))),
    );
    const shown = page(list, f);
    const intact = shown.items.map((p) => recordProblems('pairs', p).length === 0);
    const records = new Map<string, IfevalRecord | null>();
    for (const [i, p] of shown.items.entries()) {
      if (intact[i] && !records.has(p.promptId)) records.set(p.promptId, checkableRecord(await this.store.get('prompts', runId, p.promptId)));
    }
    await prepareFor([...records.values()].filter((r) => r !== null));
    const checks = shown.items.map((p, i) => {
      const rec = intact[i] ? records.get(p.promptId) : null;
      return rec ? checkPair(rec, p) : null;
    });
    return { ...shown, checks };
  }

  async rft(runId: string, f: RecordFilter = {}): Promise<Page<RftRecord>> {
    const q = f.query?.trim().toLowerCase();
    const list = (await this.store.list('rft', runId)).filter(
      (r) => keep(r, f) && (!f.kind || r.kind === f.kind) && (!q || (Array.isArray(r.messages) && r.messages.some((m) => lower(m?.content).includes(q)))),
    );
    return page(list, f);
  }

  async updatePair(runId: string, id: string, patch: PairPatch): Promise<PairRecord> {
    const p = await this.store.get('pairs', runId, id);
    if (!p) throw new LabError('not-found', `No pair ${id} in this run.`);
    for (const k of ['chosen', 'rejected'] as const) {
      if (patch[k] !== undefined && !patch[k]!.trim()) throw new LabError('invalid-input', `The ${k} response cannot be empty; exclude the pair instead.`);
    }
    const next: PairRecord = { ...p, ...pick(patch, ['chosen', 'rejected', 'excluded']) };
    await this.store.put('pairs', next);
    return next;
  }

  async updateRft(runId: string, id: string, patch: RftPatch): Promise<RftRecord> {
    const r = await this.store.get('rft', runId, id);
    if (!r) throw new LabError('not-found', `No RFT record ${id} in this run.`);
    if (patch.messages) {
      if (patch.messages.length !== r.messages.length || patch.messages.some((m, i) => m.role !== r.messages[i].role)) {
        throw new LabError('invalid-input', 'Edit the text of the messages; their number and roles stay as they are.');
      }
      if (patch.messages.some((m) => typeof m.content !== 'string' || !m.content.trim())) throw new LabError('invalid-input', 'A message cannot be empty; exclude the record instead.');
    }
    const next: RftRecord = { ...r, ...pick(patch, ['messages', 'excluded']) };
    await this.store.put('rft', next);
    return next;
  }

  private summaryMap(runId: string): Promise<Map<string, TreeSummary>> {
    let m = this.summaries.get(runId);
    if (!m) {
      m = (async () => {
        const prompts = new Map((await this.store.list('prompts', runId)).map((p) => [p.id, p]));
        const trees = await this.store.list('trees', runId);
        return new Map(trees.map((t) => [t.id, summarizeTree(t, prompts.get(t.promptId))]));
      })();
      m.catch(() => this.summaries.delete(runId));
      this.summaries.set(runId, m);
    }
    return m;
  }
}

function keep(r: { iteration: number; excluded: boolean }, f: RecordFilter): boolean {
  if (f.iteration !== undefined && r.iteration !== f.iteration) return false;
  if (f.excluded === 'kept') return !r.excluded;
  if (f.excluded === 'excluded') return r.excluded;
  return true;
}

/** Search text of a field that a broken record may lack. */
function lower(x: unknown): string {
  return typeof x === 'string' ? x.toLowerCase() : '';
}

function page<T>(list: T[], f: RecordFilter): Page<T> {
  const offset = f.offset ?? 0;
  return { items: list.slice(offset, offset + (f.limit ?? 50)), total: list.length };
}

function pick<T extends object, K extends keyof T>(o: T, keys: K[]): Partial<T> {
  const out: Partial<T> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
