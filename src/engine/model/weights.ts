/**
 * How a loaded model's tensors are held, whatever file format they came from (HF safetensors,
 * MLC shards). Loaders produce ModelWeights; the CPU reference and the GPU runtime consume it.
 * Linear weights keep the HF layout [out, in].
 */
import type { ModelConfig } from './config';

/**
 * One tensor. `shape` is always the logical (dequantized) shape.
 *  - f32: data as is.
 *  - f16: raw IEEE half bits (bf16 checkpoints are converted to f32 or f16 by the loader).
 *  - q4:  MLC-style symmetric group quantization along the last (input) dimension: 8 4-bit
 *         codes per u32 (code j of a word in bits 4j..4j+3), `groupSize` consecutive inputs
 *         share one scale; value = (code - 7) * scale.
 *         packed [rows, cols/8] u32, scales [rows, cols/groupSize] (f32, or f16 bits).
 */
export type Tensor =
  | { dtype: 'f32'; shape: number[]; data: Float32Array }
  | { dtype: 'f16'; shape: number[]; data: Uint16Array }
  | {
      dtype: 'q4';
      shape: number[];
      packed: Uint32Array;
      scales: Float32Array | Uint16Array;
      scaleDtype: 'f32' | 'f16';
      groupSize: number;
    };

/** The linear layers of a block, by their short names (PEFT target_modules use the *_proj names). */
export type LinearName = 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down';
export const LINEAR_NAMES: readonly LinearName[] = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'];

export interface LayerWeights {
  inputNorm: Tensor; // [C]
  q: Tensor; // [NH*D, C]
  k: Tensor; // [NKV*D, C]
  v: Tensor; // [NKV*D, C]
  qBias: Tensor | null; // [NH*D]   (Qwen2)
  kBias: Tensor | null; // [NKV*D]
  vBias: Tensor | null; // [NKV*D]
  o: Tensor; // [C, NH*D]
  postNorm: Tensor; // [C]
  gate: Tensor; // [I, C]
  up: Tensor; // [I, C]
  down: Tensor; // [C, I]
}

export interface ModelWeights {
  config: ModelConfig;
  embed: Tensor; // [V, C]
  layers: LayerWeights[]; // [L]
  finalNorm: Tensor; // [C]
  /** null when tied to the embedding (tieWordEmbeddings). */
  lmHead: Tensor | null; // [V, C]
}

/**
 * A LoRA adapter over the base: for each targeted linear, y = x·Wᵀ + scale · (x·Aᵀ)·Bᵀ, with
 * A [r, in] and B [out, r] (PEFT's lora_A / lora_B weights). scale = alpha / r (or
 * alpha / sqrt(r) with rsLoRA).
 */
export interface LoraAdapter {
  name: string;
  rank: number;
  alpha: number;
  scale: number;
  targets: LinearName[];
  /** One entry per layer; a linear not targeted is absent. */
  layers: Partial<Record<LinearName, { a: Float32Array; b: Float32Array }>>[];
}
