/**
 * A model folder on disk as a FileSource, and writing a file map to disk. Node only (the CLI
 * and Node tests): the browser bundle never imports this module.
 */
import { mkdir, open, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { missingFile, type FileMap, type FileSource } from './files';

export function directorySource(dir: string): FileSource {
  return {
    label: dir,
    async exists(path) {
      return stat(join(dir, path)).then((s) => s.isFile(), () => false);
    },
    async read(path, onProgress) {
      const bytes = await readFile(join(dir, path)).catch(() => {
        throw missingFile(this, path);
      });
      const out = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      onProgress?.(path, out.byteLength, out.byteLength);
      return out;
    },
    async size(path) {
      return stat(join(dir, path)).then((s) => s.size, () => null);
    },
    async readRange(path, start, end) {
      const fh = await open(join(dir, path)).catch(() => {
        throw missingFile(this, path);
      });
      try {
        const buf = new Uint8Array(Math.max(0, end - start));
        const { bytesRead } = await fh.read(buf, 0, buf.length, start);
        return buf.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    },
  };
}

export async function writeFileMap(dir: string, files: FileMap): Promise<void> {
  for (const [path, bytes] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
}
