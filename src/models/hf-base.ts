/**
 * The Hugging Face model behind a lab model: what a PEFT export names as
 * base_model_name_or_path, the model AutoPeftModelForCausalLM.from_pretrained(folder) loads before
 * it applies the adapter.
 *
 * - A Hugging Face checkpoint from the hub is its own repository.
 * - An MLC build is named after the model it was converted from: mlc_llm's convention (and
 *   mlc-ai's conversion space) is `${name}-${quantization}-MLC`, `name` being the Hugging Face
 *   repository's name; web-llm's ids may add a suffix (-1k). The owner follows from the family.
 * - A model shipped with the app (SPaR-toy) is on no hub: its folder is in the app's public/models/.
 * - A local checkpoint folder says it only in config.json's `_name_or_path` (transformers writes the
 *   name it was loaded from when it saves); a local MLC build only in its folder name.
 * Anything else is unknown: null, which PEFT accepts (PeftModel.from_pretrained(base, folder) gets
 * the base from its caller), and the note says so and what to do.
 */
import { readJson, type FileSource } from '../engine/load/files';
import { describeSource, type ModelSourceSpec } from '../lab/run-config';

export interface MlcBuildName {
  /** The converted model's Hugging Face repository name, e.g. "SmolLM2-135M-Instruct". */
  name: string;
  quantization: string;
}

/**
 * "mlc-ai/Qwen2.5-0.5B-Instruct-q4f16_1-MLC", web-llm's "TinyLlama-1.1B-Chat-v1.0-q4f16_1-MLC-1k"
 * or a local "SmolLM2-135M-Instruct-q0f16" → name and quantization; null if it is not an MLC build's name.
 */
export function parseMlcBuildName(idOrRepo: string): MlcBuildName | null {
  const last = idOrRepo.split('/').pop() ?? '';
  const m = /^(.+)-(q\d+f\d+(?:_[a-z0-9]+)?)(?:-MLC(?:-[\w.]+)?)?$/i.exec(last);
  return m ? { name: m[1], quantization: m[2] } : null;
}

/**
 * Hugging Face owners of the families the lab engine runs (catalog.ts FAMILIES with an arch; the
 * Mistral-based Hermes is not one). Llama 3 (not 3.1 / 3.2) repositories kept Meta's prefix.
 */
const HF_OWNERS: { test: RegExp; repo: (name: string) => string }[] = [
  { test: /^SmolLM2-/i, repo: (n) => `HuggingFaceTB/${n}` },
  { test: /^TinyLlama-/i, repo: (n) => `TinyLlama/${n}` },
  { test: /^Llama-3-/i, repo: (n) => `meta-llama/Meta-${n}` },
  { test: /^Llama-(?:2|3\.1|3\.2)-/i, repo: (n) => `meta-llama/${n}` },
  { test: /^Hermes-.*-Llama-/i, repo: (n) => `NousResearch/${n}` },
  { test: /^DeepSeek-R1-Distill-(?:Llama|Qwen)-/i, repo: (n) => `deepseek-ai/${n}` },
  { test: /^Qwen2(?:\.5)?-/i, repo: (n) => `Qwen/${n}` },
];

/** The Hugging Face repository an MLC build (web-llm id or hub repo) was converted from; null when the lab does not know. */
export function hfRepoOfMlcBuild(idOrRepo: string): string | null {
  const build = parseMlcBuildName(idOrRepo);
  if (!build) return null;
  const owner = HF_OWNERS.find((o) => o.test.test(build.name));
  return owner ? owner.repo(build.name) : null;
}

/**
 * config.json's `_name_or_path` when it names a hub repository ("owner/name"), not a local path
 * ("/content/out", "./merged") or a Trainer's output ("out/checkpoint-500").
 */
export function hubIdOfNameOrPath(v: unknown): string | null {
  if (typeof v !== 'string' || !/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(v)) return null;
  return /^checkpoint-\d+$/.test(v.split('/')[1]) ? null : v;
}

/** `_name_or_path` of a checkpoint folder's config.json (null when it has none). */
export async function nameOrPathOf(source: FileSource): Promise<string | null> {
  const c = (await readJson(source, 'config.json')) as Record<string, unknown> | null;
  return typeof c?._name_or_path === 'string' ? c._name_or_path : null;
}

export interface PeftBase {
  /** base_model_name_or_path: a Hugging Face repository id, or null when the lab cannot tell. */
  repo: string | null;
  /** PEFT's `revision` of the base (a hub checkpoint loaded at a revision), else null. */
  revision: string | null;
  /** One sentence for the export: where the name comes from, or why there is none and what to do. */
  note: string;
}

/** What the lab knows of a loaded model beyond its source. */
export interface LoadedModelFacts {
  format: 'hf' | 'mlc';
  /** config.json's `_name_or_path` (local checkpoints). */
  nameOrPath: string | null;
}

const unknown = (why: string): PeftBase => ({
  repo: null,
  revision: null,
  note:
    `${why}, so adapter_config.json leaves base_model_name_or_path empty (null). Load the base model yourself and call ` +
    'PeftModel.from_pretrained(model, adapter_folder), or write its Hugging Face id into the file for AutoPeftModelForCausalLM.',
});

const named = (repo: string, revision: string | null, from: string): PeftBase => ({
  repo,
  revision,
  note: `adapter_config.json names ${repo} as the base model (${from}).`,
});

/** The MLC build's Hugging Face origin, or why it is unknown. */
function mlcBase(what: string, idOrRepo: string): PeftBase {
  const hf = hfRepoOfMlcBuild(idOrRepo);
  if (hf) return named(hf, null, `the Hugging Face model ${what} was converted from`);
  return unknown(`SPaR Lab does not know which Hugging Face model ${what} was converted from`);
}

/**
 * The base model a PEFT export of an adapter over `source` names, from the source and, where the
 * model is loaded, what loading it found (its format; a local checkpoint's _name_or_path).
 */
export function peftBaseModel(source: ModelSourceSpec, loaded: LoadedModelFacts | null = null): PeftBase {
  if (source.type === 'tiny') return unknown('The tiny demo model is generated in this browser and exists on no hub');
  if (source.type === 'bundled') return unknown(`${describeSource(source)} is the model in SPaR Lab's public/models/${source.name}/ folder and exists on no hub`);
  if (source.type === 'hub') {
    const mlc = loaded ? loaded.format === 'mlc' : parseMlcBuildName(source.repo) !== null;
    return mlc ? mlcBase(source.repo, source.repo) : named(source.repo, source.revision ?? null, 'the Hugging Face repository the model was loaded from');
  }
  const folder = `the folder “${source.label}”`;
  if (loaded?.format === 'hf') {
    const id = hubIdOfNameOrPath(loaded.nameOrPath);
    if (id) return named(id, null, `${folder} was saved from it: its config.json's _name_or_path`);
    return unknown(`The config.json of ${folder} does not name a Hugging Face repository (_name_or_path)`);
  }
  if (parseMlcBuildName(source.label)) return mlcBase(folder, source.label);
  return unknown(loaded ? `${folder} is an MLC build whose name does not say which Hugging Face model it was converted from` : `${folder} is not open, so SPaR Lab cannot read which model it holds`);
}
