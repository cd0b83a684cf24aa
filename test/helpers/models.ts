/** Tiny models in every format, loaded as the app loads them, and random LoRA adapters. */
import { memorySource } from '../../src/engine/load/files';
import { loadModel, type LoadedModel } from '../../src/engine/load/model';
import type { MlcQuantization } from '../../src/engine/load/mlc';
import type { ModelConfig } from '../../src/engine/model/config';
import { LINEAR_NAMES, type LoraAdapter } from '../../src/engine/model/weights';
import { tinyModelFiles, type TinyModelOptions } from '../../src/engine/tiny/tiny';

export type TinyFormat = { format: 'hf'; dtype: 'f32' | 'f16' | 'bf16' } | { format: 'mlc'; quantization: MlcQuantization };

export const ALL_FORMATS: TinyFormat[] = [
  { format: 'hf', dtype: 'f32' },
  { format: 'hf', dtype: 'f16' },
  { format: 'mlc', quantization: 'q0f32' },
  { format: 'mlc', quantization: 'q0f16' },
  { format: 'mlc', quantization: 'q4f32_1' },
  { format: 'mlc', quantization: 'q4f16_1' },
];

export function formatName(f: TinyFormat): string {
  return f.format === 'hf' ? `hf ${f.dtype}` : `mlc ${f.quantization}`;
}

export async function loadTiny(f: TinyFormat, opts: TinyModelOptions = {}): Promise<LoadedModel> {
  const files = f.format === 'hf' ? tinyModelFiles({ format: 'hf', dtype: f.dtype, ...opts }) : tinyModelFiles({ format: 'mlc', quantization: f.quantization, ...opts });
  return loadModel(memorySource(files, `tiny ${formatName(f)}`));
}

/** A random adapter on every linear (seeded). */
export function randomAdapter(config: ModelConfig, name: string, seed: number, rank = 4, scale = 0.5): LoraAdapter {
  let s = seed >>> 0;
  const r = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const q = config.numHeads * config.headDim;
  const kv = config.numKvHeads * config.headDim;
  const C = config.hiddenSize;
  const I = config.intermediateSize;
  const dims = { q: [q, C], k: [kv, C], v: [kv, C], o: [C, q], gate: [I, C], up: [I, C], down: [C, I] } as const;
  const arr = (n: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * 0.3);
  return {
    name,
    rank,
    alpha: scale * rank,
    scale,
    targets: [...LINEAR_NAMES],
    layers: Array.from({ length: config.numLayers }, () =>
      Object.fromEntries(LINEAR_NAMES.map((n) => [n, { a: arr(rank * dims[n][1]), b: arr(dims[n][0] * rank) }])),
    ),
  };
}
