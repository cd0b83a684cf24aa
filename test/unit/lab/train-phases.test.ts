/**
 * Issue 14, item 13 through the training service: the page hears what a training is doing
 * (loading the model, compiling GPU kernels, DPO's reference pass, steps), and the iteration's
 * history keeps where the time went, summed over a pause and resume.
 */
import { describe, expect, it } from 'vitest';
import { CPU_ENGINE, type EngineKind, type LabEngineLike } from '../../../src/lab/engine';
import { createLab } from '../../../src/lab/index';
import { ModelHost } from '../../../src/lab/models';
import { presetPatch } from '../../../src/lab/presets';
import { applyConfigPatch, parseRunConfig, type IterationEntry } from '../../../src/lab/run-config';
import type { TrainLivePhase, TrainListener } from '../../../src/lab/train';
import type { PairRecord } from '../../../src/store/records';
import { iterationProblems } from '../../../src/store/validate';
import { MemoryLabStore } from '../../helpers/memory-lab-store';

const quiet = { progress() {}, tree() {}, text() {}, run() {} };

/** The CPU engine, with its training engine saying it compiles kernels on first use (as the GPU's does). */
const compiling: EngineKind = {
  name: 'WebGPU-like engine',
  async create(model, name) {
    const inner = await CPU_ENGINE.create(model, name);
    const t = inner.training!;
    const training = { ...t, trainEngine: (opts: { recompute?: boolean }) => Object.assign(t.trainEngine(opts), { compilesKernels: true }) };
    return Object.assign(Object.create(inner) as LabEngineLike, { training });
  },
};

/** A tiny-demo run whose iteration 0 is done, with three pairs for the actor. */
async function pairsRun(store: MemoryLabStore) {
  const config = applyConfigPatch({}, presetPatch('tiny-demo'));
  const c = parseRunConfig(config);
  const entry: IterationEntry = {
    iteration: 0, status: 'done', startedAt: 1, updatedAt: 1, finishedAt: 1, spar: c.spar, models: c.models,
    labels: { actor: 'tiny', refiner: 'tiny' }, adapters: {}, instructions: 3, finished: 3, failed: 0, pairs: 3, rft: 0,
  };
  const run = await store.createRun({ name: 'phases', config: { ...config, iterations: [entry] } });
  const pairs: PairRecord[] = [0, 1, 2].map((i) => ({
    runId: run.id, id: `0:p${i}:0`, iteration: 0, promptId: `p${i}`, prompt: `Name ${i + 1} colours.`, chosen: ['red', 'red blue', 'red blue green'][i], rejected: 'no', excluded: false,
    meta: { source: 'refinement', chosenValue: 1, rejectedValue: 0, rejectedSample: 0, chosenDepth: 1 },
  }));
  await store.put('pairs', pairs);
  return run;
}

function world(engine: EngineKind, onStep?: (step: number, pause: () => void) => void) {
  const store = new MemoryLabStore();
  const phases: TrainLivePhase[] = [];
  const states: string[] = [];
  const holder: { pause?: () => void } = {};
  const trainListener: TrainListener = {
    steps: (_r, _i, _role, metrics) => metrics.forEach((m) => onStep?.(m.step, holder.pause!)),
    state: (_r, p) => states.push(p.state),
    phase: (_r, iteration, role, p) => {
      expect([iteration, role]).toEqual([0, 'actor']);
      phases.push(p);
    },
    run() {},
  };
  const lab = createLab(store, { models: new ModelHost({ engine }), listener: quiet, trainListener, throttleMs: 0 });
  return { store, lab, phases, states, holder };
}

describe('training phases through the service', () => {
  it('tells loading, compiling, the reference pass and the steps, and keeps where the time went', async () => {
    const w = world(compiling);
    const run = await pairsRun(w.store);
    const out = await w.lab.train.start(run.id, { iteration: 0, role: 'actor' });
    expect(out.state).toBe('done');
    expect(w.phases).toEqual([
      { phase: 'loading' },
      { phase: 'compile' },
      // One pair at a time: the tiny demo's micro-batch.
      { phase: 'reference', done: 0, total: 3 },
      { phase: 'reference', done: 1, total: 3 },
      { phase: 'reference', done: 2, total: 3 },
      { phase: 'steps' },
    ]);
    // The states the page heard before are as they were: phases come on their own channel.
    expect(w.states).toEqual(['loading', 'training', 'done']);
    const t = out.entry.timing!;
    expect(t.steps).toBe(out.entry.totalSteps);
    expect(t.stepTokens).toBeGreaterThan(0);
    expect(t.compileSeconds).toBeGreaterThan(0);
    expect(t.referenceSeconds).toBeGreaterThan(0);
    expect(t.wallSeconds).toBeGreaterThanOrEqual(t.stepSeconds - 0.01);
    // Stored with the iteration, and the stored history passes its checks.
    const stored = parseRunConfig((await w.store.getRun(run.id)).config).iterations[0];
    expect(stored.training!.actor!.timing).toEqual(t);
    expect(iterationProblems(stored)).toEqual([]);
  });

  it('the CPU engine has nothing to compile: no compile phase', async () => {
    const w = world(CPU_ENGINE);
    const run = await pairsRun(w.store);
    const out = await w.lab.train.start(run.id, { iteration: 0, role: 'actor' });
    expect(w.phases.map((p) => p.phase)).toEqual(['loading', 'reference', 'reference', 'reference', 'steps']);
    expect(out.entry.timing!.compileSeconds).toBe(0);
  });

  it('a resume adds its time to the paused session’s: every step counted once', async () => {
    const w = world(CPU_ENGINE, (step, pause) => step === 2 && pause());
    w.holder.pause = () => void w.lab.train.pause(run.id);
    const run = await pairsRun(w.store);
    const paused = await w.lab.train.start(run.id, { iteration: 0, role: 'actor' });
    expect(paused.state).toBe('paused');
    const first = paused.entry.timing!;
    expect(first.steps).toBe(paused.entry.step);
    const done = await w.lab.train.start(run.id, { iteration: 0, role: 'actor' });
    expect(done.state).toBe('done');
    const t = done.entry.timing!;
    expect(t.steps).toBe(done.entry.totalSteps);
    expect(t.loadSeconds).toBeGreaterThanOrEqual(first.loadSeconds);
    expect(t.stepTokens).toBeGreaterThan(first.stepTokens);
    expect(t.wallSeconds).toBeGreaterThan(first.wallSeconds);
  });
});
