/**
 * IFEval evaluation: strict and loose verdicts per prompt, in the official output shape, and the
 * four accuracies with a per-instruction-type breakdown (the official `print_report`).
 */
import { checkInstruction, type InstructionId, type Kwargs, usesLanguageDetection } from './instructions';
import { loadLanguageProfiles } from './langdetect';
import { pyStrip } from './pycompat';

/** One IFEval prompt: `{key, prompt, instruction_id_list, kwargs}` (kwargs validated). */
export interface IfevalRecord {
  key: number | string;
  prompt: string;
  instruction_id_list: InstructionId[];
  kwargs: Kwargs[];
}

/** One line of `eval_results_{strict,loose}.jsonl`, as the official checker writes it. */
export interface EvalOutput {
  instruction_id_list: string[];
  prompt: string;
  response: string;
  follow_all_instructions: boolean;
  follow_instruction_list: boolean[];
}

export type EvalMode = 'strict' | 'loose';

/** Strict: the response as given. */
export function evaluateStrict(rec: IfevalRecord, response: string): EvalOutput {
  return output(rec, response, rec.instruction_id_list.map((id, i) => checkInstruction(id, rec.kwargs[i], response)));
}

/**
 * Loose: an instruction is followed if any of 8 variants follows it: the response, without
 * its first line, without its last line, without both, each also with every `*` removed.
 */
export function evaluateLoose(rec: IfevalRecord, response: string): EvalOutput {
  const variants = looseVariants(response);
  return output(
    rec,
    response,
    rec.instruction_id_list.map((id, i) => variants.some((v) => pyStrip(v) !== '' && checkInstruction(id, rec.kwargs[i], v))),
  );
}

/** The 8 response variants of loose mode, in the official order. */
export function looseVariants(response: string): string[] {
  const lines = response.split('\n');
  const removeFirst = pyStrip(lines.slice(1).join('\n'));
  const removeLast = pyStrip(lines.slice(0, -1).join('\n'));
  const removeBoth = pyStrip(lines.slice(1, -1).join('\n'));
  const noStars = (s: string) => s.replaceAll('*', '');
  return [response, noStars(response), removeFirst, removeLast, removeBoth, noStars(removeFirst), noStars(removeLast), noStars(removeBoth)];
}

export function evaluate(rec: IfevalRecord, response: string, mode: EvalMode): EvalOutput {
  return mode === 'strict' ? evaluateStrict(rec, response) : evaluateLoose(rec, response);
}

function output(rec: IfevalRecord, response: string, follow: boolean[]): EvalOutput {
  return {
    instruction_id_list: rec.instruction_id_list,
    prompt: rec.prompt,
    response,
    follow_all_instructions: follow.every(Boolean),
    follow_instruction_list: follow,
  };
}

/** Loads what the records' checkers need (language profiles) before evaluating them. */
export async function prepareFor(records: readonly IfevalRecord[]): Promise<void> {
  if (records.some((r) => r.instruction_id_list.some(usesLanguageDetection))) await loadLanguageProfiles();
}

export interface Accuracy {
  /** Fraction of prompts whose instructions were all followed. */
  promptLevel: number;
  /** Fraction of instructions followed. */
  instructionLevel: number;
  prompts: number;
  promptsFollowed: number;
  instructions: number;
  instructionsFollowed: number;
  /** Per instruction id (e.g. "keywords:frequency") and per category (e.g. "keywords"). */
  byInstruction: Record<string, { total: number; followed: number; accuracy: number }>;
  byCategory: Record<string, { total: number; followed: number; accuracy: number }>;
}

/** The official report's numbers for one mode. */
export function accuracy(outputs: readonly EvalOutput[]): Accuracy {
  let promptsFollowed = 0;
  let instructions = 0;
  let instructionsFollowed = 0;
  const byInstruction: Accuracy['byInstruction'] = {};
  const byCategory: Accuracy['byCategory'] = {};
  const bump = (table: Accuracy['byInstruction'], key: string, ok: boolean) => {
    const e = (table[key] ??= { total: 0, followed: 0, accuracy: 0 });
    e.total++;
    if (ok) e.followed++;
    e.accuracy = e.followed / e.total;
  };
  for (const o of outputs) {
    if (o.follow_instruction_list.every(Boolean)) promptsFollowed++;
    o.instruction_id_list.forEach((id, i) => {
      const ok = o.follow_instruction_list[i];
      instructions++;
      if (ok) instructionsFollowed++;
      bump(byInstruction, id, ok);
      bump(byCategory, id.split(':')[0], ok);
    });
  }
  return {
    promptLevel: outputs.length ? promptsFollowed / outputs.length : 0,
    instructionLevel: instructions ? instructionsFollowed / instructions : 0,
    prompts: outputs.length,
    promptsFollowed,
    instructions,
    instructionsFollowed,
    byInstruction: sortKeys(byInstruction),
    byCategory: sortKeys(byCategory),
  };
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export interface IfevalReport {
  strict: EvalOutput[];
  loose: EvalOutput[];
  strictAccuracy: Accuracy;
  looseAccuracy: Accuracy;
  /** Prompts that had no response (by exact prompt text); they are not scored. */
  missing: IfevalRecord[];
}

/**
 * Scores responses against IFEval records in both modes. Responses are matched to prompts by
 * exact prompt text, as the official checker does.
 */
export async function evaluateResponses(records: readonly IfevalRecord[], responses: ReadonlyMap<string, string>): Promise<IfevalReport> {
  await prepareFor(records);
  const strict: EvalOutput[] = [];
  const loose: EvalOutput[] = [];
  const missing: IfevalRecord[] = [];
  for (const rec of records) {
    const response = responses.get(rec.prompt);
    if (response === undefined) {
      missing.push(rec);
      continue;
    }
    strict.push(evaluateStrict(rec, response));
    loose.push(evaluateLoose(rec, response));
  }
  return { strict, loose, strictAccuracy: accuracy(strict), looseAccuracy: accuracy(loose), missing };
}
