/**
 * transformers.js's ONNX file names, shared by the loader, the hub check and the Models panel:
 * dtype ↔ graph file both ways, and the external-data chunks it fetches beside a graph.
 */
import { describe, expect, it } from 'vitest';
import { declaredDataChunks, dtypeOfOnnxFile, isExternalDataOf, onnxGraphFile, onnxWeightFiles } from '../../../src/models/onnx-files';

describe('ONNX file names', () => {
  it('maps file names to transformers.js dtypes and back', () => {
    const files = ['onnx/model.onnx', 'onnx/model_fp16.onnx', 'onnx/model_q4.onnx', 'onnx/model_quantized.onnx', 'onnx/model_int8.onnx', 'onnx/model_q4f16.onnx', 'onnx/model_uint8.onnx', 'onnx/model_bnb4.onnx'];
    const dtypes = ['fp32', 'fp16', 'q4', 'q8', 'int8', 'q4f16', 'uint8', 'bnb4'];
    expect(files.map(dtypeOfOnnxFile)).toEqual(dtypes);
    expect(dtypes.map(onnxGraphFile)).toEqual(files);
    expect(dtypeOfOnnxFile('onnx/decoder_model_merged.onnx')).toBeNull();
    expect(dtypeOfOnnxFile('onnx/model.onnx_data')).toBeNull();
    expect(dtypeOfOnnxFile('onnx/model_weird.onnx')).toBeNull();
  });

  it('counts external-data chunks the way transformers.js does', () => {
    expect(declaredDataChunks({}, 'model.onnx')).toBe(0);
    expect(declaredDataChunks({ 'transformers.js_config': { use_external_data_format: true } }, 'model_q4.onnx')).toBe(1);
    expect(declaredDataChunks({ 'transformers.js_config': { use_external_data_format: { 'model_fp16.onnx': 2 } } }, 'model_fp16.onnx')).toBe(2);
    expect(declaredDataChunks({ 'transformers.js_config': { use_external_data_format: { model: 3 } } }, 'model_q4.onnx')).toBe(3);
    expect(declaredDataChunks({ 'transformers.js_config': { use_external_data_format: { 'model.onnx': 1 } } }, 'model_q4.onnx')).toBe(0);
  });

  it('names the chunks it reads and recognises them beside their graph', () => {
    const config = { 'transformers.js_config': { use_external_data_format: { 'model_q4.onnx': 2 } } };
    expect(onnxWeightFiles(config, 'q4')).toEqual(['onnx/model_q4.onnx', 'onnx/model_q4.onnx_data', 'onnx/model_q4.onnx_data_1']);
    expect(onnxWeightFiles(config, 'fp32')).toEqual(['onnx/model.onnx']);
    expect(['onnx/model.onnx_data', 'onnx/model.onnx_data_12', 'onnx/model.onnx_data_x', 'onnx/model.onnx', 'onnx/model_q4.onnx_data'].map((p) => isExternalDataOf('onnx/model.onnx', p))).toEqual([true, true, false, false, false]);
  });
});
