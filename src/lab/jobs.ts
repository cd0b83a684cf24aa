/**
 * The lab runs one long job at a time (a self-play iteration, a training or an evaluation): they
 * drive the same models, and one job at full speed beats two at half. A second start gets a clear error.
 * Across tabs, Web Locks (where the browser has them) keep two tabs off the same run.
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

export class JobSlot {
  private job: ActiveJob | null = null;

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
    this.job = job;
    try {
      if (!this.locks) return await fn();
      return await this.locks.request(runLockName(job.runId), { ifAvailable: true }, async (lock) => {
        if (!lock) throw new LabError('busy', `“${job.runName}” is busy in another SPaR Lab tab. Pause it there (or close that tab) first.`);
        return fn();
      });
    } finally {
      this.job = null;
    }
  }

  /** Whether any tab holds a run's lock (false where there are no Web Locks). */
  async isHeldAnywhere(runId: string): Promise<boolean> {
    if (this.job?.runId === runId) return true;
    if (!this.locks) return false;
    const { held = [] } = await this.locks.query();
    return held.some((l) => l.name === runLockName(runId));
  }
}
