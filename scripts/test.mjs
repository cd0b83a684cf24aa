// `npm test`: every test tier, each reporting how many tests ran.
//   1. unit     – vitest in Node
//   1b. real-world – vitest in Node on files the real tools wrote (../shared/real-world)
//   1c. node-gpu – the browser tier's engine tests in Node on Dawn (the `webgpu` package; Vulkan:
//       a GPU's driver, else the SwiftShader driver Chromium ships)
//   2. browser  – vitest in real Chromium (WebGPU via the GPU or SwiftShader, real IndexedDB)
//   3. e2e      – Playwright on the built app served locally
// Before them, the type checker (svelte-check over TypeScript and Svelte) must pass.
// Options: --only unit|real-world|node-gpu|browser|e2e (repeatable). With CI=true a missing Chromium
// (or no adapter for Dawn) is a failure; otherwise those tiers are skipped with a warning.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ensureDependencies, run } from './setup.mjs';
import { findChromium } from './chromium.mjs';

const argv = process.argv.slice(2);
const only = argv.flatMap((a, i) => (a === '--only' ? [argv[i + 1]] : []));
const wanted = (tier) => only.length === 0 || only.includes(tier);
const CI = /^(1|true)$/i.test(process.env.CI ?? '');

ensureDependencies();

const chromium = findChromium();
if (!chromium && (wanted('browser') || wanted('e2e'))) {
  const msg = 'No Chromium/Chrome found (set CHROME_PATH, or install chromium: apt-get install -y chromium).';
  if (CI) {
    console.error(`FAIL: ${msg}`);
    process.exit(1);
  }
  console.warn(`WARNING: ${msg} Skipping the browser and end-to-end tiers.`);
}
const env = chromium ? { CHROME_PATH: chromium } : {};

// Not test-results/: Playwright empties that folder when it starts.
const RESULTS = 'test-reports';
rmSync(RESULTS, { recursive: true, force: true });
mkdirSync(RESULTS, { recursive: true });

const tiers = [];
let typeErrors = 0;
if (only.length === 0) {
  console.log('Type-checking (svelte-check)…');
  typeErrors = run('npx', ['svelte-check', '--tsconfig', './tsconfig.json', '--threshold', 'error'], { allowFailure: true }) === 0 ? 0 : 1;
}
function vitestTier(name, project) {
  const out = `${RESULTS}/${name}.json`;
  const code = run('npx', ['vitest', 'run', '--project', project, '--reporter=default', '--reporter=json', `--outputFile.json=${out}`], { env, allowFailure: true });
  const counts = readCounts(out, (r) => ({ passed: r.numPassedTests, failed: r.numFailedTests, skipped: r.numPendingTests + r.numTodoTests }));
  tiers.push({ name, code, ...counts });
}

if (wanted('unit')) vitestTier('unit', 'unit');
if (wanted('real-world')) {
  // The real tools' files live beside the repository (test data, never copied into it).
  const dir = resolve(process.env.SPAR_REAL_WORLD ?? join('..', 'shared', 'real-world'));
  if (existsSync(join(dir, 'README.md'))) vitestTier('real-world', 'real-world');
  else if (CI) {
    console.error(`FAIL: the real-world files are missing (${dir}); CI needs them (set SPAR_REAL_WORLD to their folder).`);
    tiers.push({ name: 'real-world', code: 1, passed: 0, failed: 1, skipped: 0, note: `missing ${dir}` });
  } else console.warn(`WARNING: ${dir} is missing; skipping the real-world tier (set SPAR_REAL_WORLD to its folder).`);
}
if (wanted('node-gpu')) {
  // Dawn needs a Vulkan loader and driver here: ask it for an adapter first (src/node/probe.ts).
  const probe = spawnSync('npx', ['tsx', 'src/node/probe.ts'], { encoding: 'utf8', shell: process.platform === 'win32' });
  let report = null;
  try {
    report = JSON.parse(probe.stdout);
  } catch {}
  if (report?.available) vitestTier('node-gpu', 'node-gpu');
  else {
    const why = report ? `${report.reason} ${report.advice}` : `the probe failed: ${(probe.stderr || probe.stdout || '').trim()}`;
    if (CI) {
      console.error(`FAIL: Dawn (Node) has no WebGPU adapter: ${why}`);
      tiers.push({ name: 'node-gpu', code: 1, passed: 0, failed: 1, skipped: 0, note: 'no adapter for Dawn' });
    } else console.warn(`WARNING: skipping the node-gpu tier: Dawn (Node) has no WebGPU adapter: ${why}`);
  }
}
if (chromium && wanted('browser')) vitestTier('browser', 'browser');
if (chromium && wanted('e2e')) {
  buildApp();
  const code = run('npx', ['playwright', 'test'], { env, allowFailure: true });
  const counts = readCounts(`${RESULTS}/e2e.json`, (r) => ({
    passed: r.stats.expected + r.stats.flaky,
    failed: r.stats.unexpected,
    skipped: r.stats.skipped,
  }));
  tiers.push({ name: 'e2e', code, ...counts });
}

// The build a newcomer sees in `npm start`: at --logLevel warn it prints nothing unless something
// is wrong, so any output counts as one failed check (yellow warnings read like errors).
function buildApp() {
  const r = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn'], { encoding: 'utf8', env: process.env, shell: process.platform === 'win32' });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  if (out) console.log(out);
  if (r.status !== 0) {
    console.error('FAIL: vite build failed.');
    process.exit(1);
  }
  tiers.push({ name: 'build', code: 0, passed: out ? 0 : 1, failed: out ? 1 : 0, skipped: 0, note: out ? 'vite build printed warnings (above)' : undefined });
}

function readCounts(file, pick) {
  try {
    return pick(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return { passed: 0, failed: 1, skipped: 0, note: `no report at ${file}` };
  }
}

console.log('\n── SPaR Lab tests ──');
let total = { passed: 0, failed: typeErrors, skipped: 0 };
if (only.length === 0) console.log(`types    ${typeErrors ? 'FAILED (see svelte-check above)' : 'ok'}`);
for (const t of tiers) {
  // A tier that exits non-zero with no failing test (a crash, an unhandled error) still fails.
  const failed = t.failed || (t.code !== 0 ? 1 : 0);
  console.log(`${t.name.padEnd(8)} ${t.passed} passed, ${failed} failed, ${t.skipped} skipped${t.code !== 0 ? `  (exit ${t.code})` : ''}${t.note ? `  ${t.note}` : ''}`);
  total = { passed: total.passed + t.passed, failed: total.failed + failed, skipped: total.skipped + t.skipped };
}
if (total.passed === 0 && total.failed === 0) total.failed = 1; // running no test is a failure
console.log(`tests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(total.failed > 0 ? 1 : 0);
