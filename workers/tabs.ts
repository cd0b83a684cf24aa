/**
 * The lab's tabs kept in step. Each tab has its own lab worker, which runs that tab's jobs; Web
 * Locks (src/lab/jobs.ts) keep two tabs off one run. Over a BroadcastChannel (same origin, every
 * tab's worker) each worker tells the others what happens to runs, so that a second tab's views
 * follow a job the first tab runs, and a Pause pressed in the second tab reaches the tab that
 * runs the job.
 */
import type { LabEvent } from './protocol';

/** A job of one run that a tab is asked to stop (the tab that runs it does; the others ignore it). */
export interface StopRequest {
  runId: string;
  job: 'selfplay' | 'train';
  how: 'pause' | 'cancel';
}

type TabMessage = { type: 'event'; event: LabEvent } | { type: 'stop'; stop: StopRequest };

const CHANNEL = 'spar-lab/tabs';

export interface TabLink {
  /** Sends an event to the other tabs (only events about runs: see `concernsRuns`). */
  share(event: LabEvent): void;
  /** Asks the other tabs to stop a job. */
  stop(request: StopRequest): void;
}

/** Whether every tab shows an event: runs and their jobs, yes; one worker's models, web-llm, transformers.js and logs, no. */
export function concernsRuns(e: LabEvent): boolean {
  switch (e.type) {
    case 'run.updated':
    case 'runs.changed':
    case 'selfplay.progress':
    case 'selfplay.tree':
    case 'selfplay.text':
    case 'train.steps':
    case 'train.state':
    case 'train.phase':
      return true;
    case 'ready':
    case 'device-lost':
    case 'webllm.progress':
    case 'webllm.status':
    case 'transformers.progress':
    case 'transformers.status':
    case 'log':
      return false;
    default:
      return e satisfies never;
  }
}

/** Joins the tabs' channel; where there is no BroadcastChannel, a tab is on its own. */
export function linkTabs(on: { event(e: LabEvent): void; stop(request: StopRequest): void }): TabLink {
  if (typeof BroadcastChannel === 'undefined') return { share() {}, stop() {} };
  const channel = new BroadcastChannel(CHANNEL);
  channel.onmessage = (m: MessageEvent<TabMessage>) => {
    if (m.data.type === 'event') on.event(m.data.event);
    else on.stop(m.data.stop);
  };
  const post = (m: TabMessage) => channel.postMessage(m);
  return {
    share: (event) => {
      if (concernsRuns(event)) post({ type: 'event', event });
    },
    stop: (stop) => post({ type: 'stop', stop }),
  };
}
