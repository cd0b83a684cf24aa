/**
 * Where a run stands in SPaR's loop: for its current iteration t, whether self-play, training
 * (the actor's DPO → M_{t+1}, the refiner's SFT → R_{t+1}), the evaluation of M_{t+1} and the
 * next iteration are done, running or next, and the one action that moves it on. Also the
 * baseline: M0 scored on the run's evaluation set, so every later model has something to beat.
 * Derived from the stored run (its iteration history and evaluations) plus what this page knows
 * is running now; pure, so the stepper only renders it.
 */
import { plural } from '../format';
import { evalSetOf, isPlainActorEval } from './eval-compare';
import type { EvalListItem } from './evaluate';
import type { IterationEntry, Role } from './run-config';

export type StepId = 'selfplay' | 'train' | 'evaluate' | 'next';
/** 'later': waits for an earlier step; 'skipped': nothing to do (an iteration without pairs trains no actor). */
export type StepStatus = 'done' | 'running' | 'next' | 'later' | 'skipped';

export interface LoopStep {
  id: StepId;
  title: string;
  status: StepStatus;
  /** One short line: what it did, does or will do. */
  detail: string;
}

/** What the next-action button does (the stepper maps each to the lab's verbs and views). */
export type LoopAction =
  | { kind: 'add-prompts'; label: string }
  /** Starts or resumes self-play: the current iteration, or the next one once this one is through. */
  | { kind: 'selfplay'; label: string }
  | { kind: 'train'; label: string; iteration: number; role: Role }
  | { kind: 'evaluate'; label: string; model: number }
  /** A job runs: go where it shows. */
  | { kind: 'watch'; label: string; view: 'selfplay' | 'train' | 'evaluate' };

export interface LoopState {
  iteration: number;
  steps: LoopStep[];
  /** null: nothing to do (e.g. nothing left after a cancelled step). */
  action: LoopAction | null;
  baseline: {
    /** M0's newest plain evaluation on the set, if any. */
    promptStrict: number | null;
    running: boolean;
    /** Evaluate M0 (offered while it is missing and nothing runs). */
    action: LoopAction | null;
  };
}

export interface LoopInput {
  /** The run's readable iteration history. */
  iterations: readonly IterationEntry[];
  /** Instructions in the run. */
  prompts: number;
  /** The run's readable evaluations, as listed. */
  evals: readonly Pick<EvalListItem, 'kind' | 'iteration' | 'meta' | 'summary' | 'createdAt'>[];
  /** The set the run's next evaluation uses (describeSet of its settings): only evaluations on it count. */
  set: string;
  /** Jobs this page knows are running; another tab's show through the stored statuses. */
  running: { selfplay: boolean; train: { iteration: number; role: Role } | null; evaluate: number | null };
}

const ROLES: readonly Role[] = ['actor', 'refiner'];
const through = (e: IterationEntry) => e.status === 'done' || e.status === 'cancelled';
const finished: StepStatus[] = ['done', 'skipped'];

/** t of every actor the run has: M0 (the base), and M_{t+1} for each iteration t the actor was trained on. */
export function trainedActors(iterations: readonly IterationEntry[]): number[] {
  return [0, ...iterations.filter((e) => e.training?.actor?.status === 'done').map((e) => e.iteration + 1)];
}

export function loopState(input: LoopInput): LoopState {
  const { iterations, running } = input;
  const last = iterations.at(-1);
  // A start of the next iteration shows before its history entry is written.
  const entry = last && !(through(last) && running.selfplay) ? last : undefined;
  const t = entry ? entry.iteration : last ? last.iteration + 1 : 0;
  const scored = (model: number) =>
    input.evals.filter((e) => isPlainActorEval(e) && e.iteration === model && evalSetOf(e) === input.set).sort((a, b) => a.createdAt - b.createdAt).at(-1);

  const selfplay = selfPlayStep(entry, input.prompts, running.selfplay);
  const roles = Object.fromEntries(ROLES.map((role) => [role, roleStatus(entry, role, running.train)])) as Record<Role, StepStatus>;
  const train = trainStep(entry, t, selfplay.status, roles);
  const evaluate = evaluateStep(t, train.status, roles.actor, scored(t + 1), running.evaluate === t + 1);
  const ready = [train, evaluate].every((s) => finished.includes(s.status));
  const next: LoopStep = { id: 'next', title: 'Next iteration', status: selfplay.status === 'done' && ready ? 'next' : 'later', detail: `iteration ${t + 1}, with the newest adapters` };

  const m0 = scored(0);
  const busy = running.selfplay || running.train !== null || running.evaluate !== null || [selfplay, train].some((s) => s.status === 'running');
  const evaluateM0: LoopAction | null = m0 || busy ? null : { kind: 'evaluate', model: 0, label: 'Evaluate M0 first so you can compare' };
  const trainedBefore = iterations.some((e) => ROLES.some((r) => e.training?.[r]));

  let action: LoopAction | null;
  if (selfplay.status === 'running' || running.selfplay) action = { kind: 'watch', view: 'selfplay', label: 'Watch self-play' };
  else if (train.status === 'running' || running.train) action = { kind: 'watch', view: 'train', label: 'Watch the training' };
  else if (running.evaluate !== null) action = { kind: 'watch', view: 'evaluate', label: `Watch the evaluation of M${running.evaluate}` };
  else if (selfplay.status === 'next') {
    const resume = entry !== undefined;
    action = !resume && input.prompts === 0 ? { kind: 'add-prompts', label: 'Add instructions' } : { kind: 'selfplay', label: `${resume ? 'Resume' : 'Start'} self-play of iteration ${t}` };
  } else if (evaluateM0 && !trainedBefore) action = evaluateM0;
  else if (train.status === 'next') {
    const role = ROLES.find((r) => roles[r] === 'next')!;
    const paused = entry?.training?.[role]?.status === 'paused';
    action = { kind: 'train', iteration: t, role, label: paused ? `Resume training the ${role}` : role === 'actor' ? `Train the actor (DPO → M${t + 1})` : `Train the refiner (SFT → R${t + 1})` };
  } else if (evaluate.status === 'next') action = { kind: 'evaluate', model: t + 1, label: `Evaluate M${t + 1}` };
  else if (next.status === 'next') action = { kind: 'selfplay', label: `Start iteration ${t + 1}` };
  else action = null;

  return {
    iteration: t,
    steps: [selfplay, train, evaluate, next],
    action,
    baseline: { promptStrict: m0?.summary.promptStrict ?? null, running: running.evaluate === 0, action: action === evaluateM0 ? null : evaluateM0 },
  };
}

function selfPlayStep(entry: IterationEntry | undefined, prompts: number, running: boolean): LoopStep {
  const base = { id: 'selfplay' as const, title: 'Self-play' };
  if (!entry) return { ...base, status: running ? 'running' : 'next', detail: prompts ? `on ${plural(prompts, 'instruction')}` : 'add instructions first' };
  const progress = `${entry.finished}/${entry.instructions} instructions`;
  if (through(entry)) return { ...base, status: 'done', detail: `${entry.status === 'cancelled' ? 'cancelled at ' : ''}${progress}: ${plural(entry.pairs, 'pair')}, ${plural(entry.rft, 'RFT record')}` };
  if (running || entry.status === 'running') return { ...base, status: 'running', detail: progress };
  return { ...base, status: 'next', detail: `${entry.status === 'failed' ? 'stopped by an error' : 'paused'} at ${progress}` };
}

/** One role's training on the entry's data: skipped without data (the actor needs pairs, the refiner RFT records). */
function roleStatus(entry: IterationEntry | undefined, role: Role, running: LoopInput['running']['train']): StepStatus {
  if (!entry || !through(entry)) return 'later';
  if ((role === 'actor' ? entry.pairs : entry.rft) === 0) return 'skipped';
  const e = entry.training?.[role];
  if ((running?.iteration === entry.iteration && running.role === role) || e?.status === 'training') return 'running';
  return e?.status === 'done' ? 'done' : 'next';
}

function trainStep(entry: IterationEntry | undefined, t: number, selfplay: StepStatus, roles: Record<Role, StepStatus>): LoopStep {
  const base = { id: 'train' as const, title: 'Train' };
  const what = { actor: `actor DPO → M${t + 1}`, refiner: `refiner SFT → R${t + 1}` };
  if (selfplay !== 'done' || !entry) return { ...base, status: 'later', detail: `${what.actor}, ${what.refiner}` };
  const states = ROLES.map((r) => roles[r]);
  const status: StepStatus = states.includes('running')
    ? 'running'
    : states.includes('next')
      ? 'next'
      : states.every((s) => s === 'skipped')
        ? 'skipped'
        : 'done';
  const word: Record<StepStatus, string> = { done: 'done', running: 'running', next: 'to do', later: 'later', skipped: 'nothing to train on' };
  return { ...base, status, detail: ROLES.map((r) => `${what[r]}: ${word[roles[r]]}`).join('; ') };
}

function evaluateStep(t: number, train: StepStatus, actor: StepStatus, scored: LoopInput['evals'][number] | undefined, running: boolean): LoopStep {
  const base = { id: 'evaluate' as const, title: 'Evaluate' };
  const m = `M${t + 1}`;
  if (running) return { ...base, status: 'running', detail: `${m} on the held-out set` };
  if (scored) return { ...base, status: 'done', detail: `${m}: ${(scored.summary.promptStrict * 100).toFixed(1)}% prompt-level strict` };
  if (actor === 'skipped') return { ...base, status: 'skipped', detail: `no ${m}: no pairs to train the actor on` };
  return { ...base, status: finished.includes(train) ? 'next' : 'later', detail: `${m} against M0…M${t} on the held-out set` };
}
