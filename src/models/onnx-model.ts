/**
 * An ONNX causal LM's files as transformers.js v4 reads them, known without transformers.js (the
 * transformers.js worker loads with it): what config.json says (architecture, vocabulary, context,
 * end-of-turn ids) and the files of each dtype the lab offers (named as onnx-files.ts says).
 */
import { LabError } from '../errors';
import { readJson, type FileSource } from '../engine/load/files';
import { ONNX_DTYPES, type OnnxDtype } from '../lab/run-config';
import { onnxGraphFile, onnxWeightFiles } from './onnx-files';

type Json = Record<string, unknown>;

export interface OnnxModelConfig {
  /** config.json's model_type, e.g. "llama", "gemma3_text". */
  modelType: string;
  vocabSize: number;
  /** max_position_embeddings; null where config.json does not say. */
  contextLength: number | null;
  /** config.json's and generation_config.json's eos_token_id. */
  eosTokenIds: number[];
  /** The graph and external data files of one dtype, in the order transformers.js reads them. */
  files(dtype: OnnxDtype): string[];
}

const ids = (v: unknown): number[] => (Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number') : typeof v === 'number' ? [v] : []);

export async function readOnnxConfig(source: FileSource): Promise<OnnxModelConfig> {
  const config = (await readJson(source, 'config.json')) as Json;
  const text = (config.text_config ?? {}) as Json; // multimodal configs keep the language model's here
  const field = (name: string) => config[name] ?? text[name];
  const vocabSize = field('vocab_size');
  if (typeof vocabSize !== 'number') throw new LabError('invalid-input', `${source.label}: config.json has no vocab_size.`);
  const generation = (await source.exists('generation_config.json')) ? ((await readJson(source, 'generation_config.json')) as Json) : {};
  const context = field('max_position_embeddings');
  return {
    modelType: String(field('model_type') ?? 'unknown'),
    vocabSize,
    contextLength: typeof context === 'number' ? context : null,
    eosTokenIds: [...new Set([...ids(field('eos_token_id')), ...ids(generation.eos_token_id)])],
    files: (dtype) => onnxWeightFiles(config, dtype),
  };
}

/** Refuses a dtype the folder does not offer, naming those it does. */
export async function requireDtype(source: FileSource, dtype: OnnxDtype): Promise<void> {
  if (await source.exists(onnxGraphFile(dtype))) return;
  const offered: OnnxDtype[] = [];
  for (const d of ONNX_DTYPES) if (await source.exists(onnxGraphFile(d))) offered.push(d);
  const instead = offered.length ? `It offers ${offered.join(', ')}; choose one of those.` : 'It has no onnx/model*.onnx at all; choose an ONNX export (e.g. an onnx-community repository).';
  throw new LabError('not-found', `${source.label} has no ${onnxGraphFile(dtype)} (${dtype} weights). ${instead}`);
}
