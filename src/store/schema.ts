/**
 * The database layout and how it grows. `MIGRATIONS[i]` takes a database from version i to
 * version i + 1, so a browser holding any older version walks forward through every step and
 * keeps its data. Never edit a released migration: append a new one.
 */
import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from 'idb';
import type { ChildStores, RunRecord } from './records';
import { CHILD_STORES } from './records';

export const DB_NAME = 'spar-lab';

type ChildSchema = {
  [S in keyof ChildStores]: {
    key: [string, string];
    value: ChildStores[S];
    indexes: S extends 'trees' ? { byPrompt: [string, string] } : Record<never, never>;
  };
};

export interface LabSchema extends DBSchema, ChildSchema {
  runs: { key: string; value: RunRecord; indexes: { byUpdated: number } };
}

export type LabDb = IDBPDatabase<LabSchema>;
type UpgradeTx = IDBPTransaction<LabSchema, StoreNames<LabSchema>[], 'versionchange'>;

type Migration = (db: LabDb, tx: UpgradeTx) => void;

export const MIGRATIONS: readonly Migration[] = [
  // v1: runs, and one store per kind of run record keyed by [runId, id].
  (db) => {
    const runs = db.createObjectStore('runs', { keyPath: 'id' });
    runs.createIndex('byUpdated', 'updatedAt');
    for (const name of CHILD_STORES) db.createObjectStore(name, { keyPath: ['runId', 'id'] });
  },
  // v2: resume looks up a prompt's finished trees; index them by [runId, promptId].
  (_db, tx) => {
    tx.objectStore('trees').createIndex('byPrompt', ['runId', 'promptId']);
  },
];

export const DB_VERSION = MIGRATIONS.length;

/** Runs migrations oldVersion..newVersion-1 inside the upgrade transaction. */
export function upgrade(db: LabDb, oldVersion: number, newVersion: number, tx: UpgradeTx): void {
  for (let v = oldVersion; v < newVersion; v++) MIGRATIONS[v](db, tx);
}

/** The key range of every record of one run in a child store. */
export function runRange(runId: string): IDBKeyRange {
  // Arrays sort after strings in IndexedDB, so [runId, []] is above every [runId, <string>].
  return IDBKeyRange.bound([runId], [runId, []]);
}
