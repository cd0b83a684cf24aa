/**
 * Merge-to-base export: the base model with a LoRA adapter folded in, W' = W + scale·B·A on every
 * targeted linear, as a Hugging Face checkpoint (config.json + model.safetensors, transformers'
 * names) that loads without PEFT. The tokenizer files are the base's own: copy them alongside.
 *
 * Storage dtype: the base's (f32 stays F32, f16 stays F16). A q4 base is dequantized exactly as
 * the engine computes with it and written as F16 by default (a 4-bit code times an f16 scale
 * needs up to 14 significant bits, so F16 rounds it at 2⁻¹¹ relative; choose 'f32' to keep the
 * dequantized values exactly). The merged sum is formed in f64 and rounded once.
 */
import type { ModelConfig } from '../model/config';
import { f32ArrayToBf16, f32ArrayToF16, tensorToF32 } from '../model/dtypes';
import { LINEAR_NAMES, type LayerWeights, type LoraAdapter, type ModelWeights, type Tensor } from '../model/weights';
import type { FileMap } from '../load/files';
import { hfNames } from '../load/hf';
import { writeSafetensors, type SafetensorsInput } from '../load/safetensors';
import { LabError } from '../../errors';

export type MergeDtype = 'f32' | 'f16' | 'bf16';

/** A ModelConfig as a transformers config.json (what parseHfConfig reads back to the same config). */
export function hfConfigJson(c: ModelConfig, dtype: MergeDtype): Record<string, unknown> {
  const rs = c.ropeScaling;
  return {
    architectures: [c.arch === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM'],
    model_type: c.arch,
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim,
    hidden_act: 'silu',
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rope_scaling: rs
      ? { rope_type: 'llama3', factor: rs.factor, low_freq_factor: rs.lowFreqFactor, high_freq_factor: rs.highFreqFactor, original_max_position_embeddings: rs.originalMaxPositionEmbeddings }
      : null,
    max_position_embeddings: c.maxPositionEmbeddings,
    tie_word_embeddings: c.tieWordEmbeddings,
    ...(c.arch === 'llama' ? { attention_bias: c.attentionBias } : {}),
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenIds.length === 1 ? c.eosTokenIds[0] : c.eosTokenIds,
    torch_dtype: { f32: 'float32', f16: 'float16', bf16: 'bfloat16' }[dtype],
  };
}

/** The dtype a merge writes by default: the base's float type, F16 for a q4 base. */
export function defaultMergeDtype(w: ModelWeights): MergeDtype {
  return w.layers[0]?.q.dtype === 'f32' && w.embed.dtype === 'f32' ? 'f32' : 'f16';
}

/** W + scale·B·A.   w [OC,IC] → new array, a [r,IC], b [OC,r] */
export function mergeLinear(w: Float32Array, a: Float32Array, b: Float32Array, scale: number, OC: number, IC: number, r: number): Float32Array {
  const out = new Float32Array(OC * IC);
  const row = new Float64Array(IC);
  for (let o = 0; o < OC; o++) {
    row.fill(0);
    for (let j = 0; j < r; j++) {
      const s = scale * b[o * r + j];
      if (s === 0) continue;
      for (let i = 0; i < IC; i++) row[i] += s * a[j * IC + i];
    }
    for (let i = 0; i < IC; i++) out[o * IC + i] = w[o * IC + i] + row[i];
  }
  return out;
}

function encode(data: Float32Array, shape: number[], dtype: MergeDtype): SafetensorsInput {
  if (dtype === 'f32') return { dtype: 'F32', shape, data };
  if (dtype === 'f16') return { dtype: 'F16', shape, data: f32ArrayToF16(data) };
  return { dtype: 'BF16', shape, data: f32ArrayToBf16(data) };
}

/** config.json and model.safetensors of the base with `adapter` merged in. */
export function mergedCheckpoint(weights: ModelWeights, adapter: LoraAdapter, opts: { dtype?: MergeDtype } = {}): FileMap {
  const c = weights.config;
  if (adapter.layers.length !== c.numLayers) throw new LabError('invalid-input', `Adapter "${adapter.name}" has ${adapter.layers.length} layers; the model has ${c.numLayers}.`);
  const dtype = opts.dtype ?? defaultMergeDtype(weights);
  const tensors: Record<string, SafetensorsInput> = {};
  const put = (name: string, t: Tensor, data = tensorToF32(t)) => {
    tensors[name] = encode(data, t.shape, dtype);
  };
  put(hfNames.embed, weights.embed);
  weights.layers.forEach((layer, l) => {
    const n = hfNames.layer(l);
    for (const key of Object.keys(n) as (keyof LayerWeights)[]) {
      const t = layer[key];
      if (!t) continue;
      const lin = LINEAR_NAMES.find((x) => x === key);
      const ab = lin ? adapter.layers[l][lin] : undefined;
      if (lin && ab) {
        const [OC, IC] = t.shape;
        put(n[key], t, mergeLinear(tensorToF32(t), ab.a, ab.b, adapter.scale, OC, IC, adapter.rank));
      } else put(n[key], t);
    }
  });
  put(hfNames.finalNorm, weights.finalNorm);
  if (weights.lmHead) put(hfNames.lmHead, weights.lmHead);
  return {
    'config.json': new TextEncoder().encode(JSON.stringify(hfConfigJson(c, dtype), null, 2)),
    'model.safetensors': writeSafetensors(tensors, { format: 'pt' }),
  };
}
