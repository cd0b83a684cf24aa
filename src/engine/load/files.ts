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
  /** Bytes [start, end) of a file without reading all of it (safetensors headers, before a download). */
  readRange?(path: string, start: number, end: number): Promise<Uint8Array>;
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

/**
 * The same source with every file outside `paths` treated as absent. An MLC build lists the
 * tokenizer files it ships (tokenizer_files): probing others would ask the hub for files web-llm
 * never cached, a request per load, and a failure offline.
 */
export function onlyFiles(source: FileSource, paths: readonly string[]): FileSource {
  const listed = new Set(paths);
  return {
    label: source.label,
    exists: async (path) => listed.has(path) && source.exists(path),
    read: (path, onProgress) => (listed.has(path) ? source.read(path, onProgress) : Promise.reject(missingFile(source, path))),
    size: async (path) => (listed.has(path) ? source.size(path) : null),
  };
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
    async readRange(path, start, end) {
      const f = files[path];
      if (!f) throw missingFile(this, path);
      return f.subarray(start, Math.min(end, f.byteLength));
    },
  };
}

/** A picked or dropped file with its path inside the chosen folder ("Model/config.json"). */
export interface PickedFile {
  path: string;
  file: File;
}

/**
 * Files the user picked (an <input type=file multiple webkitdirectory>, whose files carry
 * webkitRelativePath) or dropped (see filesFromDataTransfer). The common top folder is
 * stripped, so "SmolLM2/config.json" becomes "config.json".
 */
export function browserFilesSource(files: Iterable<File | PickedFile>, label = 'chosen files'): FileSource {
  const list: PickedFile[] = [...files].map((f) =>
    f instanceof File ? { path: (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name, file: f } : f,
  );
  const tops = new Set(list.map(({ path }) => (path.includes('/') ? path.slice(0, path.indexOf('/')) : '')));
  const strip = tops.size === 1 && !tops.has('') ? [...tops][0].length + 1 : 0;
  const byPath = new Map(list.map(({ path, file }) => [path.slice(strip), file]));
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
    async readRange(path, start, end) {
      const f = byPath.get(path);
      if (!f) throw missingFile(this, path);
      return new Uint8Array(await f.slice(start, end).arrayBuffer());
    },
  };
}

/** Every file of a drop (files and whole folders, walked recursively), with its path. */
export async function filesFromDataTransfer(dt: DataTransfer): Promise<PickedFile[]> {
  const out: PickedFile[] = [];
  const walk = async (entry: FileSystemEntry, prefix: string): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((ok, fail) => (entry as FileSystemFileEntry).file(ok, fail));
      out.push({ path: prefix + entry.name, file });
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      // readEntries returns the folder in batches until an empty one.
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((ok, fail) => reader.readEntries(ok, fail));
        if (batch.length === 0) break;
        for (const e of batch) await walk(e, `${prefix}${entry.name}/`);
      }
    }
  };
  const entries = [...dt.items].map((i) => i.webkitGetAsEntry()).filter((e): e is FileSystemEntry => e !== null);
  if (entries.length === 0) return [...dt.files].map((file) => ({ path: file.name, file }));
  for (const e of entries) await walk(e, '');
  return out;
}
