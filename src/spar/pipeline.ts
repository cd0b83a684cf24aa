/**
 * One self-play iteration over a run's instructions, resumable. Several instructions are in
 * flight at once (so backends can batch across them); each one's tree, pairs and RFT records are
 * written in one atomic write the moment it finishes. Calling `runIteration` again with the same
 * run id and iteration resumes: finished instructions are skipped, the rest run from the first
 * unfinished one, and results do not depend on concurrency, timing or interruptions (every
 * random choice comes from per-instruction streams; record ids are deterministic).
 *
 * The caller (the lab worker) owns the run record: it parses the run's settings with
 * `parseSparConfig`, lists the prompts, and maps progress to its own messages.
 */
import { isCancelled, LabError, type ErrorKind } from '../errors';
import type { ChildPut } from '../store/lab-store';
import type { PairRecord, PromptRecord, RftRecord, TreeRecord } from '../store/records';
import { type CallPurpose, cancelled, noVerdict } from './calls';
import type { SparConfig } from './config';
import { InstructionFailure, type InstructionResult, type Models, processInstruction } from './instruction';
import type { SparPersistence } from './persist';
import type { InstructionStats } from './types';

export type PromptInput = Pick<PromptRecord, 'id' | 'index' | 'prompt'>;

export interface SparProgress {
  /** Instructions in this iteration. */
  total: number;
  /** Finished (done or failed), including those finished in earlier sessions. */
  finished: number;
  failed: number;
  inFlight: number;
  pairs: number;
  rft: number;
  /** Totals over finished instructions plus the work in flight in this session. */
  modelCalls: number;
  generatedTokens: number;
  judgments: number;
}

export interface FinishedInstruction {
  tree: TreeRecord;
  pairs: PairRecord[];
  rft: RftRecord[];
}

export interface RunIterationOptions {
  runId: string;
  iteration: number;
  prompts: readonly PromptInput[];
  config: SparConfig;
  models: Models;
  store: SparPersistence;
  /** Abort = pause or cancel: in-flight instructions are dropped (nothing partial is written). */
  signal?: AbortSignal;
  onProgress?: (p: SparProgress) => void;
  /** After each instruction's records are written. */
  onInstruction?: (r: FinishedInstruction) => void;
  /** Text as streaming backends produce it (e.g. to show actor samples arriving). */
  onText?: (promptId: string, purpose: CallPurpose, request: number, sample: number, delta: string) => void;
  /** Run instructions recorded as failed again (their records are replaced). */
  retryFailed?: boolean;
  /** Clock for `finishedAt` (default Date.now). */
  now?: () => number;
}

export function treeId(iteration: number, promptId: string): string {
  return `${iteration}:${promptId}`;
}

/**
 * Runs (or resumes) one iteration. Resolves with the final progress when every instruction is
 * finished. Rejects with LabError 'cancelled' when aborted, with the store's error when a write
 * fails, or with the last error after `maxConsecutiveFailures` instructions failed in a row;
 * in every case only after in-flight work has settled, so nothing is written afterwards.
 */
export async function runIteration(o: RunIterationOptions): Promise<SparProgress> {
  checkModels(o.config, o.models);
  const prompts = [...o.prompts].sort((a, b) => a.index - b.index);
  const ids = new Set<string>();
  for (const p of prompts) {
    if (ids.has(p.id)) throw new LabError('invalid-input', `The run lists prompt "${p.id}" twice; prompt ids must be unique.`);
    ids.add(p.id);
  }
  const earlier = new Map<string, TreeRecord>();
  for (const t of await o.store.list('trees', o.runId)) if (t.iteration === o.iteration) earlier.set(t.promptId, t);
  const todo = prompts.filter((p) => {
    const t = earlier.get(p.id);
    return !t || (o.retryFailed && t.status === 'failed');
  });

  const progress: SparProgress = { total: prompts.length, finished: 0, failed: 0, inFlight: 0, pairs: 0, rft: 0, modelCalls: 0, generatedTokens: 0, judgments: 0 };
  const todoIds = new Set(todo.map((p) => p.id));
  for (const p of prompts) {
    const t = earlier.get(p.id);
    if (t && !todoIds.has(p.id)) count(progress, t);
  }
  const emit = () => o.onProgress?.({ ...progress });
  emit();

  let next = 0;
  let fatal: unknown = null;
  let failuresInARow = 0;
  const stopping = () => fatal !== null || o.signal?.aborted === true;

  const runOne = async (p: PromptInput) => {
    let result: InstructionResult | null = null;
    let failure: InstructionFailure | null = null;
    try {
      result = await processInstruction({ iteration: o.iteration, promptId: p.id, prompt: p.prompt }, o.config, o.models, {
        signal: o.signal,
        report: (delta) => {
          add(progress, delta);
          emit();
        },
        onText: o.onText && ((purpose, r, i, d) => o.onText!(p.id, purpose, r, i, d)),
      });
    } catch (e) {
      if (!(e instanceof InstructionFailure)) throw e;
      if (o.signal?.aborted || isCancelled(e.error)) {
        add(progress, negate(e.data.stats)); // paused: this instruction reruns on resume
        return;
      }
      failure = e;
    }
    const records = toRecords(o, p, result, failure);
    try {
      await o.store.putAll([
        { store: 'trees', record: records.tree },
        ...records.pairs.map((record): ChildPut => ({ store: 'pairs', record })),
        ...records.rft.map((record): ChildPut => ({ store: 'rft', record })),
      ]);
    } catch (e) {
      fatal ??= e; // nothing of this instruction was written; a resume redoes it
      add(progress, negate(records.tree.data.stats));
      return;
    }
    // Its model work now counts through the record, not as in-flight work.
    add(progress, negate(records.tree.data.stats));
    count(progress, records.tree);
    emit();
    o.onInstruction?.(records);
    if (failure) {
      if (++failuresInARow >= o.config.maxConsecutiveFailures) {
        fatal ??= new LabError(
          (failure.error instanceof LabError ? failure.error.kind : 'internal') as ErrorKind,
          `${failuresInARow} instructions in a row failed, so the run stopped (finished work is saved; resume to go on). ` +
            `Last error: ${failure.message}`,
          { cause: failure.error },
        );
      }
    } else failuresInARow = 0;
  };

  const worker = async () => {
    while (!stopping() && next < todo.length) {
      const p = todo[next++];
      progress.inFlight++;
      emit();
      try {
        await runOne(p);
      } catch (e) {
        fatal ??= e; // a bug: stop rather than record it against every instruction
      } finally {
        progress.inFlight--;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.config.concurrency, todo.length) }, worker));
  emit();
  if (fatal !== null) throw fatal;
  if (o.signal?.aborted) throw cancelled();
  return { ...progress };
}

/** Refuses settings the models cannot serve, before any work starts. */
export function checkModels(config: SparConfig, models: Models): void {
  if (config.judge.verdict !== 'parsed' && !models.refiner.verdict) throw noVerdict(models.refiner);
}

function toRecords(o: RunIterationOptions, p: PromptInput, result: InstructionResult | null, failure: InstructionFailure | null): FinishedInstruction {
  const base = { runId: o.runId, iteration: o.iteration, promptId: p.id };
  const id = treeId(o.iteration, p.id);
  const pairs: PairRecord[] = (result?.pairs ?? []).map((d, i) => ({ ...base, id: `${id}:${i}`, ...d, excluded: false }));
  const perKind = new Map<string, number>();
  const rft: RftRecord[] = (result?.rft ?? []).map((d) => {
    const i = perKind.get(d.kind) ?? 0;
    perKind.set(d.kind, i + 1);
    return { ...base, id: `${id}:${d.kind}:${i}`, kind: d.kind, messages: d.messages, excluded: false };
  });
  const tree: TreeRecord = {
    ...base,
    id,
    status: failure ? 'failed' : 'done',
    data: (result?.data ?? failure?.data)!,
    outputs: { pairs: pairs.length, rft: rft.length },
    finishedAt: (o.now ?? Date.now)(),
  };
  if (failure) {
    tree.error = failure.message;
    tree.errorKind = failure.error instanceof LabError ? failure.error.kind : 'internal';
  }
  return { tree, pairs, rft };
}

function count(p: SparProgress, t: TreeRecord): void {
  p.finished++;
  if (t.status === 'failed') p.failed++;
  p.pairs += t.outputs.pairs;
  p.rft += t.outputs.rft;
  add(p, t.data.stats);
}

function add(p: SparProgress, d: Partial<InstructionStats>): void {
  p.modelCalls += d.modelCalls ?? 0;
  p.generatedTokens += d.generatedTokens ?? 0;
  p.judgments += d.judgments ?? 0;
}

function negate(s: InstructionStats): InstructionStats {
  return { modelCalls: -s.modelCalls, generatedTokens: -s.generatedTokens, judgments: -s.judgments };
}
