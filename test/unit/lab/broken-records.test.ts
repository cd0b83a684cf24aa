/**
 * Broken records already in the store (written by an older version, or by hand) are listed as
 * broken next to the good ones, and never stop the lab starting.
 */
import { describe, expect, it } from 'vitest';
import { hash32 } from '../../../src/spar/rng';
import type { PairRecord, RftRecord, TreeRecord } from '../../../src/store/records';
import { labWorld, newRun } from '../../helpers/lab-world';
import { world, type WorldSpec } from '../../helpers/spar-world';

const VOTES: WorldSpec['votes'] = (response, _o, instruction) => ['NNNNN', 'YNNNN', 'YYYNN', 'YYYYN', 'YYYYY'][hash32(instruction + response) % 5];

async function selfPlayed() {
  const w = labWorld({ models: () => world({ votes: VOTES }) });
  const run = await newRun(w.store);
  await w.lab.prompts.generate(run.id, { count: 4, seed: 2 });
  await w.lab.selfplay.start(run.id);
  return { ...w, run };
}

describe('lists with broken records', () => {
  it('a tree with data null is listed as broken, with its reason, among the others', async () => {
    const { lab, store, run } = await selfPlayed();
    const [first] = await store.list('trees', run.id);
    await store.put('trees', { ...first, data: null } as unknown as TreeRecord);
    lab.browse.forget(run.id);

    const page = await lab.browse.trees(run.id);
    expect(page.total).toBe(4);
    expect(page.iterations).toEqual([0]);
    const broken = page.items.find((t) => t.id === first.id)!;
    expect(broken.problems).toEqual(['data: expected an object, got null']);
    expect(page.items.filter((t) => t.problems)).toHaveLength(1);
    expect(page.items.filter((t) => !t.problems).every((t) => t.samples > 0)).toBe(true);
    // Filters and searches go past it.
    expect((await lab.browse.trees(run.id, { query: 'zzz', show: 'pairs' })).total).toBe(0);
    expect((await lab.browse.tree(run.id, first.id)).tree.data).toBeNull();
  });

  it('searching pairs and RFT records goes past broken ones', async () => {
    const { lab, store, run } = await selfPlayed();
    const [pair] = await store.list('pairs', run.id);
    const [rft] = await store.list('rft', run.id);
    await store.put('pairs', { ...pair, id: 'broken', prompt: null, meta: undefined } as unknown as PairRecord);
    await store.put('rft', { ...rft, id: 'broken', messages: 'none' } as unknown as RftRecord);
    expect((await lab.browse.pairs(run.id, { query: pair.chosen.slice(0, 12) })).items.map((p) => p.id)).toContain(pair.id);
    expect((await lab.browse.pairs(run.id)).items.map((p) => p.id)).toContain('broken');
    expect((await lab.browse.rft(run.id, { query: rft.messages[0].content.slice(0, 12) })).items.map((r) => r.id)).toContain(rft.id);
  });

  it('a broken run does not stop the recovery of interrupted runs when the lab starts', async () => {
    const { lab, store } = labWorld({ models: () => world({ votes: VOTES }) });
    const broken = await newRun(store, {}, 'broken');
    const good = await newRun(store, {}, 'good');
    await store.updateRun(broken.id, { status: 'running', config: { ...broken.config, models: { actor: { kind: 'telepathy' } }, iterations: [null] } });
    await store.updateRun(good.id, { status: 'running' });
    await lab.train.recoverInterrupted();
    const fixed = await lab.selfplay.recoverInterrupted();
    expect(fixed.map((r) => r.name)).toEqual(['good']);
    expect((await store.getRun(broken.id)).status).toBe('running');
  });
});
