/**
 * Which actor evaluations compare, and what they say per constraint type. Two evaluations
 * compare only on the same prompt set, sampled the same way: `describeSet` names that in each
 * record (`meta.set`). DOM- and model-free, so the page (the run's current set) and the worker
 * (per-type scores from the stored details) share it.
 */
import type { EvalRecord } from '../store/records';
import type { EvalListItem, PromptResult } from './evaluate';
import type { EvalSettings } from './run-config';

/** The set and sampling an evaluation used, as a person reads it; evaluations compare when it is the same. */
export function describeSet(s: EvalSettings): string {
  const set = s.set;
  const how = s.temperature === 0 ? 'greedy' : `sampled at temperature ${s.temperature}, top-p ${s.topP}`;
  const what =
    set.source === 'ifeval'
      ? `IFEval, ${set.count} prompts (seed ${set.seed})`
      : set.source === 'generated'
        ? `built-in constraint prompts, ${set.count} (seed ${set.seed})`
        : set.source === 'toy'
          ? `toy world held-out prompts, ${set.count} (seed ${set.seed})`
          : `uploaded “${set.name}”, ${set.records.length} prompts`;
  return `${what}; ${how}, up to ${s.maxTokens} tokens`;
}

/** Written by a version that did not record its set. */
export const UNNAMED_SET = 'a prompt set not recorded';

export function evalSetOf(e: Pick<EvalListItem, 'meta'>): string {
  return typeof e.meta?.set === 'string' && e.meta.set ? e.meta.set : UNNAMED_SET;
}

/** A plain (not refined at inference) actor evaluation: what the model itself writes. */
export function isPlainActorEval(e: Pick<EvalListItem, 'kind' | 'meta'>): boolean {
  return e.kind === 'ifeval' && e.meta?.mode !== 'refine';
}

/** One model's newest plain evaluation on a set. */
export interface ModelScores {
  /** t of M_t. */
  model: number;
  evalId: string;
  createdAt: number;
  promptStrict: number;
  instructionStrict: number;
  promptLoose: number;
  instructionLoose: number;
  /** Instruction-level strict counts per IFEval instruction type (e.g. "punctuation:no_comma"). */
  byType: Record<string, { followed: number; total: number }>;
}

export interface ModelComparison {
  set: string;
  /** Every instruction type any compared evaluation met, sorted. */
  types: string[];
  /** One per evaluated model, M0 first. */
  models: ModelScores[];
}

/** The models M0, M1, … evaluated on `set`, each by its newest plain evaluation, with per-type strict counts. */
export function compareModels(records: readonly EvalRecord[], set: string): ModelComparison {
  const newest = new Map<number, EvalRecord>();
  for (const r of records) {
    if (!isPlainActorEval(r) || evalSetOf(r) !== set) continue;
    const had = newest.get(r.iteration);
    if (!had || r.createdAt > had.createdAt) newest.set(r.iteration, r);
  }
  const models = [...newest.values()].sort((a, b) => a.iteration - b.iteration).map((r) => scoresOf(r));
  const types = [...new Set(models.flatMap((m) => Object.keys(m.byType)))].sort();
  return { set, types, models };
}

function scoresOf(r: EvalRecord): ModelScores {
  const byType: ModelScores['byType'] = {};
  for (const p of r.details as unknown as PromptResult[]) {
    p.instruction_id_list.forEach((id, i) => {
      const t = (byType[id] ??= { followed: 0, total: 0 });
      t.total++;
      if (p.strict[i]) t.followed++;
    });
  }
  const s = r.summary;
  return {
    model: r.iteration,
    evalId: r.id,
    createdAt: r.createdAt,
    promptStrict: s.promptStrict,
    instructionStrict: s.instructionStrict,
    promptLoose: s.promptLoose,
    instructionLoose: s.instructionLoose,
    byType,
  };
}
