/**
 * A full disk and a second tab must not lock or corrupt the lab (issue 14, items 4 and 5), on
 * the browser's real IndexedDB and Web Locks. A full quota is simulated where IndexedDB reports
 * it: while `full` is set, object stores refuse puts with a DOMException "QuotaExceededError"
 * (deletes go through, as they do in browsers), so LabStore's own error mapping and transaction
 * aborts are what the lab meets. A "reload" is a new store and lab on the same database; a
 * second "tab" is a second lab whose job slot shares navigator.locks.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CPU_ENGINE } from '../../src/lab/engine';
import { createLab } from '../../src/lab/index';
import { type LocksLike } from '../../src/lab/jobs';
import { ModelHost } from '../../src/lab/models';
import { asRecovered, recoverInterrupted } from '../../src/lab/recovery';
import type { SelfPlayListener } from '../../src/lab/selfplay';
import type { TrainListener } from '../../src/lab/train';
import { hash32 } from '../../src/spar/rng';
import { archiveFromBlob, archiveToBlob, exportRun } from '../../src/store/archive';
import { LabStore } from '../../src/store/lab-store';
import { parseRunConfig } from '../../src/lab/run-config';
import { scriptedEngine, trainableRun } from '../helpers/lab-world';
import { TEMPLATES, world } from '../helpers/spar-world';

const locks = navigator.locks as unknown as LocksLike;
const quiet = { progress() {}, tree() {}, text() {}, run() {} };

/** Puts refused as a full quota refuses them, while `quota.full`. */
const quota = { full: false };
const realPut = IDBObjectStore.prototype.put;
const realAdd = IDBObjectStore.prototype.add;
function refuseWhenFull<F extends (this: IDBObjectStore, ...args: never[]) => IDBRequest>(write: F): F {
  return function (this: IDBObjectStore, ...args: Parameters<F>) {
    if (quota.full) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    return write.apply(this, args);
  } as F;
}
IDBObjectStore.prototype.put = refuseWhenFull(realPut);
IDBObjectStore.prototype.add = refuseWhenFull(realAdd);

afterAll(() => {
  IDBObjectStore.prototype.put = realPut;
  IDBObjectStore.prototype.add = realAdd;
});

const opened: LabStore[] = [];
afterEach(async () => {
  quota.full = false;
  for (const s of opened.splice(0)) {
    s.close();
    await new Promise((r) => {
      const req = indexedDB.deleteDatabase(s.name);
      req.onsuccess = req.onerror = req.onblocked = r;
    });
  }
});

async function open(name = `lab-quota-${Date.now()}-${Math.random()}`): Promise<LabStore> {
  const store = await LabStore.open(name);
  opened.push(store);
  return store;
}

/** Votes that pass some samples and fail others, so instructions make pairs and RFT records. */
const models = () => world({ votes: (response, _o, instruction) => ['NNNNN', 'YYNNN', 'YYYYN', 'YYYYY'][hash32(instruction + response) % 4], delayMs: 1 });

/** A lab over `store` with the scripted SPaR world as its models (fast, exact). */
function scriptedLab(store: LabStore, listener: SelfPlayListener = quiet) {
  return createLab(store, { models: new ModelHost({ engine: scriptedEngine(models) }), listener, locks, throttleMs: 0 });
}

describe('a full quota on IndexedDB', () => {
  it('stops self-play cleanly; after a reload the lab lists, exports and deletes runs, and resumes once space is freed', async () => {
    const store = await open();
    const states: string[] = [];
    // Storage fills up once two instructions are written.
    const listener: SelfPlayListener = {
      ...quiet,
      progress: (_r, state, s) => {
        states.push(state);
        if (s.finished >= 2) quota.full = true;
      },
    };
    const lab = scriptedLab(store, listener);
    const old = await store.createRun({ name: 'old run' });
    await store.put('pairs', { runId: old.id, id: 'p', iteration: 0, promptId: 'q', prompt: 'p', chosen: 'a', rejected: 'b', excluded: false, meta: { source: 'refinement', chosenValue: 1, rejectedValue: 0, rejectedSample: 0 } });
    const run = await store.createRun({ name: 'filling', config: { spar: { seed: 3, concurrency: 2, templates: TEMPLATES } } });
    await lab.prompts.generate(run.id, { count: 6, seed: 4 });

    const out = await lab.selfplay.start(run.id);
    expect(out.state).toBe('failed');
    const finished = out.stats.finished;
    expect(finished).toBeGreaterThanOrEqual(2);
    expect(finished).toBeLessThan(6);
    expect(parseRunConfig(out.run.config).iterations[0].error).toEqual({ kind: 'quota', message: expect.stringContaining(`Self-play stopped: browser storage is full. The ${finished} finished instructions are saved`) });
    expect(states.at(-1)).toBe('failed');
    // Nothing runs, so Pause has nothing to stop and a start may be tried again.
    expect(lab.selfplay.status()).toBeNull();
    expect(lab.selfplay.pause(run.id)).toBe(false);
    expect(await lab.jobs.isHeldAnywhere(run.id)).toBe(false);
    // Whole instructions only: the refused writes left nothing behind.
    expect(await store.count('trees', run.id)).toBe(finished);
    expect((await store.getRun(run.id)).status).toBe('running');

    // A reload with storage still full: the lab starts, its recovery write refused and reported.
    store.close();
    const again = await open(store.name);
    const reloaded = scriptedLab(again);
    const warnings: string[] = [];
    await recoverInterrupted(reloaded, (m) => warnings.push(m));
    expect(warnings).toEqual([expect.stringContaining('Browser storage is full')]);
    // Listing shows the interrupted run paused, with its stored trees counted.
    const listed = await Promise.all((await again.listRuns()).map((r) => asRecovered(reloaded, r)));
    const shown = listed.find((r) => r.id === run.id)!;
    expect(shown.status).toBe('paused');
    expect(parseRunConfig(shown.config).iterations[0]).toMatchObject({ status: 'paused', finished, instructions: 6 });
    // Exporting reads everything; deleting the old run frees space (deletes need none).
    const archive = await archiveFromBlob(archiveToBlob(await exportRun(again, run.id)));
    expect(archive.records.trees).toHaveLength(finished);
    await reloaded.jobs.exclusive(old.id, () => again.deleteRun(old.id));
    expect((await again.listRuns()).map((r) => r.name)).toEqual(['filling']);
    await expect(reloaded.selfplay.start(run.id)).rejects.toMatchObject({ kind: 'quota' });
    expect(reloaded.jobs.current).toBeNull();

    // Space freed: the resume finishes the iteration, each instruction once.
    quota.full = false;
    const done = await reloaded.selfplay.start(run.id);
    expect(done).toMatchObject({ state: 'done', stats: { finished: 6, total: 6 } });
    const trees = await again.list('trees', run.id);
    expect(new Set(trees.map((t) => t.promptId)).size).toBe(6);
    expect((await again.getRun(run.id)).status).toBe('done');
  });

  it('stops training at its checkpoint; the plan reads it paused there and a resume logs every step', async () => {
    const store = await open();
    const states: string[] = [];
    let fills = true;
    const trainListener: TrainListener = {
      steps: (_r, _i, _role, metrics) => {
        if (fills && metrics.some((m) => m.step === 5)) quota.full = true; // step 6's checkpoint will not fit
      },
      state: (_r, p) => states.push(p.state),
      run() {},
    };
    const lab = createLab(store, { models: new ModelHost({ engine: CPU_ENGINE }), listener: quiet, trainListener, locks, throttleMs: 0 });
    const run = await trainableRun(store);
    const out = await lab.train.start(run.id, { iteration: 0, role: 'actor' });
    expect(out.entry).toMatchObject({ status: 'failed', step: 4, error: { kind: 'quota', message: expect.stringContaining('The checkpoint of step 4 is saved') } });
    expect(states.at(-1)).toBe('failed');
    expect(lab.train.status()).toBeNull();
    expect((await lab.train.plan(run.id, 0)).actor.entry).toMatchObject({ status: 'paused', step: 4 });

    quota.full = fills = false;
    const resumed = await lab.train.start(run.id, { iteration: 0, role: 'actor' });
    expect(resumed.entry).toMatchObject({ status: 'done', step: 9 });
    expect((await lab.train.logs(run.id, 0, 'actor')).map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('two tabs on one run (navigator.locks)', () => {
  it('a second tab can neither discard the training nor delete the run the first tab is training', async () => {
    const store = await open();
    const other = scriptedLab(store);
    const refused: Promise<unknown[]>[] = [];
    const failure = (p: Promise<unknown>) => p.then(() => 'done', (e: unknown) => e);
    const trainListener: TrainListener = {
      steps: (runId, iteration, role, metrics) => {
        if (!metrics.some((m) => m.step === 2)) return;
        refused.push((async () => [await failure(other.train.discard(runId, iteration, role)), await failure(other.jobs.exclusive(runId, () => store.deleteRun(runId)))])());
      },
      state() {},
      run() {},
    };
    const first = createLab(store, { models: new ModelHost({ engine: CPU_ENGINE }), listener: quiet, trainListener, locks, throttleMs: 0 });
    const run = await trainableRun(store);
    const out = await first.train.start(run.id, { iteration: 0, role: 'actor' });
    expect(refused).toHaveLength(1);
    const busy = { kind: 'busy', message: expect.stringContaining('This run is busy in another SPaR Lab tab') };
    expect(await refused[0]).toEqual([expect.objectContaining(busy), expect.objectContaining(busy)]);
    expect(out.entry).toMatchObject({ status: 'done', step: 9 });
    expect((await first.train.logs(run.id, 0, 'actor')).map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await other.jobs.exclusive(run.id, () => store.deleteRun(run.id));
    expect(await store.listRuns()).toEqual([]);
  });
});
