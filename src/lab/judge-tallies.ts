/**
 * The judge's accuracy per iteration of a run, from its stored trees (src/lab/checks.ts). Each
 * tree is checked once: the tallies are cached per run, read from the store on first use and
 * kept current as self-play writes trees, so asking again after every finished tree is cheap.
 */
import { prepareFor, type IfevalRecord } from '../eval/index';
import type { TreeRecord } from '../store/records';
import { recordProblems } from '../store/validate';
import { checkableRecord, checkTree, judgeAccuracyByIteration, tallyTree, type IterationJudge, type JudgeTally } from './checks';
import type { LabStoreLike } from './store';

type Tallied = { iteration: number; tally: JudgeTally };

export class JudgeTallies {
  private readonly runs = new Map<string, Promise<Map<string, Tallied>>>();

  constructor(private readonly store: LabStoreLike) {}

  /** Iterations with at least one checkable tree, in order. */
  async byIteration(runId: string): Promise<IterationJudge[]> {
    return judgeAccuracyByIteration((await this.load(runId)).values());
  }

  /** Re-tallies a tree self-play just wrote (only when the run's tallies are cached). */
  async note(tree: TreeRecord): Promise<void> {
    const cached = this.runs.get(tree.runId);
    if (!cached) return;
    const rec = checkableRecord(await this.store.get('prompts', tree.runId, tree.promptId));
    if (rec) await prepareFor([rec]);
    const map = await cached;
    const t = tally(tree, rec);
    if (t) map.set(tree.id, t);
    else map.delete(tree.id);
  }

  forget(runId: string): void {
    this.runs.delete(runId);
  }

  private load(runId: string): Promise<Map<string, Tallied>> {
    let m = this.runs.get(runId);
    if (!m) {
      m = (async () => {
        const records = new Map<string, IfevalRecord>();
        for (const p of await this.store.list('prompts', runId)) {
          const rec = checkableRecord(p);
          if (rec) records.set(p.id, rec);
        }
        await prepareFor([...records.values()]);
        const out = new Map<string, Tallied>();
        for (const tree of await this.store.list('trees', runId)) {
          const t = tally(tree, records.get(tree.promptId) ?? null);
          if (t) out.set(tree.id, t);
        }
        return out;
      })();
      m.catch(() => this.runs.delete(runId));
      this.runs.set(runId, m);
    }
    return m;
  }
}

/** A tree's tally; null when its prompt has nothing to check or the record is broken. */
function tally(tree: TreeRecord, rec: IfevalRecord | null): Tallied | null {
  if (!rec || recordProblems('trees', tree).length) return null;
  return { iteration: tree.iteration, tally: tallyTree(tree.data, checkTree(tree.data, rec)) };
}
