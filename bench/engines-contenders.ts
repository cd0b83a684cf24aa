/**
 * The three engines of the engines page (engines.ts), each loaded from one model folder the way
 * the lab loads it: the lab engine from its safetensors (LabEngine, as src/lab/engine.ts makes it),
 * transformers.js from onnx/model.onnx (loadOnnxModel, as the transformers worker does) on WebGPU
 * and on wasm. Each is timed from the first file read to a backend ready to generate.
 */
import { LabEngine } from '../src/backends/lab';
import { loadOnnxModel, type OnnxDevice } from '../src/backends/transformers-runtime';
import type { ModelBackend } from '../src/backends/types';
import type { ChatTokenizer } from '../src/engine/load/tokenizer';
import { loadModel } from '../src/engine/load/model';
import { urlSource } from '../src/engine/load/url-source';
import type { ModelConfig } from '../src/engine/model/config';
import type { ModelWeights, Tensor } from '../src/engine/model/weights';

export interface Contender {
  name: string;
  backend: ModelBackend;
  loadSeconds: number;
  dispose(): Promise<void>;
}

/** The lab engine's contender, with what the page also reads from its load: the tokenizer, config, size and adapter. */
export interface LabContender extends Contender {
  tokenizer: ChatTokenizer;
  config: ModelConfig;
  parameters: number;
  adapter: { vendor: string; architecture: string; description: string; isFallbackAdapter: boolean };
}

function parameterCount(w: ModelWeights): number {
  const tensors: (Tensor | null)[] = [w.embed, w.finalNorm, w.lmHead, ...w.layers.flatMap((l) => Object.values(l))];
  return tensors.reduce((n, t) => n + (t ? t.shape.reduce((a, b) => a * b, 1) : 0), 0);
}

export async function loadLabContender(modelUrl: string, name: string): Promise<LabContender> {
  const t0 = performance.now();
  const model = await loadModel(urlSource(modelUrl, name));
  const engine = await LabEngine.create(model.weights, model.tokenizer, { modelName: name });
  const info = engine.gpuModel.gpu.adapterInfo;
  return {
    name: 'lab engine · WebGPU',
    backend: engine.view({ role: 'base' }),
    loadSeconds: (performance.now() - t0) / 1000,
    dispose: async () => engine.destroy(),
    tokenizer: model.tokenizer,
    config: model.config,
    parameters: parameterCount(model.weights),
    adapter: { vendor: info.vendor, architecture: info.architecture, description: info.description, isFallbackAdapter: info.isFallbackAdapter },
  };
}

export async function loadTransformersContender(modelUrl: string, name: string, device: OnnxDevice): Promise<Contender> {
  const t0 = performance.now();
  const model = await loadOnnxModel(urlSource(modelUrl, name), { device, dtype: 'fp32', name });
  return {
    name: `transformers.js · ${device === 'webgpu' ? 'WebGPU' : 'wasm'}`,
    backend: model.backend,
    loadSeconds: (performance.now() - t0) / 1000,
    dispose: () => model.dispose(),
  };
}
