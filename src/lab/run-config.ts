/**
 * What a run record's `config` holds, beyond the SPaR settings: which model serves each role,
 * how evaluations are made, and the history of the run's iterations. Plain JSON, read with
 * `parseRunConfig` (defaults filled in, every field checked) by the worker and the page alike.
 */
import { LabError } from '../errors';
import { parseSparConfig, type SparConfig } from '../spar/config';
import { defaultTrainConfig, parseTrainConfig, type ActorTrainSettings, type RefinerTrainSettings, type TrainConfig } from './train-settings';
import type { TrainTiming } from '../engine/train/trainer';

/** Where a lab-engine model comes from. */
export type ModelSourceSpec =
  /** A random tiny model generated in memory (its text is noise; the loop runs for real). */
  | { type: 'tiny'; seed: number }
  /** A Hugging Face repository (MLC build or safetensors checkpoint), cached in the browser. */
  | { type: 'hub'; repo: string; revision?: string }
  /** A model shipped with the app (public/models/<name>/), read from the app's own address: no hub, works offline. */
  | { type: 'bundled'; name: BundledModelName }
  /** A folder the user picked or dropped; it has to be opened again after a reload. */
  | { type: 'files'; label: string };

/**
 * The models shipped with the app, by folder name. Their context is known before they load, so
 * the page can check the settings against it (it is the config's max_position_embeddings).
 */
export const BUNDLED_MODELS = {
  'spar-toy': { title: 'SPaR-toy', contextLength: 1024 },
} as const satisfies Record<string, { title: string; contextLength: number }>;

export type BundledModelName = keyof typeof BUNDLED_MODELS;

/** SPaR-toy: 1M parameters trained from scratch on the toy world (src/toy); the Toy world preset's actor and refiner. */
export const SPAR_TOY: Extract<ModelSourceSpec, { type: 'bundled' }> = { type: 'bundled', name: 'spar-toy' };

/**
 * An OpenAI-compatible server and the model it serves. Stored as the user types it, so it may be
 * incomplete while Setup is being filled in (endpointProblems); a job refuses to start on one
 * (requireCompleteBinding). The API key is kept in the worker's memory only, never stored.
 */
export interface EndpointBinding {
  kind: 'openai';
  /** E.g. http://localhost:8000/v1. */
  baseUrl: string;
  /** The name the server serves it under ('' until chosen). */
  model: string;
  /** Offer the verdict read-out through log-probs (vLLM, llama.cpp). */
  verdict: boolean;
}

/**
 * The backend kinds a role can be served by. The lab engine can apply the run's adapters; web-llm
 * serves one of its prebuilt models, frozen (`model` is web-llm's model id); an
 * OpenAI-compatible endpoint serves a frozen model.
 */
export type RoleBinding = { kind: 'lab'; model: ModelSourceSpec } | { kind: 'webllm'; model: string } | TransformersBinding | EndpointBinding;

/** Where transformers.js finds an ONNX model: an onnx-community style hub repository, the app's own onnx/ export of a shipped model, or a picked folder. */
export type OnnxSourceSpec = Exclude<ModelSourceSpec, { type: 'tiny' }>;

/** The ONNX weight variants transformers.js picks by file name (onnx/model.onnx, model_fp16.onnx, model_q4.onnx, model_quantized.onnx). */
export const ONNX_DTYPES = ['fp32', 'fp16', 'q4', 'q8'] as const;
export type OnnxDtype = (typeof ONNX_DTYPES)[number];

/**
 * A frozen ONNX model run by transformers.js in its own worker, on WebGPU or on WebAssembly (the
 * fast CPU path where there is no usable GPU adapter). It generates, scores and reads verdicts; it never trains.
 */
export interface TransformersBinding {
  kind: 'transformers';
  model: OnnxSourceSpec;
  device: 'webgpu' | 'wasm';
  dtype: OnnxDtype;
}

/** What Setup offers when a role is switched to an endpoint: vLLM's default address, no model yet. */
export const NEW_ENDPOINT: EndpointBinding = { kind: 'openai', baseUrl: 'http://localhost:8000/v1', model: '', verdict: true };

export type Role = 'actor' | 'refiner';

export type EvalSetSpec =
  /** The official IFEval prompts (bundled), the first `count` after a seeded shuffle. */
  | { source: 'ifeval'; count: number; seed: number }
  /** Built-in constraint prompts drawn with their own seed (held out from training by text). */
  | { source: 'generated'; count: number; seed: number }
  /** The toy world's held-out split: each prompt has a (topic, constraint) combination SPaR-toy never trained on. */
  | { source: 'toy'; count: number; seed: number }
  /** Uploaded IFEval-format records, kept in the run. */
  | { source: 'upload'; name: string; records: unknown[] };

/**
 * Inference-time refinement (SPaR's test-time tree search): the refiner judges each actor
 * response and a failing one is refined by a small tree search before it is checked. The judge,
 * refine and template settings are the run's SPaR settings; these are the search's budgets.
 */
export interface InferenceRefine {
  enabled: boolean;
  branch: number;
  maxDepth: number;
  /** Most judged nodes per search. */
  budget: number;
}

export interface EvalSettings {
  set: EvalSetSpec;
  /** 0 = greedy decoding. */
  temperature: number;
  topP: number;
  maxTokens: number;
  seed: number;
  /** Absent: off. */
  refine?: InferenceRefine;
}

export type IterationStatus = 'running' | 'paused' | 'done' | 'cancelled' | 'failed';

export type TrainStatus = 'training' | 'paused' | 'done' | 'failed';

/** One role's training on one iteration's data (the actor's DPO, the refiner's SFT). */
export interface TrainEntry {
  status: TrainStatus;
  /** The adapter trained, "actor-it0": trained on iteration 0's data, so it is M1 (R1 for the refiner). */
  adapter: string;
  /** The adapter it started from (the role's newest earlier one), or null for a fresh adapter. */
  from: string | null;
  /** DPO's reference policy: null for the base with the adapter off, else an adapter's name. */
  reference: string | null;
  /** The model it trains over (modelKey) and the engine. */
  base: string;
  engine: string;
  /** The LoRA shape used (a continued adapter keeps the shape it has). */
  lora: { rank: number; alpha: number; rslora: boolean; targets: string[] };
  /** As last started or resumed: a resume keeps the adapter's shape and data order and takes new optimizer settings (train-settings.ts). */
  settings: ActorTrainSettings | RefinerTrainSettings;
  /** Examples trained on (pairs, or de-duplicated RFT chats). */
  examples: number;
  /** Left out by the user (Pairs view). */
  excluded: number;
  /** Left out as longer than the limit. */
  tooLong: number;
  /** RFT records dropped as duplicates of a higher-priority one (same first user message). */
  duplicates: number;
  step: number;
  totalSteps: number;
  startedAt: number;
  updatedAt: number;
  finishedAt?: number;
  /** The metrics of the last step. */
  last?: Record<string, number>;
  /** Most GPU memory held during training (null on the CPU engine). */
  peakBytes?: number | null;
  /** Where its time went, summed over its sessions (absent: trained before the lab kept it). */
  timing?: TrainEntryTiming;
  error?: { kind: string; message: string };
}

/**
 * A training's time in seconds: all of it (`wallSeconds`, from Start to the end, also saving
 * checkpoints and preparing the data), loading the model, and the trainer's phases (compiling,
 * reference pass, steps).
 */
export type TrainEntryTiming = TrainTiming & { wallSeconds: number; loadSeconds: number };

/** One self-play iteration as it was run: its settings are frozen when it first starts. */
export interface IterationEntry {
  iteration: number;
  status: IterationStatus;
  startedAt: number;
  updatedAt: number;
  finishedAt?: number;
  /** The SPaR settings it runs with (a resume uses these, not later edits). */
  spar: SparConfig;
  models: Record<Role, RoleBinding>;
  /** Backend labels as shown to the user. */
  labels: Record<Role, string>;
  /** Adapters applied to each role (from training on the previous iteration), by name. */
  adapters: Partial<Record<Role, string>>;
  /** t of the models used, M_t and R_t: 0 for the base models, else the adapter's iteration + 1. */
  generation?: Record<Role, number>;
  instructions: number;
  finished: number;
  failed: number;
  pairs: number;
  rft: number;
  error?: { kind: string; message: string };
  /** Training on this iteration's data, per role. */
  training?: Partial<Record<Role, TrainEntry>>;
}

export type PresetName = 'toy-world' | 'tiny-demo' | 'paper' | 'custom';

const PRESET_NAMES: readonly PresetName[] = ['toy-world', 'tiny-demo', 'paper', 'custom'];

export interface RunConfig {
  preset: PresetName;
  spar: SparConfig;
  models: Record<Role, RoleBinding>;
  eval: EvalSettings;
  train: TrainConfig;
  iterations: IterationEntry[];
}

/** Small budgets: a refinement costs (1 + budget) k-vote judgments and a few refine calls per prompt. */
export const DEFAULT_INFERENCE_REFINE: InferenceRefine = { enabled: false, branch: 2, maxDepth: 1, budget: 2 };

export const DEFAULT_EVAL: EvalSettings = {
  set: { source: 'ifeval', count: 20, seed: 0 },
  temperature: 0,
  topP: 1,
  maxTokens: 1024,
  seed: 0,
  refine: DEFAULT_INFERENCE_REFINE,
};

export const TINY_MODEL: ModelSourceSpec = { type: 'tiny', seed: 1 };

/** Tokens the generated tiny demo model takes (its max_position_embeddings): room for the tiny demo's prompts, not the paper's. */
export const TINY_MODEL_CONTEXT = 1024;

export function defaultRunConfig(): RunConfig {
  return {
    preset: 'custom',
    spar: parseSparConfig({}),
    models: { actor: { kind: 'lab', model: TINY_MODEL }, refiner: { kind: 'lab', model: TINY_MODEL } },
    eval: structuredClone(DEFAULT_EVAL),
    train: defaultTrainConfig(),
    iterations: [],
  };
}

/** Reads a run's stored config: missing parts get defaults, bad ones a LabError naming them. */
export function parseRunConfig(raw: Record<string, unknown> | undefined): RunConfig {
  const d = defaultRunConfig();
  const c = raw ?? {};
  const preset = PRESET_NAMES.includes(c.preset as PresetName) ? (c.preset as PresetName) : d.preset;
  const models = isObject(c.models) ? c.models : {};
  return {
    preset,
    spar: parseSparConfig(c.spar ?? {}),
    models: {
      actor: models.actor === undefined ? d.models.actor : checkBinding(models.actor, 'actor'),
      refiner: models.refiner === undefined ? d.models.refiner : checkBinding(models.refiner, 'refiner'),
    },
    eval: c.eval === undefined ? d.eval : checkEval(c.eval),
    train: c.train === undefined ? d.train : parseTrainConfig(c.train),
    iterations: Array.isArray(c.iterations) ? (c.iterations as IterationEntry[]) : [],
  };
}

export function checkBinding(b: unknown, role: string): RoleBinding {
  const bad = (why: string) => new LabError('invalid-input', `The ${role}'s model: ${why}.`);
  if (!isObject(b)) throw bad('missing');
  if (b.kind === 'lab') return { kind: 'lab', model: checkSource(b.model, role) };
  if (b.kind === 'webllm') {
    if (typeof b.model !== 'string' || !b.model.trim()) throw bad('pick one of web-llm\'s models');
    return { kind: 'webllm', model: b.model.trim() };
  }
  if (b.kind === 'transformers') {
    const model = checkSource(b.model, role);
    if (model.type === 'tiny') throw bad('transformers.js needs an ONNX model (a hub repository, a shipped model or a folder), not the tiny random model');
    if (b.device !== 'webgpu' && b.device !== 'wasm') throw bad('transformers.js runs on "webgpu" or "wasm"');
    if (!ONNX_DTYPES.includes(b.dtype as OnnxDtype)) throw bad(`the ONNX weights must be one of ${ONNX_DTYPES.join(', ')}`);
    return { kind: 'transformers', model, device: b.device, dtype: b.dtype as OnnxDtype };
  }
  if (b.kind === 'openai') {
    // Kept while incomplete (Setup shows what is missing; a start refuses it).
    if (typeof b.baseUrl !== 'string') throw bad('the server URL must be text, e.g. http://localhost:8000/v1');
    if (typeof b.model !== 'string') throw bad('the model name must be text');
    return { kind: 'openai', baseUrl: b.baseUrl.trim(), model: b.model.trim(), verdict: b.verdict !== false };
  }
  throw bad(`unknown backend kind ${JSON.stringify(b.kind)} (lab engine, web-llm, transformers.js or OpenAI-compatible endpoint)`);
}

/** What an endpoint still lacks before it can serve a role, each as a short instruction; empty when complete. */
export function endpointProblems(b: EndpointBinding): string[] {
  const problems: string[] = [];
  if (!b.baseUrl) problems.push("give the server's base URL, e.g. http://localhost:8000/v1");
  else if (!/^https?:\/\/[^/\s]/.test(b.baseUrl)) problems.push(`the base URL must start with http:// or https:// (it is "${b.baseUrl}")`);
  if (!b.model) problems.push('name the model the server serves (“Check” lists them)');
  return problems;
}

/** Throws, saying what is missing, where a role's binding cannot serve yet (an incomplete endpoint). */
export function requireCompleteBinding(b: RoleBinding, role: Role): void {
  if (b.kind !== 'openai') return;
  const problems = endpointProblems(b);
  if (problems.length) {
    throw new LabError('invalid-input', `The ${role}'s OpenAI-compatible endpoint is not complete: ${problems.join('; ')}. Fill it in under Setup → ${role === 'actor' ? 'Actor' : 'Refiner'}.`);
  }
}

export function checkSource(s: unknown, role = 'model'): ModelSourceSpec {
  const bad = (why: string) => new LabError('invalid-input', `The ${role}'s model source: ${why}.`);
  if (!isObject(s)) throw bad('missing');
  if (s.type === 'tiny') {
    if (!Number.isInteger(s.seed)) throw bad('the tiny model needs an integer seed');
    return { type: 'tiny', seed: s.seed as number };
  }
  if (s.type === 'hub') {
    if (typeof s.repo !== 'string' || !/^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(s.repo.trim())) throw bad('write the repository as owner/name');
    const revision = typeof s.revision === 'string' && s.revision.trim() ? s.revision.trim() : undefined;
    return revision ? { type: 'hub', repo: s.repo.trim(), revision } : { type: 'hub', repo: s.repo.trim() };
  }
  if (s.type === 'bundled') {
    if (typeof s.name !== 'string' || !Object.hasOwn(BUNDLED_MODELS, s.name)) throw bad(`the app ships no model ${JSON.stringify(s.name)} (it ships ${Object.keys(BUNDLED_MODELS).join(', ')})`);
    return { type: 'bundled', name: s.name as BundledModelName };
  }
  if (s.type === 'files') {
    if (typeof s.label !== 'string' || !s.label) throw bad('the folder needs a name');
    return { type: 'files', label: s.label };
  }
  throw bad(`unknown source ${JSON.stringify(s.type)}`);
}

function checkEval(e: unknown): EvalSettings {
  const bad = (why: string) => new LabError('invalid-input', `Evaluation settings: ${why}.`);
  if (!isObject(e)) throw bad('missing');
  const out = { ...DEFAULT_EVAL, ...e } as EvalSettings;
  out.refine = { ...DEFAULT_INFERENCE_REFINE, ...(isObject(out.refine) ? out.refine : {}) };
  const r = out.refine!;
  if (typeof r.enabled !== 'boolean') throw bad('inference-time refinement must be on or off');
  if (!(Number.isInteger(r.branch) && r.branch >= 1)) throw bad('refinement branches must be a whole number ≥ 1');
  if (!(Number.isInteger(r.maxDepth) && r.maxDepth >= 1)) throw bad('refinement depth must be a whole number ≥ 1');
  if (!(Number.isInteger(r.budget) && r.budget >= 1)) throw bad('the refinement budget must be a whole number ≥ 1');
  const s = out.set as unknown;
  if (!isObject(s)) throw bad('choose a prompt set');
  if (s.source === 'ifeval' || s.source === 'generated' || s.source === 'toy') {
    if (!Number.isInteger(s.count) || (s.count as number) < 1) throw bad('the number of prompts must be a whole number ≥ 1');
    if (!Number.isInteger(s.seed)) throw bad('the seed must be a whole number');
  } else if (s.source === 'upload') {
    if (!Array.isArray(s.records) || s.records.length === 0) throw bad('the uploaded set has no prompts');
  } else throw bad(`unknown prompt set ${JSON.stringify(s.source)}`);
  if (!(typeof out.temperature === 'number' && out.temperature >= 0 && out.temperature <= 10)) throw bad('temperature must be in [0, 10]');
  if (!(typeof out.topP === 'number' && out.topP > 0 && out.topP <= 1)) throw bad('top-p must be in (0, 1]');
  if (!(Number.isInteger(out.maxTokens) && out.maxTokens >= 1)) throw bad('max tokens must be a whole number ≥ 1');
  if (!Number.isInteger(out.seed)) throw bad('the seed must be a whole number');
  return out;
}

/** A stable key for a model source: the same key means the same weights. */
export function modelKey(s: ModelSourceSpec): string {
  if (s.type === 'tiny') return `tiny:${s.seed}`;
  if (s.type === 'hub') return `hub:${s.repo}@${s.revision ?? 'main'}`;
  if (s.type === 'bundled') return `bundled:${s.name}`;
  return `files:${s.label}`;
}

export function describeSource(s: ModelSourceSpec): string {
  if (s.type === 'tiny') return `tiny random model (seed ${s.seed})`;
  if (s.type === 'hub') return `${s.repo}${s.revision && s.revision !== 'main' ? `@${s.revision}` : ''}`;
  if (s.type === 'bundled') return `${BUNDLED_MODELS[s.name].title} (shipped with the app)`;
  return `local folder “${s.label}”`;
}

export function describeBinding(b: RoleBinding): string {
  if (b.kind === 'lab') return describeSource(b.model);
  if (b.kind === 'webllm') return `web-llm ${b.model}`;
  if (b.kind === 'transformers') return `transformers.js ${describeSource(b.model)} · ${b.device} ${b.dtype}`;
  return `${b.model || 'no model chosen yet'} at ${b.baseUrl || 'no URL yet'}`;
}

/** The web-llm model ids the bindings name, each once (actor first): what one web-llm load must hold. */
export function webLlmIds(bindings: readonly RoleBinding[]): string[] {
  return [...new Set(bindings.flatMap((b) => (b.kind === 'webllm' ? [b.model] : [])))];
}

/** The iteration a new self-play start should work on, and whether it is a resume. */
export function nextIteration(iterations: readonly IterationEntry[]): { iteration: number; resume: boolean } {
  const last = iterations.at(-1);
  if (!last) return { iteration: 0, resume: false };
  if (last.status === 'done' || last.status === 'cancelled') return { iteration: last.iteration + 1, resume: false };
  return { iteration: last.iteration, resume: true };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** What the page may change in a run's config (the iteration history belongs to the worker). */
export type RunConfigPatch = Partial<Pick<RunConfig, 'preset' | 'eval' | 'train'>> & { spar?: unknown; models?: Partial<RunConfig['models']> };

/** Applies a patch to a stored config, checking the result; the history is kept as it is. */
export function applyConfigPatch(raw: Record<string, unknown>, patch: RunConfigPatch): Record<string, unknown> {
  const next: Record<string, unknown> = { ...raw };
  for (const k of ['preset', 'spar', 'eval', 'train'] as const) if (patch[k] !== undefined) next[k] = patch[k];
  // One role at a time: a patch naming only the refiner keeps the stored actor.
  if (patch.models !== undefined) next.models = { ...(isObject(raw.models) ? raw.models : {}), ...patch.models };
  const parsed = parseRunConfig(next); // throws, naming the bad field
  return { ...next, preset: parsed.preset, spar: parsed.spar, models: parsed.models, eval: parsed.eval, train: parsed.train };
}
