import { describe, expect, it } from 'vitest';
import { LabError } from '../../../src/errors';
import type { LoraAdapter } from '../../../src/engine/model/weights';
import { parseRunConfig } from '../../../src/lab/run-config';
import { hash32 } from '../../../src/spar/rng';
import { labWorld, newRun } from '../../helpers/lab-world';
import { world, type WorldSpec } from '../../helpers/spar-world';
import type { MemoryLabStore } from '../../helpers/memory-lab-store';

const VOTES: WorldSpec['votes'] = (response, _o, instruction) => {
  const m = /\/s(\d)$/.exec(response);
  if (m) return ['YYYYN', 'NNNNY', 'NNNNN', 'YYNNx', 'YYYYY'][Number(m[1])];
  return ['NNNNN', 'YNNNN', 'YYNNN', 'YYYNN', 'YYYYN', 'NNNNY'][hash32(instruction + response) % 6];
};
const models = () => world({ votes: VOTES, delayMs: 1 });

async function withPrompts(store: MemoryLabStore, lab: ReturnType<typeof labWorld>['lab'], count = 6, spar: Record<string, unknown> = {}) {
  const run = await newRun(store, spar);
  await lab.prompts.generate(run.id, { count, seed: 4 });
  return run;
}

async function records(store: MemoryLabStore, runId: string) {
  return { trees: await store.list('trees', runId), pairs: await store.list('pairs', runId), rft: await store.list('rft', runId) };
}

describe('self-play service', () => {
  it('runs an iteration to the end, recording its settings, counts and progress', async () => {
    const { store, lab, heard } = labWorld({ models });
    const run = await withPrompts(store, lab);
    const out = await lab.selfplay.start(run.id);
    expect(out.state).toBe('done');
    expect(out.stats).toMatchObject({ iteration: 0, total: 6, finished: 6, failed: 0, inFlight: 0 });
    expect(out.stats.tokensPerSecond).toBeGreaterThan(0);
    expect(out.stats.etaMs).toBe(0);
    const saved = await store.getRun(run.id);
    expect(saved.status).toBe('done');
    const [entry] = parseRunConfig(saved.config).iterations;
    expect(entry).toMatchObject({ iteration: 0, status: 'done', instructions: 6, finished: 6, pairs: out.stats.pairs, rft: out.stats.rft });
    expect(entry.spar.seed).toBe(3);
    expect(entry.labels.actor).toBe('actor');
    expect(heard.trees).toHaveLength(6);
    expect(heard.progress.at(-1)).toMatchObject({ state: 'done', finished: 6, total: 6 });
    expect(heard.texts.some((t) => t.includes(' sample '))).toBe(true);
    expect(heard.runs.map((r) => r.status)).toEqual(['running', 'done']);
    expect((await records(store, run.id)).trees).toHaveLength(6);
    // The next start is iteration 1.
    expect((await lab.selfplay.start(run.id)).stats.iteration).toBe(1);
  });

  it('pauses and resumes: nothing lost, nothing duplicated, the same records as without a pause', async () => {
    const a = labWorld({ models });
    const whole = await withPrompts(a.store, a.lab, 8);
    await a.lab.selfplay.start(whole.id);
    const want = await records(a.store, whole.id);

    let pausedAt = 0;
    const b = labWorld({
      models,
      onTree: () => {
        if (++pausedAt === 3) b.lab.selfplay.pause(run.id);
      },
    });
    const run = await withPrompts(b.store, b.lab, 8);
    const first = await b.lab.selfplay.start(run.id);
    expect(first.state).toBe('paused');
    expect((await b.store.getRun(run.id)).status).toBe('paused');
    const partial = await b.store.list('trees', run.id);
    expect(partial.length).toBeGreaterThanOrEqual(3);
    expect(partial.length).toBeLessThan(8);
    // The settings change after the pause; the resumed iteration keeps the ones it started with.
    await b.store.updateRun(run.id, { config: { ...(await b.store.getRun(run.id)).config, spar: { ...parseRunConfig((await b.store.getRun(run.id)).config).spar, seed: 99 } } });
    const second = await b.lab.selfplay.start(run.id);
    expect(second).toMatchObject({ state: 'done', stats: { iteration: 0, finished: 8 } });
    expect(second.stats.finishedNow).toBe(8 - partial.length);
    const got = await records(b.store, run.id);
    const strip = <T extends { runId: string; finishedAt?: number }>(l: T[]) => l.map(({ runId: _r, finishedAt: _f, ...x }) => x);
    expect(strip(got.trees)).toEqual(strip(want.trees));
    expect(strip(got.pairs)).toEqual(strip(want.pairs));
    expect(strip(got.rft)).toEqual(strip(want.rft));
    expect(parseRunConfig((await b.store.getRun(run.id)).config).iterations).toHaveLength(1);
  });

  it('cancel closes the iteration (finished trees stay); the next start is a new iteration', async () => {
    let n = 0;
    const w = labWorld({ models, onTree: () => ++n === 2 && w.lab.selfplay.cancel(run.id) });
    const run = await withPrompts(w.store, w.lab);
    const out = await w.lab.selfplay.start(run.id);
    expect(out.state).toBe('cancelled');
    const kept = (await w.store.list('trees', run.id)).length;
    expect(kept).toBeGreaterThanOrEqual(2);
    const next = await w.lab.selfplay.start(run.id);
    expect(next.stats.iteration).toBe(1);
    const iterations = parseRunConfig((await w.store.getRun(run.id)).config).iterations;
    expect(iterations.map((e) => [e.iteration, e.status])).toEqual([
      [0, 'cancelled'],
      [1, 'done'],
    ]);
    expect((await w.store.list('trees', run.id)).filter((t) => t.iteration === 0)).toHaveLength(kept);
  });

  it('runs one job at a time, with a clear error', async () => {
    const { store, lab } = labWorld({ models });
    const run = await withPrompts(store, lab);
    const other = await withPrompts(store, lab);
    const first = lab.selfplay.start(run.id);
    await expect(lab.selfplay.start(other.id)).rejects.toMatchObject({ kind: 'busy', message: expect.stringContaining('one job at a time') });
    await expect(lab.evals.evaluateActor(other.id)).rejects.toMatchObject({ kind: 'busy' });
    expect(lab.selfplay.status()).toMatchObject({ runId: run.id, iteration: 0 });
    await first;
    expect(lab.selfplay.status()).toBeNull();
  });

  it('refuses to start without prompts, or an iteration out of order', async () => {
    const { store, lab } = labWorld({ models });
    const empty = await newRun(store);
    await expect(lab.selfplay.start(empty.id)).rejects.toMatchObject({ kind: 'invalid-input', message: expect.stringContaining('Data') });
    const run = await withPrompts(store, lab, 2);
    await expect(lab.selfplay.start(run.id, { iteration: 3 })).rejects.toMatchObject({ kind: 'invalid-input' });
    expect((await store.getRun(run.id)).status).toBe('new');
  });

  it('a model that does not load leaves the run as it was', async () => {
    const { store, lab } = labWorld({ models });
    const run = await withPrompts(store, lab, 2);
    await store.updateRun(run.id, { config: { ...run.config, models: { actor: { kind: 'lab', model: { type: 'files', label: 'gone' } }, refiner: { kind: 'lab', model: { type: 'tiny', seed: 1 } } } } });
    const err = await lab.selfplay.start(run.id).catch((e) => e);
    expect(err).toBeInstanceOf(LabError);
    expect(err).toMatchObject({ kind: 'not-found', message: expect.stringContaining('Open the folder again') });
    const after = await store.getRun(run.id);
    expect(after.status).toBe('new');
    expect(parseRunConfig(after.config).iterations).toEqual([]);
  });

  it('a run left running by a reload is paused with its counts, and resumes', async () => {
    let n = 0;
    const w = labWorld({ models, onTree: () => ++n === 1 && w.lab.selfplay.pause(run.id) });
    const { store, lab } = w;
    const run = await withPrompts(store, lab, 3);
    await lab.selfplay.start(run.id);
    const done = await store.list('trees', run.id);
    // As a reload leaves it: marked running, counts as of the start.
    const stale = parseRunConfig((await store.getRun(run.id)).config).iterations.map((e) => ({ ...e, status: 'running', finished: 0, pairs: 0 }));
    await store.updateRun(run.id, { status: 'running', config: { ...(await store.getRun(run.id)).config, iterations: stale } });
    const fixed = await lab.selfplay.recoverInterrupted();
    expect(fixed.map((r) => r.id)).toEqual([run.id]);
    const after = await store.getRun(run.id);
    expect(after.status).toBe('paused');
    expect(parseRunConfig(after.config).iterations[0]).toMatchObject({ status: 'paused', finished: done.length, pairs: done.reduce((a, t) => a + t.outputs.pairs, 0) });
    expect((await lab.selfplay.start(run.id)).stats).toMatchObject({ iteration: 0, finished: 3 });
  });

  it('applies the adapters training made for the previous iteration', async () => {
    const adapter = { name: 'actor-it0', rank: 1, alpha: 1, scale: 1, targets: [], layers: [] } as LoraAdapter;
    const asked: [string, number][] = [];
    const { store, lab, engine } = labWorld({
      models,
      adapters: { latest: async (_run, role, before) => (asked.push([role, before]), role === 'actor' && before > 0 ? { adapter, trainedOn: 0 } : null) },
    });
    const run = await withPrompts(store, lab, 2);
    await lab.selfplay.start(run.id);
    await lab.selfplay.start(run.id);
    expect(asked).toEqual([
      ['actor', 0],
      ['refiner', 0],
      ['actor', 1],
      ['refiner', 1],
    ]);
    expect(engine.log.adapters).toEqual(['actor-it0']);
    expect(engine.log.views.at(-2)).toEqual({ adapters: ['actor-it0'], role: 'actor (actor-it0)' });
    const iterations = parseRunConfig((await store.getRun(run.id)).config).iterations;
    expect(iterations.map((e) => e.adapters.actor)).toEqual([undefined, 'actor-it0']);
    expect(iterations.map((e) => e.generation)).toEqual([
      { actor: 0, refiner: 0 },
      { actor: 1, refiner: 0 },
    ]);
  });
});
