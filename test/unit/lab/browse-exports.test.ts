import { describe, expect, it } from 'vitest';
import { exportFile } from '../../../src/lab/exports';
import { hash32 } from '../../../src/spar/rng';
import { labWorld, newRun } from '../../helpers/lab-world';
import { world, type WorldSpec } from '../../helpers/spar-world';

const VOTES: WorldSpec['votes'] = (response, _o, instruction) => {
  const m = /\/s(\d)$/.exec(response);
  if (m) return ['YYYYN', 'NNNNY', 'NNNNN', 'YYNNx', 'YYYYY'][Number(m[1])];
  return ['NNNNN', 'YNNNN', 'YYYNN', 'YYYYN', 'YYYYY'][hash32(instruction + response) % 5];
};

async function finished(count = 12) {
  const w = labWorld({ models: () => world({ votes: VOTES }) });
  const run = await newRun(w.store);
  await w.lab.prompts.generate(run.id, { count, seed: 2 });
  await w.lab.selfplay.start(run.id);
  return { ...w, run };
}

describe('browsing, editing and exporting results', () => {
  it('lists tree summaries page by page with search and filters, and loads one tree', async () => {
    const { lab, run, store } = await finished();
    const page1 = await lab.browse.trees(run.id, { limit: 5 });
    expect(page1.total).toBe(12);
    expect(page1.items).toHaveLength(5);
    expect(page1.iterations).toEqual([0]);
    expect(page1.items.map((t) => t.index)).toEqual([0, 1, 2, 3, 4]);
    const page3 = await lab.browse.trees(run.id, { limit: 5, offset: 10 });
    expect(page3.items.map((t) => t.index)).toEqual([10, 11]);
    const refined = await lab.browse.trees(run.id, { show: 'refined', limit: 100 });
    expect(refined.items.every((t) => t.nodes > 1)).toBe(true);
    expect(refined.total).toBeGreaterThan(0);
    const withPairs = await lab.browse.trees(run.id, { show: 'pairs', limit: 100 });
    expect(withPairs.items.reduce((a, t) => a + t.pairs, 0)).toBe(await store.count('pairs', run.id));
    const first = page1.items[0];
    // One tree's id with the other filters: does the shown tree still match them?
    expect((await lab.browse.trees(run.id, { id: first.id, limit: 1 })).total).toBe(1);
    expect((await lab.browse.trees(run.id, { id: first.id, iteration: 1, limit: 1 })).total).toBe(0);
    expect((await lab.browse.trees(run.id, { id: first.id, query: 'no prompt says this', limit: 1 })).total).toBe(0);
    const word = first.prompt.split(' ')[2].toLowerCase();
    expect((await lab.browse.trees(run.id, { query: word.toUpperCase() })).items.some((t) => t.id === first.id)).toBe(true);
    const { tree, prompt } = await lab.browse.tree(run.id, first.id);
    expect(tree.id).toBe(first.id);
    expect(prompt!.instructionIds).toEqual(first.constraints);
    await expect(lab.browse.tree(run.id, 'nope')).rejects.toMatchObject({ kind: 'not-found' });
  });

  it('keeps the cached list current while self-play writes trees', async () => {
    const w = labWorld({ models: () => world({ votes: VOTES }) });
    const run = await newRun(w.store);
    await w.lab.prompts.generate(run.id, { count: 3, seed: 2 });
    expect((await w.lab.browse.trees(run.id)).total).toBe(0);
    await w.lab.selfplay.start(run.id);
    await new Promise((r) => setTimeout(r, 0));
    expect((await w.lab.browse.trees(run.id)).total).toBe(3);
  });

  it('edits and excludes pairs and RFT records; exports leave excluded ones out', async () => {
    const { lab, run, store } = await finished();
    const pairs = await lab.browse.pairs(run.id, { limit: 100 });
    expect(pairs.total).toBeGreaterThanOrEqual(2);
    const [a, b] = pairs.items;
    await lab.browse.updatePair(run.id, a.id, { chosen: 'An edited chosen response.' });
    await lab.browse.updatePair(run.id, b.id, { excluded: true });
    await expect(lab.browse.updatePair(run.id, a.id, { rejected: '  ' })).rejects.toMatchObject({ kind: 'invalid-input' });
    expect((await lab.browse.pairs(run.id, { excluded: 'excluded' })).items.map((p) => p.id)).toEqual([b.id]);
    expect((await lab.browse.pairs(run.id, { query: 'edited chosen' })).items.map((p) => p.id)).toEqual([a.id]);

    const trl = await exportFile(store, run.id, 'pairs-trl');
    const rows = (await trl.blob.text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(trl.count).toBe(pairs.total - 1);
    expect(rows).toHaveLength(pairs.total - 1);
    expect(rows[0]).toEqual({ prompt: [{ role: 'user', content: a.prompt }], chosen: [{ role: 'assistant', content: 'An edited chosen response.' }], rejected: [{ role: 'assistant', content: a.rejected }] });
    expect(trl.fileName).toBe('test-run.pairs.trl.jsonl');
    const lf = await exportFile(store, run.id, 'pairs-llamafactory', 0);
    expect(lf.fileName).toBe('test-run.it0.pairs.llamafactory.jsonl');
    expect(JSON.parse((await lf.blob.text()).split('\n')[0])).toMatchObject({ messages: [{ role: 'user' }], chosen: { role: 'assistant' }, rejected: { role: 'assistant' } });
    const info = JSON.parse(await (await exportFile(store, run.id, 'llamafactory-dataset-info', 0)).blob.text());
    expect(Object.values(info)[0]).toMatchObject({ file_name: lf.fileName, ranking: true });
    // Nothing to write: refused with the reason, not saved as an empty file.
    await expect(exportFile(store, run.id, 'pairs-trl', 1)).rejects.toMatchObject({ kind: 'not-found', message: 'Nothing to export: iteration 1 has no pairs yet. Pick an iteration that has finished self-play.' });
    await expect(exportFile(store, run.id, 'trees', 1)).rejects.toMatchObject({ kind: 'not-found', message: expect.stringContaining('iteration 1 has no trees yet') });

    const rft = await lab.browse.rft(run.id, { limit: 100 });
    const r0 = rft.items[0];
    const edited = r0.messages.map((m, i) => (i === r0.messages.length - 1 ? { ...m, content: 'A better critique.' } : m));
    await lab.browse.updateRft(run.id, r0.id, { messages: edited });
    await expect(lab.browse.updateRft(run.id, r0.id, { messages: edited.slice(1) })).rejects.toMatchObject({ kind: 'invalid-input' });
    await lab.browse.updateRft(run.id, rft.items[1].id, { excluded: true });
    const rftFile = await exportFile(store, run.id, 'rft');
    const rftRows = (await rftFile.blob.text()).trim().split('\n').map((l) => JSON.parse(l));
    expect(rftRows).toHaveLength(rft.total - 1);
    expect(rftRows[0].messages.at(-1).content).toBe('A better critique.');
    expect((await lab.browse.rft(run.id, { kind: r0.kind })).items.every((r) => r.kind === r0.kind)).toBe(true);

    const trees = JSON.parse(await (await exportFile(store, run.id, 'trees')).blob.text());
    expect(trees.format).toBe('spar-lab-trees');
    expect(trees.trees).toHaveLength(12);
  });

  it('refuses an export whose every record is excluded, saying how many and what to do', async () => {
    const { lab, run, store } = await finished();
    const pairs = (await lab.browse.pairs(run.id, { limit: 100 })).items;
    expect(pairs.length).toBeGreaterThan(1);
    for (const p of pairs) await lab.browse.updatePair(run.id, p.id, { excluded: true });
    for (const kind of ['pairs-trl', 'pairs-llamafactory'] as const) {
      await expect(exportFile(store, run.id, kind, 0)).rejects.toMatchObject({
        kind: 'invalid-input',
        message: `Nothing to export: all ${pairs.length} pairs of iteration 0 are excluded. Untick “exclude” on the ones to keep (Pairs view), or export another iteration.`,
      });
    }
    await lab.browse.updatePair(run.id, pairs[0].id, { excluded: false });
    expect((await exportFile(store, run.id, 'pairs-trl')).count).toBe(1);

    const rft = (await lab.browse.rft(run.id, { limit: 100 })).items;
    for (const r of rft) await lab.browse.updateRft(run.id, r.id, { excluded: true });
    await expect(exportFile(store, run.id, 'rft')).rejects.toMatchObject({ kind: 'invalid-input', message: expect.stringContaining(`all ${rft.length} RFT records of this run are excluded`) });
  });
});

describe('thousands of trees', () => {
  it('reads the store once, then pages and searches the cached summaries', async () => {
    const w = labWorld({ models: () => world({ votes: VOTES }) });
    const run = await newRun(w.store);
    await w.lab.prompts.generate(run.id, { count: 2, seed: 2 });
    await w.lab.selfplay.start(run.id);
    const [t] = await w.store.list('trees', run.id);
    // 3000 copies of a finished tree, as if from 3000 instructions.
    await w.store.put('trees', Array.from({ length: 3000 }, (_, i) => ({ ...t, id: `0:x${String(i).padStart(5, '0')}`, promptId: `x${i}` })));
    let lists = 0;
    const list = w.store.list.bind(w.store);
    w.store.list = (async (s: never, r: string) => (s === 'trees' && lists++, list(s, r))) as typeof w.store.list;
    const first = await w.lab.browse.trees(run.id, { limit: 50 });
    expect(first.total).toBe(3002);
    expect(first.items).toHaveLength(50);
    const last = await w.lab.browse.trees(run.id, { limit: 50, offset: 3000 });
    expect(last.items).toHaveLength(2);
    expect((await w.lab.browse.trees(run.id, { query: 'x2999' })).items.map((s) => s.id)).toEqual(['0:x02999']);
    expect(lists).toBe(1);
  });
});
