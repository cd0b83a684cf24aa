/** The model the benchmarks run (engine.ts, profile.ts, train.ts, train-profile.ts), and their inputs. */
import type { GpuGenerateJob } from '../src/engine/model/generate';
import type { TrainSequence } from '../src/engine/train/engine';
import type { TinyModelOptions } from '../src/engine/tiny/tiny';

/** Llama-shaped, f32, sized so SwiftShader runs the whole bench in about a minute. */
export const BENCH_MODEL: TinyModelOptions = { arch: 'llama', hiddenSize: 512, numLayers: 4, numHeads: 8, numKvHeads: 2, intermediateSize: 1536, vocabSize: 8192, maxPositionEmbeddings: 1024 };

/**
 * Real models' shapes (their config.json), for the device check's random-weight models:
 * Qwen2.5-0.5B (qkv bias, tied 151936-token head) and SmolLM2-360M (Llama, tied head).
 */
export const QWEN25_05B: TinyModelOptions = { arch: 'qwen2', hiddenSize: 896, numLayers: 24, numHeads: 14, numKvHeads: 2, intermediateSize: 4864, vocabSize: 151936, tieWordEmbeddings: true, maxPositionEmbeddings: 32768 };
export const SMOLLM2_360M: TinyModelOptions = { arch: 'llama', hiddenSize: 960, numLayers: 32, numHeads: 15, numKvHeads: 5, intermediateSize: 2560, vocabSize: 49152, tieWordEmbeddings: true, ropeScaling: false, maxPositionEmbeddings: 8192 };
export const PROMPT_TOKENS = 64;
export const DECODE_STEPS = 16;

/** Sizes of the training benchmarks' DPO pair. */
export const PAIR = { prompt: 64, chosen: 64, rejected: 48 };

/** The DPO pair of the training benchmarks: token ids spread over the vocabulary, the responses masked in. */
export function benchPair(vocabSize: number): { prompt: number[]; chosen: number[]; rejected: number[]; seqs: { chosen: TrainSequence; rejected: TrainSequence } } {
  const tokens = (n: number, salt: number) => Array.from({ length: n }, (_, i) => (i * 7919 + salt * 104729) % vocabSize);
  const prompt = tokens(PAIR.prompt, 1);
  const seq = (response: number[]): TrainSequence => ({ tokens: [...prompt, ...response], mask: new Uint8Array(prompt.length + response.length).fill(1, prompt.length) });
  const chosen = tokens(PAIR.chosen, 2);
  const rejected = tokens(PAIR.rejected, 3);
  return { prompt, chosen, rejected, seqs: { chosen: seq(chosen), rejected: seq(rejected) } };
}

/** The decode benchmarks' generation: `n` samples of the prompt, `steps` + 1 tokens each. */
export function decodeJob(prompt: number[], n: number, onToken: GpuGenerateJob['onToken'], steps = DECODE_STEPS): GpuGenerateJob {
  return { prompt, n, temperature: 1, topP: 0.95, maxTokens: steps + 1, seed: 1, stopTokens: [], onToken };
}
