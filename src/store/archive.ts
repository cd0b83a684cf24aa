/**
 * A whole run as one file: JSON that a person can read, with binary tensors as tagged base64 and
 * numbers JSON cannot hold (NaN, ±Infinity) tagged too. Export then import gives back identical
 * records (typed arrays keep their type). Import checks every record first (src/store/validate.ts)
 * and stores nothing from a file with a broken one.
 */
import { LabError } from '../errors';
import type { LabStore } from './lab-store';
import { newId } from './lab-store';
import { CHILD_STORES, type ChildStoreName, type ChildStores, type RunRecord } from './records';
import { DB_VERSION } from './schema';
import { describeValue, fieldPath, recordProblems, runProblems } from './validate';

export const ARCHIVE_FORMAT = 'spar-lab-run';
/** 2: non-finite numbers are tagged (version 1 wrote them as null). */
export const ARCHIVE_VERSION = 2;

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
  const name: unknown = run.name; // a broken run (listed as broken) can be exported to repair it
  const slug = (typeof name === 'string' ? name : '').replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'run';
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
    parsed = JSON.parse(text);
  } catch (e) {
    throw new LabError('invalid-input', `Not a SPaR Lab run archive: the file is not valid JSON (${(e as Error).message}).`);
  }
  return validateArchive(decodeTagged(parsed, ''));
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

/** How many problems an import error lists; a file with more says "and more". */
const LISTED_PROBLEMS = 5;

const RECORD_NOUN: Record<ChildStoreName, string> = {
  prompts: 'prompt',
  trees: 'tree',
  pairs: 'pair',
  rft: 'RFT record',
  adapters: 'adapter',
  evals: 'evaluation',
  trainLogs: 'training log entry',
};

function validateArchive(x: unknown): RunArchive {
  const bad = (why: string) => new LabError('invalid-input', `Not a usable SPaR Lab run archive: ${why}.`);
  if (!isObject(x) || x.format !== ARCHIVE_FORMAT) throw bad(`"format" is not "${ARCHIVE_FORMAT}"`);
  if (typeof x.version !== 'number' || x.version > ARCHIVE_VERSION) {
    throw bad(`archive version ${String(x.version)} is newer than this lab understands (${ARCHIVE_VERSION}); update the lab`);
  }
  if (!isObject(x.records)) throw bad('"records" is missing');
  const problems = [...runProblems(x.run, 'run')];
  const runId = isObject(x.run) ? x.run.id : undefined;
  const records = x.records;
  for (const s of CHILD_STORES) {
    const list = records[s] ?? [];
    records[s] = list;
    if (!Array.isArray(list)) {
      problems.push(`records.${s}: expected a list, got ${describeValue(list)}`);
      continue;
    }
    const firstWithId = new Map<unknown, number>();
    for (let i = 0; i < list.length && problems.length <= LISTED_PROBLEMS; i++) {
      const r: unknown = list[i];
      const at = fieldPath(`records.${s}`, i);
      const named = isObject(r) && typeof r.id === 'string' && r.id ? `, in ${RECORD_NOUN[s]} ${JSON.stringify(r.id)}` : '';
      const found = recordProblems(s, r, at);
      if (isObject(r) && r.runId !== runId) found.push(`${at}.runId: expected the run's id ${JSON.stringify(runId)}, got ${describeValue(r.runId)}`);
      if (isObject(r) && firstWithId.has(r.id)) found.push(`${at}.id: ${describeValue(r.id)} is also the id of records.${s}[${firstWithId.get(r.id)}]`);
      else if (isObject(r)) firstWithId.set(r.id, i);
      problems.push(...found.map((p) => p + named));
    }
  }
  if (problems.length) {
    const listed = problems.slice(0, LISTED_PROBLEMS).join('; ');
    throw bad(`${listed}${problems.length > LISTED_PROBLEMS ? '; and more' : ''}. Nothing was imported`);
  }
  return x as unknown as RunArchive;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

// ---- tagged values: binary as base64, numbers JSON cannot hold ----

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

/** JSON writes NaN and ±Infinity as null; a read-out's log-probability is -Infinity where a label was not seen. */
interface TaggedNumber {
  $number: 'NaN' | 'Infinity' | '-Infinity';
}

function encodeBinary(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) return { $number: String(value) as TaggedNumber['$number'] } satisfies TaggedNumber;
  if (value instanceof ArrayBuffer) return { $bytes: toBase64(new Uint8Array(value)), $type: 'ArrayBuffer' } satisfies Tagged;
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const name = value.constructor.name as TypedName;
    if (!(name in TYPED)) throw new LabError('internal', `Cannot export a ${name}.`);
    const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    return { $bytes: toBase64(bytes), $type: name } satisfies Tagged;
  }
  return value;
}

/** Replaces tagged values in parsed JSON (in place), naming the field of a bad one. */
function decodeTagged(value: unknown, path: string): unknown {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = decodeTagged(value[i], fieldPath(path, i));
    return value;
  }
  if (!isObject(value)) return value;
  if (typeof value.$bytes === 'string' && typeof value.$type === 'string') return decodeBytes(value.$bytes, value.$type, path);
  if (typeof value.$number === 'string' && Object.keys(value).length === 1) {
    if (!['NaN', 'Infinity', '-Infinity'].includes(value.$number)) {
      throw badTag(path, `$number is ${JSON.stringify(value.$number)}; expected "NaN", "Infinity" or "-Infinity"`);
    }
    return Number(value.$number);
  }
  for (const key of Object.keys(value)) value[key] = decodeTagged(value[key], fieldPath(path, key));
  return value;
}

function decodeBytes(b64: string, type: string, path: string): ArrayBuffer | ArrayBufferView {
  const Ctor = type === 'ArrayBuffer' ? null : TYPED[type as keyof typeof TYPED];
  if (Ctor === undefined) throw badTag(path, `unknown binary type ${JSON.stringify(type)} (known: ArrayBuffer, ${Object.keys(TYPED).join(', ')})`);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = fromBase64(b64);
  } catch {
    throw badTag(path, '$bytes is not valid base64');
  }
  if (!Ctor) return bytes.buffer;
  if (bytes.byteLength % Ctor.BYTES_PER_ELEMENT) {
    throw badTag(path, `${bytes.byteLength} bytes are not a whole number of ${type} elements (${Ctor.BYTES_PER_ELEMENT} bytes each)`);
  }
  return new Ctor(bytes.buffer);
}

function badTag(path: string, why: string): LabError {
  return new LabError('invalid-input', `Not a usable SPaR Lab run archive: ${path || 'the file'}: ${why}. Nothing was imported.`);
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
