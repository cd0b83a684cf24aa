/**
 * The benchmark page `npm run bench` opens in headless Chromium: the engine benchmark
 * (engine.ts), then the training benchmark (train.ts) on the same model, handed to
 * scripts/bench.mjs as window.benchResult. `?only=train` runs the training part alone.
 */
import { engineBench, type EngineBenchResult } from './engine';
import { BENCH_MODEL } from './model';
import { log } from './page';
import { trainBench, type TrainBenchResult } from './train';

async function main(): Promise<{ engine: EngineBenchResult | null; train: TrainBenchResult }> {
  const only = new URLSearchParams(location.search).get('only');
  const engine = only === 'train' ? null : await engineBench({ log });
  log('');
  const train = await trainBench(BENCH_MODEL, { log });
  return { engine, train };
}

declare global {
  interface Window {
    benchResult?: { engine: EngineBenchResult | null; train: TrainBenchResult };
  }
}

main().then(
  (r) => (window.benchResult = r),
  (e: unknown) => {
    window.benchError = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e);
    log(`FAILED: ${window.benchError}`);
  },
);
