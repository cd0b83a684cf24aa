import { afterEach, describe, expect, it } from 'vitest';
import { hash32 } from '../../src/spar/rng';
import { parseSparConfig } from '../../src/spar/config';
import type { SparPersistence } from '../../src/spar/persist';
import { runIteration } from '../../src/spar/pipeline';
import { LabStore } from '../../src/store/lab-store';
import type { PromptRecord } from '../../src/store/records';
import { TEMPLATES, type WorldSpec, world } from '../helpers/spar-world';

// The SPaR pipeline with a scripted model against the real LabStore on IndexedDB: interrupted
// mid-run, the page "reloaded" (store closed and reopened, new backends), then resumed.
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

const VOTES: WorldSpec['votes'] = (response, _o, instruction) => {
  const m = /\/s(\d)$/.exec(response);
  if (m) return ['YYYYN', 'NNNNY', 'NNNNN', 'YYNNx', 'YYYYY'][Number(m[1])];
  return ['NNNNN', 'YNNNN', 'YYNNN', 'YYYNN', 'YYYYN', 'NNNNY'][hash32(instruction + response) % 6];
};
const SETTINGS = { seed: 5, concurrency: 3, templates: TEMPLATES };

async function setUp(store: LabStore, name: string) {
  const run = await store.createRun({ name, config: { spar: SETTINGS } });
  const prompts: PromptRecord[] = Array.from({ length: 8 }, (_, i) => ({
    runId: run.id, id: `p${i}`, index: i, prompt: `Instruction ${i}: answer in ${i + 1} words.`, instructionIds: [], kwargs: [], source: 'test',
  }));
  await store.put('prompts', prompts);
  return run;
}

async function iterate(store: SparPersistence & LabStore, runId: string, opts: { signal?: AbortSignal; onInstruction?: () => void } = {}) {
  const run = await store.getRun(runId);
  return runIteration({
    runId,
    iteration: 0,
    prompts: await store.list('prompts', runId),
    config: parseSparConfig(run.config.spar),
    models: world({ votes: VOTES, delayMs: 2 }),
    store,
    now: () => 0,
    ...opts,
  });
}

async function records(store: LabStore, runId: string) {
  const strip = <T extends { runId: string }>(list: T[]) => list.map(({ runId: _r, ...rest }) => rest);
  return { trees: strip(await store.list('trees', runId)), pairs: strip(await store.list('pairs', runId)), rft: strip(await store.list('rft', runId)) };
}

describe('SPaR run on IndexedDB', () => {
  it('resumes after an interruption and a reload with nothing lost or duplicated', async () => {
    const name = `spar-resume-${Date.now()}`;
    let store = await LabStore.open(name);
    const whole = await setUp(store, 'uninterrupted');
    const progress = await iterate(store, whole.id);
    expect(progress).toMatchObject({ total: 8, finished: 8, failed: 0 });
    const want = await records(store, whole.id);
    expect(want.pairs.length).toBeGreaterThan(0);

    const run = await setUp(store, 'interrupted');
    const controller = new AbortController();
    let finished = 0;
    const session = iterate(store, run.id, { signal: controller.signal, onInstruction: () => ++finished === 3 && controller.abort() });
    await expect(session).rejects.toMatchObject({ kind: 'cancelled' });
    const partial = await store.list('trees', run.id);
    expect(partial.length).toBeGreaterThanOrEqual(3);
    expect(partial.length).toBeLessThan(8);
    // every written tree came with exactly its pairs and RFT records
    for (const t of partial) {
      expect((await store.list('pairs', run.id)).filter((p) => p.promptId === t.promptId)).toHaveLength(t.outputs.pairs);
      expect((await store.list('rft', run.id)).filter((p) => p.promptId === t.promptId)).toHaveLength(t.outputs.rft);
    }

    store.close(); // reload
    store = await LabStore.open(name);
    opened.push(store);
    const resumed = await iterate(store, run.id);
    expect(resumed).toMatchObject({ total: 8, finished: 8, failed: 0, inFlight: 0 });
    expect(await records(store, run.id)).toEqual(want);
  });
});
