/**
 * What the transformers.js worker reads of an ONNX model before loading it: config.json's fields
 * in plain and multimodal layouts, the end-of-turn ids of both configs, each dtype's graph with its
 * declared external data, and the refusal of a dtype the folder does not offer.
 */
import { describe, expect, it } from 'vitest';
import { memorySource, type FileMap } from '../../../src/engine/load/files';
import { readOnnxConfig, requireDtype } from '../../../src/models/onnx-model';
import { onnxGraphFile } from '../../../src/models/onnx-files';

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const folder = (files: Record<string, unknown>): FileMap => Object.fromEntries(Object.entries(files).map(([k, v]) => [k, v instanceof Uint8Array ? v : json(v)]));

describe('ONNX model files', () => {
  it('reads config.json and generation_config.json, plain or with a text_config', async () => {
    const plain = await readOnnxConfig(memorySource(folder({ 'config.json': { model_type: 'llama', vocab_size: 272, max_position_embeddings: 512, eos_token_id: 2 }, 'generation_config.json': { eos_token_id: [2, 7] } })));
    expect([plain.modelType, plain.vocabSize, plain.contextLength, plain.eosTokenIds]).toEqual(['llama', 272, 512, [2, 7]]);
    expect(plain.files('fp32')).toEqual(['onnx/model.onnx']);

    const nested = await readOnnxConfig(memorySource(folder({ 'config.json': { model_type: 'gemma3', text_config: { vocab_size: 1000, eos_token_id: [1, 106] } } })));
    expect([nested.modelType, nested.vocabSize, nested.contextLength, nested.eosTokenIds]).toEqual(['gemma3', 1000, null, [1, 106]]);

    await expect(readOnnxConfig(memorySource(folder({ 'config.json': { model_type: 'x' } }), 'm'))).rejects.toThrow(/m: config\.json has no vocab_size/);
  });

  it('names the external data transformers.js reads for each dtype', async () => {
    const withData = (format: unknown) => readOnnxConfig(memorySource(folder({ 'config.json': { vocab_size: 8, 'transformers.js_config': { use_external_data_format: format } } })));
    expect((await withData(true)).files('q4')).toEqual(['onnx/model_q4.onnx', 'onnx/model_q4.onnx_data']);
    expect((await withData(3)).files('q8')).toEqual(['onnx/model_quantized.onnx', 'onnx/model_quantized.onnx_data', 'onnx/model_quantized.onnx_data_1', 'onnx/model_quantized.onnx_data_2']);
    const byFile = await withData({ 'model_fp16.onnx': 2 });
    expect(byFile.files('fp16')).toEqual(['onnx/model_fp16.onnx', 'onnx/model_fp16.onnx_data', 'onnx/model_fp16.onnx_data_1']);
    expect(byFile.files('fp32')).toEqual(['onnx/model.onnx']);
  });

  it('refuses a dtype the folder does not offer, naming those it does', async () => {
    const files = folder({ 'config.json': { vocab_size: 8 }, [onnxGraphFile('q4')]: new Uint8Array(4), [onnxGraphFile('q8')]: new Uint8Array(4) });
    await expect(requireDtype(memorySource(files, 'hub x/y'), 'q4')).resolves.toBeUndefined();
    await expect(requireDtype(memorySource(files, 'hub x/y'), 'fp16')).rejects.toMatchObject({
      kind: 'not-found',
      message: 'hub x/y has no onnx/model_fp16.onnx (fp16 weights). It offers q4, q8; choose one of those.',
    });
    await expect(requireDtype(memorySource(folder({ 'config.json': {} }), 'f'), 'fp32')).rejects.toThrow(/f has no onnx\/model\.onnx .*no onnx\/model\*\.onnx at all/);
  });
});
