import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tinyHfFiles } from '../../../src/engine/tiny/tiny';
import { cli, removeTempDirs, tempDir, type CliError } from '../../helpers/cli';

afterAll(removeTempDirs);

const ROOT = resolve(__dirname, '../../..');

/** Runs `tsx src/cli/main.ts …` with stdout a pipe that is not read for `stallMs`, then read to the end. */
function runPiped(argv: string[], stallMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'src/cli/main.ts'), ...argv], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.pause();
    child.stdout.on('data', (b: Buffer) => out.push(b));
    setTimeout(() => child.stdout.resume(), stallMs);
    child.stderr.on('data', (b: Buffer) => (stderr += b));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout: Buffer.concat(out).toString('utf8'), stderr }));
  });
}

describe('command line', () => {
  it('writes output far larger than a pipe buffer whole to a slow reader, then exits 0', async () => {
    const dir = await tempDir(tinyHfFiles({ vocabSize: 500 }));
    const run = await runPiped(['logits', '--model', dir, '--text', 'the sea is blue and the sky is grey, said the old man to the boy'], 1500);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout.length).toBeGreaterThan(4 * 65536);
    expect(run.stdout.endsWith('\n')).toBe(true);
    const printed = JSON.parse(run.stdout) as { tokens: number[]; logits: number[][] };
    expect(printed.logits).toHaveLength(printed.tokens.length);
    expect(printed.logits.every((row) => row.length === 500)).toBe(true);
  }, 30_000);

  it('exits 2 with the JSON error when the lab cannot use the input, through a pipe too', async () => {
    const run = await runPiped(['inspect', '--model', join(ROOT, 'no-such-folder')], 200);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stdout)).toMatchObject({ error: { kind: 'not-found' } });
  }, 30_000);

  it('maps bad command lines to exit 2 and lists the commands', async () => {
    const unknown = await cli('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown command "frobnicate"[\s\S]*inspect[\s\S]*render[\s\S]*tokenize[\s\S]*adapter/);
    const help = await cli('--help');
    expect(help.code).toBe(0);
    expect(help.stderr).toMatch(/^Usage: npm run cli -- <command>/);
    const option = await cli('tokenize', '--model', 'x', '--txet', 'hi');
    expect(option.code).toBe(2);
    expect(option.json<CliError>().error).toMatchObject({ kind: 'invalid-input', message: expect.stringMatching(/^tokenize: Unknown option '--txet'/) });
  });
});
