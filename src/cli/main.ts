/**
 * `npm run cli -- <command> [options]`: the lab's command line, for reproducing in Node what the
 * browser does. Each command lives in its own module and is loaded only when asked for.
 *
 * Exit status: 0 done; 2 the lab cannot use what it was given (a LabError of kind unsupported,
 * invalid-input or not-found, printed to stdout as {"error": {"kind", "message"}}) or the
 * command line is wrong; 1 a crash (message on stderr).
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { LabError, type ErrorKind } from '../errors';

/** Where a command writes its result: process.stdout from the shell, a buffer in tests. */
export interface CliOutput {
  write(text: string): unknown;
}

export interface CliCommand {
  summary: string;
  /** Returns the process exit code. Writes its result to `out` (default process.stdout). */
  run(argv: string[], out?: CliOutput): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<CliCommand>> = {
  inspect: () => import('./inspect').then((m) => m.command),
  render: () => import('./render').then((m) => m.command),
  tokenize: () => import('./tokenize').then((m) => m.command),
  adapter: () => import('./adapter').then((m) => m.command),
  'tiny-model': () => import('./tiny-model').then((m) => m.command),
  logits: () => import('./logits').then((m) => m.command),
  ifeval: () => import('./ifeval').then((m) => m.command),
  'dpo-grads': () => import('./dpo-grads').then((m) => m.command),
  'toy-data': () => import('./toy-data').then((m) => m.command),
  'toy-eval': () => import('./toy-eval').then((m) => m.command),
  generate: () => import('./generate').then((m) => m.command),
};

/** Error kinds that mean "the lab cannot use this input" rather than a bug: exit status 2. */
const USER_ERROR_KINDS: ReadonlySet<ErrorKind> = new Set(['unsupported', 'invalid-input', 'not-found']);

/** node:util parseArgs throws these for unknown or malformed options. */
function isParseArgsError(e: unknown): e is Error {
  const code: unknown = e instanceof Error ? (e as NodeJS.ErrnoException).code : undefined;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

async function usage(): Promise<string> {
  const lines = ['Usage: npm run cli -- <command> [options]', '', 'Commands:'];
  for (const [n, load] of Object.entries(COMMANDS)) lines.push(`  ${n.padEnd(14)} ${(await load()).summary}`);
  return lines.join('\n');
}

/**
 * Runs one command line. A LabError is written to `out` as {"error": {"kind", "message"}}
 * (exit 2 for the kinds in USER_ERROR_KINDS, 1 otherwise); any other error is a crash and
 * propagates.
 */
export async function runCli(argv: string[], out: CliOutput, err: CliOutput = process.stderr): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    err.write((await usage()) + '\n');
    return 0;
  }
  if (!(name in COMMANDS)) {
    err.write(`Unknown command "${name}".\n\n${await usage()}\n`);
    return 2;
  }
  try {
    return await (await COMMANDS[name]()).run(rest, out);
  } catch (e) {
    const lab = isParseArgsError(e) ? new LabError('invalid-input', `${name}: ${e.message}`) : e;
    if (!(lab instanceof LabError)) throw e;
    out.write(JSON.stringify({ error: { kind: lab.kind, message: lab.message } }) + '\n');
    return USER_ERROR_KINDS.has(lab.kind) ? 2 : 1;
  }
}

/** Resolves once everything written to `stream` so far has been handed to the OS (or the write failed). */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write('', () => resolve()));
}

/**
 * Exits with `code` once stdout and stderr are drained: a write to a pipe is asynchronous on
 * POSIX, and process.exit drops whatever the reader has not taken yet (JSON cut at 64 KiB).
 */
async function exitWhenFlushed(code: number): Promise<never> {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // A reader that stops early (`| head`) closes the pipe: that is not a crash.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
  runCli(process.argv.slice(2), process.stdout).then(exitWhenFlushed, (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return exitWhenFlushed(1);
  });
}
