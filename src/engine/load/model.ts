/**
 * One entry point for loading a model folder, whatever its format: an MLC build
 * (mlc-chat-config.json) or a Hugging Face checkpoint (config.json + safetensors).
 */
import { LabError } from '../../errors';
import type { ModelConfig } from '../model/config';
import type { ModelWeights } from '../model/weights';
import { onlyFiles, type FileSource, type ReadProgress } from './files';
import { loadHfWeights, readHfConfig } from './hf';
import { MLC_CHAT_CONFIG, loadMlcWeights, readMlcChatConfig, type MlcQuantization } from './mlc';
import type { ToTensorOptions } from './safetensors';
import { ChatTokenizer } from './tokenizer';

export type ModelFormat = 'hf' | 'mlc';

export async function detectFormat(source: FileSource): Promise<ModelFormat> {
  if (await source.exists(MLC_CHAT_CONFIG)) return 'mlc';
  if (await source.exists('config.json')) return 'hf';
  throw new LabError(
    'not-found',
    `${source.label}: neither ${MLC_CHAT_CONFIG} (an MLC build) nor config.json (a Hugging Face checkpoint) is there. Choose the model's folder.`,
  );
}

export interface ModelInfo {
  format: ModelFormat;
  config: ModelConfig;
  /** MLC builds only. */
  quantization: MlcQuantization | null;
  /** MLC builds: the tokenizer files the build ships (mlc-chat-config.json tokenizer_files); null when not listed. */
  tokenizerFiles: string[] | null;
}

/** The format and config, without reading any weights. */
export async function readModelInfo(source: FileSource): Promise<ModelInfo> {
  const format = await detectFormat(source);
  if (format === 'mlc') {
    const { config, quantization, tokenizerFiles } = await readMlcChatConfig(source);
    return { format, config, quantization, tokenizerFiles: tokenizerFiles.length ? tokenizerFiles : null };
  }
  return { format, config: await readHfConfig(source), quantization: null, tokenizerFiles: null };
}

export interface LoadedModel extends ModelInfo {
  weights: ModelWeights;
  tokenizer: ChatTokenizer;
}

export interface LoadModelOptions extends ToTensorOptions {
  onProgress?: ReadProgress;
}

export async function loadModel(source: FileSource, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  const info = await readModelInfo(source);
  const tokenizer = await ChatTokenizer.fromSource(info.tokenizerFiles ? onlyFiles(source, info.tokenizerFiles) : source, { eosTokenIds: info.config.eosTokenIds });
  const weights = info.format === 'mlc' ? await loadMlcWeights(source, opts) : await loadHfWeights(source, opts);
  return { ...info, weights, tokenizer };
}
