/**
 * `npm run cli -- render --model <dir> --messages <file.json> [--date YYYY-MM-DD]
 *   [--no-generation-prompt]` prints the conversation exactly as the model's chat template
 * writes it (transformers' apply_chat_template(messages, tokenize=False)), with nothing added:
 * no trailing newline. The messages file is a JSON list of {"role", "content"} (system, user,
 * assistant) or an object with such a "messages" list (TRL's conversational rows). --date fixes
 * the date that strftime_now gives the template (Llama 3.x writes "Today Date: …"). Needs only
 * the template (tokenizer_config.json or chat_template.jinja), not the vocabulary.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { CliCommand } from './main';
import { LabError } from '../errors';
import type { ChatMessage } from '../backends/types';
import type { FileSource } from '../engine/load/files';
import { directorySource } from '../engine/load/node-files';
import { loadChatTemplate } from '../engine/load/tokenizer-config';

const ROLES: readonly string[] = ['system', 'user', 'assistant'] satisfies ChatMessage['role'][];

/** The conversation in a messages file's JSON, every message checked; errors name the file and the index. */
export function parseMessages(json: unknown, where: string): ChatMessage[] {
  const list = Array.isArray(json) ? json : json && typeof json === 'object' ? (json as { messages?: unknown }).messages : undefined;
  if (!Array.isArray(list)) throw new LabError('invalid-input', `${where}: expected a JSON list of {"role", "content"} messages (or an object with a "messages" list).`);
  if (list.length === 0) throw new LabError('invalid-input', `${where}: the conversation has no messages.`);
  return list.map((m: unknown, i) => {
    const { role, content } = (m ?? {}) as { role?: unknown; content?: unknown };
    if (typeof role !== 'string' || !ROLES.includes(role)) {
      throw new LabError('invalid-input', `${where}: messages[${i}].role is ${JSON.stringify(role)}; SPaR Lab renders ${ROLES.join(', ')} messages.`);
    }
    if (typeof content !== 'string') throw new LabError('invalid-input', `${where}: messages[${i}].content is ${JSON.stringify(content) ?? 'missing'}; it must be a string.`);
    return { role: role as ChatMessage['role'], content };
  });
}

/** --date checked to be a calendar date YYYY-MM-DD; the template's strftime_now formats it as written (no time zone). */
export function checkDate(v: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
  const d = m && new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  if (!m || !d || d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) {
    throw new LabError('invalid-input', `render: --date must be a calendar date as YYYY-MM-DD (e.g. 2024-07-26), got "${v}".`);
  }
  return v;
}

async function readMessages(path: string): Promise<ChatMessage[]> {
  const text = await readFile(path, 'utf8').catch((e: Error) => {
    throw new LabError('not-found', `render: cannot read the messages file ${path} (${e.message}).`);
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new LabError('invalid-input', `${path} is not valid JSON (${(e as Error).message}).`);
  }
  return parseMessages(json, path);
}

async function noTemplate(source: FileSource): Promise<LabError> {
  if (!(await source.exists('tokenizer_config.json'))) {
    return new LabError('not-found', `${source.label}: neither tokenizer_config.json nor chat_template.jinja is there; choose the model's folder.`);
  }
  return new LabError('unsupported', `${source.label}: tokenizer_config.json has no "chat_template" and there is no chat_template.jinja: a base model? render needs an instruct/chat model.`);
}

export const command: CliCommand = {
  summary: "print a conversation as the model's chat template writes it (--model <dir> --messages <file.json> [--date YYYY-MM-DD] [--no-generation-prompt])",
  async run(argv, out = process.stdout) {
    const { values } = parseArgs({
      args: argv,
      options: { model: { type: 'string' }, messages: { type: 'string' }, date: { type: 'string' }, 'no-generation-prompt': { type: 'boolean' } },
    });
    if (!values.model || !values.messages) throw new LabError('invalid-input', 'render: --model <dir> and --messages <file.json> are required.');
    const date = values.date === undefined ? undefined : checkDate(values.date);
    const messages = await readMessages(values.messages);
    const source = directorySource(values.model);
    const template = await loadChatTemplate(source);
    if (!template) throw await noTemplate(source);
    out.write(template.apply(messages, { addGenerationPrompt: !values['no-generation-prompt'], date }));
    return 0;
  },
};
