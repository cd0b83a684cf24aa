// `npm run bench`: serves bench/engine.html with Vite, runs it in headless Chromium (the same
// binary and flags as the browser tests: WebGPU on the GPU, or SwiftShader without one),
// prints the numbers and writes them to bench/results/engine.json and bench/results/train.json.
// `npm run bench -- --only train` runs the training benchmark alone.
// `npm run bench -- --node` runs the same two benchmarks in Node on Dawn (bench/node.ts, the
// `webgpu` package; a real GPU when there is one, else SwiftShader) and writes them to
// bench/results/node/engine.json and train.json, with the adapters Dawn saw.
// `npm run bench -- --page <name>` runs bench/<name>.html instead and writes what it returns to
// bench/results/<name>.json: --page profile (or --profile) is where a decode step's time goes,
// --page train-profile is where a DPO step's forward and backward time goes, --page matmul-tiles
// compares matmul tilings, --page toy-spar runs the SPaR experiment on SPaR-toy (about 15 minutes
// a seed on two idle cores with SwiftShader, hours on a busy machine), --page engines puts the lab
// engine and transformers.js (WebGPU, wasm) side by side on one model. BENCH_QUERY is passed as
// the page's query string; BENCH_TIMEOUT_MIN sets how long a page may run (default 15 minutes,
// or the page's PAGE_TIMEOUT_MIN).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createServer } from 'vite';
import { chromium } from 'playwright';
import { findChromium, CHROMIUM_ARGS } from './chromium.mjs';

const port = Number(process.env.BENCH_PORT ?? 4194);
const arg = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : null);
const pageName = arg('--page') ?? (process.argv.includes('--profile') ? 'profile' : 'engine');
const measurementPage = pageName !== 'engine';
const only = arg('--only');
const PAGE_TIMEOUT_MIN = { 'toy-spar': 12 * 60 };
const timeoutMin = Number(process.env.BENCH_TIMEOUT_MIN ?? PAGE_TIMEOUT_MIN[pageName] ?? 15);
if (process.argv.includes('--node')) process.exit(benchInNode());
const query = process.env.BENCH_QUERY ?? (only && !measurementPage ? `only=${only}` : '');
const executablePath = findChromium();
if (!executablePath) {
  console.error('No Chromium/Chrome found (set CHROME_PATH, or install chromium).');
  process.exit(1);
}

// No HMR: an edit elsewhere in the tree (other work goes on meanwhile) must not reload a page mid-measurement.
const server = await createServer({ server: { port, strictPort: true, host: '127.0.0.1', hmr: false }, logLevel: 'warn' });
await server.listen();
const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true });
let code = 0;
try {
  const page = await browser.newPage();
  // CPU time of the GPU process (where SwiftShader runs the kernels): work done, unlike wall
  // time hardly changed by other programs sharing the cores. Pages read it around a measurement.
  const cdp = await browser.newBrowserCDPSession();
  await page.exposeFunction('gpuProcessCpuMs', async () => {
    const { processInfo } = await cdp.send('SystemInfo.getProcessInfo');
    const gpu = processInfo.filter((p) => p.type.toLowerCase() === 'gpu');
    return gpu.length ? gpu.reduce((s, p) => s + p.cpuTime * 1000, 0) : NaN;
  });
  page.on('console', (m) => console.log(m.text()));
  page.on('pageerror', (e) => console.error(e));
  // Vite transforms the page's modules on the first load: minutes on a busy machine.
  await page.goto(`http://127.0.0.1:${port}/bench/${pageName}.html${query ? `?${query}` : ''}`, { timeout: 5 * 60_000 });
  await page.waitForFunction(() => window.benchResult || window.pageResult || window.benchError, null, { timeout: timeoutMin * 60_000, polling: 500 });
  const error = await page.evaluate(() => window.benchError);
  if (error) throw new Error(error);
  mkdirSync('bench/results', { recursive: true });
  if (measurementPage) {
    const result = await page.evaluate(() => window.pageResult);
    writeFileSync(`bench/results/${pageName}.json`, JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2) + '\n');
  } else {
    report(await page.evaluate(() => window.benchResult));
  }
} catch (e) {
  console.error(`Benchmark failed: ${e instanceof Error ? e.message : e}`);
  code = 1;
} finally {
  await browser.close();
  await server.close();
}
process.exit(code);

/** Runs bench/node.ts and reports its results into bench/results/node/; returns the exit code. */
function benchInNode() {
  const dir = mkdtempSync(join(tmpdir(), 'spar-bench-'));
  const out = join(dir, 'result.json');
  try {
    const r = spawnSync('npx', ['tsx', 'bench/node.ts', '--out', out, ...(only ? ['--only', only] : [])], { stdio: 'inherit', shell: process.platform === 'win32' });
    if (r.status !== 0) {
      console.error(`Benchmark failed (bench/node.ts exited ${r.status ?? r.signal}).`);
      return 1;
    }
    const result = JSON.parse(readFileSync(out, 'utf8'));
    mkdirSync('bench/results/node', { recursive: true });
    report(result, 'bench/results/node', result.host);
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes <dir>/engine.json and train.json (with `extra`, e.g. the host and its adapters) and prints the targets. */
function report({ engine: result, train }, dir = 'bench/results', extra = {}) {
  const date = new Date().toISOString();
  const mark = (ok) => (ok ? 'PASS' : 'FAIL');
  console.log('\n── targets ──');
  if (result) {
    writeFileSync(`${dir}/engine.json`, JSON.stringify({ date, ...extra, ...result }, null, 2) + '\n');
    const t = result.targets;
    console.log(`${mark(t.batch16OverBatch1AtLeast8)}  batch-16 decode ≥ 8× batch-1: ${result.batch16OverBatch1.toFixed(2)}×`);
    console.log(`${mark(t.gemvAtLeastHalfCopy)}  GEMV ≥ 50% of copy bandwidth: ${(100 * result.gemv.fractionOfCopy).toFixed(1)}%`);
    console.log(`${mark(t.matmulAtLeast30PercentOfPeak)}  matmul ≥ 30% of FMA peak: ${(100 * result.matmul.fractionOfFmaPeak).toFixed(1)}%`);
  }
  writeFileSync(`${dir}/train.json`, JSON.stringify({ date, ...extra, ...train }, null, 2) + '\n');
  console.log(`${mark(train.targets.stepOverForwardAtMost3_5)}  DPO step ≤ 3.5× the forward of its tokens: ${train.stepOverForward.toFixed(2)}× (${train.stepWithoutReferenceOverForward.toFixed(2)}× without the reference pass)`);
  console.log(`      DPO step peak GPU memory: ${(train.peakBytes / 2 ** 20).toFixed(1)} MiB; training ${train.trainingTokensPerS.toFixed(1)} tokens/s`);
  const secs = (result?.seconds ?? 0) + train.seconds;
  console.log(`(${secs.toFixed(0)} s; written to ${result ? `${dir}/engine.json and ` : ''}${dir}/train.json)`);
}
