/**
 * The real-world tier's files: `../shared/real-world` next to the repository (or
 * SPAR_REAL_WORLD), written by the real tools (mlc_llm/tvmjs, transformers v4/v5, peft). They
 * are test data read in place, never copied into the project. Without the folder the tier is
 * skipped with a warning, except under CI=true, where scripts/test.mjs fails the run first.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe } from 'vitest';
import { directorySource } from '../../src/engine/load/node-files';

export const REAL_WORLD = resolve(process.env.SPAR_REAL_WORLD ?? join(__dirname, '../../../shared/real-world'));
export const realWorldPresent = existsSync(join(REAL_WORLD, 'README.md'));

/** describe() when the real-world folder is there, describe.skip otherwise. */
export const describeRealWorld: typeof describe = realWorldPresent ? describe : (describe.skip as typeof describe);

/** Absolute path of a file or folder under the real-world folder. */
export function realPath(...parts: string[]): string {
  return join(REAL_WORLD, ...parts);
}

export function realText(...parts: string[]): string {
  return readFileSync(realPath(...parts), 'utf8');
}

export function realJson(...parts: string[]): unknown {
  return JSON.parse(realText(...parts));
}

export function realBytes(...parts: string[]): Uint8Array {
  const b = readFileSync(realPath(...parts));
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** A real-world folder as the loaders' FileSource. */
export function realSource(...parts: string[]) {
  return directorySource(realPath(...parts));
}
