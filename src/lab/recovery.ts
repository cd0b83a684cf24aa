/**
 * Interrupted work: a run marked running (self-play) or a training marked "training" that no tab
 * runs was cut off, by a reload, a crash, or a full quota that refused the job's last write. At
 * start-up the lab writes such work as paused, ready to resume. When storage refuses even that
 * (a full quota), the lab must still start: reading, exporting and deleting runs are how the user
 * frees space. So recovery reports the failure instead of throwing, and the views read
 * interrupted work as paused (`asRecovered`) until a later start-up can write it.
 */
import { toWireError } from '../errors';
import type { RunRecord } from '../store/records';
import type { SelfPlayService } from './selfplay';
import type { TrainService } from './train';

interface Services {
  selfplay: Pick<SelfPlayService, 'recoverInterrupted' | 'interrupted'>;
  train: Pick<TrainService, 'recoverInterrupted' | 'interrupted'>;
}

/** Writes interrupted self-play and trainings as paused; a write storage refuses is reported and left for the next start. */
export async function recoverInterrupted(lab: Services, warn: (message: string) => void): Promise<void> {
  for (const [what, recover] of [
    ['self-play', () => lab.selfplay.recoverInterrupted()],
    ['training', () => lab.train.recoverInterrupted()],
  ] as const) {
    try {
      await recover();
    } catch (e) {
      warn(`Could not mark interrupted ${what} as paused (${toWireError(e).message}). It is shown as paused and resumes as usual; the next start of the lab writes it.`);
    }
  }
}

/** A run as the views show it: its interrupted work paused, as recovery writes it. */
export async function asRecovered<R extends RunRecord>(lab: Services, run: R): Promise<R> {
  const selfPlay = await lab.selfplay.interrupted(run);
  const shown: R = selfPlay ? { ...run, ...selfPlay } : run;
  const config = await lab.train.interrupted(shown);
  return config ? { ...shown, config } : shown;
}
