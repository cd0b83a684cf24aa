/**
 * The lab runs one long job at a time (a self-play iteration, a training or an evaluation): they
 * drive the same models, and one job at full speed beats two at half. A second start gets a clear error.
 * Across tabs, Web Locks (where the browser has them) keep two tabs off the same run: a job holds
 * its run's lock while it runs, and a short change that must not meet a job (deleting the run,
 * discarding a training, marking interrupted work paused) holds it while it writes.
 */
import { LabError } from '../errors';

export interface ActiveJob {
  kind: 'selfplay' | 'train' | 'eval';
  runId: string;
  runName: string;
  startedAt: number;
}

/** The subset of the Web Locks API used here (navigator.locks in pages and workers). */
export interface LocksLike {
  request<T>(name: string, options: { ifAvailable: boolean }, callback: (lock: unknown) => Promise<T>): Promise<T>;
  query(): Promise<{ held?: { name?: string }[] }>;
}

/** "Self-play", "Training", "An evaluation": the start of a sentence about a running job. */
export function jobTitle(kind: ActiveJob['kind']): string {
  return kind === 'selfplay' ? 'Self-play' : kind === 'train' ? 'Training' : 'An evaluation';
}

export function runLockName(runId: string): string {
  return `spar-lab/run/${runId}`;
}

/** What a start or a change gets while another tab holds the run's lock (Web Locks are shared by the lab's tabs). */
export function busyInAnotherTab(run = 'This run'): LabError {
  return new LabError('busy', `${run} is busy in another SPaR Lab tab (self-play, training or an evaluation is running there). Pause it in that tab, or wait for it to finish, then try again here.`);
}

export class JobSlot {
  private job: ActiveJob | null = null;
  /** Runs a short change holds in this tab (see exclusive). */
  private readonly changing = new Set<string>();

  constructor(private readonly locks: LocksLike | null = null) {}

  get current(): ActiveJob | null {
    return this.job;
  }

  /** Runs `fn` as the one job, holding the run's lock; refuses when another job is running. */
  async run<T>(job: ActiveJob, fn: () => Promise<T>): Promise<T> {
    if (this.job) {
      const what = jobTitle(this.job.kind);
      throw new LabError('busy', `${what} of “${this.job.runName}” is running. The lab runs one job at a time: pause or cancel it first.`);
    }
    if (this.changing.has(job.runId)) throw changingNow();
    this.job = job;
    try {
      return await this.holdingLock(job.runId, `“${job.runName}”`, fn);
    } finally {
      this.job = null;
    }
  }

  /**
   * Runs a short change to a run (deleting it, discarding a training, marking it paused) holding
   * the run's lock, so that no tab starts a job on it meanwhile. Refuses ('busy') while a job runs
   * it, in this tab or another.
   */
  async exclusive<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    if (this.job?.runId === runId) throw new LabError('busy', `${jobTitle(this.job.kind)} of “${this.job.runName}” is running. Pause or cancel it first.`);
    if (this.changing.has(runId)) throw changingNow();
    this.changing.add(runId);
    try {
      return await this.holdingLock(runId, undefined, fn);
    } finally {
      this.changing.delete(runId);
    }
  }

  private async holdingLock<T>(runId: string, runName: string | undefined, fn: () => Promise<T>): Promise<T> {
    if (!this.locks) return fn();
    return this.locks.request(runLockName(runId), { ifAvailable: true }, async (lock) => {
      if (!lock) throw busyInAnotherTab(runName);
      return fn();
    });
  }

  /** Whether any tab holds a run's lock (false where there are no Web Locks). */
  async isHeldAnywhere(runId: string): Promise<boolean> {
    if (this.job?.runId === runId || this.changing.has(runId)) return true;
    if (!this.locks) return false;
    const { held = [] } = await this.locks.query();
    return held.some((l) => l.name === runLockName(runId));
  }
}

function changingNow(): LabError {
  return new LabError('busy', 'This run is being changed right now (a delete or a discard is being written); try again in a moment.');
}
