/**
 * PEFT interop: a LoRA adapter as the two files `PeftModel.from_pretrained(base, dir)` loads, and
 * back. Layout as PEFT's save_pretrained writes it (peft/utils/save_and_load.py: the adapter
 * name is dropped from the keys; tuners/lora/layer.py: lora_A is nn.Linear(in, r), lora_B
 * nn.Linear(r, out), scaling alpha/r or alpha/√r):
 *   adapter_model.safetensors  base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight [r, in]
 *                              base_model.model.model.layers.N.self_attn.q_proj.lora_B.weight [out, r]
 *                              … mlp.gate_proj / up_proj / down_proj; F32; metadata {"format": "pt"}
 *   adapter_config.json        peft_type LORA, task_type CAUSAL_LM, r, lora_alpha, target_modules,
 *                              use_rslora, lora_dropout, bias "none", fan_in_fan_out false, …
 *                              (keys sorted, indent 2, as PEFT writes it; only fields every PEFT
 *                              release since rsLoRA knows, so older versions load it too)
 * Export → import is bit-exact (f32 bytes as they are).
 */
import { LabError } from '../../errors';
import type { ModelConfig } from '../model/config';
import { bf16ArrayToF32, bytesAsF32, bytesAsU16, f16ArrayToF32, numel } from '../model/dtypes';
import type { LinearName, LoraAdapter } from '../model/weights';
import type { FileMap, FileSource } from '../load/files';
import { readJson } from '../load/files';
import { parseSafetensors, writeSafetensors, type SafetensorsInput } from '../load/safetensors';
import { adapterSettings, adapterTensors, linearDims, loraScale, parsePeftKey, PROJ_NAMES } from './lora';

export const PEFT_CONFIG = 'adapter_config.json';
export const PEFT_WEIGHTS = 'adapter_model.safetensors';

export interface PeftExportOptions {
  /** base_model_name_or_path, e.g. "HuggingFaceTB/SmolLM2-135M-Instruct". */
  baseModel?: string;
}

/** Sorted keys, recursively: PEFT writes its config with json.dumps(sort_keys=True, indent=2). */
function sortedJson(x: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sort) : v && typeof v === 'object' ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])])) : v;
  return JSON.stringify(sort(x), null, 2);
}

/** The layers an adapter touches, or null when it is every layer (PEFT's layers_to_transform). */
function layersToTransform(a: LoraAdapter): number[] | null {
  const used = a.layers.map((l, i) => (Object.keys(l).length > 0 ? i : -1)).filter((i) => i >= 0);
  return used.length === a.layers.length ? null : used;
}

export function peftConfig(a: LoraAdapter, opts: PeftExportOptions = {}): Record<string, unknown> {
  const s = adapterSettings(a);
  return {
    alpha_pattern: {},
    auto_mapping: null,
    base_model_name_or_path: opts.baseModel ?? null,
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    layers_pattern: null,
    layers_to_transform: layersToTransform(a),
    lora_alpha: s.alpha,
    lora_dropout: 0.0,
    modules_to_save: null,
    peft_type: 'LORA',
    r: s.rank,
    rank_pattern: {},
    revision: null,
    target_modules: s.targets.map((t) => PROJ_NAMES[t].split('.')[1]),
    task_type: 'CAUSAL_LM',
    use_rslora: s.rslora,
  };
}

/** adapter_config.json and adapter_model.safetensors of an adapter. */
export function exportPeft(a: LoraAdapter, opts: PeftExportOptions = {}): FileMap {
  const tensors: Record<string, SafetensorsInput> = {};
  for (const t of adapterTensors(a)) tensors[t.key] = { dtype: 'F32', shape: t.shape, data: t.data };
  return {
    // Python writes the float 0.0 as "0.0"; JSON.stringify would write 0.
    [PEFT_CONFIG]: new TextEncoder().encode(sortedJson(peftConfig(a, opts)).replace('"lora_dropout": 0,', '"lora_dropout": 0.0,')),
    [PEFT_WEIGHTS]: writeSafetensors(tensors, { format: 'pt' }),
  };
}

const UNSUPPORTED_FLAGS: [key: string, ok: (v: unknown) => boolean, what: string][] = [
  ['use_dora', (v) => !v, 'DoRA adapters (use_dora) are not supported'],
  ['bias', (v) => v == null || v === 'none', 'trained biases (bias other than "none") are not supported'],
  ['fan_in_fan_out', (v) => !v, 'fan_in_fan_out (GPT-2-style Conv1D weights) does not apply to Llama/Qwen2 models'],
  ['rank_pattern', (v) => !v || Object.keys(v as object).length === 0, 'per-module ranks (rank_pattern) are not supported'],
  ['alpha_pattern', (v) => !v || Object.keys(v as object).length === 0, 'per-module alphas (alpha_pattern) are not supported'],
  ['modules_to_save', (v) => !v || (Array.isArray(v) && v.length === 0), 'fully trained extra modules (modules_to_save) are not supported'],
  ['use_qalora', (v) => !v, 'QA-LoRA adapters are not supported'],
];

function tensorF32(dtype: string, bytes: Uint8Array, key: string, where: string): Float32Array {
  switch (dtype) {
    case 'F32':
      return Float32Array.from(bytesAsF32(bytes));
    case 'F16':
      return f16ArrayToF32(bytesAsU16(bytes));
    case 'BF16':
      return bf16ArrayToF32(bytesAsU16(bytes));
    default:
      throw new LabError('unsupported', `${where}: tensor "${key}" is ${dtype}; LoRA weights must be F32, F16 or BF16.`);
  }
}

/**
 * An adapter from PEFT's config (parsed JSON) and weights file, checked against the model it
 * is for: every tensor must be a LoRA A/B of one of the model's linears with the right shape.
 */
export function parsePeft(configJson: unknown, weights: Uint8Array, model: ModelConfig, name: string, where = 'PEFT adapter'): LoraAdapter {
  const bad = (what: string) => new LabError('invalid-input', `${where}: ${what}.`);
  if (!configJson || typeof configJson !== 'object') throw bad(`${PEFT_CONFIG} is not a JSON object`);
  const c = configJson as Record<string, unknown>;
  if (c.peft_type !== 'LORA') throw new LabError('unsupported', `${where}: peft_type is ${JSON.stringify(c.peft_type)}; only LoRA adapters (peft_type "LORA") can be loaded.`);
  if (c.task_type != null && c.task_type !== 'CAUSAL_LM') throw new LabError('unsupported', `${where}: task_type is ${JSON.stringify(c.task_type)}; SPaR Lab loads CAUSAL_LM adapters.`);
  for (const [key, ok, what] of UNSUPPORTED_FLAGS) if (!ok(c[key])) throw new LabError('unsupported', `${where}: ${what}.`);
  const rank = c.r;
  const alpha = c.lora_alpha ?? 8; // LoraConfig's default, should a hand-written config leave it out
  if (!Number.isInteger(rank) || (rank as number) < 1) throw bad(`"r" must be a positive integer (got ${JSON.stringify(rank)})`);
  if (typeof alpha !== 'number' || !(alpha > 0)) throw bad(`"lora_alpha" must be a positive number (got ${JSON.stringify(alpha)})`);
  const r = rank as number;
  const rslora = Boolean(c.use_rslora);

  const file = parseSafetensors(weights, PEFT_WEIGHTS);
  const dims = linearDims(model);
  const layers: LoraAdapter['layers'] = Array.from({ length: model.numLayers }, () => ({}));
  const targets = new Set<LinearName>();
  for (const [key, e] of file.tensors) {
    const k = parsePeftKey(key);
    if (!k) {
      throw new LabError(
        'unsupported',
        `${where}: tensor "${key}" is not a LoRA A/B weight of a q/k/v/o/gate/up/down projection (embedding or lm_head LoRA, DoRA magnitudes and trained biases are not supported).`,
      );
    }
    if (k.layer >= model.numLayers) throw bad(`tensor "${key}" is for layer ${k.layer} but the model has ${model.numLayers} layers (an adapter for another model?)`);
    const [OC, IC] = dims[k.linear];
    const shape = k.which === 'a' ? [r, IC] : [OC, r];
    if (e.shape.length !== 2 || e.shape[0] !== shape[0] || e.shape[1] !== shape[1]) {
      throw bad(`tensor "${key}" has shape [${e.shape}], expected [${shape}] for r=${r} on this model (an adapter for another model?)`);
    }
    const ab = (layers[k.layer][k.linear] ??= { a: new Float32Array(0), b: new Float32Array(0) });
    if (ab[k.which].length) throw bad(`tensor "${key}" appears twice`);
    ab[k.which] = tensorF32(e.dtype, e.bytes, key, where);
    if (ab[k.which].length !== numel(shape)) throw bad(`tensor "${key}" has the wrong number of values`);
    targets.add(k.linear);
  }
  layers.forEach((layer, i) => {
    for (const [lin, ab] of Object.entries(layer)) {
      if (!ab.a.length || !ab.b.length) throw bad(`layer ${i} ${PROJ_NAMES[lin as LinearName]} has lora_${ab.a.length ? 'B' : 'A'} missing`);
    }
  });
  if (targets.size === 0) throw bad(`${PEFT_WEIGHTS} holds no LoRA weights`);
  const order: LinearName[] = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'];
  return { name, rank: r, alpha, scale: loraScale(r, alpha, rslora), targets: order.filter((t) => targets.has(t)), layers };
}

/** Reads adapter_config.json and adapter_model.safetensors from a folder. */
export async function importPeft(source: FileSource, model: ModelConfig, name: string): Promise<LoraAdapter> {
  for (const f of [PEFT_CONFIG, PEFT_WEIGHTS]) {
    if (!(await source.exists(f))) {
      throw new LabError('not-found', `${source.label}: ${f} is missing. A PEFT adapter folder holds ${PEFT_CONFIG} and ${PEFT_WEIGHTS} (older adapter_model.bin files are not supported).`);
    }
  }
  return parsePeft(await readJson(source, PEFT_CONFIG), await source.read(PEFT_WEIGHTS), model, name, source.label);
}
