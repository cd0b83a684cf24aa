import { beforeAll, describe, expect, it } from 'vitest';
import { ARCHIVE_FORMAT, archiveFromBlob, archiveToBlob, exportRun, importRun, type RunArchive } from '../../src/store/archive';
import { CHILD_STORES, type TreeRecord } from '../../src/store/records';
import type { LabStore } from '../../src/store/lab-store';
import { CPU_ENGINE } from '../../src/lab/engine';
import { createLab } from '../../src/lab/index';
import { ModelHost } from '../../src/lab/models';
import { presetPatch } from '../../src/lab/presets';
import { applyConfigPatch } from '../../src/lab/run-config';
import { MemoryLabStore } from '../helpers/memory-lab-store';

function sampleArchive(): RunArchive {
  const run = { id: 'run-1', name: 'demo', createdAt: 1, updatedAt: 2, status: 'done' as const, config: { seed: 7 }, notes: '' };
  const records = Object.fromEntries(CHILD_STORES.map((s) => [s, []])) as unknown as RunArchive['records'];
  const lora = new Float32Array([0.5, -1.25, Math.PI, 1e-30]);
  records.adapters.push({
    runId: 'run-1',
    id: 'actor-0',
    iteration: 0,
    role: 'actor',
    step: 3,
    createdAt: 5,
    config: { r: 8 },
    tensors: { 'layers.0.q.lora_A': lora.buffer },
    optimizer: { m: new Float32Array([1, 2]).buffer },
  });
  records.pairs.push({
    runId: 'run-1', id: 'p1', iteration: 0, promptId: 'q1', prompt: 'Say hi in ✨ Unicode', chosen: 'hi', rejected: 'no', excluded: false, meta: { source: 'independent', chosenValue: 1, rejectedValue: 0, rejectedSample: 0, chosenSample: 1 },
  });
  records.trees.push(sampleTree());
  return { format: ARCHIVE_FORMAT, version: 1, schemaVersion: 2, exportedAt: 'now', run, records };
}

function sampleTree(): TreeRecord {
  const critique = { text: 'It fails. Verdict: No', parsed: 'No' as const, verdict: 'No' as const, readout: { logprobs: [-0.5, -Infinity] as [number, number], pYes: 0 } };
  const judgment = { critiques: [critique], yes: 0, no: 1, value: 0, label: 'No' as const, representative: 0, tiedAttempts: [] };
  const node = (id: number, parent: number | null, children: number[], depth: number) => ({
    id, parent, children, depth, order: id, response: `answer ${id}`, refineTrace: id ? 'trace' : '', refineCalls: [], critique: 'c', value: id / 2, judgment,
  });
  return {
    runId: 'run-1',
    id: '0:q1',
    iteration: 0,
    promptId: 'q1',
    status: 'done',
    data: {
      prompt: 'Say hi.',
      mode: 'refine',
      seeds: { sample: 1, judge: 2, select: 3, search: 4 },
      samples: [{ response: 'answer 0', finishReason: 'stop', judge: { ok: true, judgment } }],
      negative: 0,
      positive: null,
      tree: {
        algorithm: 'bfs',
        nodes: [node(0, null, [1, 2], 0), node(1, 0, [], 1), node(2, 0, [], 1)],
        discarded: [],
        outcome: 'solved',
        finalNode: 2,
        budgetLeft: 0,
        critiquePicks: { negative: 1, positive: null },
      },
      stats: { modelCalls: 4, generatedTokens: 40, judgments: 3 },
    },
    outputs: { pairs: 0, rft: 0 },
    finishedAt: 9,
  };
}

/** An archive as JSON text with `edit` applied to its parsed form: what a person or an old version might have written. */
function edited(edit: (a: Record<string, any>) => void): Blob {
  const a = JSON.parse(JSON.stringify(sampleArchive(), (_k, v) => (v instanceof ArrayBuffer ? { $bytes: 'AAAAAA==', $type: 'ArrayBuffer' } : v)));
  edit(a);
  return new Blob([JSON.stringify(a)]);
}

const rejected = (blob: Blob) => expect(archiveFromBlob(blob)).rejects;

describe('run archive file', () => {
  it('round-trips records and binary tensors exactly', async () => {
    const a = sampleArchive();
    const back = await archiveFromBlob(archiveToBlob(a));
    expect(back).toEqual(a);
    const t = back.records.adapters[0].tensors['layers.0.q.lora_A'];
    expect(t).toBeInstanceOf(ArrayBuffer);
    expect(Array.from(new Float32Array(t))).toEqual(Array.from(new Float32Array(a.records.adapters[0].tensors['layers.0.q.lora_A'])));
  });

  it('keeps numbers JSON cannot hold (a read-out log-probability of -Infinity, a NaN metric)', async () => {
    const a = sampleArchive();
    a.records.evals.push({ runId: 'run-1', id: 'e1', iteration: 0, createdAt: 3, kind: 'judge', summary: { accuracy: NaN, judged: 0 }, details: [] });
    const back = await archiveFromBlob(archiveToBlob(a));
    expect(back.records.trees[0].data.samples[0].judge).toEqual(a.records.trees[0].data.samples[0].judge);
    expect((back.records.trees[0].data.samples[0].judge as { judgment: { critiques: { readout: { logprobs: number[] } }[] } }).judgment.critiques[0].readout.logprobs[1]).toBe(-Infinity);
    expect(back.records.evals[0].summary.accuracy).toBeNaN();
    // Version 1 wrote them as null: such a file is still read.
    const v1 = edited((x) => {
      x.records.trees[0].data.samples[0].judge.judgment.critiques[0].readout.logprobs[1] = null;
    });
    expect((await archiveFromBlob(v1)).records.trees).toHaveLength(1);
  });

  it('reads a gzipped archive', async () => {
    const gz = await new Response(archiveToBlob(sampleArchive()).stream().pipeThrough(new CompressionStream('gzip'))).blob();
    expect((await archiveFromBlob(gz)).run.name).toBe('demo');
  });

  it('rejects files that are not archives with a clear reason', async () => {
    await expect(archiveFromBlob(new Blob(['{not json']))).rejects.toMatchObject({ kind: 'invalid-input', message: /not valid JSON/ });
    await expect(archiveFromBlob(new Blob(['{"format":"x"}']))).rejects.toMatchObject({ message: /"format" is not "spar-lab-run"/ });
    const a = sampleArchive();
    a.records.pairs[0].runId = 'other';
    await expect(archiveFromBlob(archiveToBlob(a))).rejects.toMatchObject({ message: /records\.pairs\[0\]\.runId: expected the run's id "run-1", got the string "other"/ });
    const future = { ...sampleArchive(), version: 99 };
    await expect(archiveFromBlob(archiveToBlob(future))).rejects.toMatchObject({ message: /newer than this lab/ });
  });
});

describe('an archive with a broken record is refused whole, naming the record and the field', () => {
  it('a run whose createdAt is not a time', async () => {
    await rejected(edited((a) => (a.run.createdAt = 'yesterday'))).toMatchObject({
      kind: 'invalid-input',
      message: expect.stringContaining('run.createdAt: expected a time in milliseconds since 1970, got the string "yesterday"'),
    });
    // A number Date cannot show is no time either.
    await rejected(edited((a) => (a.run.createdAt = 1e20))).toMatchObject({ message: expect.stringContaining('run.createdAt: expected a time') });
  });

  it('a run without updatedAt (it would be stored but never listed)', async () => {
    await rejected(edited((a) => delete a.run.updatedAt)).toMatchObject({ message: expect.stringContaining('run.updatedAt: missing (expected a time') });
  });

  it('a run or a record with an empty id (it could not be opened)', async () => {
    await rejected(edited((a) => (a.run.id = ''))).toMatchObject({ message: expect.stringContaining('run.id: expected a non-empty string, got the string ""') });
    await rejected(edited((a) => (a.records.pairs[0].id = ''))).toMatchObject({ message: expect.stringContaining('records.pairs[0].id: expected a non-empty string') });
  });

  it('malformed iterations in the run config', async () => {
    await rejected(edited((a) => (a.run.config.iterations = [{ iteration: 0, status: 'done' }]))).toMatchObject({
      message: expect.stringMatching(/run\.config\.iterations\[0\]\.startedAt: missing .*run\.config\.iterations\[0\]\.spar: missing/),
    });
    await rejected(edited((a) => (a.run.config.iterations = [null]))).toMatchObject({ message: expect.stringContaining('run.config.iterations[0]: expected an object, got null') });
    await rejected(edited((a) => (a.run.config.models = { actor: { kind: 'telepathy' } }))).toMatchObject({ message: expect.stringContaining('run.config: The actor\'s model: unknown backend kind "telepathy"') });
  });

  it('a tree with data null, naming the tree', async () => {
    await rejected(edited((a) => (a.records.trees[0].data = null))).toMatchObject({ message: expect.stringContaining('records.trees[0].data: expected an object, got null, in tree "0:q1"') });
  });

  it('a tree whose nodes do not form a tree (the views would loop or read past the end)', async () => {
    await rejected(edited((a) => (a.records.trees[0].data.tree.nodes[1].parent = 2))).toMatchObject({ message: expect.stringContaining('records.trees[0].data.tree.nodes[1].parent: expected an earlier node (0 to 0), got the number 2') });
    await rejected(edited((a) => (a.records.trees[0].data.tree.finalNode = 7))).toMatchObject({ message: expect.stringContaining('records.trees[0].data.tree.finalNode: there is no node 7 (the tree has 3)') });
    await rejected(edited((a) => (a.records.trees[0].data.negative = 4))).toMatchObject({ message: expect.stringContaining('records.trees[0].data.negative: there is no sample 4 (there are 1)') });
  });

  it('every other kind of record', async () => {
    const cases: [(a: Record<string, any>) => void, string][] = [
      [(a) => delete a.records.pairs[0].meta.chosenValue, 'records.pairs[0].meta.chosenValue: missing (expected a number), in pair "p1"'],
      [(a) => (a.records.adapters[0].tensors['layers.0.q.lora_A'] = 'AAAA'), 'records.adapters[0].tensors["layers.0.q.lora_A"]: expected binary data, got the string "AAAA"'],
      [(a) => a.records.rft.push({ runId: 'run-1', id: 'r', iteration: 0, promptId: 'q1', kind: 'praise', messages: [], excluded: false }), 'records.rft[0].kind: expected one of "refine", "critique-positive"'],
      [(a) => a.records.prompts.push({ runId: 'run-1', id: 'q1', index: 0, prompt: 'x', instructionIds: 'none', kwargs: [], source: 's' }), 'records.prompts[0].instructionIds: expected a list, got the string "none"'],
      [(a) => a.records.evals.push({ runId: 'run-1', id: 'e', iteration: 0, createdAt: 1, kind: 'ifeval', summary: { promptStrict: '50%' }, details: [] }), 'records.evals[0].summary.promptStrict: expected a number, got the string "50%"'],
      [(a) => a.records.evals.push({ runId: 'run-1', id: 'e', iteration: 0, createdAt: 1, kind: 'ifeval', summary: {}, details: [{ key: 1, prompt: 'p' }] }), 'records.evals[0].details[0].response: missing (expected a string)'],
      [(a) => a.records.trainLogs.push({ runId: 'run-1', id: 'l', iteration: 0, role: 'critic', step: 1, time: 1, metrics: {} }), 'records.trainLogs[0].role: expected "actor" or "refiner", got the string "critic"'],
      [(a) => (a.records.trees = { t: 1 }), 'records.trees: expected a list, got an object'],
      [(a) => a.records.pairs.push({ ...a.records.pairs[0] }), 'records.pairs[1].id: the string "p1" is also the id of records.pairs[0]'],
    ];
    for (const [edit, message] of cases) await rejected(edited(edit)).toMatchObject({ kind: 'invalid-input', message: expect.stringContaining(message) });
  });

  it('lists the first few problems of a file with many', async () => {
    const blob = edited((a) => {
      for (let i = 0; i < 20; i++) a.records.pairs.push({ ...a.records.pairs[0], id: `p${i + 2}`, chosen: null });
    });
    const e = await archiveFromBlob(blob).catch((x: Error) => x);
    expect((e as Error).message.match(/chosen: expected a string/g)).toHaveLength(5);
    expect((e as Error).message).toMatch(/; and more\. Nothing was imported\.$/);
  });

  it('stores nothing', async () => {
    const store = new MemoryLabStore();
    await expect(archiveFromBlob(edited((a) => (a.records.trees[0].data = null))).then((a) => importRun(store as unknown as LabStore, a))).rejects.toMatchObject({ kind: 'invalid-input' });
    expect(await store.listRuns()).toEqual([]);
    expect(store.writes).toBe(0);
  });
});

describe('tagged values that cannot be decoded name their field', () => {
  it('bad base64 is reported as bad base64, not as bad JSON', async () => {
    const e = await archiveFromBlob(edited((a) => (a.records.adapters[0].tensors['layers.0.q.lora_A'].$bytes = 'not base64!'))).catch((x: Error) => x);
    expect(e).toMatchObject({ kind: 'invalid-input', message: expect.stringContaining('records.adapters[0].tensors["layers.0.q.lora_A"]: $bytes is not valid base64') });
    expect((e as Error).message).not.toMatch(/JSON/);
  });

  it('an unknown binary type, bytes that do not fill its elements, a bad number tag', async () => {
    await rejected(edited((a) => (a.records.adapters[0].optimizer.m.$type = 'Float16Array'))).toMatchObject({ message: expect.stringContaining('records.adapters[0].optimizer.m: unknown binary type "Float16Array"') });
    await rejected(edited((a) => (a.records.adapters[0].optimizer.m = { $bytes: 'AAAAAAA=', $type: 'Float32Array' }))).toMatchObject({ message: expect.stringContaining('5 bytes are not a whole number of Float32Array elements') });
    await rejected(edited((a) => (a.records.pairs[0].meta.chosenValue = { $number: 'lots' }))).toMatchObject({ message: expect.stringContaining('records.pairs[0].meta.chosenValue: $number is "lots"') });
  });
});

describe('what the lab itself writes passes the checks', () => {
  // A whole tiny-demo run on the CPU reference engine: self-play, the actor's training, an
  // evaluation with inference-time refinement and a judge evaluation: every kind of record.
  let archive: RunArchive;
  beforeAll(async () => {
    const store = new MemoryLabStore();
    const quiet = { progress() {}, tree() {}, text() {}, run() {} };
    const lab = createLab(store, { models: new ModelHost({ engine: CPU_ENGINE }), listener: quiet, trainListener: { steps() {}, state() {}, run() {} }, throttleMs: 0 });
    const run = await store.createRun({ name: 'whole run', config: applyConfigPatch({}, presetPatch('tiny-demo')) });
    await lab.prompts.generate(run.id, { count: 2, seed: 1, maxConstraints: 1 });
    await lab.selfplay.start(run.id);
    await lab.train.start(run.id, { iteration: 0, role: 'actor' });
    const set = { source: 'generated' as const, count: 1, seed: 5 };
    await lab.evals.evaluateActor(run.id, { settings: { set, temperature: 0, topP: 1, maxTokens: 8, seed: 0, refine: { enabled: true, branch: 2, maxDepth: 1, budget: 2 } } });
    await lab.evals.evaluateJudge(run.id, 0);
    archive = await exportRun(store as unknown as LabStore, run.id);
  }, 120_000);

  it('holds every kind of record, and export then import gives them back identical', async () => {
    for (const s of CHILD_STORES) expect(archive.records[s].length, s).toBeGreaterThan(0);
    expect(await archiveFromBlob(archiveToBlob(archive))).toEqual(archive);
  });
});
