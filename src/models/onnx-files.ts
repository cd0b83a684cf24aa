/**
 * How transformers.js (4.x) names a causal LM's ONNX weights, in one place for the loader
 * (onnx-model.ts), the hub check (onnx-hub.ts) and the Models panel: onnx/model{suffix}.onnx, the
 * suffix naming the dtype (its DEFAULT_DTYPE_SUFFIX_MAPPING), plus external-data chunks
 * model{suffix}.onnx_data, …_data_1, … where config.json's transformers.js_config declares
 * use_external_data_format for that file.
 */

/** File-name suffix → transformers.js dtype (DEFAULT_DTYPE_SUFFIX_MAPPING, inverted). */
const SUFFIX_DTYPES: Record<string, string> = {
  '': 'fp32',
  _fp16: 'fp16',
  _quantized: 'q8',
  _int8: 'int8',
  _uint8: 'uint8',
  _q4: 'q4',
  _q4f16: 'q4f16',
  _bnb4: 'bnb4',
  _q2: 'q2',
  _q2f16: 'q2f16',
  _q1: 'q1',
  _q1f16: 'q1f16',
};

/** The graph file transformers.js loads for a dtype ("q8" → "onnx/model_quantized.onnx"). */
export function onnxGraphFile(dtype: string): string {
  const suffix = Object.entries(SUFFIX_DTYPES).find(([, d]) => d === dtype)?.[0] ?? `_${dtype}`;
  return `onnx/model${suffix}.onnx`;
}

/** "onnx/model_q4.onnx" → "q4"; null where it is not a causal LM's weight file transformers.js would pick. */
export function dtypeOfOnnxFile(path: string): string | null {
  const m = /^(?:.*\/)?model(_[a-z0-9]+)?\.onnx$/.exec(path);
  if (!m) return null;
  return SUFFIX_DTYPES[m[1] ?? ''] ?? null;
}

/** How many external-data chunks transformers.js fetches for a graph file, by its name without the folder (its resolveExternalDataFormat). */
export function declaredDataChunks(config: unknown, fileName: string): number {
  const tjs = (config as { 'transformers.js_config'?: { use_external_data_format?: unknown } } | null)?.['transformers.js_config'];
  const v = tjs?.use_external_data_format;
  if (!v) return 0;
  if (typeof v === 'object') {
    const byName = v as Record<string, unknown>;
    if (Object.hasOwn(byName, fileName)) return Number(byName[fileName]);
    if (Object.hasOwn(byName, 'model')) return Number(byName.model);
    return 0;
  }
  return Number(v);
}

/** Whether `path` is one of a graph file's external-data chunks (graph + "_data", "_data_1", …). */
export function isExternalDataOf(graph: string, path: string): boolean {
  return path.startsWith(graph) && /^_data(?:_\d+)?$/.test(path.slice(graph.length));
}

/** A dtype's graph file and the external-data chunks config.json declares for it, in the order transformers.js reads them. */
export function onnxWeightFiles(config: unknown, dtype: string): string[] {
  const graph = onnxGraphFile(dtype);
  const chunks = declaredDataChunks(config, graph.slice(graph.lastIndexOf('/') + 1));
  return [graph, ...Array.from({ length: chunks }, (_, i) => `${graph}_data${i === 0 ? '' : `_${i}`}`)];
}
