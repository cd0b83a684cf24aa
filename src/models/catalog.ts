/**
 * The model picker's data: web-llm's prebuilt chat models (prebuiltAppConfig.model_list, which
 * the web-llm worker reports, so the page never loads web-llm itself), each with what a user
 * needs to choose — family, size, quantization, GPU memory, download size — whether this GPU
 * can run it in web-llm, and whether the lab engine can load the very same files ("one
 * download, two engines"), with the reason where it cannot. Pure TypeScript.
 */
import type { Arch } from '../engine/model/config';
import type { GpuReport } from '../engine/gpu/report';
import { HUB_ENDPOINT } from '../engine/load/fetch';
import { MLC_QUANTIZATIONS } from '../engine/load/mlc';

/** The fields of web-llm's ModelRecord the catalog reads. */
export interface ModelRecordLike {
  model: string;
  model_id: string;
  model_lib: string;
  vram_required_MB?: number;
  low_resource_required?: boolean;
  buffer_size_required_bytes?: number;
  required_features?: string[];
  /** 0 LLM, 1 embedding, 2 VLM (web-llm's ModelType). */
  model_type?: number;
  overrides?: { context_window_size?: number; [k: string]: unknown };
  model_manifest?: string;
}

export interface LabSupport {
  /** The lab engine (training, LoRA, scoring) can load this model's web-llm files. */
  loadable: boolean;
  /** One sentence for the picker. */
  reason: string;
}

export interface CatalogEntry {
  modelId: string;
  /** Hugging Face repository, e.g. mlc-ai/Qwen2.5-0.5B-Instruct-q4f16_1-MLC (null for other hosts). */
  repo: string | null;
  revision: string;
  /** The URL web-llm keys the model's files under (…/resolve/main/). */
  baseUrl: string;
  modelLib: string;
  family: string;
  /** MLC model_type the family is built with, when the lab engine knows the architecture. */
  arch: Arch | null;
  /** "135M", "0.5B", … ("" when the id does not say). */
  sizeLabel: string;
  params: number | null;
  quantization: string;
  /** web-llm's context window for this id (its -1k variants are shorter). */
  contextWindow: number | null;
  vramMB: number | null;
  lowResource: boolean;
  requiredFeatures: string[];
  /** web-llm needs shader-f16: declared in the record, or an f16 build (q4f16_1 kernels use f16). */
  needsShaderF16: boolean;
  bufferSizeRequired: number | null;
  vision: boolean;
  /** Bytes of weights to download: parameters × bits per parameter (exact figures come from tensor-cache.json, see model-cache.ts). */
  downloadEstimateBytes: number | null;
  lab: LabSupport;
}

interface Family {
  test: RegExp;
  family: string;
  arch: Arch | null;
  /** Why the lab engine cannot load it (architectures other than Llama / Qwen2). */
  why?: string;
}

const OTHER_ARCH = (what: string) =>
  `${what}; the lab engine runs Llama-family models (Llama 2/3.x, TinyLlama, SmolLM2) and Qwen2/2.5 only. web-llm only: it generates and judges, but cannot be trained or score a text.`;

// Order matters: fine-tunes are named after their base (Hermes-2-Pro-Mistral before Hermes-…-Llama).
const FAMILIES: Family[] = [
  { test: /^SmolLM2-/i, family: 'SmolLM2', arch: 'llama' },
  { test: /^TinyLlama-/i, family: 'TinyLlama', arch: 'llama' },
  { test: /^Llama-3\.2-/i, family: 'Llama 3.2', arch: 'llama' },
  { test: /^Llama-3\.1-/i, family: 'Llama 3.1', arch: 'llama' },
  { test: /^Llama-3-/i, family: 'Llama 3', arch: 'llama' },
  { test: /^Llama-2-/i, family: 'Llama 2', arch: 'llama' },
  { test: /Mistral|WizardMath/i, family: 'Mistral', arch: null, why: OTHER_ARCH('Mistral builds are MLC model_type "mistral" (sliding-window attention)') },
  { test: /^Hermes-.*Llama-/i, family: 'Hermes (Llama)', arch: 'llama' },
  { test: /^DeepSeek-R1-Distill-Llama-/i, family: 'DeepSeek-R1 Distill (Llama)', arch: 'llama' },
  { test: /^DeepSeek-R1-Distill-Qwen-/i, family: 'DeepSeek-R1 Distill (Qwen2)', arch: 'qwen2' },
  { test: /^Qwen2\.5-/i, family: 'Qwen2.5', arch: 'qwen2' },
  { test: /^Qwen2-/i, family: 'Qwen2', arch: 'qwen2' },
  { test: /^Qwen3\.5-/i, family: 'Qwen3.5', arch: null, why: OTHER_ARCH('Qwen3.5 is a newer architecture than Qwen2') },
  { test: /^Qwen3-/i, family: 'Qwen3', arch: null, why: OTHER_ARCH('Qwen3 adds q/k normalisation inside attention') },
  { test: /^Ministral-/i, family: 'Ministral 3', arch: null, why: OTHER_ARCH('Ministral 3 is a different architecture') },
  { test: /^Phi-3\.5-vision/i, family: 'Phi-3.5 vision', arch: null, why: OTHER_ARCH('Phi-3.5 vision is a vision-language model') },
  { test: /^Phi-|^phi-/i, family: 'Phi', arch: null, why: OTHER_ARCH('Phi models are their own architecture (MLC model_type phi / phi3)') },
  { test: /^gemma/i, family: 'Gemma', arch: null, why: OTHER_ARCH('Gemma is its own architecture (GeGLU, scaled embeddings)') },
  { test: /^OLMo-2/i, family: 'OLMo 2', arch: null, why: OTHER_ARCH('OLMo 2 normalises after each block and adds q/k norms') },
  { test: /^stablelm/i, family: 'StableLM 2', arch: null, why: OTHER_ARCH('StableLM 2 uses LayerNorm and partial rotary embeddings') },
  { test: /^RedPajama/i, family: 'RedPajama', arch: null, why: OTHER_ARCH('RedPajama is a GPT-NeoX model') },
];

/** Parameter counts the ids do not spell out. */
const KNOWN_PARAMS: [RegExp, number, string][] = [
  [/^Phi-3(\.5)?-mini|^Phi-4-mini/i, 3.8e9, '3.8B'],
  [/^phi-2/i, 2.7e9, '2.7B'],
  [/^phi-1_5/i, 1.3e9, '1.3B'],
  [/^Phi-3\.5-vision/i, 4.2e9, '4.2B'],
];

/**
 * Bits per parameter as MLC builds are stored, group scales included (q4: group 32; q3f16_1: 10
 * codes per u32, group 40). tvmjs stores every float32 tensor as bf16 (f32-to-bf16), so a q0f32
 * build downloads 16 bits a parameter and q4f32_1's f32 scales take 16 bits each, like q4f16_1's.
 */
const BITS_PER_PARAM: Record<string, number> = { q0f32: 16, q0f16: 16, q4f32_1: 4 + 16 / 32, q4f16_1: 4 + 16 / 32, q3f16_1: 3.2 + 16 / 40 };

/** "https://huggingface.co/mlc-ai/X" (or …/X/resolve/<rev>/) as web-llm's cleanModelUrl writes it, with trailing slash. */
export function modelBaseUrl(model: string): string {
  let url = model.endsWith('/') ? model : model + '/';
  if (!/.+\/resolve\/.+\//.test(url)) url += 'resolve/main/';
  return new URL(url).href;
}

/** The hub repository and revision of a model URL, or null when it is not on huggingface.co. */
export function hubRepoOf(model: string): { repo: string; revision: string } | null {
  const base = modelBaseUrl(model);
  if (!base.startsWith(HUB_ENDPOINT + '/')) return null;
  const m = /^([^/]+\/[^/]+)\/resolve\/([^/]+)\/$/.exec(base.slice(HUB_ENDPOINT.length + 1));
  return m ? { repo: m[1], revision: decodeURIComponent(m[2]) } : null;
}

function sizeOf(id: string): { label: string; params: number | null } {
  for (const [test, params, label] of KNOWN_PARAMS) if (test.test(id)) return { label, params };
  const m = /(?:^|[-_])(\d+(?:[._]\d+)?)([mb])(?=$|[-_])/i.exec(id);
  if (!m) return { label: /-(E\d+B)-/i.exec(id)?.[1] ?? '', params: null };
  const n = Number(m[1].replace('_', '.'));
  const unit = m[2].toUpperCase();
  return { label: `${m[1].replace('_', '.')}${unit}`, params: n * (unit === 'B' ? 1e9 : 1e6) };
}

export function estimateDownloadBytes(params: number | null, quantization: string): number | null {
  const bits = BITS_PER_PARAM[quantization];
  return params === null || bits === undefined ? null : Math.round((params * bits) / 8);
}

function labSupport(fam: Family | undefined, quantization: string, repo: string | null, manifest: boolean): LabSupport {
  if (!fam) return { loadable: false, reason: OTHER_ARCH('The lab engine does not know this model\'s architecture') };
  if (fam.arch === null) return { loadable: false, reason: fam.why ?? OTHER_ARCH(`${fam.family} is not a Llama-family model`) };
  if (!(MLC_QUANTIZATIONS as readonly string[]).includes(quantization)) {
    return { loadable: false, reason: `The lab engine reads ${MLC_QUANTIZATIONS.join(', ')} weights; this build is ${quantization || 'of an unknown quantization'}. web-llm only.` };
  }
  if (repo === null) return { loadable: false, reason: 'Its files are not on huggingface.co, where the lab engine looks for web-llm\'s cached files. web-llm only.' };
  if (manifest) return { loadable: false, reason: 'It is packaged with an MLC model manifest, which the lab engine does not read. web-llm only.' };
  return {
    loadable: true,
    reason: 'One download, two engines: the lab engine loads the same cached files to train LoRA adapters on this model.',
  };
}

/** web-llm's model list as catalog entries: chat models (text and vision), embeddings left out, in list order. */
export function buildCatalog(modelList: readonly ModelRecordLike[]): CatalogEntry[] {
  return modelList
    .filter((r) => r.model_type !== 1)
    .map((r) => {
      const fam = FAMILIES.find((f) => f.test.test(r.model_id));
      const quantization = /-(q\d+f\d+(?:_\d+)?)-MLC/i.exec(r.model_id)?.[1] ?? /-(q\d+f\d+(?:_\d+)?)-MLC/i.exec(r.model)?.[1] ?? '';
      const hub = hubRepoOf(r.model);
      const size = sizeOf(r.model_id);
      const requiredFeatures = [...(r.required_features ?? [])];
      return {
        modelId: r.model_id,
        repo: hub?.repo ?? null,
        revision: hub?.revision ?? 'main',
        baseUrl: modelBaseUrl(r.model),
        modelLib: r.model_lib,
        family: fam?.family ?? 'Other',
        arch: fam?.arch ?? null,
        sizeLabel: size.label,
        params: size.params,
        quantization,
        contextWindow: typeof r.overrides?.context_window_size === 'number' ? r.overrides.context_window_size : null,
        vramMB: r.vram_required_MB ?? null,
        lowResource: Boolean(r.low_resource_required),
        requiredFeatures,
        needsShaderF16: requiredFeatures.includes('shader-f16') || /f16/.test(quantization),
        bufferSizeRequired: r.buffer_size_required_bytes ?? null,
        vision: r.model_type === 2,
        downloadEstimateBytes: estimateDownloadBytes(size.params, quantization),
        lab: labSupport(fam, quantization, hub?.repo ?? null, r.model_manifest !== undefined),
      };
    });
}

/** What web-llm's runtime asks of every device (tvmjs detectGPUDevice): below these it does not start. */
export const WEBLLM_MIN_LIMITS = {
  maxBufferSize: 256 * 2 ** 20,
  maxStorageBufferBindingSize: 128 * 2 ** 20,
  maxComputeWorkgroupStorageSize: 32 * 2 ** 10,
  maxStorageBuffersPerShaderStage: 10,
} as const;

export interface Fit {
  /** web-llm can run it on this GPU. */
  usable: boolean;
  /** Why not (each a sentence that says what to do). */
  problems: string[];
  /** Worth knowing, not blocking. */
  notes: string[];
}

const MiB = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;

/** f16 → f32 sibling of an id (q4f16_1 → q4f32_1, q0f16 → q0f32), the build to pick without shader-f16. */
export function f32Sibling(entry: CatalogEntry, catalog: readonly CatalogEntry[]): CatalogEntry | undefined {
  const q = entry.quantization.replace('f16', 'f32');
  if (q === entry.quantization) return undefined;
  const id = entry.modelId.replace(entry.quantization, q);
  return catalog.find((e) => e.modelId === id);
}

/** Can web-llm run this model on this GPU? (The lab engine's own fit is checkModelFits in engine/load/plan.ts.) */
export function webLlmFit(entry: CatalogEntry, gpu: GpuReport, catalog: readonly CatalogEntry[] = []): Fit {
  const problems: string[] = [];
  const notes: string[] = [];
  if (!gpu.available) return { usable: false, problems: [`No WebGPU: ${gpu.reason}`], notes };
  const l = gpu.limits;
  for (const [name, min] of Object.entries(WEBLLM_MIN_LIMITS) as [keyof typeof WEBLLM_MIN_LIMITS, number][]) {
    if (l[name] < min) problems.push(`web-llm needs ${name} ≥ ${name.endsWith('Size') && min > 2 ** 20 ? MiB(min) : min}; this GPU allows ${name.endsWith('Size') && l[name] > 2 ** 20 ? MiB(l[name]) : l[name]}.`);
  }
  if (entry.needsShaderF16 && !gpu.shaderF16) {
    const sib = f32Sibling(entry, catalog);
    problems.push(`Needs shader-f16, which this GPU lacks${sib ? `; pick ${sib.modelId} instead` : '; pick a q4f32_1 or q0f32 build'}.`);
    if (entry.lab.loadable) notes.push('The lab engine can still load this build here: it widens f16 weights to f32 (twice the memory).');
  }
  for (const f of entry.requiredFeatures) {
    if (f !== 'shader-f16' && !gpu.features.includes(f)) problems.push(`Needs the WebGPU feature ${f}, which this GPU lacks.`);
  }
  if (entry.bufferSizeRequired !== null && l.maxStorageBufferBindingSize < entry.bufferSizeRequired) {
    problems.push(`Needs a storage buffer binding of ${MiB(entry.bufferSizeRequired)}; this GPU allows ${MiB(l.maxStorageBufferBindingSize)}.`);
  }
  if (entry.vramMB !== null) notes.push(`Needs about ${(entry.vramMB / 1024).toFixed(1)} GB of GPU memory.`);
  if (gpu.isFallbackAdapter) notes.push('This is a software GPU (no hardware acceleration): generation will be very slow.');
  if (entry.vision) notes.push('A vision model; SPaR uses it for text only.');
  return { usable: problems.length === 0, problems, notes };
}

export interface PickerRow {
  entry: CatalogEntry;
  fit: Fit;
}

export interface PickerOptions {
  /** Leave out models web-llm cannot run on this GPU (default: keep them, flagged). */
  hideUnusable?: boolean;
  /** Only models the lab engine can load too (a trainable actor). */
  labLoadableOnly?: boolean;
  /** Leave out vision models (default true: SPaR is text-only). */
  hideVision?: boolean;
}

/** The picker's rows for this GPU: usable models first, then by family order and size. */
export function pickerRows(catalog: readonly CatalogEntry[], gpu: GpuReport, opts: PickerOptions = {}): PickerRow[] {
  const familyRank = new Map(FAMILIES.map((f, i) => [f.family, i]));
  return catalog
    .filter((e) => !(opts.hideVision ?? true) || !e.vision)
    .filter((e) => !opts.labLoadableOnly || e.lab.loadable)
    .map((entry) => ({ entry, fit: webLlmFit(entry, gpu, catalog) }))
    .filter((row) => !opts.hideUnusable || row.fit.usable)
    .sort(
      (a, b) =>
        Number(b.fit.usable) - Number(a.fit.usable) ||
        (familyRank.get(a.entry.family) ?? 99) - (familyRank.get(b.entry.family) ?? 99) ||
        (a.entry.params ?? Infinity) - (b.entry.params ?? Infinity) ||
        a.entry.modelId.localeCompare(b.entry.modelId),
    );
}
