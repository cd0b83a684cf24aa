/**
 * PEFT interop: a LoRA adapter as the two files `PeftModel.from_pretrained(base, dir)` loads, and
 * back. Layout as PEFT's save_pretrained writes it (peft/utils/save_and_load.py: the adapter
 * name is dropped from the keys; tuners/lora/layer.py: lora_A is nn.Linear(in, r), lora_B
 * nn.Linear(r, out), scaling alpha/r or alpha/√r):
 *   adapter_model.safetensors  base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight [r, in]
 *                              base_model.model.model.layers.N.self_attn.q_proj.lora_B.weight [out, r]
 *                              … mlp.gate_proj / up_proj / down_proj; F32; metadata {"format": "pt"};
 *                              tensors in name order, as the safetensors library writes them
 *   adapter_config.json        PEFT 0.19.1's LoraConfig key set (json.dumps(sort_keys=True, indent=2)).
 *                              PEFT ≥ 0.14 loads it (older releases than 0.19 drop the keys they do
 *                              not know, with a warning: every such key holds its default here);
 *                              PEFT ≤ 0.13 refuses unknown keys ("unexpected keyword argument").
 * Export → import is bit-exact (f32 bytes as they are), and a PEFT adapter imported and exported
 * again gives back the bytes PEFT wrote.
 *
 * Import refuses every LoraConfig setting that would make the lab apply the adapter wrongly,
 * naming the field; settings that only shaped training (dropout, init of plain LoRA, which
 * modules were targeted) are accepted, the tensors saying what is there.
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

/** The PEFT release whose adapter_config.json key set the export writes. */
const PEFT_FORMAT_VERSION = '0.19.1';

/**
 * adapter_config.json of a default LoraConfig as PEFT 0.19.1's save_pretrained writes it
 * (peft/tuners/lora/config.py, peft/config.py; inference_mode is set on save): every key, so a
 * file with the lab's values has exactly the key set PEFT writes.
 */
const LORA_CONFIG_DEFAULTS: Readonly<Record<string, unknown>> = {
  alora_invocation_tokens: null,
  alpha_pattern: {},
  arrow_config: null,
  auto_mapping: null,
  base_model_name_or_path: null,
  bias: 'none',
  corda_config: null,
  ensure_weight_tying: false,
  eva_config: null,
  exclude_modules: null,
  fan_in_fan_out: false,
  inference_mode: true,
  init_lora_weights: true,
  layer_replication: null,
  layers_pattern: null,
  layers_to_transform: null,
  loftq_config: {},
  lora_alpha: 8,
  lora_bias: false,
  lora_dropout: 0.0,
  lora_ga_config: null,
  megatron_config: null,
  megatron_core: 'megatron.core',
  modules_to_save: null,
  peft_type: 'LORA',
  peft_version: PEFT_FORMAT_VERSION,
  qalora_group_size: 16,
  r: 8,
  rank_pattern: {},
  revision: null,
  target_modules: null,
  target_parameters: null,
  task_type: null,
  trainable_token_indices: null,
  use_bdlora: null,
  use_dora: false,
  use_qalora: false,
  use_rslora: false,
};

export interface PeftExportOptions {
  /** base_model_name_or_path, e.g. "HuggingFaceTB/SmolLM2-135M-Instruct" (null: unknown, see models/hf-base.ts). */
  baseModel?: string | null;
  /** revision: the base model's hub revision, where it was loaded at one. */
  revision?: string | null;
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
    ...LORA_CONFIG_DEFAULTS,
    base_model_name_or_path: opts.baseModel ?? null,
    layers_to_transform: layersToTransform(a),
    lora_alpha: s.alpha,
    r: s.rank,
    revision: opts.revision ?? null,
    target_modules: s.targets.map((t) => PROJ_NAMES[t].split('.')[1]),
    task_type: 'CAUSAL_LM',
    use_rslora: s.rslora,
  };
}

/** adapter_config.json and adapter_model.safetensors of an adapter. */
export function exportPeft(a: LoraAdapter, opts: PeftExportOptions = {}): FileMap {
  const tensors: Record<string, SafetensorsInput> = {};
  const byName = adapterTensors(a).sort((x, y) => (x.key < y.key ? -1 : 1));
  for (const t of byName) tensors[t.key] = { dtype: 'F32', shape: t.shape, data: t.data };
  return {
    // Python writes the float 0.0 as "0.0"; JSON.stringify would write 0.
    [PEFT_CONFIG]: new TextEncoder().encode(sortedJson(peftConfig(a, opts)).replace('"lora_dropout": 0,', '"lora_dropout": 0.0,')),
    [PEFT_WEIGHTS]: writeSafetensors(tensors, { format: 'pt' }),
  };
}

// ---- import ----------------------------------------------------------------------------------

/** Set to anything but its "off" value (null, false, {} or []). */
const isSet = (v: unknown) => v != null && v !== false && !(Array.isArray(v) && v.length === 0) && !(typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0);

/** init_lora_weights that change the base weights when the adapter is created (peft_model.py save_mutated_as_lora; LoftQ quantizes the base). */
const MUTATED_BASE_INIT = /^(?:pissa|olora|corda|lora_ga|loftq)/i;

/**
 * LoraConfig fields that change what the adapter computes in ways the lab does not apply: set
 * to anything but their defaults, the lab would apply the adapter wrongly, so import refuses it.
 */
const REFUSED_FIELDS: { key: string; refuses: (v: unknown) => boolean; why: string }[] = [
  { key: 'fan_in_fan_out', refuses: isSet, why: "the adapter is for Conv1D layers that store weights as [in, out] (GPT-2's c_attn); Llama and Qwen2 projections are nn.Linear [out, in]" },
  { key: 'modules_to_save', refuses: isSet, why: 'whole modules (e.g. lm_head, embed_tokens) were trained and saved next to the adapter; the lab applies LoRA weights only and would leave them out' },
  { key: 'trainable_token_indices', refuses: isSet, why: 'rows of the token embeddings were trained and saved next to the adapter; the lab would leave them out' },
  { key: 'bias', refuses: (v) => v != null && v !== 'none', why: "the base model's biases were trained too; the lab applies LoRA weights only and would leave them out" },
  { key: 'lora_bias', refuses: isSet, why: 'each lora_B carries a trained bias, which the lab does not add' },
  { key: 'use_dora', refuses: isSet, why: 'DoRA rescales each adapted weight with a trained magnitude vector, which the lab does not apply; merge the adapter into the base with PEFT (merge_and_unload) and load the merged model instead' },
  { key: 'rank_pattern', refuses: isSet, why: 'some modules have a rank of their own; the lab applies one rank "r" to every projection' },
  { key: 'alpha_pattern', refuses: isSet, why: 'some modules have a lora_alpha of their own, so a scale of their own; the lab applies one scale to every projection' },
  { key: 'alora_invocation_tokens', refuses: isSet, why: 'Activated LoRA switches the adapter on only from its invocation tokens onwards; the lab would apply it to every token' },
  { key: 'use_qalora', refuses: isSet, why: "QA-LoRA pools each input in groups of qalora_group_size before lora_A, which the lab does not do" },
  { key: 'layer_replication', refuses: isSet, why: "the adapter is for a deeper model built by repeating layers; the lab runs the base model's own layers" },
  { key: 'target_parameters', refuses: isSet, why: 'LoRA was put on raw parameters (such as mixture-of-experts weights), not on the linear projections the lab adapts' },
  { key: 'megatron_config', refuses: isSet, why: "the adapter was made for Megatron-LM's tensor-parallel layers" },
  { key: 'use_bdlora', refuses: isSet, why: 'BD-LoRA makes lora_A or lora_B block-diagonal, which the lab does not apply' },
  { key: 'arrow_config', refuses: isSet, why: 'Arrow routing mixes several adapters token by token; the lab applies one adapter as it is' },
  {
    key: 'init_lora_weights',
    refuses: (v) => typeof v === 'string' && MUTATED_BASE_INIT.test(v),
    why: "PEFT changed the base weights when it created this adapter (PiSSA, OLoRA, CorDA and LoRA-GA take their start out of the base, LoftQ quantizes it), so it fits only that changed base; PEFT's save_pretrained(..., path_initial_model_for_weight_conversion=...) turns such an adapter into a plain LoRA adapter, which the lab loads",
  },
];

const shortJson = (v: unknown) => {
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

/** What adapter_config.json says, checked: everything import needs that does not come from the weights. */
export interface PeftConfigFacts {
  rank: number;
  alpha: number;
  rslora: boolean;
  /** alpha/r, or alpha/√r with rsLoRA. */
  scale: number;
  /** target_modules as written: module names or a regex (null: PEFT's default for the architecture). */
  targetModules: string[] | string | null;
  /** layers_to_transform (null: every layer). */
  layers: number[] | null;
  /** base_model_name_or_path. */
  baseModel: string | null;
  /** peft_version, written since PEFT 0.18 (null when absent). */
  peftVersion: string | null;
  /** Keys PEFT 0.19.1's LoraConfig does not have (a newer PEFT's): ignored, as PEFT ignores them. */
  unknownKeys: string[];
}

/**
 * The config-level facts of a PEFT LoRA adapter (parsed adapter_config.json), refusing what the
 * lab cannot apply with a message that names the field. `where` names the adapter in messages.
 */
export function readPeftConfig(configJson: unknown, where = 'PEFT adapter'): PeftConfigFacts {
  const bad = (what: string) => new LabError('invalid-input', `${where}: ${what}.`);
  if (!configJson || typeof configJson !== 'object' || Array.isArray(configJson)) throw bad(`${PEFT_CONFIG} is not a JSON object`);
  const c = configJson as Record<string, unknown>;
  if (c.peft_type !== 'LORA') throw new LabError('unsupported', `${where}: ${PEFT_CONFIG} has "peft_type": ${JSON.stringify(c.peft_type)}; SPaR Lab loads LoRA adapters only ("peft_type": "LORA").`);
  if (c.task_type != null && c.task_type !== 'CAUSAL_LM') {
    throw new LabError('unsupported', `${where}: ${PEFT_CONFIG} has "task_type": ${JSON.stringify(c.task_type)}; SPaR Lab loads adapters of causal language models ("task_type": "CAUSAL_LM").`);
  }
  const refused = REFUSED_FIELDS.filter((f) => f.refuses(c[f.key]));
  if (refused.length > 0) {
    throw new LabError(
      'unsupported',
      `${where}: ${PEFT_CONFIG} sets ${refused.map((f) => `"${f.key}": ${shortJson(c[f.key])} (${f.why})`).join('; ')}. ` +
        'SPaR Lab applies plain LoRA adapters: lora_A and lora_B on the q/k/v/o/gate/up/down projections, scaled by lora_alpha/r (or lora_alpha/√r with use_rslora).',
    );
  }
  // LoraConfig's defaults, should a hand-written config leave r or lora_alpha out.
  const rank = c.r ?? 8;
  const alpha = c.lora_alpha ?? 8;
  if (!Number.isInteger(rank) || (rank as number) < 1) throw bad(`"r" must be a positive integer (got ${JSON.stringify(rank)})`);
  if (typeof alpha !== 'number' || !(alpha > 0) || !Number.isFinite(alpha)) throw bad(`"lora_alpha" must be a positive number (got ${JSON.stringify(alpha)})`);
  const rslora = Boolean(c.use_rslora);
  const t = c.target_modules;
  const lt = c.layers_to_transform;
  return {
    rank: rank as number,
    alpha,
    rslora,
    scale: loraScale(rank as number, alpha, rslora),
    targetModules: typeof t === 'string' || (Array.isArray(t) && t.every((x) => typeof x === 'string')) ? (t as string[] | string) : null,
    layers: Number.isInteger(lt) ? [lt as number] : Array.isArray(lt) ? (lt as number[]) : null,
    baseModel: typeof c.base_model_name_or_path === 'string' ? c.base_model_name_or_path : null,
    peftVersion: typeof c.peft_version === 'string' ? c.peft_version : null,
    unknownKeys: Object.keys(c).filter((k) => !(k in LORA_CONFIG_DEFAULTS) && k !== 'runtime_config'),
  };
}

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
  const { rank: r, alpha, scale } = readPeftConfig(configJson, where);

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
  return { name, rank: r, alpha, scale, targets: order.filter((t) => targets.has(t)), layers };
}

/**
 * Reads adapter_config.json and adapter_model.safetensors from a folder. The config is checked
 * first, so an adapter the lab cannot apply is refused for what it is even without its weights.
 */
export async function importPeft(source: FileSource, model: ModelConfig, name: string): Promise<LoraAdapter> {
  const missing = (f: string) =>
    new LabError('not-found', `${source.label}: ${f} is missing. A PEFT adapter folder holds ${PEFT_CONFIG} and ${PEFT_WEIGHTS} (older adapter_model.bin files are not supported).`);
  if (!(await source.exists(PEFT_CONFIG))) throw missing(PEFT_CONFIG);
  const config = await readJson(source, PEFT_CONFIG);
  readPeftConfig(config, source.label);
  if (!(await source.exists(PEFT_WEIGHTS))) throw missing(PEFT_WEIGHTS);
  return parsePeft(config, await source.read(PEFT_WEIGHTS), model, name, source.label);
}
