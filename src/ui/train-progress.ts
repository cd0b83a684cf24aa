/**
 * What the Train view says about a training while it runs and after: the phase it is in (a
 * first training on the GPU spends tens of seconds compiling kernels before step 1, which used
 * to read as "step 0 of 3" with every metric "—"), tokens per second over the steps' own time,
 * and where the rest of the time went, each labelled.
 */
import type { TrainEntryTiming } from '../lab/run-config';
import type { TrainLivePhase } from '../lab/train';
import { formatDuration } from '../format';

/** The live line for a phase; null where the step count says it all. */
export function phaseText(phase: TrainLivePhase | undefined): string | null {
  switch (phase?.phase) {
    case 'loading':
      return 'Loading the model…';
    case 'compile':
      return 'Compiling GPU kernels (once per model and shape; steps wait for it)…';
    case 'reference':
      return `Reference pass: ${phase.done} of ${phase.total} pairs (DPO's reference log-probs, once per pair)…`;
    default:
      return null;
  }
}

export interface Throughput {
  steps: number;
  tokens: number;
  seconds: number;
  /** Null before any step took time. */
  tokensPerSecond: number | null;
}

/** Tokens per second over steps: their tokens over their own time (compiling, loading and the reference pass left out). */
export function stepThroughput(steps: readonly { tokens?: number; seconds?: number }[]): Throughput {
  let tokens = 0;
  let seconds = 0;
  let n = 0;
  for (const m of steps) {
    if (m.tokens === undefined || m.seconds === undefined) continue;
    tokens += m.tokens;
    seconds += m.seconds;
    n++;
  }
  return { steps: n, tokens, seconds, tokensPerSecond: seconds > 0 ? tokens / seconds : null };
}

/** "0.4 s", "12 s", "2m 05s". */
export function formatSeconds(s: number): string {
  if (Math.round(s * 10) < 100) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  return formatDuration(s * 1000);
}

/**
 * "25 s in all: loading the model 1.0 s, compiling GPU kernels 22 s, reference pass 0.5 s, 3 steps
 * 1.2 s" (the rest of "in all" went to preparing the data and saving checkpoints).
 */
export function timeText(t: TrainEntryTiming): string {
  const parts = [`loading the model ${formatSeconds(t.loadSeconds)}`];
  if (t.compileSeconds > 0) parts.push(`compiling GPU kernels ${formatSeconds(t.compileSeconds)}`);
  if (t.referenceSeconds > 0) parts.push(`reference pass ${formatSeconds(t.referenceSeconds)}`);
  parts.push(`${t.steps} step${t.steps === 1 ? '' : 's'} ${formatSeconds(t.stepSeconds)}`);
  return `${formatSeconds(t.wallSeconds)} in all: ${parts.join(', ')}`;
}
