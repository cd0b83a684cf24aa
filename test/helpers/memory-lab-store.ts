/**
 * LabStore's verbs in memory, with its semantics (records copied, lists ordered by id, writes
 * atomic, unknown runs refused), so the lab's services can be tested in Node.
 */
import { LabError } from '../../src/errors';
import type { ChildPut, NewRun, RunSummary } from '../../src/store/lab-store';
import { CHILD_STORES, type ChildStoreName, type ChildStores, type RunRecord } from '../../src/store/records';
import type { LabStoreLike } from '../../src/lab/store';

export class MemoryLabStore implements LabStoreLike {
  private runs = new Map<string, RunRecord>();
  private stores = new Map<ChildStoreName, Map<string, unknown>>();
  private clock = 0;
  /** Counts writes per store (to check that something was or was not written). */
  writes = 0;

  async createRun(input: NewRun): Promise<RunRecord> {
    const now = ++this.clock;
    const run: RunRecord = { id: `run${now}`, name: input.name, createdAt: now, updatedAt: now, status: 'new', config: input.config ?? {}, notes: '' };
    this.runs.set(run.id, structuredClone(run));
    return run;
  }

  async getRun(runId: string): Promise<RunRecord> {
    const r = this.runs.get(runId);
    if (!r) throw new LabError('not-found', `No run with id ${runId}.`);
    return structuredClone(r);
  }

  async listRuns(): Promise<RunSummary[]> {
    const out: RunSummary[] = [];
    for (const run of [...this.runs.values()].sort((a, b) => b.updatedAt - a.updatedAt)) {
      const counts = {} as Record<ChildStoreName, number>;
      for (const s of CHILD_STORES) counts[s] = await this.count(s, run.id);
      out.push({ ...structuredClone(run), counts });
    }
    return out;
  }

  async updateRun(runId: string, patch: Partial<Omit<RunRecord, 'id' | 'createdAt'>>): Promise<RunRecord> {
    const run = await this.getRun(runId);
    const next = { ...run, ...structuredClone(patch), id: run.id, createdAt: run.createdAt, updatedAt: ++this.clock };
    this.runs.set(runId, next);
    return structuredClone(next);
  }

  async put<S extends ChildStoreName>(store: S, records: ChildStores[S] | ChildStores[S][]): Promise<void> {
    const list = Array.isArray(records) ? records : [records];
    await this.putAll(list.map((record) => ({ store, record }) as ChildPut));
  }

  async putAll(items: ChildPut[]): Promise<void> {
    for (const i of items) if (!this.runs.has(i.record.runId)) throw new LabError('not-found', `No run with id ${i.record.runId}; nothing was written.`);
    const copies = items.map((i) => ({ store: i.store, key: key(i.record.runId, i.record.id), record: structuredClone(i.record) }));
    for (const c of copies) {
      let m = this.stores.get(c.store);
      if (!m) this.stores.set(c.store, (m = new Map()));
      m.set(c.key, c.record);
    }
    this.writes++;
  }

  async get<S extends ChildStoreName>(store: S, runId: string, id: string): Promise<ChildStores[S] | undefined> {
    const r = this.stores.get(store)?.get(key(runId, id));
    return r === undefined ? undefined : (structuredClone(r) as ChildStores[S]);
  }

  async list<S extends ChildStoreName>(store: S, runId: string): Promise<ChildStores[S][]> {
    const m = this.stores.get(store);
    if (!m) return [];
    return [...m.values()]
      .filter((r) => (r as { runId: string }).runId === runId)
      .sort((a, b) => ((a as { id: string }).id < (b as { id: string }).id ? -1 : 1))
      .map((r) => structuredClone(r) as ChildStores[S]);
  }

  async count(store: ChildStoreName, runId: string): Promise<number> {
    return (await this.list(store, runId)).length;
  }

  async delete(store: ChildStoreName, runId: string, id: string): Promise<void> {
    this.stores.get(store)?.delete(key(runId, id));
  }
}

function key(runId: string, id: string): string {
  return JSON.stringify([runId, id]);
}
