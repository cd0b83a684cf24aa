/** The model the engine benchmarks run (engine.ts, profile.ts). */
import type { TinyModelOptions } from '../src/engine/tiny/tiny';

/** Llama-shaped, f32, sized so SwiftShader runs the whole bench in about a minute. */
export const BENCH_MODEL: TinyModelOptions = { arch: 'llama', hiddenSize: 512, numLayers: 4, numHeads: 8, numKvHeads: 2, intermediateSize: 1536, vocabSize: 8192, maxPositionEmbeddings: 1024 };
export const PROMPT_TOKENS = 64;
export const DECODE_STEPS = 16;
