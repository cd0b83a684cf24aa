/**
 * A full quota stops a job cleanly (issue 14, item 4): self-play and training end with status
 * "failed" and a message that says what is kept and what to do, even when storage refuses their
 * last write too; nothing stays "running" with a Pause that does nothing. A "reload" (a new lab
 * over the same store) starts although recovery cannot write, shows the interrupted work as
 * paused, and once space is freed the work resumes to the end with nothing lost or duplicated.
 */
import { describe, expect, it } from 'vitest';
import { CPU_ENGINE } from '../../../src/lab/engine';
import { exportFile } from '../../../src/lab/exports';
import { createLab } from '../../../src/lab/index';
import { ModelHost } from '../../../src/lab/models';
import { presetPatch } from '../../../src/lab/presets';
import { asRecovered, recoverInterrupted } from '../../../src/lab/recovery';
import { applyConfigPatch, parseRunConfig, type IterationEntry } from '../../../src/lab/run-config';
import type { SelfPlayListener } from '../../../src/lab/selfplay';
import type { TrainListener } from '../../../src/lab/train';
import { hash32 } from '../../../src/spar/rng';
import type { PairRecord } from '../../../src/store/records';
import { newRun, scriptedEngine } from '../../helpers/lab-world';
import { world } from '../../helpers/spar-world';
import { FillingStore } from '../../helpers/storage-full';

/** Votes that pass some samples and fail others, so instructions make pairs and RFT records. */
const models = () => world({ votes: (response, _o, instruction) => ['NNNNN', 'YYNNN', 'YYYYN', 'YYYYY'][hash32(instruction + response) % 4], delayMs: 1 });
const quiet = { progress() {}, tree() {}, text() {}, run() {} };

function selfPlayLab(store: FillingStore) {
  const states: string[] = [];
  const listener: SelfPlayListener = { ...quiet, progress: (_r, state) => states.push(state) };
  return { lab: createLab(store, { models: new ModelHost({ engine: scriptedEngine(models) }), listener, throttleMs: 0 }), states };
}

/** A tiny-demo run whose iteration 0 is done with `pairs` kept pairs: ready to train the actor. */
async function trainable(store: FillingStore, pairs = 4) {
  const config = applyConfigPatch({}, presetPatch('tiny-demo'));
  const c = parseRunConfig(config);
  const entry: IterationEntry = {
    iteration: 0, status: 'done', startedAt: 1, updatedAt: 1, finishedAt: 1, spar: c.spar, models: c.models,
    labels: { actor: 'tiny', refiner: 'tiny' }, adapters: {}, instructions: pairs, finished: pairs, failed: 0, pairs, rft: 0,
  };
  const run = await store.createRun({ name: 'full disk', config: { ...config, iterations: [entry] } });
  const records: PairRecord[] = Array.from({ length: pairs }, (_, i) => ({
    runId: run.id, id: `0:p${i}:0`, iteration: 0, promptId: `p${i}`, prompt: `Write ${i + 2} words about rain.`,
    chosen: 'Rain falls softly today.'.split(' ').slice(0, i + 2).join(' '), rejected: 'no', excluded: false,
    meta: { source: 'refinement', chosenValue: 1, rejectedValue: 0, rejectedSample: 0, chosenDepth: 1 },
  }));
  await store.put('pairs', records);
  return run;
}

describe('a full quota', () => {
  it('ends self-play as failed with what is kept; a reload starts, shows it paused, and it resumes once space is freed', async () => {
    const store = new FillingStore();
    const { lab, states } = selfPlayLab(store);
    const run = await newRun(store, { concurrency: 2 });
    await lab.prompts.generate(run.id, { count: 6, seed: 4 });
    store.writesLeft = 3; // the "running" save, then two finished instructions

    const out = await lab.selfplay.start(run.id);
    expect(out.state).toBe('failed');
    expect(out.stats.finished).toBe(2);
    const [entry] = parseRunConfig(out.run.config).iterations;
    expect(entry.error).toEqual({
      kind: 'quota',
      message: expect.stringMatching(/^Self-play stopped: browser storage is full\. The 2 finished instructions are saved;.*Free space \(export and delete old runs/),
    });
    expect(states.at(-1)).toBe('failed');
    expect(lab.selfplay.status()).toBeNull();
    expect(lab.jobs.current).toBeNull();
    expect(lab.selfplay.pause(run.id)).toBe(false);

    // Storage refused the last write too: it still says "running", which nothing runs.
    const stored = await store.getRun(run.id);
    expect(stored.status).toBe('running');
    expect(await store.count('trees', run.id)).toBe(2);

    // A reload: the lab starts (recovery's write fails and is reported), reads show the run paused.
    const warnings: string[] = [];
    const reloaded = selfPlayLab(store).lab;
    await recoverInterrupted(reloaded, (m) => warnings.push(m));
    expect(warnings).toEqual([expect.stringMatching(/^Could not mark interrupted self-play as paused \(Browser storage is full/)]);
    const shown = await asRecovered(reloaded, (await store.listRuns())[0]);
    expect(shown.status).toBe('paused');
    expect(parseRunConfig(shown.config).iterations[0]).toMatchObject({ status: 'paused', finished: 2, instructions: 6 });
    expect(JSON.parse(await (await exportFile(store, run.id, 'trees')).blob.text()).trees).toHaveLength(2);

    // Space freed: the next start writes the recovery, and a resume finishes without duplicates.
    store.writesLeft = Infinity;
    await recoverInterrupted(reloaded, (m) => warnings.push(m));
    expect(warnings).toHaveLength(1);
    expect((await store.getRun(run.id)).status).toBe('paused');
    const done = await reloaded.selfplay.start(run.id);
    expect(done).toMatchObject({ state: 'done', stats: { finished: 6, total: 6 } });
    const trees = await store.list('trees', run.id);
    expect(new Set(trees.map((t) => t.id)).size).toBe(6);
  });

  it('ends training as failed at its last checkpoint; the plan shows it paused there, and a resume finishes with every step logged', async () => {
    const store = new FillingStore();
    const states: string[] = [];
    const trainListener: TrainListener = { steps() {}, state: (_r, p) => states.push(p.state), run() {} };
    const lab = createLab(store, { models: new ModelHost({ engine: CPU_ENGINE }), listener: quiet, trainListener, throttleMs: 0 });
    const run = await trainable(store);
    // The "training" save, then steps 1–5 (the tiny demo checkpoints every 2 steps); step 6's checkpoint does not fit.
    store.writesLeft = 6;

    const out = await lab.train.start(run.id, { iteration: 0, role: 'actor' });
    expect(out.state).toBe('failed');
    expect(out.entry).toMatchObject({
      status: 'failed',
      step: 4,
      error: { kind: 'quota', message: 'Training stopped: browser storage is full. The checkpoint of step 4 is saved and a resume goes on from it. Free space first: export and delete old runs, or delete cached models in Models.' },
    });
    expect(states).toEqual(['loading', 'training', 'failed']);
    expect(lab.train.status()).toBeNull();
    expect(lab.train.pause(run.id)).toBe(false);

    // Storage still says "training"; the plan (what the Train view shows) says paused at the checkpoint.
    expect(parseRunConfig((await store.getRun(run.id)).config).iterations[0].training?.actor?.status).toBe('training');
    const plan = (await lab.train.plan(run.id, 0)).actor;
    expect(plan.entry).toMatchObject({ status: 'paused', step: 4 });
    expect(plan.checkpoint).toMatchObject({ step: 4 });

    store.writesLeft = Infinity;
    const resumed = await lab.train.start(run.id, { iteration: 0, role: 'actor' });
    expect(resumed.entry).toMatchObject({ status: 'done', step: 12, totalSteps: 12 });
    expect((await lab.train.logs(run.id, 0, 'actor')).map((l) => l.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  }, 60_000);
});
