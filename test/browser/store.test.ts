import { afterEach, describe, expect, it } from 'vitest';
import { openDB } from 'idb';
import { LabStore } from '../../src/store/lab-store';
import { archiveFromBlob, archiveToBlob, exportRun, importRun } from '../../src/store/archive';
import { CHILD_STORES, type PairRecord, type TreeRecord } from '../../src/store/records';
import { DB_VERSION, MIGRATIONS, upgrade } from '../../src/store/schema';

// The browser's real IndexedDB; each test uses a database of its own.
const opened: LabStore[] = [];
let dbCounter = 0;
function freshName() {
  return `spar-lab-test-${Date.now()}-${dbCounter++}`;
}
async function openStore(name = freshName()) {
  const s = await LabStore.open(name);
  opened.push(s);
  return s;
}
afterEach(async () => {
  for (const s of opened.splice(0)) {
    s.close();
    await new Promise((r) => {
      const req = indexedDB.deleteDatabase(s.name);
      req.onsuccess = req.onerror = req.onblocked = r;
    });
  }
});

function tree(runId: string, id: string, promptId: string): TreeRecord {
  const data = { prompt: 'p', mode: 'refine' as const, seeds: { sample: 1, judge: 2, select: 3, search: 4 }, samples: [], negative: null, positive: null, tree: null, stats: { modelCalls: 1, generatedTokens: 5, judgments: 0 } };
  return { runId, id, iteration: 0, promptId, status: 'done', data, outputs: { pairs: 0, rft: 0 }, finishedAt: 1 };
}
function pair(runId: string, id: string): PairRecord {
  return { runId, id, iteration: 0, promptId: 'q', prompt: 'p', chosen: 'good', rejected: 'bad', excluded: false, meta: { source: 'refinement', chosenValue: 0.8, rejectedValue: 0.2, rejectedSample: 1, chosenDepth: 2 } };
}

describe('LabStore on IndexedDB', () => {
  it('creates, lists, renames and deletes runs with their records', async () => {
    const s = await openStore();
    const a = await s.createRun({ name: '  first  ' });
    const b = await s.createRun({ name: 'second', config: { seed: 3 } });
    expect(a.name).toBe('first');
    await s.put('trees', [tree(a.id, 't1', 'q1'), tree(a.id, 't2', 'q2')]);
    await s.put('pairs', pair(b.id, 'p1'));
    const runs = await s.listRuns();
    expect(runs.map((r) => r.name)).toEqual(['second', 'first']); // newest update first
    expect(runs.find((r) => r.id === a.id)!.counts.trees).toBe(2);
    expect(runs.find((r) => r.id === b.id)!.counts.pairs).toBe(1);
    expect((await s.updateRun(a.id, { name: 'renamed' })).name).toBe('renamed');
    expect(await s.treesOfPrompt(a.id, 'q2')).toHaveLength(1);

    await s.deleteRun(a.id);
    expect(await s.list('trees', a.id)).toEqual([]);
    expect(await s.list('pairs', b.id)).toHaveLength(1);
    await expect(s.getRun(a.id)).rejects.toMatchObject({ kind: 'not-found' });
    await expect(s.createRun({ name: '  ' })).rejects.toMatchObject({ kind: 'invalid-input' });
  });

  it('lists runs that an older version or a person broke (no updatedAt, a createdAt that is no time), after the others', async () => {
    const s = await openStore();
    const good = await s.createRun({ name: 'good' });
    await s.db.put('runs', { id: 'no-updated', name: 'no updatedAt', createdAt: 1, status: 'done', config: {}, notes: '' } as never);
    await s.db.put('runs', { id: 'text-dates', name: 'dates as text', createdAt: 'yesterday', updatedAt: 'today', status: 'done', config: {}, notes: '' } as never);
    await s.db.put('pairs', pair('no-updated', 'p1')); // as it was written, without touching the run
    const runs = await s.listRuns();
    expect(runs.map((r) => r.id).sort()).toEqual([good.id, 'no-updated', 'text-dates'].sort());
    expect(runs[0].id).toBe(good.id);
    expect(runs.find((r) => r.id === 'no-updated')!.counts.pairs).toBe(1);
  });

  it('writes records of several kinds atomically: a failing record keeps every other one out', async () => {
    const s = await openStore();
    const run = await s.createRun({ name: 'atomic' });
    const quota = new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    // Structured clone reads the getter while storing; the browser's error aborts the transaction.
    const poisoned = { ...pair(run.id, 'p2'), get chosen(): string { throw quota; } };
    const write = s.putAll([
      { store: 'trees', record: tree(run.id, 't1', 'q1') },
      { store: 'pairs', record: pair(run.id, 'p1') },
      { store: 'pairs', record: poisoned },
    ]);
    await expect(write).rejects.toMatchObject({ kind: 'quota', message: /storage is full.*nothing was half-written/i });
    expect(await s.list('trees', run.id)).toEqual([]);
    expect(await s.list('pairs', run.id)).toEqual([]);
    // The store still works afterwards.
    await s.put('pairs', pair(run.id, 'p1'));
    expect(await s.count('pairs', run.id)).toBe(1);
  });

  it('refuses records for a run that does not exist, writing nothing', async () => {
    const s = await openStore();
    await expect(s.put('pairs', pair('ghost', 'p'))).rejects.toMatchObject({ kind: 'not-found' });
  });

  it('exports a whole run and imports it back with identical content', async () => {
    const s = await openStore();
    const run = await s.createRun({ name: 'round trip', config: { seed: 42, templates: { judge: 'J {instruction}' } } });
    await s.put('prompts', { runId: run.id, id: 'q1', index: 0, prompt: 'Write a haiku. Use no commas.', instructionIds: ['punctuation:no_comma'], kwargs: [{}], source: 'builtin' });
    await s.put('trees', tree(run.id, 't1', 'q1'));
    await s.put('pairs', pair(run.id, 'p1'));
    await s.put('rft', { runId: run.id, id: 'r1', iteration: 0, promptId: 'q1', kind: 'judge-no', messages: [{ role: 'user', content: 'judge' }, { role: 'assistant', content: 'No' }], excluded: false });
    const weights = Float32Array.from({ length: 257 }, () => Math.random() - 0.5);
    await s.put('adapters', { runId: run.id, id: 'actor-1', iteration: 1, role: 'actor', step: 10, createdAt: 3, config: { r: 4 }, tensors: { a: weights.buffer.slice(0) } });
    await s.put('evals', { runId: run.id, id: 'e1', iteration: 1, createdAt: 4, kind: 'ifeval', summary: { promptStrict: 0.5 }, details: [] });
    await s.put('trainLogs', { runId: run.id, id: 's1', iteration: 1, role: 'actor', step: 1, time: 5, metrics: { loss: 0.69 } });

    const before = await exportRun(s, run.id);
    const file = archiveToBlob(before);
    await s.deleteRun(run.id);
    const restored = await importRun(s, await archiveFromBlob(file));
    expect(restored.id).toBe(run.id);
    const after = await exportRun(s, run.id);
    expect({ ...after, exportedAt: '' }).toEqual({ ...before, exportedAt: '' });
    for (const st of CHILD_STORES) expect(after.records[st]).toHaveLength(1);
    expect(new Float32Array(after.records.adapters[0].tensors.a)).toEqual(weights);

    // Importing again: refused as-is, or imported as a copy under a new id.
    await expect(importRun(s, await archiveFromBlob(file))).rejects.toMatchObject({ kind: 'exists' });
    const copy = await importRun(s, await archiveFromBlob(file), { asCopy: true });
    expect(copy.id).not.toBe(run.id);
    expect(copy.name).toBe('round trip (copy)');
    expect(await s.count('pairs', copy.id)).toBe(1);
  });

  it('upgrades a v1 database in place, keeping its data', async () => {
    const name = freshName();
    const v1 = await openDB(name, 1, { upgrade: (db, o, n, tx) => upgrade(db as never, o, n ?? 1, tx as never) });
    await v1.put('runs', { id: 'old', name: 'from v1', createdAt: 1, updatedAt: 1, status: 'done', config: {}, notes: '' });
    await v1.put('trees', tree('old', 't1', 'q9'));
    v1.close();

    const s = await openStore(name);
    expect(s.db.version).toBe(DB_VERSION);
    expect(DB_VERSION).toBe(MIGRATIONS.length);
    expect((await s.getRun('old')).name).toBe('from v1');
    expect(await s.treesOfPrompt('old', 'q9')).toHaveLength(1); // the v2 index covers old records
  });

  it('fails clearly when another tab blocks the upgrade, and changes nothing', async () => {
    const name = freshName();
    const v1 = await openDB(name, 1, { upgrade: (db, o, n, tx) => upgrade(db as never, o, n ?? 1, tx as never) });
    // An old tab that never closes its connection (no versionchange handling).
    await expect(LabStore.open(name)).rejects.toMatchObject({ kind: 'blocked', message: /Close the other SPaR Lab tabs/ });
    expect(v1.version).toBe(1);
    v1.close();
    // Once the old tab is gone, opening works (the earlier request may finish first; either way v2).
    const s = await openStore(name);
    expect(s.db.version).toBe(DB_VERSION);
  });

  it('says so when the database is newer than this lab', async () => {
    const name = freshName();
    const future = await openDB(name, DB_VERSION + 1);
    future.close();
    await expect(LabStore.open(name)).rejects.toMatchObject({ kind: 'version' });
    indexedDB.deleteDatabase(name);
  });
});
