/**
 * The lab's IndexedDB store, behind a few verbs. Every write is one transaction: it lands
 * whole or not at all. Browser failures come back as LabErrors that say what to do
 * (storage full, another tab blocking an upgrade, a database from a newer lab).
 */
import { openDB, type IDBPTransaction } from 'idb';
import { LabError } from '../errors';
import { CHILD_STORES, type ChildStoreName, type ChildStores, type RunRecord } from './records';
import { DB_NAME, DB_VERSION, type LabDb, type LabSchema, runRange, upgrade } from './schema';

export interface NewRun {
  name: string;
  config?: Record<string, unknown>;
  notes?: string;
}

export interface RunSummary extends RunRecord {
  counts: Record<ChildStoreName, number>;
}

/** One record for one child store, for writes that span several stores atomically. */
export type ChildPut = { [S in ChildStoreName]: { store: S; record: ChildStores[S] } }[ChildStoreName];

export interface StorageReport {
  persisted: boolean | null;
  usage: number | null;
  quota: number | null;
}

export class LabStore {
  private constructor(
    readonly db: LabDb,
    readonly name: string,
  ) {}

  /** Opens (creating or upgrading) the database. Rejects with kind 'blocked' or 'version'. */
  static async open(name = DB_NAME, version = DB_VERSION): Promise<LabStore> {
    if (typeof indexedDB === 'undefined') {
      throw new LabError('storage', 'This browser has no IndexedDB (private mode in some browsers disables it).');
    }
    let settled = false;
    let db: LabDb | undefined;
    return new Promise<LabStore>((resolve, reject) => {
      const fail = (e: LabError) => {
        settled = true;
        reject(e);
      };
      openDB<LabSchema>(name, version, {
        upgrade: (db, oldVersion, newVersion, tx) => upgrade(db, oldVersion, newVersion ?? version, tx),
        blocked: (currentVersion) =>
          fail(
            new LabError(
              'blocked',
              `The lab's database must be upgraded (v${currentVersion} → v${version}) but another SPaR Lab ` +
                'tab or window still has it open. Close the other SPaR Lab tabs, then reload this one. ' +
                'Nothing was changed.',
            ),
          ),
        // Another tab wants to upgrade: step aside rather than block it.
        blocking: () => db?.close(),
        terminated: () => undefined,
      }).then(
        (opened) => {
          db = opened;
          // Opened after we already gave up (the blocker closed later): do not leak the connection.
          if (settled) opened.close();
          else resolve(new LabStore(opened, name));
        },
        (e) => {
          if (settled) return;
          if (e instanceof DOMException && e.name === 'VersionError') {
            fail(
              new LabError(
                'version',
                'This browser holds SPaR Lab data written by a newer version of the lab. Reload the page ' +
                  '(Ctrl+Shift+R) to get the newest version; your data was not touched.',
              ),
            );
          } else fail(storageError(e, 'Could not open the database'));
        },
      );
    });
  }

  close(): void {
    this.db.close();
  }

  // ---- runs ----

  async createRun(input: NewRun): Promise<RunRecord> {
    const name = input.name.trim();
    if (!name) throw new LabError('invalid-input', 'A run needs a name.');
    const now = Date.now();
    const run: RunRecord = {
      id: newId(),
      name,
      createdAt: now,
      updatedAt: now,
      status: 'new',
      config: input.config ?? {},
      notes: input.notes ?? '',
    };
    await this.write(['runs'], (tx) => tx.objectStore('runs').add(run));
    return run;
  }

  async getRun(runId: string): Promise<RunRecord> {
    const run = await this.read(() => this.db.get('runs', runId));
    if (!run) throw new LabError('not-found', `No run with id ${runId}.`);
    return run;
  }

  async hasRun(runId: string): Promise<boolean> {
    return (await this.read(() => this.db.getKey('runs', runId))) !== undefined;
  }

  /**
   * All runs, most recently updated first, with how many records of each kind they hold. Read
   * from the store, not the byUpdated index: a run without a usable updatedAt is missing from
   * the index, and must still be listed (as broken, last).
   */
  async listRuns(): Promise<RunSummary[]> {
    return this.read(async () => {
      const tx = this.db.transaction(['runs', ...CHILD_STORES], 'readonly');
      const updated = (r: RunRecord) => (typeof r.updatedAt === 'number' && !Number.isNaN(r.updatedAt) ? r.updatedAt : -Infinity);
      const runs = (await tx.objectStore('runs').getAll()).sort((a, b) => updated(b) - updated(a) || 0);
      const summaries = await Promise.all(
        runs.map(async (run) => {
          const counts = {} as Record<ChildStoreName, number>;
          for (const s of CHILD_STORES) counts[s] = await tx.objectStore(s).count(runRange(run.id));
          return { ...run, counts };
        }),
      );
      await tx.done;
      return summaries;
    });
  }

  async updateRun(runId: string, patch: Partial<Omit<RunRecord, 'id' | 'createdAt'>>): Promise<RunRecord> {
    let updated: RunRecord | undefined;
    await this.write(['runs'], async (tx) => {
      const runs = tx.objectStore('runs');
      const run = await runs.get(runId);
      if (!run) throw new LabError('not-found', `No run with id ${runId}.`);
      updated = { ...run, ...patch, id: run.id, createdAt: run.createdAt, updatedAt: Date.now() };
      await runs.put(updated);
    });
    return updated!;
  }

  /** Deletes a run and every record it owns, in one transaction. */
  async deleteRun(runId: string): Promise<void> {
    await this.write(['runs', ...CHILD_STORES], async (tx) => {
      if ((await tx.objectStore('runs').getKey(runId)) === undefined) {
        throw new LabError('not-found', `No run with id ${runId}.`);
      }
      await tx.objectStore('runs').delete(runId);
      for (const s of CHILD_STORES) await tx.objectStore(s).delete(runRange(runId));
    });
  }

  // ---- run records ----

  /** Writes records of one kind, all or none. */
  async put<S extends ChildStoreName>(store: S, records: ChildStores[S] | ChildStores[S][]): Promise<void> {
    const list = Array.isArray(records) ? records : [records];
    await this.putAll(list.map((record) => ({ store, record }) as ChildPut));
  }

  /**
   * Writes records of several kinds in one transaction (e.g. a finished tree with its pairs and
   * RFT records) and touches their runs' updatedAt, all or none.
   */
  async putAll(items: ChildPut[]): Promise<void> {
    if (items.length === 0) return;
    const stores = [...new Set(items.map((i) => i.store))];
    const runIds = [...new Set(items.map((i) => i.record.runId))];
    await this.write(['runs', ...stores], async (tx) => {
      for (const runId of runIds) {
        const run = await tx.objectStore('runs').get(runId);
        if (!run) throw new LabError('not-found', `No run with id ${runId}; nothing was written.`);
        await tx.objectStore('runs').put({ ...run, updatedAt: Date.now() });
      }
      await issueAll((add) => {
        for (const i of items) add(tx.objectStore(i.store).put(i.record as never));
      });
    });
  }

  async get<S extends ChildStoreName>(store: S, runId: string, id: string): Promise<ChildStores[S] | undefined> {
    return this.read(() => this.db.get(store, [runId, id]) as Promise<ChildStores[S] | undefined>);
  }

  /** Every record of one kind that a run owns, ordered by id. */
  async list<S extends ChildStoreName>(store: S, runId: string): Promise<ChildStores[S][]> {
    return this.read(() => this.db.getAll(store, runRange(runId)) as Promise<ChildStores[S][]>);
  }

  async count(store: ChildStoreName, runId: string): Promise<number> {
    return this.read(() => this.db.count(store, runRange(runId)));
  }

  /** Trees of one prompt (any iteration), via the v2 index. */
  async treesOfPrompt(runId: string, promptId: string): Promise<ChildStores['trees'][]> {
    return this.read(() => this.db.getAllFromIndex('trees', 'byPrompt', [runId, promptId]));
  }

  async delete(store: ChildStoreName, runId: string, id: string): Promise<void> {
    await this.write([store], (tx) => tx.objectStore(store).delete([runId, id]));
  }

  /**
   * Replaces a whole run (the run record and everything it owns) in one transaction. Used by
   * import; fails with 'exists' if the run is there and `replace` is false.
   */
  async writeWholeRun(
    run: RunRecord,
    records: { [S in ChildStoreName]?: ChildStores[S][] },
    replace = false,
  ): Promise<void> {
    await this.write(['runs', ...CHILD_STORES], async (tx) => {
      const runs = tx.objectStore('runs');
      if ((await runs.getKey(run.id)) !== undefined) {
        if (!replace) throw new LabError('exists', `A run with id ${run.id} ("${run.name}") already exists.`);
        for (const s of CHILD_STORES) await tx.objectStore(s).delete(runRange(run.id));
      }
      await issueAll((add) => {
        add(runs.put(run));
        for (const s of CHILD_STORES) {
          for (const r of records[s] ?? []) {
            if (r.runId !== run.id) throw new LabError('invalid-input', `A ${s} record belongs to another run.`);
            add(tx.objectStore(s).put(r as never));
          }
        }
      });
    });
  }

  // ---- plumbing ----

  private async read<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw storageError(e, 'Reading from the database failed');
    }
  }

  /**
   * Runs `fn` in one readwrite transaction over `stores` and waits for the commit. If anything
   * fails (including the commit itself, e.g. on a full quota) the transaction is aborted, so
   * no part of the write is kept.
   */
  private async write<N extends 'runs' | ChildStoreName>(
    stores: N[],
    fn: (tx: IDBPTransaction<LabSchema, N[], 'readwrite'>) => unknown,
  ): Promise<void> {
    const tx = this.db.transaction(stores, 'readwrite');
    try {
      await fn(tx);
      await tx.done;
    } catch (e) {
      try {
        tx.abort();
      } catch {
        // already finished or aborted
      }
      await tx.done.catch(() => undefined);
      throw storageError(e, 'Writing to the database failed; nothing from this write was saved');
    }
  }
}

/**
 * Issues many requests before awaiting any (one round trip per transaction, not per record).
 * If issuing throws midway (the transaction then aborts), the requests already issued reject
 * too; they are marked handled so only the first error surfaces.
 */
async function issueAll(issue: (add: (p: Promise<unknown>) => void) => void): Promise<void> {
  const issued: Promise<unknown>[] = [];
  try {
    issue((p) => issued.push(p));
  } catch (e) {
    for (const p of issued) p.catch(() => undefined);
    throw e;
  }
  await Promise.all(issued);
}

/** Maps IndexedDB/DOM failures to LabErrors with advice; keeps LabErrors as they are. */
export function storageError(e: unknown, context: string): LabError {
  if (e instanceof LabError) return e;
  const name = e instanceof DOMException || e instanceof Error ? e.name : '';
  const detail = e instanceof Error || e instanceof DOMException ? e.message : String(e);
  if (name === 'QuotaExceededError') {
    return new LabError(
      'quota',
      'Browser storage is full, so this write was not saved (nothing was half-written). Export and delete old ' +
        'runs or cached models, or allow persistent storage, then try again.',
      { cause: e },
    );
  }
  if (name === 'DataCloneError') {
    return new LabError('internal', `${context}: a record could not be stored (${detail}).`, { cause: e });
  }
  return new LabError('storage', `${context}: ${name ? name + ': ' : ''}${detail}`, { cause: e });
}

export function newId(): string {
  return crypto.randomUUID();
}

/** Persistent storage and how much is used; fields are null where the browser does not say. */
export async function storageReport(requestPersist = false): Promise<StorageReport> {
  const storage = (globalThis.navigator as Navigator | undefined)?.storage;
  if (!storage) return { persisted: null, usage: null, quota: null };
  let persisted: boolean | null = null;
  try {
    persisted = requestPersist && 'persist' in storage ? await storage.persist() : await storage.persisted();
  } catch {
    persisted = null;
  }
  try {
    const est = await storage.estimate();
    return { persisted, usage: est.usage ?? null, quota: est.quota ?? null };
  } catch {
    return { persisted, usage: null, quota: null };
  }
}
