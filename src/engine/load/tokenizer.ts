/**
 * Tokenizer and chat template of a model, from its local tokenizer.json and
 * tokenizer_config.json: no hub access, the same in Node, the page and the worker.
 *
 * Built on the two libraries @huggingface/transformers itself uses for this
 * (@huggingface/tokenizers and @huggingface/jinja), imported directly: importing
 * PreTrainedTokenizer from @huggingface/transformers pulls its whole bundle, onnxruntime-web
 * included (~540 KB of JS and a 27 MB wasm asset), into the worker. applyChatTemplate renders
 * the template with the same variables as transformers.js' apply_chat_template (messages,
 * add_generation_prompt, and the special tokens bos_token, eos_token, …).
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { LabError } from '../../errors';
import type { ChatMessage } from '../../backends/types';
import { readJson, type FileSource } from './files';

const SPECIAL_TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;

/** A token in tokenizer_config.json: a string or an AddedToken object { content }. */
function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return null;
}

export interface ApplyChatTemplateOptions {
  addGenerationPrompt?: boolean;
}

export class ChatTokenizer {
  private readonly tok: Tokenizer;
  private readonly template: Template | null;
  private readonly specialTokens: Record<string, string> = {};
  readonly chatTemplate: string | null;
  /** Ids that end a turn: the config's eos token plus any given (config.json eos_token_id). */
  readonly eosTokenIds: number[];
  readonly bosTokenId: number | null;

  constructor(tokenizerJson: unknown, tokenizerConfig: unknown, opts: { eosTokenIds?: number[] } = {}) {
    if (!tokenizerJson || typeof tokenizerJson !== 'object' || !('model' in tokenizerJson)) {
      throw new LabError('invalid-input', 'tokenizer.json has no "model"; it is not a Hugging Face tokenizers file.');
    }
    const cfg = (tokenizerConfig ?? {}) as Record<string, unknown>;
    try {
      this.tok = new Tokenizer(tokenizerJson, cfg);
    } catch (e) {
      throw new LabError('unsupported', `This tokenizer.json could not be loaded (${(e as Error).message}).`, { cause: e });
    }
    for (const key of SPECIAL_TOKEN_KEYS) {
      const v = tokenContent(cfg[key]);
      if (v) this.specialTokens[key] = v;
    }
    let tpl = cfg.chat_template;
    if (Array.isArray(tpl)) {
      // Several named templates: use "default" (as transformers does without tools).
      tpl = (tpl as { name: string; template: string }[]).find((t) => t.name === 'default')?.template ?? null;
    }
    this.chatTemplate = typeof tpl === 'string' ? tpl : null;
    try {
      this.template = this.chatTemplate ? new Template(this.chatTemplate) : null;
    } catch (e) {
      throw new LabError('unsupported', `The model's chat template could not be parsed (${(e as Error).message}).`, { cause: e });
    }
    const eos = this.specialTokens.eos_token ? this.tokenToId(this.specialTokens.eos_token) : undefined;
    this.eosTokenIds = [...new Set([...(eos !== undefined ? [eos] : []), ...(opts.eosTokenIds ?? [])])];
    const bos = this.specialTokens.bos_token ? this.tokenToId(this.specialTokens.bos_token) : undefined;
    this.bosTokenId = bos ?? null;
  }

  /** Reads tokenizer.json and tokenizer_config.json (optional) from a model folder. */
  static async fromSource(source: FileSource, opts: { eosTokenIds?: number[] } = {}): Promise<ChatTokenizer> {
    if (!(await source.exists('tokenizer.json'))) {
      throw new LabError('not-found', `${source.label}: tokenizer.json is missing. SPaR Lab needs the model's tokenizer.json (sentencepiece tokenizer.model alone is not supported).`);
    }
    const json = await readJson(source, 'tokenizer.json');
    const config = (await source.exists('tokenizer_config.json')) ? await readJson(source, 'tokenizer_config.json') : {};
    return new ChatTokenizer(json, config, opts);
  }

  /** Token ids of `text`. Special-token strings in the text ("<|im_start|>") become their ids. */
  encode(text: string, opts: { addSpecialTokens?: boolean } = {}): number[] {
    return this.tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? false }).ids;
  }

  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return ''; // the library refuses an empty list
    return this.tok.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? true });
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }

  get hasChatTemplate(): boolean {
    return this.template !== null;
  }

  /** The conversation as the model's chat template writes it (text, not yet tokenized). */
  applyChatTemplate(messages: readonly ChatMessage[], opts: ApplyChatTemplateOptions = {}): string {
    if (!this.template) {
      throw new LabError('unsupported', 'This model has no chat template (tokenizer_config.json has no "chat_template"); use an instruct/chat model.');
    }
    try {
      return this.template.render({
        messages: messages.map((m) => ({ role: m.role, content: m.content })),
        add_generation_prompt: opts.addGenerationPrompt ?? false,
        ...this.specialTokens,
      });
    } catch (e) {
      throw new LabError('invalid-input', `The chat template refused these messages: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Token ids of a conversation (the template's text, encoded without adding special tokens again). */
  encodeChat(messages: readonly ChatMessage[], opts: ApplyChatTemplateOptions = {}): number[] {
    return this.encode(this.applyChatTemplate(messages, opts));
  }

  /**
   * A prompt and one assistant response, split where the response starts: `prompt` is the
   * conversation with the generation prompt; `response` is what the template writes after it
   * for the assistant turn: the response and the template's end of turn (ChatML
   * "…<|im_end|>\n", Llama 3 "…<|eot_id|>"). These are the tokens LLaMA-Factory and TRL train
   * DPO on, and the ones scoring counts. If the template does not write the conversation as the
   * prompt followed by the turn, the response is encoded alone with the first EOS id appended.
   */
  encodeResponse(messages: readonly ChatMessage[], response: string): { prompt: number[]; response: number[] } {
    const promptText = this.applyChatTemplate(messages, { addGenerationPrompt: true });
    const fullText = this.applyChatTemplate([...messages, { role: 'assistant', content: response }]);
    const prompt = this.encode(promptText);
    if (fullText.startsWith(promptText) && fullText.length > promptText.length) {
      return { prompt, response: this.encode(fullText.slice(promptText.length)) };
    }
    return { prompt, response: [...this.encode(response), ...this.eosTokenIds.slice(0, 1)] };
  }

  /**
   * A multi-turn chat as tokens with a mask of the assistant turns (1) against everything else
   * (0): each assistant turn is what the template writes after the generation prompt (response
   * and end of turn), as in encodeResponse; system and user turns and the template's headers are
   * masked out. Text pieces are tokenized one by one, as LLaMA-Factory does.
   */
  encodeChatTurns(messages: readonly ChatMessage[]): { tokens: number[]; mask: Uint8Array } {
    const tokens: number[] = [];
    const mask: number[] = [];
    const push = (text: string, m: 0 | 1) => {
      const ids = text ? this.encode(text) : [];
      tokens.push(...ids);
      for (let i = 0; i < ids.length; i++) mask.push(m);
    };
    let done = '';
    const unstable = () =>
      new LabError('unsupported', "This model's chat template does not write a conversation as its earlier turns followed by the next one, so the assistant turns cannot be told apart for training.");
    messages.forEach((m, i) => {
      if (m.role !== 'assistant') return;
      const before = this.applyChatTemplate(messages.slice(0, i), { addGenerationPrompt: true });
      const after = this.applyChatTemplate(messages.slice(0, i + 1));
      if (!before.startsWith(done) || !after.startsWith(before)) throw unstable();
      push(before.slice(done.length), 0);
      push(after.slice(before.length), 1);
      done = after;
    });
    const all = this.applyChatTemplate(messages);
    if (!all.startsWith(done)) throw unstable();
    push(all.slice(done.length), 0);
    return { tokens, mask: Uint8Array.from(mask) };
  }
}
