import { describe, expect, it } from 'vitest';
import { ARCHIVE_FORMAT, archiveFromBlob, archiveToBlob, type RunArchive } from '../../src/store/archive';
import { CHILD_STORES } from '../../src/store/records';

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
  return { format: ARCHIVE_FORMAT, version: 1, schemaVersion: 2, exportedAt: 'now', run, records };
}

describe('run archive file', () => {
  it('round-trips records and binary tensors exactly', async () => {
    const a = sampleArchive();
    const back = await archiveFromBlob(archiveToBlob(a));
    expect(back).toEqual(a);
    const t = back.records.adapters[0].tensors['layers.0.q.lora_A'];
    expect(t).toBeInstanceOf(ArrayBuffer);
    expect(Array.from(new Float32Array(t))).toEqual(Array.from(new Float32Array(a.records.adapters[0].tensors['layers.0.q.lora_A'])));
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
    await expect(archiveFromBlob(archiveToBlob(a))).rejects.toMatchObject({ message: /records\.pairs\[0\]/ });
    const future = { ...sampleArchive(), version: 99 };
    await expect(archiveFromBlob(archiveToBlob(future))).rejects.toMatchObject({ message: /newer than this lab/ });
  });
});
