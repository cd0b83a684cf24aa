/**
 * `npm run cli -- <command> [options]`: the lab's command line, for reproducing in Node what the
 * browser does. Each command lives in its own module and is loaded only when asked for.
 */
export interface CliCommand {
  summary: string;
  /** Returns the process exit code. */
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, () => Promise<CliCommand>> = {
  'tiny-model': () => import('./tiny-model').then((m) => m.command),
  logits: () => import('./logits').then((m) => m.command),
  ifeval: () => import('./ifeval').then((m) => m.command),
  'dpo-grads': () => import('./dpo-grads').then((m) => m.command),
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || !(name in COMMANDS)) {
    if (name && !(name in COMMANDS) && name !== '--help' && name !== '-h') console.error(`Unknown command "${name}".\n`);
    console.error('Usage: npm run cli -- <command> [options]\n\nCommands:');
    for (const [n, load] of Object.entries(COMMANDS)) console.error(`  ${n.padEnd(14)} ${(await load()).summary}`);
    return name && name !== '--help' && name !== '-h' ? 2 : 0;
  }
  return (await COMMANDS[name]()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  },
);
