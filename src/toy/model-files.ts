/**
 * SPaR-toy's Hugging Face folder, less its weights: config.json (a 4-layer Llama), a byte-level
 * BPE tokenizer.json learned from the toy world's own conversations, tokenizer_config.json with
 * the ChatML chat template, generation_config.json and a model card. The training script
 * (scripts/toy/train.py) adds model.safetensors.
 */
import type { FileMap } from '../engine/load/files';
import { tinyTokenizerJson, TINY_BOS_ID, TINY_EOS_ID } from '../engine/tiny/bpe';
import { generationConfigJson, tokenizerConfigFiles, transformersJson } from '../engine/tiny/hf-layout';
import { tinyConfigJson, tinyV4TokenizerConfig } from '../engine/tiny/tiny';
import type { ToyExample } from './roles';

/** The architecture: about 1M parameters, a context of 1024. */
export const TOY_ARCH = {
  arch: 'llama',
  hiddenSize: 128,
  numLayers: 4,
  numHeads: 4,
  numKvHeads: 4,
  intermediateSize: 384,
  vocabSize: 1536,
  tieWordEmbeddings: true,
  ropeScaling: false,
  maxPositionEmbeddings: 1024,
} as const;

/** The text the tokenizer learns its merges from: every message of the given conversations, with the chat markers. */
export function toyTokenizerCorpus(examples: readonly ToyExample[]): string {
  return examples.map((e) => e.messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>`).join('\n')).join('\n');
}

export function toyModelFiles(corpusExamples: readonly ToyExample[], card: string): FileMap {
  const json = (x: unknown) => new TextEncoder().encode(JSON.stringify(x, null, 2) + '\n');
  return {
    // transformers.js_config: transformers.js (the ONNX export in onnx/) would pick the q8 file on wasm; there is only fp32.
    'config.json': transformersJson({ ...tinyConfigJson({ ...TOY_ARCH, dtype: 'f32' }), 'transformers.js_config': { dtype: 'fp32' } }),
    'generation_config.json': transformersJson(generationConfigJson(TINY_BOS_ID, TINY_EOS_ID, 'v4')),
    'tokenizer.json': json(tinyTokenizerJson(TOY_ARCH.vocabSize, toyTokenizerCorpus(corpusExamples))),
    ...tokenizerConfigFiles(tinyV4TokenizerConfig(), 'v4', 'llama'),
    'README.md': new TextEncoder().encode(card),
  };
}
