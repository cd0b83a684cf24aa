/**
 * Hugging Face checkpoints (config.json + safetensors, single or sharded) → ModelWeights.
 * Tensor names are transformers' LlamaForCausalLM / Qwen2ForCausalLM names; every expected
 * tensor is checked for presence and shape, and errors name the tensor.
 */
import { LabError } from '../../errors';
import { parseHfConfig, type ModelConfig } from '../model/config';
import type { LayerWeights, ModelWeights, Tensor } from '../model/weights';
import { readJson, type FileSource, type ReadProgress } from './files';
import { entryToTensor, readCheckpoint, type ToTensorOptions } from './safetensors';

export interface HfLoadOptions extends ToTensorOptions {
  onProgress?: ReadProgress;
}

export async function readHfConfig(source: FileSource): Promise<ModelConfig> {
  if (!(await source.exists('config.json'))) {
    throw new LabError('not-found', `${source.label}: config.json is missing; a Hugging Face model folder needs config.json next to its .safetensors files.`);
  }
  return parseHfConfig(await readJson(source, 'config.json'), `${source.label}: config.json`);
}

export async function loadHfWeights(source: FileSource, opts: HfLoadOptions = {}): Promise<ModelWeights> {
  const config = await readHfConfig(source);
  const entries = await readCheckpoint(source, opts.onProgress);
  return assembleWeights(config, source.label, (name) => {
    const e = entries.get(name);
    return e ? entryToTensor(e.entry, e.file, opts) : undefined;
  });
}

/** HF tensor name of each weight, for messages and for writers (tiny models, PEFT export). */
export const hfNames = {
  embed: 'model.embed_tokens.weight',
  finalNorm: 'model.norm.weight',
  lmHead: 'lm_head.weight',
  layer(i: number) {
    const p = `model.layers.${i}`;
    return {
      inputNorm: `${p}.input_layernorm.weight`,
      q: `${p}.self_attn.q_proj.weight`,
      k: `${p}.self_attn.k_proj.weight`,
      v: `${p}.self_attn.v_proj.weight`,
      qBias: `${p}.self_attn.q_proj.bias`,
      kBias: `${p}.self_attn.k_proj.bias`,
      vBias: `${p}.self_attn.v_proj.bias`,
      o: `${p}.self_attn.o_proj.weight`,
      postNorm: `${p}.post_attention_layernorm.weight`,
      gate: `${p}.mlp.gate_proj.weight`,
      up: `${p}.mlp.up_proj.weight`,
      down: `${p}.mlp.down_proj.weight`,
    } satisfies Record<keyof LayerWeights, string>;
  },
};

/** The logical shape of every weight of a config (HF layout, linear weights [out, in]). */
export function expectedShapes(c: ModelConfig) {
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  return {
    embed: [c.vocabSize, c.hiddenSize],
    finalNorm: [c.hiddenSize],
    lmHead: [c.vocabSize, c.hiddenSize],
    layer: {
      inputNorm: [c.hiddenSize],
      q: [q, c.hiddenSize],
      k: [kv, c.hiddenSize],
      v: [kv, c.hiddenSize],
      qBias: [q],
      kBias: [kv],
      vBias: [kv],
      o: [c.hiddenSize, q],
      postNorm: [c.hiddenSize],
      gate: [c.intermediateSize, c.hiddenSize],
      up: [c.intermediateSize, c.hiddenSize],
      down: [c.hiddenSize, c.intermediateSize],
    } satisfies Record<keyof LayerWeights, number[]>,
  };
}

/**
 * Builds ModelWeights from a lookup by HF name, checking each tensor's presence and shape.
 * Used by the HF loader; `where` names the source in errors.
 */
export function assembleWeights(config: ModelConfig, where: string, get: (hfName: string) => Tensor | undefined): ModelWeights {
  const shapes = expectedShapes(config);
  const take = (name: string, shape: number[]): Tensor => {
    const t = get(name);
    if (!t) throw new LabError('invalid-input', `${where}: tensor "${name}" is missing from the checkpoint (expected shape [${shape}]). The files may belong to a different model than config.json.`);
    checkShape(t, name, shape, where);
    return t;
  };
  const layers: LayerWeights[] = [];
  for (let i = 0; i < config.numLayers; i++) {
    const n = hfNames.layer(i);
    const s = shapes.layer;
    layers.push({
      inputNorm: take(n.inputNorm, s.inputNorm),
      q: take(n.q, s.q),
      k: take(n.k, s.k),
      v: take(n.v, s.v),
      qBias: config.attentionBias ? take(n.qBias, s.qBias) : null,
      kBias: config.attentionBias ? take(n.kBias, s.kBias) : null,
      vBias: config.attentionBias ? take(n.vBias, s.vBias) : null,
      o: take(n.o, s.o),
      postNorm: take(n.postNorm, s.postNorm),
      gate: take(n.gate, s.gate),
      up: take(n.up, s.up),
      down: take(n.down, s.down),
    });
  }
  return {
    config,
    embed: take(hfNames.embed, shapes.embed),
    layers,
    finalNorm: take(hfNames.finalNorm, shapes.finalNorm),
    lmHead: config.tieWordEmbeddings ? null : take(hfNames.lmHead, shapes.lmHead),
  };
}

export function checkShape(t: Tensor, name: string, shape: number[], where: string): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new LabError('invalid-input', `${where}: tensor "${name}" has shape [${t.shape}] but config.json implies [${shape}]. The weights and config.json do not belong together.`);
  }
}
