/// <reference lib="webworker" />
/**
 * The lab worker: owns the store, the models and the run loop, so the page never blocks on
 * heavy work. Requests arrive through the protocol in protocol.ts; this file is the table from
 * protocol methods to the services in src/lab.
 */
import { LabError } from '../src/errors';
import { probeWebGpu } from '../src/engine/gpu/report';
import { createLab, type Lab } from '../src/lab/index';
import { chooseLabEngine, chosenEngine } from '../src/lab/engine';
import { exportFile } from '../src/lab/exports';
import { jobTitle, type LocksLike } from '../src/lab/jobs';
import { ModelHost } from '../src/lab/models';
import { asRecovered, recoverInterrupted } from '../src/lab/recovery';
import { deleteStoredModel, listStoredModels, modelDetails } from '../src/models/model-cache';
import { connectWebLlm } from './webllm-link';
import { connectTransformers } from './transformers-link';
import { applyConfigPatch, type RunConfigPatch } from '../src/lab/run-config';
import { LabStore, storageReport, type RunSummary } from '../src/store/lab-store';
import { CHILD_STORES } from '../src/store/records';
import { archiveFileName, archiveFromBlob, archiveToBlob, exportRun, importRun } from '../src/store/archive';
import type { Handlers, LabEvent } from './protocol';
import { serve, type Endpoint } from './rpc';
import { linkTabs, type StopRequest } from './tabs';

let emit: (e: LabEvent) => void = () => {};

/**
 * The models shipped with the app sit beside it, under its base URL on the page's origin. The
 * origin, not this script's URL: a worker started from a blob: URL (as some tests do) has no path
 * to resolve against. An opaque origin has no address at all; then these models cannot load.
 */
function bundledModels(): { baseUrl: string } | undefined {
  const { origin } = self.location;
  return origin === 'null' ? undefined : { baseUrl: new URL(`${import.meta.env.BASE_URL}models/`, `${origin}/`).href };
}

/** WebGPU where an adapter and a device can be had, else the CPU reference (models.list says why). */
const engineChoice = chooseLabEngine(self.navigator.gpu);
const models = new ModelHost({
  engine: chosenEngine(engineChoice),
  limits: async () => {
    if ((await engineChoice).whyNotWebGpu !== null) return null; // the CPU reference has no GPU limits to fit
    const r = await probeWebGpu();
    return r.available ? { maxBufferSize: r.limits.maxBufferSize, maxStorageBufferBindingSize: r.limits.maxStorageBufferBindingSize, shaderF16: r.shaderF16 } : null;
  },
  bundled: bundledModels(),
  onDeviceLost: (key, message) => emit({ type: 'device-lost', message: `The GPU device was lost (${message}); model ${key} must be loaded again.` }),
  webllm: {
    onProgress: (modelIds, progress) => emit({ type: 'webllm.progress', modelIds, progress }),
    onStatus: (status) => emit({ type: 'webllm.status', status }),
    onWarning: (message) => emit({ type: 'log', level: 'warn', message }),
  },
  transformers: {
    onProgress: (key, progress) => emit({ type: 'transformers.progress', key, progress }),
    onStatus: (status) => emit({ type: 'transformers.status', status }),
  },
});

let labPromise: Promise<Lab<LabStore>> | undefined;
function lab(): Promise<Lab<LabStore>> {
  // Retry opening after a failure (e.g. the user closed the tab that blocked an upgrade).
  labPromise ??= LabStore.open()
    .then(async (store) => {
      const l = createLab(store, {
        models,
        locks: ((self as unknown as { navigator: { locks?: LocksLike } }).navigator.locks ?? null) as LocksLike | null,
        listener: {
          progress: (runId, state, stats) => emit({ type: 'selfplay.progress', runId, state, stats }),
          tree: (runId, iteration, tree) => emit({ type: 'selfplay.tree', runId, iteration, tree }),
          text: (runId, iteration, promptId, purpose, text) => emit({ type: 'selfplay.text', runId, iteration, promptId, purpose, text }),
          run: (run) => emit({ type: 'run.updated', run }),
        },
        trainListener: {
          steps: (runId, iteration, role, metrics, memory) => emit({ type: 'train.steps', runId, iteration, role, metrics, memory }),
          state: (runId, progress) => emit({ type: 'train.state', runId, progress }),
          phase: (runId, iteration, role, phase) => emit({ type: 'train.phase', runId, iteration, role, phase }),
          run: (run) => emit({ type: 'run.updated', run }),
        },
      });
      // A run (or a training) left running by a reload or crash is paused, ready to resume. A full
      // quota must not stop the lab here: exporting and deleting runs is how space is freed.
      await recoverInterrupted(l, (message) => emit({ type: 'log', level: 'warn', message }));
      return l;
    })
    .catch((e) => {
      labPromise = undefined;
      throw e;
    });
  return labPromise;
}

/** Changes a run while no job runs it in any tab, holding its lock so that none starts meanwhile. */
async function whileIdle<T>(runId: string, change: (l: Lab<LabStore>) => Promise<T>): Promise<T> {
  const l = await lab();
  return l.jobs.exclusive(runId, () => change(l));
}

/** Stops a job if this tab runs it; false when it does not. */
function stopHere(l: Lab<LabStore>, { runId, job, how }: StopRequest): boolean {
  if (job === 'train') return l.train.pause(runId);
  return how === 'cancel' ? l.selfplay.cancel(runId) : l.selfplay.pause(runId);
}

/** Stops a job here, or asks the tab that runs it (its events then show the pause here too); false when no tab runs one. */
async function stop(request: StopRequest): Promise<boolean> {
  const l = await lab();
  if (stopHere(l, request)) return true;
  if (!(await l.jobs.isHeldAnywhere(request.runId))) return false;
  tabs.stop(request);
  return true;
}

/** web-llm holds one set of models: a job using them must not have them replaced or freed. */
async function noJob(what: string): Promise<void> {
  const job = (await lab()).jobs.current;
  if (job) throw new LabError('busy', `${jobTitle(job.kind)} is running in “${job.runName}”; pause or cancel it before ${what}.`);
}

/** The tail of the run-config writes (runs.updateConfig), which go one at a time. */
let configWrites: Promise<unknown> = Promise.resolve();

const handlers: Handlers = {
  'gpu.report': () => probeWebGpu(),
  'storage.report': () => storageReport(),
  'runs.list': async () => {
    const l = await lab();
    return Promise.all((await l.store.listRuns()).map((run) => asRecovered(l, run)));
  },
  'runs.create': async ({ name, config }) => {
    const run = await (await lab()).store.createRun({ name, config: applyConfigPatch({}, (config ?? {}) as RunConfigPatch) });
    tabs.share({ type: 'runs.changed' });
    return run;
  },
  'runs.rename': async ({ runId, name }) => {
    const trimmed = name.trim();
    const { store } = await lab();
    if (!trimmed) return store.getRun(runId);
    const run = await store.updateRun(runId, { name: trimmed });
    tabs.share({ type: 'runs.changed' });
    return run;
  },
  'runs.delete': async ({ runId }) => {
    await whileIdle(runId, async (l) => {
      await l.store.deleteRun(runId);
      l.browse.forget(runId);
    });
    tabs.share({ type: 'runs.changed' });
    return null;
  },
  'runs.export': async ({ runId }, { progress }) => {
    const { store } = await lab();
    progress({ label: 'Reading the run', done: 0 });
    const archive = await exportRun(store as LabStore, runId);
    return { fileName: archiveFileName(archive.run), blob: archiveToBlob(archive) };
  },
  'runs.import': async ({ file, asCopy }, { progress }) => {
    progress({ label: 'Reading the archive', done: 0 });
    const archive = await archiveFromBlob(file);
    progress({ label: 'Writing the run', done: 0 });
    const l = await lab();
    const run = await importRun(l.store as LabStore, archive, { asCopy: asCopy ?? true });
    l.browse.forget(run.id);
    tabs.share({ type: 'runs.changed' });
    return run;
  },
  'runs.get': async ({ runId }) => {
    const l = await lab();
    const run = await l.store.getRun(runId);
    const counts = {} as RunSummary['counts'];
    for (const s of CHILD_STORES) counts[s] = await l.store.count(s, runId);
    return asRecovered(l, { ...run, counts });
  },
  // One after another: two quick edits (actor, then refiner) each read the config the other wrote.
  'runs.updateConfig': ({ runId, patch }) => {
    const next = configWrites.then(async () => {
      const { store } = await lab();
      const run = await store.getRun(runId);
      return store.updateRun(runId, { config: applyConfigPatch(run.config, patch) });
    });
    configWrites = next.catch(() => undefined);
    return next;
  },

  'prompts.list': async ({ runId, ...o }) => (await lab()).prompts.list(runId, o),
  'prompts.generate': ({ runId, ...o }) => whileIdle(runId, (l) => l.prompts.generate(runId, o)),
  'prompts.addIfeval': ({ runId, ...o }) => whileIdle(runId, (l) => l.prompts.addIfeval(runId, o)),
  'prompts.import': async ({ runId, file, name, format }) => {
    const text = await file.text();
    return whileIdle(runId, (l) => l.prompts.importText(runId, text, { name, format }));
  },
  'prompts.clear': async ({ runId }) => ({ removed: await whileIdle(runId, (l) => l.prompts.clear(runId)) }),

  'models.plan': ({ request }, { signal }) => models.plan(request, { signal }),
  'models.load': ({ request }, { signal, progress }) => models.load(request, { signal, onProgress: progress }),
  'models.list': async () => {
    const { kind, whyNotWebGpu } = await engineChoice;
    return { engine: kind.name, whyNotWebGpu, models: models.list(), apiKeys: models.apiKeyUrls(), webllm: models.webllm.status(), transformers: models.transformers.status() };
  },
  'models.unload': async ({ key }) => {
    if ((await lab()).jobs.current) throw new LabError('busy', 'A job is using the models; pause or cancel it before unloading one.');
    models.unload(key);
    return null;
  },
  'models.setApiKey': async ({ baseUrl, apiKey }) => {
    models.setApiKey(baseUrl, apiKey);
    return null;
  },
  'models.endpointModels': ({ baseUrl }, { signal }) => models.endpointModels(baseUrl, signal),
  'models.stored': async () => listStoredModels(await models.webllm.catalogIfAttached()),
  'models.deleteStored': async ({ baseUrl }) => {
    if (models.loadingAny) throw new LabError('busy', 'A model is loading (perhaps downloading into the cache); wait for it or cancel it, then delete.');
    return deleteStoredModel(baseUrl, await models.webllm.catalogIfAttached());
  },

  'webllm.attach': async ({ port }) => {
    models.webllm.attach(connectWebLlm(port));
    const catalog = await models.webllm.catalog();
    return { ...models.webllm.status(), models: catalog.length };
  },
  'webllm.load': async ({ modelIds }, { signal, progress }) => {
    await noJob('loading other web-llm models');
    await models.webllm.load(modelIds, { signal, onProgress: progress });
    return models.webllm.status();
  },
  'webllm.unload': async () => {
    await noJob('unloading web-llm');
    await models.webllm.unload();
    return models.webllm.status();
  },
  'webllm.details': async ({ modelId }) => modelDetails(await models.webllm.entry(modelId)),

  'transformers.attach': ({ port }) => models.transformers.attach(connectTransformers(port)),
  'transformers.load': async ({ spec }, { signal, progress }) => {
    await models.transformers.load(spec, { signal, onProgress: progress });
    return models.transformers.status();
  },
  'transformers.unload': async ({ key }) => {
    await noJob('unloading a transformers.js model');
    await models.transformers.unload(key);
    return models.transformers.status();
  },

  'selfplay.start': async ({ runId, iteration, retryFailed }, { signal, progress }) =>
    (await lab()).selfplay.start(runId, { iteration, retryFailed, signal, onProgress: progress }),
  'selfplay.pause': ({ runId }) => stop({ runId, job: 'selfplay', how: 'pause' }),
  'selfplay.cancel': ({ runId }) => stop({ runId, job: 'selfplay', how: 'cancel' }),
  'jobs.current': async () => {
    const l = await lab();
    return { job: l.jobs.current, selfplay: l.selfplay.status(), train: l.train.status() };
  },

  'train.plan': async ({ runId, iteration }) => (await lab()).train.plan(runId, iteration),
  'train.start': async ({ runId, iteration, role }, { signal, progress }) => (await lab()).train.start(runId, { iteration, role, signal, onProgress: progress }),
  'train.pause': ({ runId }) => stop({ runId, job: 'train', how: 'pause' }),
  'train.discard': async ({ runId, iteration, role }) => {
    await (await lab()).train.discard(runId, iteration, role);
    return null;
  },
  'train.logs': async ({ runId, iteration, role }) => (await lab()).train.logs(runId, iteration, role),
  'train.checkpoints': async ({ runId }) => (await lab()).train.checkpoints(runId),
  'exports.adapter': async ({ runId, iteration, role, kind }, { signal, progress }) => (await lab()).train.exportAdapter(runId, iteration, role, kind, { signal, onProgress: progress }),

  'trees.list': async ({ runId, ...f }) => (await lab()).browse.trees(runId, f),
  'trees.get': async ({ runId, id }) => (await lab()).browse.tree(runId, id),
  'trees.judge': async ({ runId }) => (await lab()).browse.judgeAccuracy(runId),
  'pairs.list': async ({ runId, ...f }) => (await lab()).browse.pairs(runId, f),
  'pairs.update': async ({ runId, id, patch }) => (await lab()).browse.updatePair(runId, id, patch),
  'rft.list': async ({ runId, ...f }) => (await lab()).browse.rft(runId, f),
  'rft.update': async ({ runId, id, patch }) => (await lab()).browse.updateRft(runId, id, patch),
  'exports.file': async ({ runId, kind, iteration }) => exportFile((await lab()).store, runId, kind, iteration),

  'eval.run': async ({ runId, model, settings }, { signal, progress }) => (await lab()).evals.evaluateActor(runId, { model, settings, signal, onProgress: progress }),
  'eval.compare': async ({ runId, set }) => (await lab()).evals.compare(runId, set),
  'eval.judge': async ({ runId, iteration }) => (await lab()).evals.evaluateJudge(runId, iteration),
  'eval.list': async ({ runId }) => (await lab()).evals.list(runId),
  'eval.get': async ({ runId, id }) => (await lab()).evals.get(runId, id),
  'eval.delete': async ({ runId, id }) => {
    await (await lab()).evals.remove(runId, id);
    return null;
  },
};

const endpoint = self as unknown as Endpoint;
const server = serve(endpoint, handlers);
// What another tab's worker does to runs reaches this page as if it happened here; a Pause
// pressed there stops the job if this tab runs it.
const tabs = linkTabs({
  event: (e) => server.emit(e),
  stop: (request) => void labPromise?.then((l) => stopHere(l, request), () => undefined),
});
emit = (e) => {
  server.emit(e);
  tabs.share(e);
};
server.emit({ type: 'ready' });
