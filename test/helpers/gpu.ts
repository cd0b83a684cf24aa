/**
 * Shared pieces of the GPU kernel tests: a fresh device per test (always destroyed), random
 * inputs, running recorded work and reading results back, and a check that logs each kernel's
 * max relative error against the CPU reference before asserting it.
 */
import { expect } from 'vitest';
import { Gpu, type AcquireOptions } from '../../src/engine/gpu/device';
import type { PooledBuffer } from '../../src/engine/gpu/memory';
import { Recorder } from '../../src/engine/gpu/program';
import { compareArrays } from './compare';

export async function withGpu<T>(fn: (gpu: Gpu) => Promise<T>, opts: AcquireOptions = {}): Promise<T> {
  const gpu = await Gpu.acquire(opts);
  try {
    return await fn(gpu);
  } finally {
    gpu.destroy();
  }
}

/** Deterministic-per-call but fresh-per-run random numbers (seed printed on failure by the caller). */
export function rand(n: number, scale = 1, rng: () => number = Math.random): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (rng() * 2 - 1) * scale;
  return out;
}

export function randInt(lo: number, hi: number): number {
  return lo + Math.floor(Math.random() * (hi - lo + 1));
}

export function upload(gpu: Gpu, data: Float32Array | Uint32Array | Int32Array): PooledBuffer {
  return gpu.storage(Math.max(16, data.byteLength), 'activations', 'test', data);
}

export function zeros(gpu: Gpu, n: number): PooledBuffer {
  return upload(gpu, new Float32Array(n));
}

/** Records with `fn`, runs once, waits (throwing shader/validation errors). */
export async function run(gpu: Gpu, fn: (rec: Recorder) => void): Promise<void> {
  const rec = new Recorder(gpu);
  fn(rec);
  const program = rec.finish();
  program.run();
  await gpu.sync();
  program.release();
}

/** Max relative errors measured by the tests, by kernel (printed at the end of each file). */
export const measured: Record<string, number> = {};

export function expectClose(name: string, got: ArrayLike<number>, want: ArrayLike<number>, opts: { rtol?: number; floor?: number } = {}): void {
  const d = compareArrays(got, want, opts.floor);
  measured[name] = Math.max(measured[name] ?? 0, d.maxRel);
  expect(got).toBeAllclose(want, opts);
}

export function printMeasured(): void {
  for (const [k, v] of Object.entries(measured)) console.log(`max rel error ${k}: ${v.toExponential(2)}`);
}
