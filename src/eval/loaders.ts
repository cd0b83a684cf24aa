/**
 * Reading instruction sets and responses: IFEval-format JSONL (`{key, prompt,
 * instruction_id_list, kwargs}`), response JSONL (`{prompt, response}`) and SPaR-style prompt
 * files (a JSON array or JSONL of objects with a `prompt` field), from file contents or a URL.
 * A bad line never sinks the file: the good records come back with a list of `{line, message}`.
 */
import { LabError } from '../errors';
import type { IfevalRecord } from './evaluate';
import { type InstructionId, type Kwargs, validateKwargs } from './instructions';

export interface LineError {
  /** 1-based line number in the file. */
  line: number;
  message: string;
}

export interface LoadResult<T> {
  records: T[];
  errors: LineError[];
}

export interface ResponseRecord {
  prompt: string;
  response: string;
}

export type PromptFormat = 'ifeval' | 'spar' | 'auto';

type Item = { line: number; value: unknown } | { line: number; error: string };

/** Non-blank lines of a JSONL text, parsed, with their 1-based line numbers. */
function jsonlItems(text: string): Item[] {
  const out: Item[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/^\uFEFF/, '');
    if (!line.trim()) return;
    try {
      out.push({ line: i + 1, value: JSON.parse(line) });
    } catch (e) {
      out.push({ line: i + 1, error: `not valid JSON (${e instanceof Error ? e.message : String(e)})` });
    }
  });
  return out;
}

/**
 * Elements of a top-level JSON array, each parsed on its own with the line it starts on, so
 * one broken element does not lose the others.
 */
function jsonArrayItems(text: string): Item[] {
  const items: Item[] = [];
  let line = 1;
  let depth = 0;
  let inString = false;
  let start = -1;
  let startLine = 1;
  const finish = (end: number) => {
    if (start < 0) return;
    const src = text.slice(start, end);
    try {
      items.push({ line: startLine, value: JSON.parse(src) });
    } catch (e) {
      items.push({ line: startLine, error: `not valid JSON (${e instanceof Error ? e.message : String(e)})` });
    }
    start = -1;
  };
  for (let i = text.indexOf('[') + 1; i > 0 && i < text.length; i++) {
    const c = text[i];
    if (c === '\n') line++;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (depth === 0 && (c === ',' || c === ']')) {
      finish(i);
      if (c === ']') return items;
      continue;
    }
    if (depth === 0 && start < 0 && !/\s/.test(c)) {
      start = i;
      startLine = line;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
  }
  finish(text.length);
  items.push({ line, error: 'the JSON array is not closed with "]"; fix the file or save it as JSONL (one object per line)' });
  return items;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Longest prompt a file may bring, in characters (some 25 000 tokens): far beyond any
 * instruction, and beyond what a model here could judge together with a response. A larger one
 * (a whole book pasted into a line) is refused by its line rather than stored and rendered.
 */
export const MAX_PROMPT_CHARS = 100_000;

/** Validates one IFEval-format object; throws a LabError describing the first problem. */
export function toIfevalRecord(v: unknown, fallbackKey: number): IfevalRecord {
  if (!isObject(v)) throw new LabError('invalid-input', 'expected a JSON object');
  if (typeof v.prompt !== 'string' || !v.prompt.trim()) throw new LabError('invalid-input', 'missing "prompt" (a non-empty string)');
  if (v.prompt.length > MAX_PROMPT_CHARS) {
    throw new LabError(
      'invalid-input',
      `"prompt" has ${v.prompt.length.toLocaleString('en-US')} characters; prompts may have at most ${MAX_PROMPT_CHARS.toLocaleString('en-US')} (about 25,000 tokens). Shorten it or leave this line out`,
    );
  }
  const ids = v.instruction_id_list ?? [];
  if (!Array.isArray(ids) || !ids.every((x) => typeof x === 'string')) throw new LabError('invalid-input', '"instruction_id_list" must be a list of instruction ids');
  const kwargs = v.kwargs ?? ids.map(() => ({}));
  if (!Array.isArray(kwargs) || kwargs.length !== ids.length) {
    throw new LabError('invalid-input', `"kwargs" must be a list with one object per instruction (${ids.length})`);
  }
  const key = typeof v.key === 'number' || typeof v.key === 'string' ? v.key : fallbackKey;
  const clean: Kwargs[] = ids.map((id, i) => validateKwargs(id, kwargs[i]));
  return { key, prompt: v.prompt, instruction_id_list: ids as InstructionId[], kwargs: clean };
}

function collect<T>(items: Item[], convert: (v: unknown, index: number) => T): LoadResult<T> {
  const records: T[] = [];
  const errors: LineError[] = [];
  items.forEach((it, index) => {
    if ('error' in it) {
      errors.push({ line: it.line, message: it.error });
      return;
    }
    try {
      records.push(convert(it.value, index));
    } catch (e) {
      errors.push({ line: it.line, message: e instanceof Error ? e.message : String(e) });
    }
  });
  return { records, errors };
}

/** IFEval input JSONL (`input_data.jsonl`): every line needs a prompt and valid instructions. */
export function parseIfevalJsonl(text: string): LoadResult<IfevalRecord> {
  return collect(jsonlItems(text), (v, i) => {
    if (isObject(v) && !Array.isArray(v.instruction_id_list)) throw new LabError('invalid-input', 'missing "instruction_id_list"');
    return toIfevalRecord(v, i);
  });
}

/** Response JSONL (`{prompt, response}` per line), as the official checker reads it. */
export function parseResponsesJsonl(text: string): LoadResult<ResponseRecord> {
  return collect(jsonlItems(text), (v) => {
    if (!isObject(v)) throw new LabError('invalid-input', 'expected a JSON object');
    if (typeof v.prompt !== 'string') throw new LabError('invalid-input', 'missing "prompt" (a string)');
    if (typeof v.response !== 'string') throw new LabError('invalid-input', 'missing "response" (a string)');
    return { prompt: v.prompt, response: v.response };
  });
}

/**
 * SPaR-style prompts: a JSON array or JSONL of objects with a `prompt` field. Objects that also
 * carry IFEval constraints (`instruction_id_list`, `kwargs`) keep them; others get none.
 */
export function parseSparPrompts(text: string): LoadResult<IfevalRecord> {
  const items = text.trimStart().startsWith('[') ? jsonArrayItems(text) : jsonlItems(text);
  return collect(items, (v, i) => toIfevalRecord(v, i));
}

/** Any supported prompt file; 'auto' reads a JSON array as SPaR-style and JSONL by its fields. */
export function parsePromptSet(text: string, format: PromptFormat = 'auto'): LoadResult<IfevalRecord> {
  if (format === 'ifeval') return parseIfevalJsonl(text);
  return parseSparPrompts(text);
}

/** Fetches a prompt file from a URL and parses it. */
export async function loadPromptSetFromUrl(url: string, format: PromptFormat = 'auto', fetchFn: typeof fetch = fetch): Promise<LoadResult<IfevalRecord>> {
  return parsePromptSet(await fetchText(url, fetchFn), format);
}

export async function fetchText(url: string, fetchFn: typeof fetch = fetch): Promise<string> {
  let res: Response;
  try {
    res = await fetchFn(url);
  } catch (e) {
    throw new LabError('network', `Could not download ${url}: ${e instanceof Error ? e.message : String(e)}. Check the address and your connection.`, { cause: e });
  }
  if (!res.ok) throw new LabError('network', `Downloading ${url} failed with HTTP ${res.status}. Check the address.`);
  return res.text();
}

/** Prompt text -> response; a later line for the same prompt replaces an earlier one. */
export function responseMap(responses: readonly ResponseRecord[]): Map<string, string> {
  return new Map(responses.map((r) => [r.prompt, r.response]));
}
