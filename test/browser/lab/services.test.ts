import { afterEach, describe, expect, it } from 'vitest';
import { createLab } from '../../../src/lab/index';
import { WEBGPU_ENGINE } from '../../../src/lab/engine';
import { JobSlot, type LocksLike } from '../../../src/lab/jobs';
import { ModelHost } from '../../../src/lab/models';
import { presetPatch } from '../../../src/lab/presets';
import { applyConfigPatch, parseRunConfig } from '../../../src/lab/run-config';
import { exportFile } from '../../../src/lab/exports';
import { LabStore } from '../../../src/store/lab-store';

// The lab's services as the worker runs them: real IndexedDB, the WebGPU engine (SwiftShader
// here), Web Locks between "tabs".
const opened: LabStore[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) {
    s.close();
    await new Promise((r) => {
      const req = indexedDB.deleteDatabase(s.name);
      req.onsuccess = req.onerror = req.onblocked = r;
    });
  }
});

async function open() {
  const store = await LabStore.open(`lab-services-${Date.now()}-${Math.random()}`);
  opened.push(store);
  return store;
}

const quiet = { progress() {}, tree() {}, text() {}, run() {} };
const locks = navigator.locks as unknown as LocksLike;

describe('lab services in the browser', () => {
  it('runs a tiny-demo iteration on the WebGPU engine into IndexedDB, browses, exports, evaluates, trains (paused, then resumed after a reload)', async () => {
    const store = await open();
    const holder: { lab?: ReturnType<typeof createLab> } = {};
    const steps: number[] = [];
    const trainListener = {
      steps: (runId: string, _i: number, _r: string, metrics: { step: number }[]) => {
        for (const m of metrics) {
          steps.push(m.step);
          if (m.step === 2) holder.lab!.train.pause(runId);
        }
      },
      state() {},
      run() {},
    };
    const lab = (holder.lab = createLab(store, { models: new ModelHost({ engine: WEBGPU_ENGINE }), listener: quiet, trainListener, locks, throttleMs: 0 }));
    const run = await store.createRun({ name: 'gpu demo', config: applyConfigPatch({}, presetPatch('tiny-demo')) });
    await lab.prompts.generate(run.id, { count: 2, seed: 1, maxConstraints: 1 });
    const out = await lab.selfplay.start(run.id);
    expect(out).toMatchObject({ state: 'done', stats: { total: 2, finished: 2, failed: 0 } });
    expect(lab.models.list()[0]).toMatchObject({ key: 'tiny:1', engine: 'WebGPU engine' });
    const entry = parseRunConfig((await store.getRun(run.id)).config).iterations[0];
    expect(entry.labels.actor).toBe('lab engine · tiny-1 · actor (base)');

    const trees = await lab.browse.trees(run.id);
    expect(trees.total).toBe(2);
    expect((await lab.browse.tree(run.id, trees.items[0].id)).tree.data.samples).toHaveLength(2);
    const file = await exportFile(store, run.id, 'trees');
    expect(JSON.parse(await file.blob.text()).trees).toHaveLength(2);

    const ev = await lab.evals.evaluateActor(run.id, { settings: { set: { source: 'generated', count: 2, seed: 1000 }, temperature: 0, topP: 1, maxTokens: 16, seed: 0 } });
    expect(ev.summary.prompts).toBe(2);
    expect(await store.get('evals', run.id, ev.id)).toMatchObject({ kind: 'ifeval', iteration: 0 });

    // DPO on the GPU engine, paused at step 2 (a checkpoint).
    const pairs = (await lab.train.plan(run.id, 0)).actor.examples;
    expect(pairs).toBeGreaterThan(0); // 3 epochs of one pair per step: 3 steps or more
    const first = await lab.train.start(run.id, { iteration: 0, role: 'actor' });
    expect(first.entry).toMatchObject({ status: 'paused', step: 2, totalSteps: 3 * pairs, engine: 'WebGPU engine' });
    expect(first.entry.peakBytes).toBeGreaterThan(0);
    expect(steps).toEqual([1, 2]);

    // A reload: the same database opened again, a new model host (the model loads again).
    store.close();
    const again = await LabStore.open(store.name);
    opened.push(again);
    const reloaded = createLab(again, { models: new ModelHost({ engine: WEBGPU_ENGINE }), listener: quiet, locks, throttleMs: 0 });
    await reloaded.selfplay.recoverInterrupted();
    await reloaded.train.recoverInterrupted();
    expect((await reloaded.train.plan(run.id, 0)).actor.checkpoint).toMatchObject({ step: 2, status: 'training' });
    const done = await reloaded.train.start(run.id, { iteration: 0, role: 'actor' });
    expect(done.entry).toMatchObject({ status: 'done', step: 3 * pairs });
    expect((await reloaded.train.logs(run.id, 0, 'actor')).map((l) => l.step)).toEqual(Array.from({ length: 3 * pairs }, (_, i) => i + 1));
    const trained = (await reloaded.train.latest(run.id, 'actor', 1))!;
    expect(trained.adapter.name).toBe('actor-it0');
    expect(trained.adapter.layers[1].v!.b.some((x) => x !== 0)).toBe(true);
  });

  it('keeps two tabs off one run with Web Locks; a run another tab is running is not "recovered"', async () => {
    const store = await open();
    const lab = createLab(store, { listener: quiet, locks });
    const run = await store.createRun({ name: 'locked' });
    const otherTab = new JobSlot(locks);
    let release!: () => void;
    const held = otherTab.run({ kind: 'selfplay', runId: run.id, runName: 'locked', startedAt: 0 }, () => new Promise<void>((r) => (release = r)));
    await expect.poll(() => lab.jobs.isHeldAnywhere(run.id)).toBe(true);
    await store.updateRun(run.id, { status: 'running' });
    expect(await lab.selfplay.recoverInterrupted()).toEqual([]);
    await lab.prompts.generate(run.id, { count: 1, seed: 0 });
    await expect(lab.selfplay.start(run.id)).rejects.toMatchObject({ kind: 'busy', message: expect.stringContaining('another SPaR Lab tab') });
    release();
    await held;
    expect(await lab.jobs.isHeldAnywhere(run.id)).toBe(false);
    expect((await lab.selfplay.recoverInterrupted()).map((r) => r.status)).toEqual(['paused']);
  });
});
