/**
 * tokenizer_config.json in both layouts transformers writes, and the chat template it selects.
 *
 * v4: the chat template inside tokenizer_config.json ("chat_template": a string, or a list of
 * {name, template}); special tokens as strings or AddedToken objects {"__type": "AddedToken",
 * "content": …}; "additional_special_tokens" (a list); "added_tokens_decoder" (id → AddedToken).
 * v5: the template in chat_template.jinja beside it; "extra_special_tokens" as a list (v5's
 * rename of additional_special_tokens) or a dict of named model-specific tokens
 * ({"image_token": "<image>"}); no added_tokens_decoder (tokenizer.json carries them).
 */
import type { ChatMessage } from '../../backends/types';
import { LabError } from '../../errors';
import { ChatTemplate } from './chat-template';
import { readJson, readText, type FileSource } from './files';

export const NAMED_SPECIAL_TOKENS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;

export type TokenizerConfig = Record<string, unknown>;

/** A token in tokenizer_config.json: a string, or an AddedToken object with its content. */
export function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return null;
}

const contents = (list: unknown) => (Array.isArray(list) ? list.map(tokenContent).filter((t): t is string => t !== null) : []);

/** The named special tokens (bos_token, eos_token, …) that are set. */
export function namedSpecialTokens(config: TokenizerConfig): Partial<Record<(typeof NAMED_SPECIAL_TOKENS)[number], string>> {
  const out: Partial<Record<(typeof NAMED_SPECIAL_TOKENS)[number], string>> = {};
  for (const key of NAMED_SPECIAL_TOKENS) {
    const v = tokenContent(config[key]);
    if (v) out[key] = v;
  }
  return out;
}

/** Every special token's text the config lists, named or not, in either layout. */
export function allSpecialTokens(config: TokenizerConfig): string[] {
  const extra = config.extra_special_tokens;
  const extraTokens = Array.isArray(extra) ? contents(extra) : extra && typeof extra === 'object' ? contents(Object.values(extra)) : [];
  return [...new Set([...Object.values(namedSpecialTokens(config)), ...contents(config.additional_special_tokens), ...extraTokens])];
}

/**
 * The special tokens a chat template sees as variables: tokenizer.special_tokens_map, as the
 * transformers version that wrote the config builds it. The named tokens that are set; a v4
 * additional_special_tokens list (v4 passes it, v5 no longer does); each name of a dict of
 * extra_special_tokens (both versions make them named tokens). A v5 list of extra_special_tokens
 * is not a variable.
 */
export function specialTokenVariables(config: TokenizerConfig): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = { ...namedSpecialTokens(config) };
  const extra = config.extra_special_tokens;
  if (extra && typeof extra === 'object' && !Array.isArray(extra)) {
    for (const [name, v] of Object.entries(extra)) {
      const t = tokenContent(v);
      if (t !== null) out[name] = t;
    }
  }
  const additional = contents(config.additional_special_tokens);
  if (additional.length > 0) out.additional_special_tokens = additional;
  return out;
}

/** The template transformers uses for a folder, and where it came from (for messages). */
export interface TemplateSource {
  source: string;
  label: string;
}

/**
 * transformers' precedence: chat_template.jinja when the folder has one, else
 * tokenizer_config.json's chat_template: a string, or of a list of named templates the one named
 * "default" (what apply_chat_template picks when not asked for another by name).
 */
export function selectChatTemplate(config: TokenizerConfig, jinja: string | null, where?: string): TemplateSource | null {
  const label = (file: string) => `The chat template (${where ? `${where}: ` : ''}${file})`;
  if (jinja !== null) return { source: jinja, label: label('chat_template.jinja') };
  const t = config.chat_template;
  if (typeof t === 'string') return { source: t, label: label('tokenizer_config.json "chat_template"') };
  if (Array.isArray(t)) {
    const named = t.filter((x): x is { name: string; template: string } => !!x && typeof x.name === 'string' && typeof x.template === 'string');
    const chosen = named.find((x) => x.name === 'default');
    if (!chosen) {
      throw new LabError(
        'unsupported',
        `${where ? `${where}: ` : ''}tokenizer_config.json lists several chat templates (${named.map((x) => `"${x.name}"`).join(', ') || 'none readable'}) but none named "default", the one used for a plain conversation.`,
      );
    }
    return { source: chosen.template, label: label('tokenizer_config.json "chat_template" named "default"') };
  }
  return null;
}

export interface ApplyChatTemplateOptions {
  addGenerationPrompt?: boolean;
  /**
   * The day strftime_now() returns, for templates that write today's date (Llama 3.2):
   * "YYYY-MM-DD" taken as written, or a Date in local time. Default: now.
   */
  date?: Date | string;
}

/** A model's chat template bound to the special tokens of its tokenizer_config.json. */
export class ModelChatTemplate {
  readonly template: ChatTemplate;

  constructor(
    source: TemplateSource,
    readonly variables: Record<string, unknown>,
  ) {
    this.template = new ChatTemplate(source.source, source.label);
  }

  /** The template and special tokens a tokenizer_config.json (and the folder's chat_template.jinja, if any) give; null without a template. */
  static fromConfig(config: TokenizerConfig, opts: { jinja?: string | null; where?: string } = {}): ModelChatTemplate | null {
    const source = selectChatTemplate(config, opts.jinja ?? null, opts.where);
    return source ? new ModelChatTemplate(source, specialTokenVariables(config)) : null;
  }

  get source(): string {
    return this.template.source;
  }

  /** The conversation as transformers' apply_chat_template writes it (messages, tools=None, documents=None, add_generation_prompt, special tokens). */
  apply(messages: readonly ChatMessage[], opts: ApplyChatTemplateOptions = {}): string {
    return this.template.render(
      {
        ...this.variables,
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        tools: null,
        documents: null,
        add_generation_prompt: opts.addGenerationPrompt ?? false,
      },
      { date: opts.date },
    );
  }
}

/** tokenizer_config.json of a folder ({} when it has none). */
export async function readTokenizerConfig(source: FileSource): Promise<TokenizerConfig> {
  if (!(await source.exists('tokenizer_config.json'))) return {};
  const config = await readJson(source, 'tokenizer_config.json');
  if (!config || typeof config !== 'object' || Array.isArray(config)) {
    throw new LabError('invalid-input', `${source.label}: tokenizer_config.json is not a JSON object.`);
  }
  return config as TokenizerConfig;
}

/** chat_template.jinja of a folder, or null. */
export async function readChatTemplateFile(source: FileSource): Promise<string | null> {
  return (await source.exists('chat_template.jinja')) ? readText(source, 'chat_template.jinja') : null;
}

/**
 * The chat template of a model folder from tokenizer_config.json and chat_template.jinja alone,
 * without the tokenizer's vocabulary (a folder may ship none: a transformers v5 save without
 * tokenizer.json). Null when the folder has no template.
 */
export async function loadChatTemplate(source: FileSource): Promise<ModelChatTemplate | null> {
  return ModelChatTemplate.fromConfig(await readTokenizerConfig(source), { jinja: await readChatTemplateFile(source), where: source.label });
}
