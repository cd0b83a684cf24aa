/**
 * Running CLI commands in-process: runCli with a captured stdout and stderr, the JSON printed
 * (or the error printed) parsed back, and temp model folders written from tiny file maps.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/main';
import type { FileMap } from '../../src/engine/load/files';
import { writeFileMap } from '../../src/engine/load/node-files';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON. */
  json<T>(): T;
}

/** What a command prints when the lab cannot use its input (exit 2). */
export interface CliError {
  error: { kind: string; message: string };
}

export async function cli(...argv: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { write: (s: string) => (stdout += s) }, { write: (s: string) => (stderr += s) });
  return { code, stdout, stderr, json: <T>() => JSON.parse(stdout) as T };
}

/** Temp folders that `removeTempDirs` deletes (call it in afterAll). */
const dirs: string[] = [];

export async function tempDir(files: FileMap = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'spar-cli-'));
  dirs.push(dir);
  await writeFileMap(dir, files);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
}
