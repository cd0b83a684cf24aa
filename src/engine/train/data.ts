/**
 * Training data as token sequences with loss masks (train/engine.ts TrainSequence):
 * - preference pairs for DPO, from the store (PairRecord) or from JSONL in the shapes our
 *   exports write (src/spar/export.ts) and TRL reads: TRL conversational
 *   {prompt: [msgs], chosen: [msgs], rejected: [msgs]}, TRL standard {prompt, chosen, rejected}
 *   as strings, and the SPaR / LLaMA-Factory layout {messages, chosen: {role, content}, rejected};
 * - chats for SFT (RFT records, or JSONL {messages}), trained on their assistant turns.
 * The chat template decides the tokens (ChatTokenizer.encodeResponse / encodeChatTurns). A bad
 * line never sinks a file: the good records come back with {line, message} for the others.
 */
import { LabError } from '../../errors';
import type { ChatMessage } from '../../backends/types';
import type { PairRecord, RftRecord } from '../../store/records';
import type { ChatTokenizer } from '../load/tokenizer';
import type { TrainSequence } from './engine';

export interface PreferencePair {
  /** The conversation before the response (usually one user message). */
  prompt: ChatMessage[];
  chosen: string;
  rejected: string;
}

export interface EncodedPair {
  chosen: TrainSequence;
  rejected: TrainSequence;
}

export interface LineError {
  /** 1-based line of the file. */
  line: number;
  message: string;
}

export interface Parsed<T> {
  records: T[];
  errors: LineError[];
}

const ROLES = new Set(['system', 'user', 'assistant']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function message(v: unknown, where: string): ChatMessage {
  if (!isObject(v) || typeof v.role !== 'string' || typeof v.content !== 'string') {
    throw new LabError('invalid-input', `${where} must be a message {"role", "content"} with string values`);
  }
  if (!ROLES.has(v.role)) throw new LabError('invalid-input', `${where} has role "${v.role}"; expected system, user or assistant`);
  return { role: v.role as ChatMessage['role'], content: v.content };
}

function messages(v: unknown, where: string): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0) throw new LabError('invalid-input', `${where} must be a non-empty list of messages`);
  return v.map((m, i) => message(m, `${where}[${i}]`));
}

/** One response: a string, an assistant message, or a list ending in one assistant message. */
function response(v: unknown, where: string): string {
  if (typeof v === 'string') return v;
  const m = Array.isArray(v) ? (v.length === 1 ? message(v[0], `${where}[0]`) : null) : message(v, where);
  if (!m) throw new LabError('invalid-input', `${where} must hold exactly one assistant message`);
  if (m.role !== 'assistant') throw new LabError('invalid-input', `${where} must be an assistant message (got role "${m.role}")`);
  return m.content;
}

/** One preference pair from any supported JSON shape. */
export function toPreferencePair(v: unknown): PreferencePair {
  if (!isObject(v)) throw new LabError('invalid-input', 'expected a JSON object');
  if (!('chosen' in v) || !('rejected' in v)) throw new LabError('invalid-input', 'missing "chosen" or "rejected"');
  let prompt: ChatMessage[];
  if (typeof v.prompt === 'string') prompt = [{ role: 'user', content: v.prompt }];
  else if (v.prompt !== undefined) prompt = messages(v.prompt, '"prompt"');
  else if (v.messages !== undefined) prompt = messages(v.messages, '"messages"');
  else throw new LabError('invalid-input', 'missing the prompt: "prompt" (TRL) or "messages" (LLaMA-Factory)');
  if (prompt[prompt.length - 1].role === 'assistant') throw new LabError('invalid-input', 'the prompt ends with an assistant message; it should end with the user turn');
  return { prompt, chosen: response(v.chosen, '"chosen"'), rejected: response(v.rejected, '"rejected"') };
}

/** A chat for SFT: {messages} with at least one assistant turn. */
export function toChat(v: unknown): ChatMessage[] {
  if (!isObject(v)) throw new LabError('invalid-input', 'expected a JSON object');
  const msgs = messages(v.messages, '"messages"');
  if (!msgs.some((m) => m.role === 'assistant')) throw new LabError('invalid-input', 'the chat has no assistant turn to train on');
  return msgs;
}

function parseJsonl<T>(text: string, convert: (v: unknown) => T): Parsed<T> {
  const records: T[] = [];
  const errors: LineError[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/^\uFEFF/, '').trim();
    if (!line) return;
    try {
      records.push(convert(JSON.parse(line)));
    } catch (e) {
      const msg = e instanceof SyntaxError ? `not valid JSON (${e.message})` : e instanceof Error ? e.message : String(e);
      errors.push({ line: i + 1, message: msg });
    }
  });
  return { records, errors };
}

/** Preference pairs JSONL (TRL conversational or standard, or the SPaR / LLaMA-Factory layout). */
export function parsePairsJsonl(text: string): Parsed<PreferencePair> {
  return parseJsonl(text, toPreferencePair);
}

/** Chat JSONL ({messages}, as rftToJsonl writes). */
export function parseChatsJsonl(text: string): Parsed<ChatMessage[]> {
  return parseJsonl(text, toChat);
}

/** The pairs of the store a DPO run trains on (excluded ones left out). */
export function pairsFromRecords(records: readonly Pick<PairRecord, 'prompt' | 'chosen' | 'rejected' | 'excluded'>[]): PreferencePair[] {
  return records.filter((r) => !r.excluded).map((r) => ({ prompt: [{ role: 'user', content: r.prompt }], chosen: r.chosen, rejected: r.rejected }));
}

/** The RFT chats of the store an SFT run trains on (excluded ones left out). */
export function chatsFromRecords(records: readonly Pick<RftRecord, 'messages' | 'excluded'>[]): ChatMessage[][] {
  return records.filter((r) => !r.excluded).map((r) => r.messages.map((m) => ({ ...m })));
}

/** A pair's two sequences: the same prompt tokens, then each response as a whole assistant turn. */
export function encodePair(tok: ChatTokenizer, pair: PreferencePair): EncodedPair {
  const seq = (text: string): TrainSequence => {
    const { prompt, response } = tok.encodeResponse(pair.prompt, text);
    if (prompt.length === 0) throw new LabError('invalid-input', 'A pair\'s prompt encodes to no tokens.');
    if (response.length === 0) throw new LabError('invalid-input', 'A pair\'s response encodes to no tokens.');
    const mask = new Uint8Array(prompt.length + response.length);
    mask.fill(1, prompt.length);
    return { tokens: [...prompt, ...response], mask };
  };
  return { chosen: seq(pair.chosen), rejected: seq(pair.rejected) };
}

/** A chat's tokens, trained on its assistant turns. */
export function encodeChat(tok: ChatTokenizer, chat: readonly ChatMessage[]): TrainSequence {
  const { tokens, mask } = tok.encodeChatTurns(chat);
  mask[0] = 0;
  return { tokens, mask };
}

/** Longest sequence allowed: refuse rather than silently truncate. */
export function checkLength(seq: TrainSequence, maxTokens: number, what: string): void {
  if (seq.tokens.length > maxTokens) {
    throw new LabError('invalid-input', `${what} has ${seq.tokens.length} tokens; the limit is ${maxTokens}. Exclude it or raise the limit.`);
  }
}
