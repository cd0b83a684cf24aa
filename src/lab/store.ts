/**
 * The store verbs the lab's services use: `LabStore` (IndexedDB) has them all; tests give the
 * services an in-memory store with the same semantics.
 */
import type { LabStore } from '../store/lab-store';

export type LabStoreLike = Pick<LabStore, 'getRun' | 'updateRun' | 'listRuns' | 'list' | 'get' | 'put' | 'putAll' | 'count' | 'delete'>;
