/**
 * What the Self-play view says about an iteration's progress. Failed instructions count as
 * failed, never as done: an iteration whose six instructions all failed on an unreachable
 * server used to fill the bar to "6 / 6" next to "Stopped by an error". Retries are spelled out
 * (attempt k of n, why, how long the wait), so a run waiting on a server does not look frozen.
 */
import type { SelfPlayRetry, SelfPlayState } from '../lab/selfplay';

export interface InstructionCounts {
  total: number;
  /** Finished, failed ones included (SparProgress.finished). */
  finished: number;
  failed: number;
}

export interface InstructionProgress {
  /** Finished without failing. */
  done: number;
  failed: number;
  /** Not finished yet (in flight or not started). */
  left: number;
  total: number;
  /** "4 done, 2 failed of 6". */
  text: string;
}

export function instructionProgress(c: InstructionCounts): InstructionProgress {
  const failed = Math.min(c.failed, c.finished);
  const done = c.finished - failed;
  const left = Math.max(0, c.total - c.finished);
  return { done, failed, left, total: c.total, text: `${done} done${failed ? `, ${failed} failed` : ''} of ${c.total}` };
}

const STATE_TEXT: Record<SelfPlayState, string> = {
  loading: 'Loading the models…',
  running: 'Running',
  pausing: 'Pausing after the current model calls…',
  cancelling: 'Cancelling…',
  paused: 'Paused',
  done: 'Done',
  cancelled: 'Cancelled',
  failed: 'Stopped by an error',
};

/**
 * The state line: "Done" only for an iteration that ran every instruction; one with failed
 * instructions says how many, and a stopped one says what it finished.
 */
export function stateText(state: SelfPlayState, c: InstructionCounts): string {
  const p = instructionProgress(c);
  if (state === 'done' && p.failed > 0) return `Finished: ${p.text}`;
  if (state === 'failed') return `${STATE_TEXT.failed} after ${p.text}`;
  return STATE_TEXT[state];
}

/** "Retrying the refiner's request: attempt 3 of 5 in 2.0 s. Could not reach …". */
export function retryText(r: SelfPlayRetry): string {
  const wait = r.waitMs < 1000 ? `${Math.round(r.waitMs)} ms` : `${(r.waitMs / 1000).toFixed(1)} s`;
  return `Retrying the ${r.role}'s request: attempt ${r.attempt} of ${r.attempts} in ${wait}. ${r.reason.replace(/\.?$/, '.')}`;
}
