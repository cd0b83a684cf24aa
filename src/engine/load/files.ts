/**
 * Where a model's files come from. The loaders read through this one small interface, so the
 * same code loads from the Hugging Face hub (with the browser cache, fetch.ts), from files the
 * user picked or dropped, from a directory on disk (node-files.ts, Node only), or from an
 * in-memory file map (tests, the tiny-model generator).
 *
 * Paths are relative to the model's root, with forward slashes: "config.json",
 * "params_shard_0.bin".
 */
import { LabError } from '../../errors';

/** Bytes read so far of one file, and its size when known. */
export type ReadProgress = (path: string, loaded: number, total: number | null) => void;

export interface FileSource {
  /** Shown in messages: "hub mlc-ai/SmolLM2-135M-Instruct-q0f16-MLC", "picked files". */
  readonly label: string;
  exists(path: string): Promise<boolean>;
  /** The file's bytes; a missing file is a LabError of kind 'not-found' naming the path. */
  read(path: string, onProgress?: ReadProgress): Promise<Uint8Array>;
  /** Size in bytes without reading the file, or null when the source cannot tell cheaply. */
  size(path: string): Promise<number | null>;
}

export type FileMap = Record<string, Uint8Array>;

export function missingFile(source: FileSource, path: string): LabError {
  return new LabError('not-found', `${source.label}: "${path}" is missing. A model folder needs it; check that every file of the model was chosen.`);
}

export async function readText(source: FileSource, path: string, onProgress?: ReadProgress): Promise<string> {
  return new TextDecoder().decode(await source.read(path, onProgress));
}

export async function readJson(source: FileSource, path: string): Promise<unknown> {
  const text = await readText(source, path);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new LabError('invalid-input', `${source.label}: "${path}" is not valid JSON (${(e as Error).message}).`);
  }
}

/** Files held in memory (tests; models generated in the page). */
export function memorySource(files: FileMap, label = 'in-memory files'): FileSource {
  return {
    label,
    async exists(path) {
      return path in files;
    },
    async read(path, onProgress) {
      const f = files[path];
      if (!f) throw missingFile(this, path);
      onProgress?.(path, f.byteLength, f.byteLength);
      return f;
    },
    async size(path) {
      return files[path]?.byteLength ?? null;
    },
  };
}

/**
 * Files the user picked (an <input type=file multiple> or a dropped folder). A folder's files
 * carry their relative path (webkitRelativePath, or the path a drop handler recorded); the
 * common top folder is stripped so "SmolLM2/config.json" becomes "config.json".
 */
export function browserFilesSource(files: Iterable<File>, label = 'chosen files'): FileSource {
  const list = [...files];
  const pathOf = (f: File) => (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
  const paths = list.map(pathOf);
  const tops = new Set(paths.map((p) => (p.includes('/') ? p.slice(0, p.indexOf('/')) : '')));
  const strip = tops.size === 1 && !tops.has('') ? [...tops][0].length + 1 : 0;
  const byPath = new Map(list.map((f, i) => [paths[i].slice(strip), f]));
  return {
    label,
    async exists(path) {
      return byPath.has(path);
    },
    async read(path, onProgress) {
      const f = byPath.get(path);
      if (!f) throw missingFile(this, path);
      const bytes = new Uint8Array(await f.arrayBuffer());
      onProgress?.(path, bytes.byteLength, f.size);
      return bytes;
    },
    async size(path) {
      return byPath.get(path)?.size ?? null;
    },
  };
}
