/**
 * An ONNX causal LM's files as transformers.js v4 reads them, known without transformers.js (the
 * transformers.js worker loads with it; onnx-hub.ts inspects a hub repository before a download):
 * what config.json says (architecture, vocabulary, context, end-of-turn ids), the graph file of
 * each dtype the lab offers (onnx/model.onnx fp32, model_fp16.onnx, model_q4.onnx,
 * model_quantized.onnx q8) and its external data chunks (model_q4.onnx_data, …_data_1, … where
 * config.json's transformers.js_config declares them).
 */
import { LabError } from '../errors';
import { readJson, type FileSource } from '../engine/load/files';
import { ONNX_DTYPES, type OnnxDtype } from '../lab/run-config';
import { declaredDataChunks } from './onnx-hub';

/** The graph file transformers.js loads for each dtype. */
export const ONNX_FILES: Record<OnnxDtype, string> = {
  fp32: 'onnx/model.onnx',
  fp16: 'onnx/model_fp16.onnx',
  q4: 'onnx/model_q4.onnx',
  q8: 'onnx/model_quantized.onnx',
};

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
    files: (dtype) => {
      const graph = ONNX_FILES[dtype];
      const chunks = declaredDataChunks(config, graph.slice('onnx/'.length));
      return [graph, ...Array.from({ length: chunks }, (_, i) => `${graph}_data${i === 0 ? '' : `_${i}`}`)];
    },
  };
}

/** Refuses a dtype the folder does not offer, naming those it does. */
export async function requireDtype(source: FileSource, dtype: OnnxDtype): Promise<void> {
  if (await source.exists(ONNX_FILES[dtype])) return;
  const offered: OnnxDtype[] = [];
  for (const d of ONNX_DTYPES) if (await source.exists(ONNX_FILES[d])) offered.push(d);
  const instead = offered.length ? `It offers ${offered.join(', ')}; choose one of those.` : 'It has no onnx/model*.onnx at all; choose an ONNX export (e.g. an onnx-community repository).';
  throw new LabError('not-found', `${source.label} has no ${ONNX_FILES[dtype]} (${dtype} weights). ${instead}`);
}
