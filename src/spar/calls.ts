/**
 * Every model call of the algorithm goes through here: abort checks, result-shape checks, and
 * counting (calls, tokens) for progress.
 */
import type { GenerateRequest, Generation, ModelBackend, VerdictRequest, VerdictResult } from '../backends/types';
import { LabError } from '../errors';
import type { InstructionStats } from './types';

export interface ModelCtx {
  signal?: AbortSignal;
  /** This instruction's counters (stored with its record). */
  stats: InstructionStats;
  /** Called with each increment, for run-level progress. */
  report?: (delta: Partial<InstructionStats>) => void;
  /** Streaming text from backends that stream, tagged with what the call was for. */
  onText?: (purpose: CallPurpose, request: number, sample: number, delta: string) => void;
}

export type CallPurpose = 'sample' | 'judge' | 'refine';

export function cancelled(): LabError {
  return new LabError('cancelled', 'Cancelled.');
}

function checkAborted(ctx: ModelCtx): void {
  if (ctx.signal?.aborted) throw cancelled();
}

export function count(ctx: ModelCtx, delta: Partial<InstructionStats>): void {
  for (const [k, v] of Object.entries(delta) as [keyof InstructionStats, number][]) ctx.stats[k] += v;
  ctx.report?.(delta);
}

export async function generate(backend: ModelBackend, requests: GenerateRequest[], ctx: ModelCtx, purpose: CallPurpose): Promise<Generation[][]> {
  if (requests.length === 0) return [];
  checkAborted(ctx);
  const onText = ctx.onText;
  const out = await backend.generate(requests, { signal: ctx.signal, onText: onText && ((r, i, d) => onText(purpose, r, i, d)) });
  checkAborted(ctx);
  if (!Array.isArray(out) || out.length !== requests.length || out.some((g, i) => !Array.isArray(g) || g.length !== requests[i].n)) {
    throw new LabError(
      'internal',
      `The model backend "${backend.info.label}" answered ${Array.isArray(out) ? out.length : 'no'} requests with the wrong number of samples ` +
        `(asked for ${requests.map((r) => r.n).join(', ')}).`,
    );
  }
  let tokens = 0;
  for (const g of out) for (const s of g) tokens += s.tokens;
  count(ctx, { modelCalls: requests.length, generatedTokens: tokens });
  return out;
}

export async function readVerdicts(backend: ModelBackend, requests: VerdictRequest[], ctx: ModelCtx): Promise<VerdictResult[]> {
  if (requests.length === 0) return [];
  if (!backend.verdict) throw noVerdict(backend);
  checkAborted(ctx);
  const out = await backend.verdict(requests, { signal: ctx.signal });
  checkAborted(ctx);
  if (!Array.isArray(out) || out.length !== requests.length || out.some((r, i) => r?.logprobs?.length !== requests[i].labels.length)) {
    throw new LabError('internal', `The model backend "${backend.info.label}" answered verdict read-outs in the wrong shape.`);
  }
  count(ctx, { modelCalls: requests.length });
  return out;
}

export function noVerdict(backend: ModelBackend): LabError {
  return new LabError(
    'unsupported',
    `The refiner backend "${backend.info.label}" cannot read out verdict probabilities; set the verdict setting to "parsed".`,
  );
}
