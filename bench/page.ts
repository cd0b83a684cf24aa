/**
 * Shared pieces of the measurement pages other than engine.ts (profile.ts, train-profile.ts,
 * matmul-tiles.ts), which scripts/bench.mjs runs with `--page <name>`: logging to the page and
 * the console, the GPU process's CPU time, replays of recorded programs, medians, and handing
 * the result (or the error) to the runner.
 */
import type { Gpu } from '../src/engine/gpu/device';
import type { Program } from '../src/engine/gpu/program';

declare global {
  interface Window {
    /** What a measurement page returns; scripts/bench.mjs writes it to bench/results/<page>.json. */
    pageResult?: unknown;
    benchError?: string;
    /** CPU ms of the browser's GPU process so far (exposed by scripts/bench.mjs). */
    gpuProcessCpuMs?: () => Promise<number>;
  }
}

/** To the console, and to the page's log where there is a page (not in Node). */
export function log(s: string): void {
  console.log(s);
  const el = globalThis.document?.getElementById('log');
  if (el) el.textContent += `\n${s}`;
}

/**
 * CPU ms of the GPU process (where SwiftShader runs the kernels): the work done, which other
 * programs sharing the cores hardly change, unlike wall time. NaN outside scripts/bench.mjs's
 * browser (in Node, Dawn runs in the bench's own process).
 */
export async function gpuCpuMs(): Promise<number> {
  const hook = globalThis.window?.gpuProcessCpuMs;
  return hook ? hook() : NaN;
}

/** Wall and GPU-process CPU ms per replay of `p`, encoded `reps` times into one submission. */
export async function replay(gpu: Gpu, p: Program, reps: number): Promise<[number, number]> {
  const enc = gpu.device.createCommandEncoder();
  for (let i = 0; i < reps; i++) p.encode(enc);
  const c0 = await gpuCpuMs();
  const t0 = performance.now();
  gpu.submit([enc.finish()]);
  await gpu.device.queue.onSubmittedWorkDone();
  const t = (performance.now() - t0) / reps;
  return [t, ((await gpuCpuMs()) - c0) / reps];
}

export function median(a: readonly number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Runs a page's main and reports its result or error to scripts/bench.mjs. */
export function runPage(main: () => Promise<unknown>): void {
  main().then(
    (r) => (window.pageResult = r),
    (e: unknown) => {
      window.benchError = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e);
      log(`FAILED: ${window.benchError}`);
    },
  );
}
