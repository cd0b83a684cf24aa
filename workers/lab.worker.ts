/// <reference lib="webworker" />
/**
 * The lab worker: owns the store (and, as the lab grows, the GPU device and the run loop), so
 * the page never blocks on heavy work. Requests arrive through the protocol in protocol.ts.
 */
import { probeWebGpu } from '../src/engine/gpu/report';
import { LabStore, storageReport } from '../src/store/lab-store';
import { archiveFileName, archiveFromBlob, archiveToBlob, exportRun, importRun } from '../src/store/archive';
import type { Handlers } from './protocol';
import { serve, type Endpoint } from './rpc';

let storePromise: Promise<LabStore> | undefined;
function store(): Promise<LabStore> {
  // Retry opening after a failure (e.g. the user closed the tab that blocked an upgrade).
  storePromise ??= LabStore.open().catch((e) => {
    storePromise = undefined;
    throw e;
  });
  return storePromise;
}

const handlers: Handlers = {
  'gpu.report': () => probeWebGpu(),
  'storage.report': () => storageReport(),
  'runs.list': async () => (await store()).listRuns(),
  'runs.create': async ({ name, config }) => (await store()).createRun({ name, config }),
  'runs.rename': async ({ runId, name }) => {
    const trimmed = name.trim();
    const s = await store();
    return trimmed ? s.updateRun(runId, { name: trimmed }) : s.getRun(runId);
  },
  'runs.delete': async ({ runId }) => {
    await (await store()).deleteRun(runId);
    return null;
  },
  'runs.export': async ({ runId }, { progress }) => {
    const s = await store();
    progress({ label: 'Reading the run', done: 0 });
    const archive = await exportRun(s, runId);
    return { fileName: archiveFileName(archive.run), blob: archiveToBlob(archive) };
  },
  'runs.import': async ({ file, asCopy }, { progress }) => {
    progress({ label: 'Reading the archive', done: 0 });
    const archive = await archiveFromBlob(file);
    progress({ label: 'Writing the run', done: 0 });
    return importRun(await store(), archive, { asCopy: asCopy ?? true });
  },
};

const endpoint = self as unknown as Endpoint;
serve(endpoint, handlers).emit({ type: 'ready' });
