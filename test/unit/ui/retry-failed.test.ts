/**
 * The Self-play view's offer to retry failed instructions: when it is made (the pure rule), and
 * that taking it through the self-play service runs exactly the failed instructions again, both
 * on a resume and on a done iteration reopened.
 */
import { describe, expect, it } from 'vitest';
import { LabError } from '../../../src/errors';
import { parseRunConfig, type IterationEntry } from '../../../src/lab/run-config';
import { retryOffer } from '../../../src/ui/retry-failed';
import { labWorld, newRun } from '../../helpers/lab-world';
import { world } from '../../helpers/spar-world';
import type { MemoryLabStore } from '../../helpers/memory-lab-store';

const entry = (over: Partial<IterationEntry>): IterationEntry => ({ iteration: 0, status: 'done', instructions: 6, finished: 6, failed: 0, pairs: 0, rft: 0, ...over }) as IterationEntry;

describe('retryOffer', () => {
  it('offers the failed instructions of a resumable or untrained done last iteration, nothing else', () => {
    expect(retryOffer([])).toBeNull();
    expect(retryOffer([entry({ failed: 0 })])).toBeNull();
    expect(retryOffer([entry({ status: 'paused', finished: 3, failed: 2 })])).toEqual({ iteration: 0, failed: 2, reopen: false });
    expect(retryOffer([entry({ status: 'failed', failed: 5 })])).toEqual({ iteration: 0, failed: 5, reopen: false });
    expect(retryOffer([entry({ failed: 1 }), entry({ iteration: 1, failed: 2 })])).toEqual({ iteration: 1, failed: 2, reopen: true });
    // A cancelled iteration stays closed; a trained one keeps the data it was trained on; an earlier one is not reopened.
    expect(retryOffer([entry({ status: 'cancelled', failed: 2 })])).toBeNull();
    expect(retryOffer([entry({ failed: 2, training: { actor: {} as never } })])).toBeNull();
    expect(retryOffer([entry({ failed: 2 }), entry({ iteration: 1 })])).toBeNull();
  });
});

describe('retrying failed instructions through the self-play service', () => {
  /** Six instructions run one at a time; the model is down for the second while `down` says so. */
  async function setup(onTree?: (n: number) => void) {
    const state = { down: true, failing: '' };
    let trees = 0;
    const w = labWorld({
      models: () =>
        world({
          votes: () => 'YYYYN',
          fail: (req) => (state.down && req.messages[0].content === state.failing ? new LabError('network', 'The model server did not answer.') : undefined),
        }),
      onTree: () => onTree?.(++trees),
    });
    const run = await newRun(w.store, { concurrency: 1 });
    await w.lab.prompts.generate(run.id, { count: 6, seed: 4 });
    const prompts = (await w.store.list('prompts', run.id)).sort((a, b) => a.index - b.index);
    state.failing = prompts[1].prompt;
    return { ...w, run, state };
  }
  const iterations = async (store: MemoryLabStore, runId: string) => parseRunConfig((await store.getRun(runId)).config).iterations;
  const statuses = async (store: MemoryLabStore, runId: string) => (await store.list('trees', runId)).map((t) => t.status).sort();

  it('reopens a done iteration for its failed instructions only', async () => {
    const { lab, store, run, state } = await setup();
    expect((await lab.selfplay.start(run.id)).stats).toMatchObject({ finished: 6, failed: 1 });
    const offer = retryOffer(await iterations(store, run.id));
    expect(offer).toEqual({ iteration: 0, failed: 1, reopen: true });

    state.down = false;
    const before = await store.list('trees', run.id);
    const again = await lab.selfplay.start(run.id, { iteration: offer!.iteration, retryFailed: true });
    expect(again).toMatchObject({ state: 'done', stats: { iteration: 0, finished: 6, failed: 0, finishedNow: 1 } });
    expect(await statuses(store, run.id)).toEqual(Array(6).fill('done'));
    // The other trees are the very same records.
    const after = await store.list('trees', run.id);
    for (const t of before.filter((t) => t.status === 'done')) expect(after.find((a) => a.id === t.id)).toEqual(t);
    expect(await iterations(store, run.id)).toHaveLength(1);
    expect(retryOffer(await iterations(store, run.id))).toBeNull();
  });

  it('a resume retries them when asked', async () => {
    const w = await setup((n) => n === 3 && w.lab.selfplay.pause(w.run.id));
    const paused = await w.lab.selfplay.start(w.run.id);
    expect(paused).toMatchObject({ state: 'paused', stats: { finished: 3, failed: 1 } });
    expect(retryOffer(await iterations(w.store, w.run.id))).toEqual({ iteration: 0, failed: 1, reopen: false });

    w.state.down = false;
    const resumed = await w.lab.selfplay.start(w.run.id, { iteration: 0, retryFailed: true });
    expect(resumed).toMatchObject({ state: 'done', stats: { finished: 6, failed: 0 } });
    expect(await statuses(w.store, w.run.id)).toEqual(Array(6).fill('done'));
  });
});
