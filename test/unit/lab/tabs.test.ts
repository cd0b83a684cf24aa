/**
 * Two tabs on one run (issue 14, item 5): each tab's lab has its own job slot, and the run's Web
 * Lock is what they share. A second tab cannot discard an adapter the first tab is training, nor
 * start or change a run the first is running; a lab without locks (tests, old browsers) still
 * keeps its own jobs apart. Which worker events the other tabs hear.
 */
import { describe, expect, it } from 'vitest';
import { CPU_ENGINE } from '../../../src/lab/engine';
import { createLab } from '../../../src/lab/index';
import { JobSlot } from '../../../src/lab/jobs';
import { ModelHost } from '../../../src/lab/models';
import type { TrainListener } from '../../../src/lab/train';
import { concernsRuns } from '../../../workers/tabs';
import type { LabEvent } from '../../../workers/protocol';
import { trainableRun } from '../../helpers/lab-world';
import { MemoryLabStore } from '../../helpers/memory-lab-store';
import { SharedLocks } from '../../helpers/storage-full';

const quiet = { progress() {}, tree() {}, text() {}, run() {} };
const job = (runId: string) => ({ kind: 'selfplay' as const, runId, runName: 'shared run', startedAt: 0 });

describe('two tabs on one run', () => {
  it('a second tab cannot discard the adapter the first is training; the training keeps every step log', async () => {
    const store = new MemoryLabStore();
    const locks = new SharedLocks();
    const refused: Promise<unknown>[] = [];
    const holder: { other?: ReturnType<typeof createLab> } = {};
    const trainListener: TrainListener = {
      steps: (runId, iteration, role, metrics) => {
        if (metrics.some((m) => m.step === 2)) refused.push(holder.other!.train.discard(runId, iteration, role));
      },
      state() {},
      run() {},
    };
    const first = createLab(store, { models: new ModelHost({ engine: CPU_ENGINE }), listener: quiet, trainListener, locks, throttleMs: 0 });
    const other = (holder.other = createLab(store, { models: new ModelHost({ engine: CPU_ENGINE }), listener: quiet, locks }));
    const run = await trainableRun(store);

    const out = await first.train.start(run.id, { iteration: 0, role: 'actor' });
    expect(refused).toHaveLength(1);
    await expect(refused[0]).rejects.toMatchObject({ kind: 'busy', message: expect.stringContaining('This run is busy in another SPaR Lab tab') });
    expect(out.entry).toMatchObject({ status: 'done', step: 9, totalSteps: 9 });
    expect((await first.train.logs(run.id, 0, 'actor')).map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);

    // Once the first tab is done, the second may discard it.
    await other.train.discard(run.id, 0, 'actor');
    expect(await store.get('adapters', run.id, '0:actor')).toBeUndefined();
    expect(await other.train.logs(run.id, 0, 'actor')).toEqual([]);
  }, 60_000);

  it('a change holds the run against jobs and other changes, in this tab and the others', async () => {
    const locks = new SharedLocks();
    const mine = new JobSlot(locks);
    const theirs = new JobSlot(locks);
    let release!: () => void;
    const running = theirs.run(job('r1'), () => new Promise<void>((r) => (release = r)));
    await expect(mine.exclusive('r1', async () => 'deleted')).rejects.toMatchObject({ kind: 'busy', message: expect.stringContaining('another SPaR Lab tab') });
    await expect(mine.run(job('r1'), async () => 'started')).rejects.toMatchObject({ kind: 'busy', message: expect.stringContaining('“shared run” is busy in another SPaR Lab tab') });
    expect(await mine.exclusive('r2', async () => 'other run')).toBe('other run');
    expect(await mine.isHeldAnywhere('r1')).toBe(true);
    release();
    await running;

    // While a change is written, no job starts on the run, here or in another tab.
    let finish!: () => void;
    const change = mine.exclusive('r1', () => new Promise<void>((r) => (finish = r)));
    await expect(mine.run(job('r1'), async () => 0)).rejects.toMatchObject({ kind: 'busy', message: expect.stringContaining('being changed') });
    await expect(theirs.run(job('r1'), async () => 0)).rejects.toMatchObject({ kind: 'busy' });
    await expect(mine.exclusive('r1', async () => 0)).rejects.toMatchObject({ kind: 'busy', message: expect.stringContaining('being changed') });
    finish();
    await change;
    expect(await theirs.run(job('r1'), async () => 'free')).toBe('free');

    // Without Web Locks a tab still refuses a change to the run its own job runs.
    const alone = new JobSlot();
    let stop!: () => void;
    const own = alone.run(job('r1'), () => new Promise<void>((r) => (stop = r)));
    await expect(alone.exclusive('r1', async () => 0)).rejects.toMatchObject({ kind: 'busy', message: 'Self-play of “shared run” is running. Pause or cancel it first.' });
    stop();
    await own;
  });

  it('tells the other tabs what happens to runs, not one worker\'s models or logs', () => {
    const shared: LabEvent['type'][] = ['run.updated', 'runs.changed', 'selfplay.progress', 'selfplay.tree', 'selfplay.text', 'train.steps', 'train.state'];
    const own: LabEvent[] = [{ type: 'ready' }, { type: 'device-lost', message: 'x' }, { type: 'log', level: 'warn', message: 'x' }, { type: 'webllm.status', status: { attached: false, loaded: null } }];
    for (const type of shared) expect(concernsRuns({ type } as LabEvent)).toBe(true);
    for (const e of own) expect(concernsRuns(e)).toBe(false);
  });
});
