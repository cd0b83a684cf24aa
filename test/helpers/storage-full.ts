/**
 * Storage that fills up, and Web Locks shared by "tabs", for the lab's services in Node.
 *
 * FillingStore is the in-memory lab store whose writes fail, once `writesLeft` runs out, as
 * LabStore's do on a full quota (a QuotaExceededError mapped by storageError); deletes still
 * work, as they do in browsers, since they free space.
 */
import type { LocksLike } from '../../src/lab/jobs';
import { storageError, type ChildPut } from '../../src/store/lab-store';
import type { RunRecord } from '../../src/store/records';
import { MemoryLabStore } from './memory-lab-store';

export class FillingStore extends MemoryLabStore {
  /** Writes (transactions) that still fit; Infinity: storage has room. */
  writesLeft = Infinity;

  override async putAll(items: ChildPut[]): Promise<void> {
    this.spend();
    return super.putAll(items);
  }

  override async updateRun(runId: string, patch: Partial<Omit<RunRecord, 'id' | 'createdAt'>>): Promise<RunRecord> {
    this.spend();
    return super.updateRun(runId, patch);
  }

  private spend(): void {
    if (this.writesLeft <= 0) throw storageError(new DOMException('The quota has been exceeded.', 'QuotaExceededError'), 'Writing to the database failed; nothing from this write was saved');
    this.writesLeft--;
  }
}

/** Web Locks as the tabs of one browser share them: `ifAvailable` requests only, as the lab makes. */
export class SharedLocks implements LocksLike {
  private readonly held = new Set<string>();

  async request<T>(name: string, _options: { ifAvailable: boolean }, callback: (lock: unknown) => Promise<T>): Promise<T> {
    if (this.held.has(name)) return callback(null);
    this.held.add(name);
    try {
      return await callback({ name });
    } finally {
      this.held.delete(name);
    }
  }

  async query(): Promise<{ held: { name: string }[] }> {
    return { held: [...this.held].map((name) => ({ name })) };
  }
}
