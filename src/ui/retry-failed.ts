/**
 * The Self-play view's offer to run failed instructions again. The worker can (selfplay.start
 * with `retryFailed`: a failed instruction's records are replaced); the page offers it for the
 * run's last iteration when it has failed instructions and:
 * - can be resumed (paused, or stopped by an error): Resume offers to retry them too;
 * - is done, and no training used its data yet: a button reopens it for just those. Once a
 *   training started on it, its pairs and RFT records stay as they were trained on.
 * A cancelled iteration stays closed, as cancelling promised.
 */
import type { IterationEntry } from '../lab/run-config';

export interface RetryOffer {
  iteration: number;
  failed: number;
  /** The iteration is done: retrying reopens it (its finished trees stay). */
  reopen: boolean;
}

export function retryOffer(iterations: readonly IterationEntry[]): RetryOffer | null {
  const last = iterations.at(-1);
  if (!last || !(last.failed > 0)) return null;
  if (last.status === 'paused' || last.status === 'failed') return { iteration: last.iteration, failed: last.failed, reopen: false };
  const trained = last.training?.actor !== undefined || last.training?.refiner !== undefined;
  if (last.status === 'done' && !trained) return { iteration: last.iteration, failed: last.failed, reopen: true };
  return null;
}
