/**
 * What the IFEval checkers say about self-play's responses, beside what the refiner's votes
 * said: per-constraint results of every sample and tree node, whether the judge's majority
 * agreed with the checkers, the judge's accuracy over an iteration, and which constraints a
 * refinement fixed. Only prompts whose constraints the checkers know are checked. Pure; language
 * constraints need `prepareFor` (src/eval) to have loaded the profiles first.
 */
import { evaluateStrict, validateKwargs, type IfevalRecord, type InstructionId, type Kwargs } from '../eval/index';
import type { InstructionData, Judgment, SearchTree, Verdict } from '../spar/types';
import type { PromptRecord } from '../store/records';

export interface Constraint {
  id: InstructionId;
  kwargs: Kwargs;
}

/** The checkers' strict results on one response. */
export interface ResponseCheck {
  /** Per constraint, in the prompt's order. */
  passed: boolean[];
  /** Every constraint passed. */
  followed: boolean;
}

/** Checks of one tree record: its samples (by index) and its search tree's nodes (by id). */
export interface TreeChecks {
  constraints: Constraint[];
  samples: ResponseCheck[];
  nodes: ResponseCheck[];
}

/** Checks of one preference pair. */
export interface PairChecks {
  constraints: Constraint[];
  chosen: ResponseCheck;
  rejected: ResponseCheck;
}

/**
 * The judge's majority against the checkers: 'right' when they agree, 'fooled' for a Yes on a
 * failing response, 'harsh' for a No on a passing one.
 */
export type Agreement = 'right' | 'fooled' | 'harsh';

/** Counts of a judge's verdicts against the checkers; `invalid`: responses it gave no verdict (tied). */
export interface JudgeTally {
  right: number;
  fooled: number;
  harsh: number;
  invalid: number;
}

/** One iteration's judge accuracy over its checkable samples and tree nodes. */
export interface IterationJudge extends JudgeTally {
  iteration: number;
  /** Verdicts compared (right + fooled + harsh). */
  judged: number;
  /** right / judged; null when nothing was judged. */
  accuracy: number | null;
}

/**
 * A stored prompt as the checkers read it, or null when it has no constraints or one the
 * checkers do not know (an uploaded set may carry other ids; a record may be edited by hand).
 */
export function checkableRecord(p: Pick<PromptRecord, 'id' | 'prompt' | 'instructionIds' | 'kwargs'> | null | undefined): IfevalRecord | null {
  if (!p || !Array.isArray(p.instructionIds) || p.instructionIds.length === 0) return null;
  try {
    const kwargs = p.instructionIds.map((id, i) => validateKwargs(id, p.kwargs?.[i]));
    return { key: p.id, prompt: p.prompt, instruction_id_list: p.instructionIds as InstructionId[], kwargs };
  } catch {
    return null;
  }
}

export function constraintsOf(rec: IfevalRecord): Constraint[] {
  return rec.instruction_id_list.map((id, i) => ({ id, kwargs: rec.kwargs[i] }));
}

export function checkResponse(rec: IfevalRecord, response: string): ResponseCheck {
  const passed = evaluateStrict(rec, response).follow_instruction_list;
  return { passed, followed: passed.every(Boolean) };
}

export function checkTree(data: InstructionData, rec: IfevalRecord): TreeChecks {
  return {
    constraints: constraintsOf(rec),
    samples: data.samples.map((s) => checkResponse(rec, s.response)),
    nodes: (data.tree?.nodes ?? []).map((n) => checkResponse(rec, n.response)),
  };
}

export function checkPair(rec: IfevalRecord, pair: { chosen: string; rejected: string }): PairChecks {
  return { constraints: constraintsOf(rec), chosen: checkResponse(rec, pair.chosen), rejected: checkResponse(rec, pair.rejected) };
}

export function agreement(verdict: Verdict, check: ResponseCheck): Agreement {
  if (verdict === 'Yes') return check.followed ? 'right' : 'fooled';
  return check.followed ? 'harsh' : 'right';
}

/** A node's judgment: its own, or the one it reused from a node with the same text. */
export function nodeJudgment(tree: SearchTree, id: number): Judgment | undefined {
  const n = tree.nodes[id];
  return n.judgment ?? (n.cachedFrom !== undefined ? tree.nodes[n.cachedFrom].judgment : undefined);
}

export const NO_TALLY: JudgeTally = { right: 0, fooled: 0, harsh: 0, invalid: 0 };

/**
 * The judge's verdicts in one tree record against the checkers, counted as the judge
 * evaluation counts them (src/lab/evaluate.ts): every sample, and every tree node below the
 * root with a judgment of its own (the root is a sample; a reused judgment is not a new verdict).
 */
export function tallyTree(data: InstructionData, checks: TreeChecks): JudgeTally {
  const t = { ...NO_TALLY };
  const count = (verdict: Verdict | null, check: ResponseCheck) => {
    if (verdict === null) t.invalid++;
    else t[agreement(verdict, check)]++;
  };
  data.samples.forEach((s, i) => count(s.judge.ok ? s.judge.judgment.label : null, checks.samples[i]));
  for (const n of data.tree?.nodes ?? []) if (n.id !== 0 && n.judgment) count(n.judgment.label, checks.nodes[n.id]);
  return t;
}

/** Judge accuracy per iteration from the tallies of its trees, in iteration order. */
export function judgeAccuracyByIteration(trees: Iterable<{ iteration: number; tally: JudgeTally }>): IterationJudge[] {
  const by = new Map<number, JudgeTally>();
  for (const { iteration, tally } of trees) {
    const t = by.get(iteration) ?? { ...NO_TALLY };
    t.right += tally.right;
    t.fooled += tally.fooled;
    t.harsh += tally.harsh;
    t.invalid += tally.invalid;
    by.set(iteration, t);
  }
  return [...by]
    .sort(([a], [b]) => a - b)
    .map(([iteration, t]) => {
      const judged = t.right + t.fooled + t.harsh;
      return { iteration, ...t, judged, accuracy: judged ? t.right / judged : null };
    });
}

/** Indices of the constraints that fail `before` and pass `after`: what a refinement fixed. */
export function fixedConstraints(before: ResponseCheck, after: ResponseCheck): number[] {
  return before.passed.flatMap((ok, i) => (!ok && after.passed[i] ? [i] : []));
}

/** Indices of the constraints that pass `before` and fail `after`: what a refinement broke. */
export function brokenConstraints(before: ResponseCheck, after: ResponseCheck): number[] {
  return fixedConstraints(after, before);
}
