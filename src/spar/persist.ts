/**
 * What the pipeline needs from storage, and nothing more: read a run's trees (to resume) and
 * write one instruction's records all-or-nothing. `LabStore` (IndexedDB) satisfies it as is;
 * `MemoryPersistence` is the same contract in memory (Node, CLI, tests).
 */
import { LabError } from '../errors';
import type { ChildPut } from '../store/lab-store';
import type { ChildStoreName, ChildStores } from '../store/records';

export interface SparPersistence {
  /** Every tree record of a run. */
  list(store: 'trees', runId: string): Promise<ChildStores['trees'][]>;
  /** Writes records of several kinds in one transaction: all land or none do. */
  putAll(items: ChildPut[]): Promise<void>;
}

/** In-memory store with LabStore's semantics: records are copied, ordered by id, writes atomic. */
export class MemoryPersistence implements SparPersistence {
  private readonly stores = new Map<ChildStoreName, Map<string, unknown>>();

  constructor(readonly runIds: Set<string> = new Set()) {}

  async list<S extends ChildStoreName>(store: S, runId: string): Promise<ChildStores[S][]> {
    const map = this.stores.get(store);
    if (!map) return [];
    return [...map.entries()]
      .filter(([, r]) => (r as { runId: string }).runId === runId)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, r]) => structuredClone(r) as ChildStores[S]);
  }

  async putAll(items: ChildPut[]): Promise<void> {
    // Validate and copy everything first, so a bad record leaves the store untouched.
    const copies = items.map((i) => {
      if (this.runIds.size && !this.runIds.has(i.record.runId)) {
        throw new LabError('not-found', `No run with id ${i.record.runId}; nothing was written.`);
      }
      return { store: i.store, key: JSON.stringify([i.record.runId, i.record.id]), record: structuredClone(i.record) };
    });
    for (const c of copies) {
      let map = this.stores.get(c.store);
      if (!map) this.stores.set(c.store, (map = new Map()));
      map.set(c.key, c.record);
    }
  }
}
