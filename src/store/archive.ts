/**
 * A whole run as one file: JSON that a person can read, with binary tensors as tagged base64.
 * Export then import gives back identical records (typed arrays keep their type).
 */
import { LabError } from '../errors';
import type { LabStore } from './lab-store';
import { newId } from './lab-store';
import { CHILD_STORES, type ChildStoreName, type ChildStores, type RunRecord } from './records';
import { DB_VERSION } from './schema';

export const ARCHIVE_FORMAT = 'spar-lab-run';
export const ARCHIVE_VERSION = 1;

export interface RunArchive {
  format: typeof ARCHIVE_FORMAT;
  version: number;
  schemaVersion: number;
  exportedAt: string;
  run: RunRecord;
  records: { [S in ChildStoreName]: ChildStores[S][] };
}

export async function exportRun(store: LabStore, runId: string): Promise<RunArchive> {
  const run = await store.getRun(runId);
  const records = {} as RunArchive['records'];
  for (const s of CHILD_STORES) (records as Record<string, unknown>)[s] = await store.list(s, runId);
  return {
    format: ARCHIVE_FORMAT,
    version: ARCHIVE_VERSION,
    schemaVersion: DB_VERSION,
    exportedAt: new Date().toISOString(),
    run,
    records,
  };
}

export function archiveFileName(run: RunRecord): string {
  const slug = run.name.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'run';
  return `${slug}.sparlab.json`;
}

/** Serializes an archive to a Blob (UTF-8 JSON). */
export function archiveToBlob(archive: RunArchive): Blob {
  return new Blob([JSON.stringify(archive, encodeBinary)], { type: 'application/json' });
}

/** Parses and validates an archive file (plain or gzipped JSON). */
export async function archiveFromBlob(file: Blob): Promise<RunArchive> {
  let text: string;
  const head = new Uint8Array(await file.slice(0, 2).arrayBuffer());
  if (head[0] === 0x1f && head[1] === 0x8b) {
    text = await new Response(file.stream().pipeThrough(new DecompressionStream('gzip'))).text();
  } else text = await file.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text, decodeBinary);
  } catch (e) {
    throw new LabError('invalid-input', `Not a SPaR Lab run archive: the file is not valid JSON (${(e as Error).message}).`);
  }
  return validateArchive(parsed);
}

/**
 * Writes an archive into the store in one transaction. If its run id exists: `asCopy` imports
 * it under a new id (and "(copy)" name), otherwise it fails with 'exists' and writes nothing.
 */
export async function importRun(store: LabStore, archive: RunArchive, opts: { asCopy?: boolean } = {}): Promise<RunRecord> {
  let run = archive.run;
  let records = archive.records;
  if (opts.asCopy && (await store.hasRun(run.id))) {
    const id = newId();
    run = { ...run, id, name: `${run.name} (copy)` };
    records = Object.fromEntries(
      CHILD_STORES.map((s) => [s, (archive.records[s] as { runId: string }[]).map((r) => ({ ...r, runId: id }))]),
    ) as RunArchive['records'];
  }
  await store.writeWholeRun(run, records);
  return run;
}

function validateArchive(x: unknown): RunArchive {
  const bad = (why: string) => new LabError('invalid-input', `Not a usable SPaR Lab run archive: ${why}.`);
  if (!isObject(x) || x.format !== ARCHIVE_FORMAT) throw bad(`"format" is not "${ARCHIVE_FORMAT}"`);
  if (typeof x.version !== 'number' || x.version > ARCHIVE_VERSION) {
    throw bad(`archive version ${String(x.version)} is newer than this lab understands (${ARCHIVE_VERSION}); update the lab`);
  }
  const run = x.run;
  if (!isObject(run) || typeof run.id !== 'string' || typeof run.name !== 'string') throw bad('"run" needs an id and a name');
  if (!isObject(x.records)) throw bad('"records" is missing');
  const records = x.records;
  for (const s of CHILD_STORES) {
    const list = records[s] ?? [];
    if (!Array.isArray(list)) throw bad(`records.${s} is not a list`);
    list.forEach((r, i) => {
      if (!isObject(r) || r.runId !== run.id || typeof r.id !== 'string') {
        throw bad(`records.${s}[${i}] needs "id" and the run's "runId"`);
      }
    });
    records[s] = list;
  }
  return x as unknown as RunArchive;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

// ---- binary values as tagged base64 ----

const TYPED = {
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
} as const;
type TypedName = keyof typeof TYPED | 'ArrayBuffer';

interface Tagged {
  $bytes: string;
  $type: TypedName;
}

function encodeBinary(this: unknown, _key: string, value: unknown): unknown {
  if (value instanceof ArrayBuffer) return { $bytes: toBase64(new Uint8Array(value)), $type: 'ArrayBuffer' } satisfies Tagged;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const name = value.constructor.name as TypedName;
    if (!(name in TYPED)) throw new LabError('internal', `Cannot export a ${name}.`);
    const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    return { $bytes: toBase64(bytes), $type: name } satisfies Tagged;
  }
  return value;
}

function decodeBinary(_key: string, value: unknown): unknown {
  if (!isObject(value) || typeof value.$bytes !== 'string' || typeof value.$type !== 'string') return value;
  const bytes = fromBase64(value.$bytes);
  if (value.$type === 'ArrayBuffer') return bytes.buffer;
  const Ctor = TYPED[value.$type as keyof typeof TYPED];
  if (!Ctor) throw new LabError('invalid-input', `Unknown binary type ${value.$type} in archive.`);
  return new Ctor(bytes.buffer);
}

function toBase64(bytes: Uint8Array): string {
  let s = '';
  const CHUNK = 0x8000; // String.fromCharCode's argument count is limited
  for (let i = 0; i < bytes.length; i += CHUNK) s += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(s);
}

function fromBase64(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
