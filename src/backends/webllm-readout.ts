/**
 * The verdict read-out over web-llm: log p(first token of each label | conversation, assistant
 * prefix), the same quantity the lab engine reads out, with what web-llm's public API allows.
 *
 * web-llm's chat API refuses a conversation that ends with an assistant message, so the
 * critique cannot be continued there. Its text-completion API takes a raw prompt, though, and
 * returns log-probabilities of the first generated token. So:
 *
 * 1. The prompt is the conversation exactly as web-llm's chat writes it for this model — the
 *    conversation template from mlc-chat-config.json (system prompt, role strings, separators,
 *    `system_prefix_token_ids` such as Llama-3's <|begin_of_text|> written as their token
 *    text), then the assistant reply header — followed by the critique prefix. That is the
 *    context in which web-llm generated the critique.
 * 2. One completion with max_tokens 1, temperature 1, top_p 1 and neutral penalties: web-llm
 *    computes log-probabilities from softmax(logits / 1), i.e. the model's own distribution.
 * 3. web-llm shows at most 5 top log-probabilities. A label outside them is recovered exactly
 *    with `logit_bias`: adding b to the label's logit leaves every other logit alone, so with
 *    r = the most likely token of step 2 (never biased),
 *        log p(label) = log p(r) + [log p'(label) − log p'(r)] − b
 *    where p' is the biased distribution. b starts just large enough to lift a label from below
 *    the 5th place to about r's level and grows by 24 (web-llm allows |b| ≤ 100), so r never
 *    underflows; a label that stays hidden at b = 100 has log p < log p(r) − 100 and is
 *    reported as −Infinity. Each step is one more prefill; usually there are one or two.
 *
 * Tokens in web-llm's answer are decoded strings, not ids; labels are matched by their decoded
 * text (the same tokenizer.json decodes them on both sides).
 */
import { LabError } from '../errors';
import { hubSource, type HubSourceOptions } from '../engine/load/fetch';
import { readJson, type FileSource } from '../engine/load/files';
import { MLC_CHAT_CONFIG } from '../engine/load/mlc';
import { ChatTokenizer } from '../engine/load/tokenizer';
import { hubRepoOf } from '../models/catalog';
import type { ChatMessage } from './types';

/** The conversation template of mlc-chat-config.json (web-llm's ConvTemplateConfig). */
export interface ConvTemplate {
  system_template: string;
  system_message: string;
  roles: { user: string; assistant: string; tool?: string };
  role_templates?: Partial<Record<'user' | 'assistant' | 'tool', string>>;
  seps: string[];
  role_content_sep?: string;
  role_empty_sep?: string;
  stop_str?: string[];
  system_prefix_token_ids?: number[];
  stop_token_ids?: number[];
  add_role_after_system_message?: boolean;
  render_empty_system_message?: boolean;
}

const PLACEHOLDER = { system: '{system_message}', user: '{user_message}', assistant: '{assistant_message}', function: '{function_string}' } as const;

/** web-llm's default separator when a template leaves role_content_sep / role_empty_sep unset. */
const sep = (s: string | undefined) => (s || s === '' ? s : ': ');

/**
 * The prompt text of a chat as web-llm writes it (Conversation.getPromptArray for text
 * messages, then the assistant reply header), with `prefixTokenText` (the text of
 * system_prefix_token_ids) in front. String.replace is used exactly as web-llm uses it.
 * `emptyThinking`: the request had extra_body.enable_thinking = false.
 */
export function renderWebLlmPrompt(conv: ConvTemplate, messages: readonly ChatMessage[], prefixTokenText = '', opts: { emptyThinking?: boolean } = {}): string {
  if (!conv.seps?.length) throw new LabError('unsupported', 'The model\'s conversation template has no separators ("seps"); the read-out cannot rebuild its prompt.');
  let turns = messages;
  let systemMessage = conv.system_message;
  if (turns[0]?.role === 'system') {
    systemMessage = turns[0].content;
    turns = turns.slice(1);
  }
  if (turns.some((m) => m.role === 'system')) throw new LabError('invalid-input', 'A system message may only come first.');
  const systemPrompt = systemMessage === '' && conv.render_empty_system_message === false ? '' : conv.system_template.replace(PLACEHOLDER.system, systemMessage);
  let out = prefixTokenText + systemPrompt;
  turns.forEach((m, i) => {
    const role = m.role as 'user' | 'assistant';
    let text = conv.role_templates?.[role]?.replace(PLACEHOLDER[role], m.content).replace(PLACEHOLDER.function, '');
    if (text === undefined) text = m.content;
    const rolePrefix = conv.add_role_after_system_message === false && systemPrompt !== '' && i === 0 ? '' : conv.roles[role] + sep(conv.role_content_sep);
    out += rolePrefix + text + conv.seps[i % conv.seps.length];
  });
  // With enable_thinking false web-llm opens the reply with an empty thinking block (and the content separator).
  if (opts.emptyThinking) return out + conv.roles.assistant + sep(conv.role_content_sep) + EMPTY_THINKING_BLOCK;
  return out + conv.roles.assistant + sep(conv.role_empty_sep);
}

/** What web-llm writes at the start of a reply when enable_thinking is false (Qwen3-style models). */
export const EMPTY_THINKING_BLOCK = '<think>\n\n</think>\n\n';

/** The conversation template web-llm uses: conv_template with conv_config (and the model record's overrides) on top. */
export function convTemplateOf(chatConfig: unknown, overrides?: { conv_config?: Partial<ConvTemplate> }): ConvTemplate {
  const c = (chatConfig ?? {}) as { conv_template?: unknown; conv_config?: Partial<ConvTemplate> };
  const t = c.conv_template;
  if (!t || typeof t !== 'object') {
    throw new LabError('unsupported', 'mlc-chat-config.json names its conversation template instead of spelling it out (an old MLC build); the read-out cannot rebuild its prompt.');
  }
  const conv = { ...(t as ConvTemplate), ...c.conv_config, ...overrides?.conv_config };
  if (typeof conv.system_template !== 'string' || typeof conv.roles?.user !== 'string' || typeof conv.roles?.assistant !== 'string') {
    throw new LabError('invalid-input', 'mlc-chat-config.json: conv_template lacks system_template or roles.user/roles.assistant.');
  }
  return conv;
}

/** One entry of web-llm's top_logprobs. */
export interface TopLogprob {
  token: string;
  logprob: number;
}

/** A label's first token: its id (for logit_bias) and its decoded text (to find it among top_logprobs). */
export interface LabelToken {
  id: number;
  text: string;
}

/** Top log-probabilities of the first generated token, with logit_bias applied when given. */
export type TopLogprobsOf = (logitBias?: Record<string, number>) => Promise<TopLogprob[]>;

const MAX_BIAS = 100; // web-llm refuses |logit_bias| > 100
const BIAS_STEP = 24;

function find(top: readonly TopLogprob[], text: string): number | undefined {
  return top.find((t) => t.token === text)?.logprob;
}

/** log p(label token) for each label, exactly, from web-llm's top-5 log-probabilities (see the file comment). */
export async function labelLogprobs(topOf: TopLogprobsOf, labels: readonly LabelToken[]): Promise<number[]> {
  const top = await topOf();
  if (top.length === 0 || !Number.isFinite(top[0].logprob)) throw new LabError('internal', 'web-llm returned no top log-probabilities for the verdict read-out.');
  const out: (number | null)[] = labels.map((l) => find(top, l.text) ?? null);
  const ref = top[0];
  let hidden = labels.flatMap((_, i) => (out[i] === null ? [i] : []));
  // Lift a label from below the 5th place (log p < top[4]) to about the most likely token's level.
  let bias = Math.min(MAX_BIAS, Math.max(8, ref.logprob - top[top.length - 1].logprob + 8));
  while (hidden.length > 0) {
    const biased = await topOf(Object.fromEntries(hidden.map((i) => [String(labels[i].id), bias])));
    const refBiased = find(biased, ref.token);
    if (refBiased === undefined || !Number.isFinite(refBiased)) break;
    for (const i of hidden) {
      const lb = find(biased, labels[i].text);
      if (lb !== undefined && Number.isFinite(lb)) out[i] = ref.logprob + (lb - refBiased) - bias;
    }
    hidden = hidden.filter((i) => out[i] === null);
    if (bias >= MAX_BIAS) break;
    bias = Math.min(MAX_BIAS, bias + BIAS_STEP);
  }
  return out.map((x) => x ?? -Infinity);
}

/** What the read-out needs besides the engine: the model's conversation template and tokenizer. */
export interface WebLlmReadout {
  conv: ConvTemplate;
  /** The text of conv.system_prefix_token_ids (e.g. "<|begin_of_text|>"), which web-llm's chat puts first. */
  prefixTokenText: string;
  /** The first token of a label (e.g. " Yes") as the model would generate it. */
  labelToken(label: string): LabelToken;
}

/**
 * Reads the read-out's inputs from the model's files: mlc-chat-config.json and tokenizer.json,
 * both of which web-llm caches when it loads the model, so a hubSource reads them offline.
 * `overrides` are the model record's (web-llm's ModelRecord.overrides).
 */
export async function loadWebLlmReadout(source: FileSource, overrides?: { conv_config?: Partial<ConvTemplate> }): Promise<WebLlmReadout> {
  const conv = convTemplateOf(await readJson(source, MLC_CHAT_CONFIG), overrides);
  // The chat template is not needed (web-llm formats with conv), so tokenizer_config.json is not read.
  const tokenizer = new ChatTokenizer(await readJson(source, 'tokenizer.json'), {});
  const prefixTokenText = (conv.system_prefix_token_ids ?? [])
    .map((id) => {
      const t = tokenizer.idToToken(id);
      if (t === undefined) throw new LabError('invalid-input', `${source.label}: system_prefix_token_ids names token ${id}, which tokenizer.json lacks.`);
      return t;
    })
    .join('');
  return {
    conv,
    prefixTokenText,
    labelToken(label) {
      const [id] = tokenizer.encode(label);
      if (id === undefined) throw new LabError('invalid-input', `Verdict label "${label}" encodes to no token.`);
      return { id, text: tokenizer.decode([id], { skipSpecialTokens: false }) };
    },
  };
}

/**
 * The read-out inputs of a web-llm model record, read through hubSource: from web-llm's cache
 * once web-llm has loaded the model (no network), from the hub otherwise. For
 * createWebLlmBackend's `readout` option.
 */
export function readoutLoaderFor(
  record: { model: string; overrides?: { conv_config?: Partial<ConvTemplate> } },
  opts: Pick<HubSourceOptions, 'fetch' | 'caches' | 'endpoint'> = {},
): () => Promise<WebLlmReadout> {
  return async () => {
    const hub = hubRepoOf(record.model);
    if (!hub) throw new LabError('unsupported', `The verdict read-out reads the model's files from huggingface.co; ${record.model} is elsewhere. Use the "parsed" verdict setting.`);
    return loadWebLlmReadout(hubSource(hub.repo, { ...opts, revision: hub.revision }), record.overrides);
  };
}
