import { describe, expect, it } from 'vitest';
import { loopState, trainedActors, type LoopInput, type StepStatus } from '../../../src/lab/loop-state';
import type { IterationEntry, IterationStatus, TrainEntry, TrainStatus } from '../../../src/lab/run-config';

const SET = 'built-in constraint prompts, 3 (seed 1000); greedy, up to 32 tokens';

function iteration(i: number, status: IterationStatus, o: { pairs?: number; rft?: number; actor?: TrainStatus; refiner?: TrainStatus } = {}): IterationEntry {
  const train = (s: TrainStatus | undefined) => (s ? ({ status: s } as TrainEntry) : undefined);
  return {
    iteration: i,
    status,
    instructions: 3,
    finished: status === 'done' ? 3 : 1,
    failed: 0,
    pairs: o.pairs ?? 2,
    rft: o.rft ?? 4,
    training: { actor: train(o.actor), refiner: train(o.refiner) },
  } as IterationEntry;
}

let clock = 0;
const scored = (model: number, promptStrict: number, o: { set?: string; mode?: string } = {}) => ({
  kind: 'ifeval',
  iteration: model,
  createdAt: ++clock,
  summary: { promptStrict },
  meta: { set: o.set ?? SET, mode: o.mode ?? 'plain' },
});

const idle: LoopInput['running'] = { selfplay: false, train: null, evaluate: null };
const state = (o: Partial<LoopInput>) => loopState({ iterations: [], prompts: 3, evals: [], set: SET, running: idle, ...o });
const statuses = (s: ReturnType<typeof loopState>): Record<string, StepStatus> => Object.fromEntries(s.steps.map((x) => [x.id, x.status]));

describe('loop state', () => {
  it('a new run: self-play of iteration 0 is next; without instructions the action is to add them', () => {
    const s = state({});
    expect(s.iteration).toBe(0);
    expect(statuses(s)).toEqual({ selfplay: 'next', train: 'later', evaluate: 'later', next: 'later' });
    expect(s.action).toEqual({ kind: 'selfplay', label: 'Start self-play of iteration 0' });
    // M0 can be scored from the start: offered beside the loop, not instead of it.
    expect(s.baseline).toEqual({ promptStrict: null, running: false, action: { kind: 'evaluate', model: 0, label: 'Evaluate M0 first so you can compare' } });
    expect(state({ prompts: 0 }).action).toEqual({ kind: 'add-prompts', label: 'Add instructions' });
  });

  it('self-play running (live, or stored as running by another tab), paused and failed', () => {
    const live = state({ iterations: [iteration(0, 'paused')], running: { ...idle, selfplay: true } });
    expect(statuses(live).selfplay).toBe('running');
    expect(live.action).toEqual({ kind: 'watch', view: 'selfplay', label: 'Watch self-play' });
    expect(live.baseline.action).toBeNull(); // one job at a time
    expect(statuses(state({ iterations: [iteration(0, 'running')] })).selfplay).toBe('running');
    const paused = state({ iterations: [iteration(0, 'paused')] });
    expect(paused.steps[0]).toEqual({ id: 'selfplay', title: 'Self-play', status: 'next', detail: 'paused at 1/3 instructions' });
    expect(paused.action).toEqual({ kind: 'selfplay', label: 'Resume self-play of iteration 0' });
    expect(state({ iterations: [iteration(0, 'failed')] }).steps[0].detail).toBe('stopped by an error at 1/3 instructions');
  });

  it('after the first self-play, M0 is evaluated before the first training', () => {
    const s = state({ iterations: [iteration(0, 'done')] });
    expect(statuses(s)).toEqual({ selfplay: 'done', train: 'next', evaluate: 'later', next: 'later' });
    expect(s.steps[0].detail).toBe('3/3 instructions: 2 pairs, 4 RFT records');
    expect(s.action).toEqual({ kind: 'evaluate', model: 0, label: 'Evaluate M0 first so you can compare' });
    expect(s.baseline.action).toBeNull(); // it is the main action already

    const m0 = state({ iterations: [iteration(0, 'done')], evals: [scored(0, 0.25)] });
    expect(m0.baseline).toEqual({ promptStrict: 0.25, running: false, action: null });
    expect(m0.action).toEqual({ kind: 'train', iteration: 0, role: 'actor', label: 'Train the actor (DPO → M1)' });

    const running = state({ iterations: [iteration(0, 'done')], running: { ...idle, evaluate: 0 } });
    expect(running.baseline.running).toBe(true);
    expect(running.action).toEqual({ kind: 'watch', view: 'evaluate', label: 'Watch the evaluation of M0' });
  });

  it('only an evaluation of M0 on the run’s set, without inference-time refinement, is its baseline', () => {
    const evals = [scored(0, 0.5, { set: 'IFEval, 20 prompts (seed 0); greedy, up to 1024 tokens' }), scored(0, 0.9, { mode: 'refine' })];
    expect(state({ iterations: [iteration(0, 'done')], evals }).action).toMatchObject({ kind: 'evaluate', model: 0 });
    // The newest of several counts.
    expect(state({ evals: [scored(0, 0.1), scored(0, 0.3)] }).baseline.promptStrict).toBe(0.3);
  });

  it('once training has begun, a missing M0 is offered beside the loop instead of blocking it', () => {
    const s = state({ iterations: [iteration(0, 'done', { actor: 'done' })] });
    expect(s.action).toEqual({ kind: 'train', iteration: 0, role: 'refiner', label: 'Train the refiner (SFT → R1)' });
    expect(s.baseline.action).toEqual({ kind: 'evaluate', model: 0, label: 'Evaluate M0 first so you can compare' });
  });

  it('training: the actor, then the refiner; a paused one resumes; a running one is watched', () => {
    const evals = [scored(0, 0.2)];
    const paused = state({ iterations: [iteration(0, 'done', { actor: 'paused' })], evals });
    expect(paused.action).toEqual({ kind: 'train', iteration: 0, role: 'actor', label: 'Resume training the actor' });
    const live = state({ iterations: [iteration(0, 'done', { actor: 'done' })], evals, running: { ...idle, train: { iteration: 0, role: 'refiner' } } });
    expect(statuses(live)).toEqual({ selfplay: 'done', train: 'running', evaluate: 'later', next: 'later' });
    expect(live.steps[1].detail).toBe('actor DPO → M1: done; refiner SFT → R1: running');
    expect(live.action).toEqual({ kind: 'watch', view: 'train', label: 'Watch the training' });
    expect(statuses(state({ iterations: [iteration(0, 'done', { actor: 'training' })], evals })).train).toBe('running');
  });

  it('trained: evaluate M1, then the next iteration; a new iteration’s self-play shows before its entry exists', () => {
    const its = [iteration(0, 'done', { actor: 'done', refiner: 'done' })];
    const s = state({ iterations: its, evals: [scored(0, 0.2)] });
    expect(statuses(s)).toEqual({ selfplay: 'done', train: 'done', evaluate: 'next', next: 'later' });
    expect(s.action).toEqual({ kind: 'evaluate', model: 1, label: 'Evaluate M1' });

    const evaluated = state({ iterations: its, evals: [scored(0, 0.2), scored(1, 0.4)] });
    expect(statuses(evaluated)).toEqual({ selfplay: 'done', train: 'done', evaluate: 'done', next: 'next' });
    expect(evaluated.steps[2].detail).toBe('M1: 40.0% prompt-level strict');
    expect(evaluated.action).toEqual({ kind: 'selfplay', label: 'Start iteration 1' });

    const starting = state({ iterations: its, evals: [scored(0, 0.2), scored(1, 0.4)], running: { ...idle, selfplay: true } });
    expect(starting.iteration).toBe(1);
    expect(statuses(starting)).toEqual({ selfplay: 'running', train: 'later', evaluate: 'later', next: 'later' });

    const second = state({ iterations: [...its, iteration(1, 'done')], evals: [scored(0, 0.2), scored(1, 0.4)] });
    expect(second.iteration).toBe(1);
    expect(second.action).toEqual({ kind: 'train', iteration: 1, role: 'actor', label: 'Train the actor (DPO → M2)' });
    expect(second.steps[2].detail).toBe('M2 against M0…M1 on the held-out set');
  });

  it('an iteration without pairs trains no actor: training and evaluation are skipped as far as they must be', () => {
    const noPairs = state({ iterations: [iteration(0, 'done', { pairs: 0, refiner: 'done' })], evals: [scored(0, 0.2)] });
    expect(statuses(noPairs)).toEqual({ selfplay: 'done', train: 'done', evaluate: 'skipped', next: 'next' });
    expect(noPairs.action).toEqual({ kind: 'selfplay', label: 'Start iteration 1' });
    const nothing = state({ iterations: [iteration(0, 'done', { pairs: 0, rft: 0 })], evals: [scored(0, 0.2)] });
    expect(statuses(nothing)).toEqual({ selfplay: 'done', train: 'skipped', evaluate: 'skipped', next: 'next' });
  });

  it('lists the actors a run has: M0 and one per iteration the actor was trained on', () => {
    expect(trainedActors([])).toEqual([0]);
    expect(trainedActors([iteration(0, 'done', { actor: 'done' }), iteration(1, 'done', { actor: 'paused' }), iteration(2, 'done', { actor: 'done' })])).toEqual([0, 1, 3]);
  });
});
