/**
 * Every setting of a SPaR run, with the reference implementation's values as defaults
 * (SPAR.md, "reference defaults"). The whole object is stored in the run record, so a run can
 * be reproduced from it; `parseSparConfig` fills defaults and names any bad field.
 */
import { LabError } from '../errors';
import { DEFAULT_TEMPLATES, type SparTemplates, templateProblems } from './templates';

export interface SamplingSettings {
  /** 0 = greedy. */
  temperature: number;
  topP: number;
  maxTokens: number;
  /** Extra stop strings (the backend already stops at the chat template's end of turn). */
  stop: string[];
}

/**
 * How a critique's verdict is obtained.
 * - 'parsed': from its text, as the reference's `get_acc` does (default).
 * - 'readout': from P(Yes) vs P(No) read at the verdict position after the critique.
 * - 'parsed-else-readout': parsed where the text has a valid verdict, read out where it has not.
 * - 'readout-mean': read out; the value is the mean P(Yes) over the k critiques (a smooth value).
 */
export type VerdictMode = 'parsed' | 'readout' | 'parsed-else-readout' | 'readout-mean';

export interface SparConfig {
  /** Seeds every random choice of the run (per-instruction streams are derived from it). */
  seed: number;
  /** 'refine': SPaR. 'independent': the ablation, pairs of independent samples (no refinement). */
  mode: 'refine' | 'independent';
  /** Instructions in flight at once (lets a backend batch across instructions). */
  concurrency: number;
  /** Actor sampling (reference: n 5, temperature 0.9, top-p 0.9, 2048 tokens). */
  sample: SamplingSettings & { n: number };
  /** Judging by the refiner (reference: k 5, temperature 0.7, top-p 1.0, 2048 tokens). */
  judge: SamplingSettings & {
    k: number;
    /** Attempts for the samples' judgments (reference judge.py: 1, ties dropped). */
    sampleAttempts: number;
    /** Attempts for tree nodes (reference get_value: 3, retried on ties). */
    treeAttempts: number;
    verdict: VerdictMode;
  };
  /** Refinement by the refiner (reference: temperature 0.7, top-p 1.0, 3072 tokens). */
  refine: SamplingSettings & {
    /** Outer attempts per branch while the extracted output is empty (reference: 3). */
    attempts: number;
    /** Calls per attempt while the reply lacks the start marker (reference get_refine: 3). */
    callAttempts: number;
  };
  search: {
    algorithm: 'bfs' | 'dfs';
    branch: number;
    selectBranch: number;
    maxDepth: number;
    endGate: number;
    /** Max judged tree nodes per search (reference semantics: BFS stops at exactly 0, DFS at ≤ 0). */
    budget: number;
    selection: 'greedy' | 'sampled';
    /**
     * 'reference': refine one branch, judge it, then the next, exactly the reference's call
     * order. 'batched': a node's branches are refined as one request of n samples and judged
     * together (same tree for a model whose answers do not depend on call order; much faster).
     */
    callOrder: 'reference' | 'batched';
    /**
     * Reproduce a reference quirk: in DFS with sampled selection, the reference's root variable
     * is rebound to the last node drawn at the top level, so its fallback and critique RFT see
     * only that node's subtree. Off: the whole tree, as SPAR.md states.
     */
    dfsSampledRootQuirk: boolean;
  };
  extract: {
    /** Pairs and the refine RFT record need final value > this (reference: 0.5). */
    minFinalValue: number;
    /** Critique RFT split point (reference getCritiqueRFT: 0.5). */
    critiqueGate: number;
  };
  templates: SparTemplates;
  /** Stop the run (instead of recording failures) after this many instructions fail in a row. */
  maxConsecutiveFailures: number;
}

export function defaultSparConfig(): SparConfig {
  return {
    seed: 0,
    mode: 'refine',
    concurrency: 4,
    sample: { n: 5, temperature: 0.9, topP: 0.9, maxTokens: 2048, stop: [] },
    judge: { k: 5, temperature: 0.7, topP: 1.0, maxTokens: 2048, stop: [], sampleAttempts: 1, treeAttempts: 3, verdict: 'parsed' },
    refine: { temperature: 0.7, topP: 1.0, maxTokens: 3072, stop: [], attempts: 3, callAttempts: 3 },
    search: {
      algorithm: 'bfs',
      branch: 3,
      selectBranch: 2,
      maxDepth: 3,
      endGate: 0.5,
      budget: 1000,
      selection: 'greedy',
      callOrder: 'reference',
      dfsSampledRootQuirk: false,
    },
    extract: { minFinalValue: 0.5, critiqueGate: 0.5 },
    templates: { ...DEFAULT_TEMPLATES },
    maxConsecutiveFailures: 5,
  };
}

/** Partial settings, as a run stores or a user edits them. */
export type SparConfigInput = {
  [K in keyof SparConfig]?: SparConfig[K] extends unknown[] ? SparConfig[K] : SparConfig[K] extends object ? Partial<SparConfig[K]> : SparConfig[K];
};

/**
 * Defaults filled in, every field checked. Throws LabError('invalid-input') naming each bad or
 * unknown field (`spar.search.branch must be an integer ≥ 1 (got 0)`).
 */
export function parseSparConfig(input: unknown = {}): SparConfig {
  const problems: string[] = [];
  const merged = mergeDefaults(defaultSparConfig(), input, 'spar', problems) as SparConfig;
  if (problems.length === 0) problems.push(...checkConfig(merged));
  if (problems.length) {
    throw new LabError('invalid-input', `Invalid SPaR settings: ${problems.join('; ')}.`);
  }
  return merged;
}

function mergeDefaults(defaults: unknown, input: unknown, path: string, problems: string[]): unknown {
  if (input === undefined) return structuredClone(defaults);
  if (isPlainObject(defaults)) {
    if (!isPlainObject(input)) {
      problems.push(`${path} must be an object`);
      return defaults;
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(input)) {
      if (!(key in defaults)) problems.push(`${path}.${key} is not a setting`);
    }
    for (const [key, d] of Object.entries(defaults)) out[key] = mergeDefaults(d, input[key], `${path}.${key}`, problems);
    return out;
  }
  return input;
}

function checkConfig(c: SparConfig): string[] {
  const p: string[] = [];
  const int = (path: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      p.push(`spar.${path} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in [${min}, ${max}]`} (got ${show(v)})`);
    }
  };
  const num = (path: string, v: unknown, min: number, max: number) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) p.push(`spar.${path} must be a number in [${min}, ${max}] (got ${show(v)})`);
  };
  const oneOf = (path: string, v: unknown, options: readonly string[]) => {
    if (!options.includes(v as string)) p.push(`spar.${path} must be one of ${options.join(', ')} (got ${show(v)})`);
  };
  const sampling = (path: string, s: SamplingSettings) => {
    num(`${path}.temperature`, s.temperature, 0, 10);
    if (typeof s.topP !== 'number' || !(s.topP > 0 && s.topP <= 1)) p.push(`spar.${path}.topP must be in (0, 1] (got ${show(s.topP)})`);
    int(`${path}.maxTokens`, s.maxTokens, 1);
    if (!Array.isArray(s.stop) || s.stop.some((x) => typeof x !== 'string' || x === '')) {
      p.push(`spar.${path}.stop must be a list of non-empty strings`);
    }
  };
  int('seed', c.seed, -Number.MAX_SAFE_INTEGER);
  oneOf('mode', c.mode, ['refine', 'independent']);
  int('concurrency', c.concurrency, 1, 256);
  sampling('sample', c.sample);
  int('sample.n', c.sample.n, 1);
  sampling('judge', c.judge);
  int('judge.k', c.judge.k, 1);
  int('judge.sampleAttempts', c.judge.sampleAttempts, 1);
  int('judge.treeAttempts', c.judge.treeAttempts, 1);
  oneOf('judge.verdict', c.judge.verdict, ['parsed', 'readout', 'parsed-else-readout', 'readout-mean']);
  sampling('refine', c.refine);
  int('refine.attempts', c.refine.attempts, 1);
  int('refine.callAttempts', c.refine.callAttempts, 1);
  const s = c.search;
  oneOf('search.algorithm', s.algorithm, ['bfs', 'dfs']);
  int('search.branch', s.branch, 1);
  int('search.selectBranch', s.selectBranch, 1);
  int('search.maxDepth', s.maxDepth, 0);
  num('search.endGate', s.endGate, 0, 1);
  int('search.budget', s.budget, -Number.MAX_SAFE_INTEGER);
  oneOf('search.selection', s.selection, ['greedy', 'sampled']);
  oneOf('search.callOrder', s.callOrder, ['reference', 'batched']);
  if (typeof s.dfsSampledRootQuirk !== 'boolean') p.push('spar.search.dfsSampledRootQuirk must be true or false');
  num('extract.minFinalValue', c.extract.minFinalValue, 0, 1);
  num('extract.critiqueGate', c.extract.critiqueGate, 0, 1);
  p.push(...templateProblems(c.templates).map((m) => `spar.${m}`));
  int('maxConsecutiveFailures', c.maxConsecutiveFailures, 1);
  return p;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function show(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}
