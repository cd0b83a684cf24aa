/**
 * The page's side of the lab: the only module that talks to the lab worker. It exports verbs
 * (createRun, exportRun, …) and reactive state that components read; components never post
 * messages themselves.
 */
import { LabError } from '../errors';
import type { GpuReport } from '../engine/gpu/report';
import type { RunSummary, StorageReport } from '../store/lab-store';
import { storageReport } from '../store/lab-store';
import type { Progress } from '../../workers/protocol';
import { LabClient } from '../../workers/rpc';

class Lab {
  gpu = $state<GpuReport | null>(null);
  storage = $state<StorageReport | null>(null);
  runs = $state<RunSummary[] | null>(null);
  /** The newest error worth showing to the user; cleared by dismissError(). */
  error = $state<LabError | null>(null);
  /** A long operation in progress, shown as a progress bar. */
  task = $state<{ label: string; progress: Progress | null } | null>(null);

  private client: LabClient;

  constructor() {
    const worker = new Worker(new URL('../../workers/lab.worker.ts', import.meta.url), { type: 'module', name: 'lab' });
    this.client = new LabClient(worker);
    worker.addEventListener('error', (e) => {
      const err = new LabError('internal', `The lab worker crashed: ${e.message || 'unknown error'}. Reload the page.`);
      this.client.failAll(err);
      this.error = err;
    });
    this.client.onEvent((ev) => {
      if (ev.type === 'device-lost') this.error = new LabError('device-lost', ev.message);
    });
  }

  async start(): Promise<void> {
    // persist() is only offered to pages, not workers: ask here, once.
    void storageReport(true).then((s) => (this.storage = s));
    await Promise.all([
      this.guard(async () => (this.gpu = await this.client.call('gpu.report', {}))),
      this.refreshRuns(),
    ]);
  }

  async refreshRuns(): Promise<void> {
    await this.guard(async () => {
      this.runs = await this.client.call('runs.list', {});
      this.storage = await this.client.call('storage.report', {});
    });
  }

  async createRun(name: string): Promise<boolean> {
    return this.guard(async () => {
      await this.client.call('runs.create', { name });
      await this.refreshRuns();
    });
  }

  async renameRun(runId: string, name: string): Promise<boolean> {
    return this.guard(async () => {
      await this.client.call('runs.rename', { runId, name });
      await this.refreshRuns();
    });
  }

  async deleteRun(runId: string): Promise<boolean> {
    return this.guard(async () => {
      await this.client.call('runs.delete', { runId });
      await this.refreshRuns();
    });
  }

  async exportRun(runId: string): Promise<boolean> {
    return this.withTask('Exporting run', async (onProgress) => {
      const { fileName, blob } = await this.client.call('runs.export', { runId }, { onProgress });
      download(blob, fileName);
    });
  }

  async importRun(file: File): Promise<boolean> {
    return this.withTask(`Importing ${file.name}`, async (onProgress) => {
      await this.client.call('runs.import', { file, asCopy: true }, { onProgress });
      await this.refreshRuns();
    });
  }

  dismissError(): void {
    this.error = null;
  }

  private async withTask(label: string, fn: (onProgress: (p: Progress) => void) => Promise<void>): Promise<boolean> {
    this.task = { label, progress: null };
    try {
      return await this.guard(() => fn((progress) => (this.task = { label, progress })));
    } finally {
      this.task = null;
    }
  }

  /** Runs fn; on failure shows the error and returns false. */
  private async guard(fn: () => Promise<unknown>): Promise<boolean> {
    try {
      await fn();
      return true;
    } catch (e) {
      this.error = e instanceof LabError ? e : new LabError('internal', String(e));
      return false;
    }
  }
}

function download(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export const lab = new Lab();
