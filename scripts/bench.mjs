// `npm run bench`: serves bench/engine.html with Vite, runs it in headless Chromium (the same
// binary and flags as the browser tests: WebGPU on the GPU, or SwiftShader without one),
// prints the numbers and writes them to bench/results/engine.json and bench/results/train.json.
// `npm run bench -- --only train` runs the training benchmark alone.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'vite';
import { chromium } from 'playwright';
import { findChromium, CHROMIUM_ARGS } from './chromium.mjs';

const port = Number(process.env.BENCH_PORT ?? 4194);
const executablePath = findChromium();
if (!executablePath) {
  console.error('No Chromium/Chrome found (set CHROME_PATH, or install chromium).');
  process.exit(1);
}

const server = await createServer({ server: { port, strictPort: true, host: '127.0.0.1' }, logLevel: 'warn' });
await server.listen();
const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, headless: true });
let code = 0;
try {
  const page = await browser.newPage();
  page.on('console', (m) => console.log(m.text()));
  page.on('pageerror', (e) => console.error(e));
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null;
  await page.goto(`http://127.0.0.1:${port}/bench/engine.html${only ? `?only=${only}` : ''}`);
  await page.waitForFunction(() => window.benchResult || window.benchError, null, { timeout: 15 * 60_000, polling: 500 });
  const error = await page.evaluate(() => window.benchError);
  if (error) throw new Error(error);
  const { engine: result, train } = await page.evaluate(() => window.benchResult);
  mkdirSync('bench/results', { recursive: true });
  const date = new Date().toISOString();
  const mark = (ok) => (ok ? 'PASS' : 'FAIL');
  console.log('\n── targets ──');
  if (result) {
    writeFileSync('bench/results/engine.json', JSON.stringify({ date, ...result }, null, 2) + '\n');
    const t = result.targets;
    console.log(`${mark(t.batch16OverBatch1AtLeast8)}  batch-16 decode ≥ 8× batch-1: ${result.batch16OverBatch1.toFixed(2)}×`);
    console.log(`${mark(t.gemvAtLeastHalfCopy)}  GEMV ≥ 50% of copy bandwidth: ${(100 * result.gemv.fractionOfCopy).toFixed(1)}%`);
    console.log(`${mark(t.matmulAtLeast30PercentOfPeak)}  matmul ≥ 30% of FMA peak: ${(100 * result.matmul.fractionOfFmaPeak).toFixed(1)}%`);
  }
  writeFileSync('bench/results/train.json', JSON.stringify({ date, ...train }, null, 2) + '\n');
  console.log(`${mark(train.targets.stepOverForwardAtMost3_5)}  DPO step ≤ 3.5× the forward of its tokens: ${train.stepOverForward.toFixed(2)}× (${train.stepWithoutReferenceOverForward.toFixed(2)}× without the reference pass)`);
  console.log(`      DPO step peak GPU memory: ${(train.peakBytes / 2 ** 20).toFixed(1)} MiB; training ${train.trainingTokensPerS.toFixed(1)} tokens/s`);
  const secs = (result?.seconds ?? 0) + train.seconds;
  console.log(`(${secs.toFixed(0)} s; written to ${result ? 'bench/results/engine.json and ' : ''}bench/results/train.json)`);
} catch (e) {
  console.error(`Benchmark failed: ${e instanceof Error ? e.message : e}`);
  code = 1;
} finally {
  await browser.close();
  await server.close();
}
process.exit(code);
