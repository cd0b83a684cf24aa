/**
 * A run's instructions: built-in constraint prompts from the generator, the toy world's
 * training split (what SPaR-toy learned to answer; src/toy), the official IFEval
 * prompts (bundled, so they work offline), and uploaded IFEval or SPaR-style files (bad lines
 * are reported with their line number and the good ones kept). Prompts are de-duplicated by
 * text within a run; ids are `p000000`, `p000001`, … in the order added, so the store lists
 * them in order and SPaR's per-prompt random streams are stable.
 */
import { LabError } from '../errors';
import { generateInstructions, parsePromptSet, toIfevalRecord, type IfevalRecord, type LineError, type PromptFormat } from '../eval/index';
import type { Kwargs } from '../eval/instructions';
import { PyRandom } from '../py-random';
import type { PromptRecord } from '../store/records';
import { toyInstructions } from '../toy/world';
import type { EvalSetSpec } from './run-config';
import type { LabStoreLike } from './store';

export interface AddResult {
  added: number;
  /** Already in the run (same text). */
  duplicates: number;
  /** Lines of an uploaded file that could not be read (the rest were added). */
  errors: LineError[];
  total: number;
}

export interface GenerateOptions {
  /** 'builtin' (the default): our seed tasks over the 25 IFEval types; 'toy': the toy world's training split. */
  source?: 'builtin' | 'toy';
  count: number;
  seed: number;
  /** Built-in only (a toy instruction has one to three constraints). */
  minConstraints?: number;
  maxConstraints?: number;
}

export interface ListOptions {
  offset?: number;
  limit?: number;
  /** Case-insensitive text or constraint-id search. */
  query?: string;
  /** Cut each prompt to this many characters for a preview (previewText); absent: whole prompts. */
  previewChars?: number;
}

/**
 * The start of a long text for a list: `max` characters and "… (N more characters)". A page
 * that rendered a whole 50 MB prompt would stall for seconds and take gigabytes.
 */
export function previewText(text: string, max: number): string {
  if (text.length <= max) return text;
  const rest = text.length - max;
  return `${text.slice(0, max)}… (${rest.toLocaleString('en-US')} more character${rest === 1 ? '' : 's'})`;
}

export function promptId(index: number): string {
  return `p${String(index).padStart(6, '0')}`;
}

let ifevalCache: Promise<IfevalRecord[]> | undefined;

/** The official IFEval prompts (541), bundled with the app. */
export function ifevalPrompts(): Promise<IfevalRecord[]> {
  ifevalCache ??= import('./data/ifeval/input_data.jsonl?raw').then((m) => {
    const { records, errors } = parsePromptSet(m.default, 'ifeval');
    if (errors.length) throw new LabError('internal', `The bundled IFEval file has unreadable lines: ${errors.map((e) => e.line).join(', ')}.`);
    return records;
  });
  return ifevalCache;
}

/** The prompts of an evaluation set, in evaluation order. */
export async function evalSetRecords(spec: EvalSetSpec): Promise<IfevalRecord[]> {
  if (spec.source === 'generated') return generateInstructions({ count: spec.count, seed: spec.seed });
  if (spec.source === 'toy') return toyInstructions({ count: spec.count, seed: spec.seed, split: 'heldout' }).map((t) => t.record);
  if (spec.source === 'upload') return spec.records.map((r, i) => toIfevalRecord(r, i));
  const all = [...(await ifevalPrompts())];
  if (spec.count >= all.length) return all;
  return new PyRandom(spec.seed).shuffle(all).slice(0, spec.count);
}

/** A stored prompt as the IFEval checkers read it. */
export function asIfevalRecord(p: PromptRecord): IfevalRecord {
  return { key: p.id, prompt: p.prompt, instruction_id_list: p.instructionIds as IfevalRecord['instruction_id_list'], kwargs: p.kwargs as Kwargs[] };
}

export class PromptService {
  constructor(private readonly store: LabStoreLike) {}

  async list(runId: string, o: ListOptions = {}): Promise<{ items: PromptRecord[]; total: number }> {
    let all = await this.store.list('prompts', runId);
    all.sort((a, b) => a.index - b.index);
    const q = o.query?.trim().toLowerCase();
    if (q) all = all.filter((p) => p.prompt.toLowerCase().includes(q) || p.instructionIds.some((id) => id.includes(q)));
    const offset = o.offset ?? 0;
    const items = all.slice(offset, offset + (o.limit ?? 100));
    const max = o.previewChars;
    return { items: max === undefined ? items : items.map((p) => ({ ...p, prompt: previewText(p.prompt, max) })), total: all.length };
  }

  generate(runId: string, o: GenerateOptions): Promise<AddResult> {
    if (!Number.isInteger(o.count) || o.count < 1 || o.count > 100_000) throw new LabError('invalid-input', 'Generate between 1 and 100 000 prompts.');
    if (o.source === 'toy') return this.add(runId, toyInstructions({ count: o.count, seed: o.seed, split: 'train' }).map((t) => t.record), `toy world (seed ${o.seed})`);
    const records = generateInstructions({ count: o.count, seed: o.seed, minConstraints: o.minConstraints, maxConstraints: o.maxConstraints });
    return this.add(runId, records, `generated (seed ${o.seed})`);
  }

  async addIfeval(runId: string, o: { count?: number; seed?: number } = {}): Promise<AddResult> {
    const records = o.count === undefined ? await ifevalPrompts() : await evalSetRecords({ source: 'ifeval', count: o.count, seed: o.seed ?? 0 });
    return this.add(runId, records, 'IFEval');
  }

  async importText(runId: string, text: string, o: { name: string; format?: PromptFormat }): Promise<AddResult> {
    const { records, errors } = parsePromptSet(text, o.format ?? 'auto');
    if (records.length === 0 && errors.length === 0) throw new LabError('invalid-input', `${o.name} has no prompts.`);
    const result = await this.add(runId, records, o.name);
    return { ...result, errors, total: records.length + errors.length };
  }

  /** Adds records not already in the run (by text), after the existing ones, in one write. */
  async add(runId: string, records: readonly IfevalRecord[], source: string): Promise<AddResult> {
    await this.store.getRun(runId);
    const existing = await this.store.list('prompts', runId);
    const texts = new Set(existing.map((p) => p.prompt));
    let index = existing.reduce((m, p) => Math.max(m, p.index + 1), 0);
    const fresh: PromptRecord[] = [];
    for (const r of records) {
      if (texts.has(r.prompt)) continue;
      texts.add(r.prompt);
      fresh.push({ runId, id: promptId(index), index: index++, prompt: r.prompt, instructionIds: [...r.instruction_id_list], kwargs: r.kwargs.map((k) => ({ ...k })), source });
    }
    await this.store.put('prompts', fresh);
    return { added: fresh.length, duplicates: records.length - fresh.length, errors: [], total: records.length };
  }

  /** Removes every prompt, which is only allowed before self-play has produced anything. */
  async clear(runId: string): Promise<number> {
    if ((await this.store.count('trees', runId)) > 0) {
      throw new LabError('exists', 'This run already has self-play results for its prompts, so they stay. Create a new run for a different prompt set.');
    }
    const all = await this.store.list('prompts', runId);
    for (const p of all) await this.store.delete('prompts', runId, p.id);
    return all.length;
  }
}
