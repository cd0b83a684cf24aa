/**
 * The toy-world experiment's numbers (bench/toy-spar.ts), pure: what one seed measured, the
 * medians across seeds, the targets, and the lines printed at the end. Accuracies are
 * fractions as the lab stores them; deltas and targets are in percentage points.
 */
import { median } from './page';

/** IFEval accuracies of one actor on the held-out set. */
export interface Accuracies {
  promptStrict: number;
  instructionStrict: number;
  promptLoose: number;
  instructionLoose: number;
}

export const ACCURACY_KEYS: readonly (keyof Accuracies)[] = ['promptStrict', 'instructionStrict', 'promptLoose', 'instructionLoose'];

/** The refiner's verdicts in one iteration against the checkers (null: nothing of that kind judged). */
export interface JudgeScore {
  accuracy: number | null;
  samples: number | null;
  nodes: number | null;
  /** Verdicts compared (ties left out). */
  judged: number;
  /** Samples and nodes together: responses left without a verdict, and each verdict against the checkers. */
  invalid: number;
  noOnFailing: number;
  noOnFollowing: number;
  yesOnFailing: number;
  yesOnFollowing: number;
}

/** One iteration's preference pairs and how far apart their answers are. */
export interface PairStats {
  pairs: number;
  /** Mean word-level Levenshtein distance between chosen and rejected (null without pairs). */
  meanWordEdits: number | null;
}

/** The experiment's phases, in the order they run; each a call to the lab worker. */
export const PHASES = [
  'evalM0',
  'selfplay0',
  'trainActor0',
  'evalM1',
  'trainRefiner0',
  'judge0',
  'selfplayIndep',
  'trainActorIndep',
  'evalM1Indep',
  'selfplay1',
  'trainActor1',
  'evalM2',
] as const;
export type Phase = (typeof PHASES)[number];

/** The phases that make one SPaR iteration as the lab runs it: self-play, then training both roles. */
export const ITERATION_PHASES: readonly Phase[] = ['selfplay0', 'trainActor0', 'trainRefiner0'];

export type Model = 'M0' | 'M1' | 'M1indep' | 'M2';
export const MODELS: readonly Model[] = ['M0', 'M1', 'M1indep', 'M2'];

/** One training as the lab recorded it: examples, steps and where its wall time went. */
export interface TrainSummary {
  examples: number;
  steps: number;
  wallSeconds: number;
  loadSeconds: number;
  compileSeconds: number;
  referenceSeconds: number;
  stepSeconds: number;
  /** The metrics of the last step (loss, DPO rewards, …). */
  last: Record<string, number>;
}

export interface SeedResult {
  seed: number;
  /** Training instructions of each run. */
  instructions: number;
  /** Held-out prompts each model was scored on. */
  evalPrompts: number;
  /** null: the model could not be made (e.g. no pairs to train on; `skipped` says why). */
  models: Record<Model, Accuracies | null>;
  /** Held-out responses that differ from M0's (greedy decoding): whether training changed what the model writes at all. */
  changedFromM0: Record<Exclude<Model, 'M0'>, number | null>;
  /** R0's verdicts in iteration 0 and R1's in iteration 1 of the SPaR run. */
  judge: { iteration0: JudgeScore | null; iteration1: JudgeScore | null };
  /** SPaR's iteration 0 and 1, and the independent-samples ablation (iteration 0). */
  pairs: { spar0: PairStats; independent: PairStats; spar1: PairStats };
  /** Wall seconds per phase that ran. */
  seconds: Partial<Record<Phase, number>>;
  /** The trainings that ran, by phase. */
  training: Partial<Record<Phase, TrainSummary>>;
  /** Why a phase did not run. */
  skipped: Partial<Record<Phase, string>>;
}

export interface Targets {
  /** Median M1 − M0 instruction-level strict ≥ 10 points. */
  m1GainAtLeast10Points: boolean | null;
  /** Median mean word edits within SPaR pairs < within independent pairs. */
  sparEditsBelowIndependent: boolean | null;
  /** Median wall time of one iteration (self-play + both trainings) ≤ 10 minutes. */
  iterationAtMost10Minutes: boolean | null;
}

export interface Summary {
  seeds: number[];
  /** Per model and accuracy, the median over the seeds that have the model (null: none has it). */
  models: Record<Model, Accuracies | null>;
  /** Median per-seed gain over M0, instruction-level strict, in points. */
  gainPoints: Record<Exclude<Model, 'M0'>, number | null>;
  /** Median held-out responses that differ from M0's. */
  changedFromM0: Record<Exclude<Model, 'M0'>, number | null>;
  judge: { iteration0: { samples: number | null; nodes: number | null; accuracy: number | null }; iteration1: { samples: number | null; nodes: number | null; accuracy: number | null } };
  pairs: { spar0: number | null; independent: number | null; spar1: number | null };
  meanWordEdits: { spar0: number | null; independent: number | null; spar1: number | null };
  seconds: Partial<Record<Phase, number>>;
  /** Median over seeds of the seed's iteration wall time (ITERATION_PHASES summed). */
  iterationSeconds: number | null;
  targets: Targets;
}

/** Median of the values that are there; null when none is. */
export function medianOf(values: readonly (number | null | undefined)[]): number | null {
  const present = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return present.length ? median(present) : null;
}

/** Seconds of one iteration of a seed: null unless every phase of it ran. */
export function iterationSeconds(r: SeedResult): number | null {
  const parts = ITERATION_PHASES.map((p) => r.seconds[p]);
  return parts.every((s) => typeof s === 'number') ? parts.reduce((a, s) => a + s!, 0) : null;
}

export function summarize(results: readonly SeedResult[]): Summary {
  const accuracies = (m: Model): Accuracies | null => {
    const have = results.map((r) => r.models[m]).filter((a): a is Accuracies => a !== null);
    if (have.length === 0) return null;
    return Object.fromEntries(ACCURACY_KEYS.map((k) => [k, medianOf(have.map((a) => a[k]))])) as unknown as Accuracies;
  };
  const gain = (m: Exclude<Model, 'M0'>) =>
    medianOf(results.map((r) => (r.models[m] && r.models.M0 ? 100 * (r.models[m]!.instructionStrict - r.models.M0.instructionStrict) : null)));
  const judge = (it: 'iteration0' | 'iteration1') => ({
    samples: medianOf(results.map((r) => r.judge[it]?.samples)),
    nodes: medianOf(results.map((r) => r.judge[it]?.nodes)),
    accuracy: medianOf(results.map((r) => r.judge[it]?.accuracy)),
  });
  const pairsOf = (k: keyof SeedResult['pairs']) => medianOf(results.map((r) => r.pairs[k].pairs));
  const editsOf = (k: keyof SeedResult['pairs']) => medianOf(results.map((r) => r.pairs[k].meanWordEdits));
  const seconds: Partial<Record<Phase, number>> = {};
  for (const p of PHASES) {
    const s = medianOf(results.map((r) => r.seconds[p]));
    if (s !== null) seconds[p] = s;
  }
  const iteration = medianOf(results.map(iterationSeconds));
  const gainPoints = { M1: gain('M1'), M1indep: gain('M1indep'), M2: gain('M2') };
  const meanWordEdits = { spar0: editsOf('spar0'), independent: editsOf('independent'), spar1: editsOf('spar1') };
  return {
    seeds: results.map((r) => r.seed),
    models: { M0: accuracies('M0'), M1: accuracies('M1'), M1indep: accuracies('M1indep'), M2: accuracies('M2') },
    gainPoints,
    changedFromM0: {
      M1: medianOf(results.map((r) => r.changedFromM0.M1)),
      M1indep: medianOf(results.map((r) => r.changedFromM0.M1indep)),
      M2: medianOf(results.map((r) => r.changedFromM0.M2)),
    },
    judge: { iteration0: judge('iteration0'), iteration1: judge('iteration1') },
    pairs: { spar0: pairsOf('spar0'), independent: pairsOf('independent'), spar1: pairsOf('spar1') },
    meanWordEdits,
    seconds,
    iterationSeconds: iteration,
    targets: {
      m1GainAtLeast10Points: gainPoints.M1 === null ? null : gainPoints.M1 >= 10,
      sparEditsBelowIndependent: meanWordEdits.spar0 === null || meanWordEdits.independent === null ? null : meanWordEdits.spar0 < meanWordEdits.independent,
      iterationAtMost10Minutes: iteration === null ? null : iteration <= 600,
    },
  };
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);
const pts = (x: number | null) => (x === null ? '—' : `${x >= 0 ? '+' : ''}${x.toFixed(1)} pts`);
const num = (x: number | null, digits = 1) => (x === null ? '—' : x.toFixed(digits));
const mark = (ok: boolean | null) => (ok === null ? 'n/a ' : ok ? 'PASS' : 'FAIL');

/** The summary as printed at the end of the page (medians over the seeds); `device` names where it ran. */
export function summaryLines(s: Summary, device: string): string[] {
  const m = s.models;
  const model = (name: Model, label: string) => {
    const gain = name === 'M0' ? '' : `  (${pts(s.gainPoints[name])} over M0; ${num(s.changedFromM0[name], 0)} responses changed)`;
    return `${label.padEnd(9)} instruction strict ${pct(m[name]?.instructionStrict).padStart(6)}  loose ${pct(m[name]?.instructionLoose).padStart(6)}  prompt strict ${pct(m[name]?.promptStrict).padStart(6)}  loose ${pct(m[name]?.promptLoose).padStart(6)}${gain}`;
  };
  const judge = (j: Summary['judge']['iteration0']) => `${pct(j.accuracy)} (samples ${pct(j.samples)}, tree nodes ${pct(j.nodes)})`;
  const phases = PHASES.filter((p) => s.seconds[p] !== undefined).map((p) => `${p} ${s.seconds[p]!.toFixed(0)} s`);
  const t = s.targets;
  return [
    `── toy-spar: medians over seeds ${s.seeds.join(', ')} ──`,
    model('M0', 'M0'),
    model('M1', 'M1'),
    model('M1indep', 'M1-indep'),
    model('M2', 'M2'),
    `judge accuracy vs checkers: R0 ${judge(s.judge.iteration0)}; R1 ${judge(s.judge.iteration1)}`,
    `pairs: SPaR ${num(s.pairs.spar0, 0)} (iteration 1: ${num(s.pairs.spar1, 0)}), independent ${num(s.pairs.independent, 0)}`,
    `mean word edits chosen↔rejected: SPaR ${num(s.meanWordEdits.spar0)}, independent ${num(s.meanWordEdits.independent)}`,
    `wall times: ${phases.join(', ')}`,
    `one iteration (self-play + actor DPO + refiner RFT): ${num(s.iterationSeconds, 0)} s`,
    '── targets ──',
    `${mark(t.m1GainAtLeast10Points)}  M1 ≥ M0 + 10 points instruction-level strict: ${pts(s.gainPoints.M1)}`,
    `${mark(t.sparEditsBelowIndependent)}  SPaR pairs' edit distance < independent pairs': ${num(s.meanWordEdits.spar0)} vs ${num(s.meanWordEdits.independent)} words`,
    `${mark(t.iterationAtMost10Minutes)}  one iteration ≤ 10 min on ${device}: ${s.iterationSeconds === null ? '—' : `${(s.iterationSeconds / 60).toFixed(1)} min`}`,
  ];
}
