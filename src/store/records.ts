/**
 * The plain, structured-cloneable records the lab keeps in IndexedDB. A run owns everything
 * else: every other record carries its `runId`, and its primary key is [runId, id], so a run's
 * records sit together and a run can be copied by rewriting one field.
 */
import type { ErrorKind } from '../errors';
import type { InstructionData, PairMeta, RftKind } from '../spar/types';

export type RunStatus = 'new' | 'running' | 'paused' | 'done' | 'failed' | 'cancelled';

export interface RunRecord {
  id: string;
  name: string;
  createdAt: number;
  updatedAt: number;
  status: RunStatus;
  /** Everything that defines the run (models, SPaR settings, templates, seed). JSON data. */
  config: Record<string, unknown>;
  /** Free text kept with the run. */
  notes: string;
}

export interface RunChild {
  runId: string;
  id: string;
}

/** One instruction the run works on. */
export interface PromptRecord extends RunChild {
  index: number;
  prompt: string;
  /** IFEval-style constraint ids and their kwargs, when the prompt has checkable constraints. */
  instructionIds: string[];
  kwargs: Record<string, unknown>[];
  source: string;
}

/**
 * One instruction's self-play in one iteration (src/spar): its judged samples, search tree and
 * seeds. Written together with its pairs and RFT records the moment it finishes. Id
 * `${iteration}:${promptId}` (see src/spar/pipeline.ts), so rewriting it never duplicates.
 */
export interface TreeRecord extends RunChild {
  iteration: number;
  promptId: string;
  /** 'failed': a model call failed; `error` says why and `data` holds what was done before. */
  status: 'done' | 'failed';
  error?: string;
  errorKind?: ErrorKind;
  data: InstructionData;
  /** How many pair and RFT records were written with this tree. */
  outputs: { pairs: number; rft: number };
  finishedAt: number;
}

/** A preference pair for the actor's DPO. */
export interface PairRecord extends RunChild {
  iteration: number;
  promptId: string;
  prompt: string;
  chosen: string;
  rejected: string;
  /** Excluded pairs stay in the store but are not trained on. */
  excluded: boolean;
  meta: PairMeta;
}

/** A refiner fine-tuning record (RFT): a chat whose assistant turns are trained on. */
export interface RftRecord extends RunChild {
  iteration: number;
  promptId: string;
  kind: RftKind;
  messages: { role: 'system' | 'user' | 'assistant'; content: string }[];
  excluded: boolean;
}

/** LoRA weights (and optionally optimizer state) as binary blobs. */
export interface AdapterRecord extends RunChild {
  iteration: number;
  role: 'actor' | 'refiner';
  step: number;
  createdAt: number;
  config: Record<string, unknown>;
  /** Tensor name → raw little-endian bytes (f32 unless config says otherwise). */
  tensors: Record<string, ArrayBuffer>;
  optimizer?: Record<string, ArrayBuffer>;
}

export interface EvalRecord extends RunChild {
  iteration: number;
  createdAt: number;
  kind: string;
  summary: Record<string, number>;
  /** What was evaluated and how (model, prompt set, sampling), for the record's reader. */
  meta?: Record<string, unknown>;
  details: Record<string, unknown>[];
}

export interface TrainLogRecord extends RunChild {
  iteration: number;
  role: 'actor' | 'refiner';
  step: number;
  time: number;
  metrics: Record<string, number>;
}

/** Every object store below `runs`, with its record type. */
export interface ChildStores {
  prompts: PromptRecord;
  trees: TreeRecord;
  pairs: PairRecord;
  rft: RftRecord;
  adapters: AdapterRecord;
  evals: EvalRecord;
  trainLogs: TrainLogRecord;
}

export type ChildStoreName = keyof ChildStores;

export const CHILD_STORES: readonly ChildStoreName[] = [
  'prompts',
  'trees',
  'pairs',
  'rft',
  'adapters',
  'evals',
  'trainLogs',
] as const satisfies readonly ChildStoreName[];
