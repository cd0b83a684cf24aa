/**
 * Tokenizer and chat template of a model, from its local files: no hub access, the same in Node,
 * the page and the worker.
 *
 * The vocabulary comes from tokenizer.json, or, for a folder that ships only vocab.json +
 * merges.txt, from the tokenizer.json transformers would convert them into (slow-tokenizer.ts).
 * tokenizer_config.json may be in transformers' v4 or v5 layout, the template in it or in
 * chat_template.jinja (tokenizer-config.ts). Templates render as transformers renders them
 * (chat-template.ts).
 *
 * Built on @huggingface/tokenizers and @huggingface/jinja, the libraries
 * @huggingface/transformers itself uses, imported directly: importing PreTrainedTokenizer from
 * @huggingface/transformers pulls its whole bundle, onnxruntime-web included (~540 KB of JS and a
 * 27 MB wasm asset), into the worker.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { LabError } from '../../errors';
import type { ChatMessage } from '../../backends/types';
import { readJson, readText, type FileSource } from './files';
import { tokenizerJsonFromSlowFiles } from './slow-tokenizer';
import {
  ModelChatTemplate,
  allSpecialTokens,
  namedSpecialTokens,
  readChatTemplateFile,
  readTokenizerConfig,
  type ApplyChatTemplateOptions,
  type TokenizerConfig,
} from './tokenizer-config';

export type { ApplyChatTemplateOptions } from './tokenizer-config';

export interface ChatTokenizerOptions {
  /** More ids that end a turn (config.json's eos_token_id). */
  eosTokenIds?: number[];
  /** The folder's chat_template.jinja, which wins over tokenizer_config.json's chat_template. */
  chatTemplateFile?: string | null;
  /** Names the model in messages ("hub HuggingFaceTB/SmolLM2-135M-Instruct"). */
  where?: string;
}

/**
 * tokenizer.json of a folder: the file itself, or built from vocab.json + merges.txt (+
 * added_tokens.json) as transformers converts them for the config's tokenizer_class.
 */
export async function readTokenizerJson(source: FileSource, config: TokenizerConfig): Promise<unknown> {
  if (await source.exists('tokenizer.json')) return readJson(source, 'tokenizer.json');
  if ((await source.exists('vocab.json')) && (await source.exists('merges.txt'))) {
    return tokenizerJsonFromSlowFiles({
      vocab: await readJson(source, 'vocab.json'),
      merges: await readText(source, 'merges.txt'),
      config,
      addedTokens: (await source.exists('added_tokens.json')) ? await readJson(source, 'added_tokens.json') : undefined,
      where: source.label,
    });
  }
  throw new LabError(
    'not-found',
    `${source.label}: tokenizer.json is missing, and there is no vocab.json + merges.txt to build it from. SPaR Lab needs the model's tokenizer.json (a sentencepiece tokenizer.model alone is not supported).`,
  );
}

export class ChatTokenizer {
  private readonly tok: Tokenizer;
  private readonly template: ModelChatTemplate | null;
  /** The chat template's source, or null. */
  readonly chatTemplate: string | null;
  /** Ids that end a turn: the config's eos token plus any given (config.json eos_token_id). */
  readonly eosTokenIds: number[];
  readonly bosTokenId: number | null;

  constructor(tokenizerJson: unknown, tokenizerConfig: unknown, opts: ChatTokenizerOptions = {}) {
    if (!tokenizerJson || typeof tokenizerJson !== 'object' || !('model' in tokenizerJson)) {
      throw new LabError('invalid-input', 'tokenizer.json has no "model"; it is not a Hugging Face tokenizers file.');
    }
    const cfg = (tokenizerConfig ?? {}) as TokenizerConfig;
    try {
      // The library reads additional_special_tokens (as strings) to skip them when decoding;
      // a v5 config calls them extra_special_tokens, a v4 one may hold AddedToken objects.
      this.tok = new Tokenizer(tokenizerJson, { ...cfg, additional_special_tokens: allSpecialTokens(cfg) });
    } catch (e) {
      throw new LabError('unsupported', `This tokenizer.json could not be loaded (${(e as Error).message}).`, { cause: e });
    }
    this.template = ModelChatTemplate.fromConfig(cfg, { jinja: opts.chatTemplateFile, where: opts.where });
    this.chatTemplate = this.template?.source ?? null;
    const named = namedSpecialTokens(cfg);
    const eos = named.eos_token !== undefined ? this.tokenToId(named.eos_token) : undefined;
    this.eosTokenIds = [...new Set([...(eos !== undefined ? [eos] : []), ...(opts.eosTokenIds ?? [])])];
    this.bosTokenId = (named.bos_token !== undefined ? this.tokenToId(named.bos_token) : undefined) ?? null;
  }

  /**
   * Reads a model folder: tokenizer.json (or vocab.json + merges.txt), tokenizer_config.json and
   * chat_template.jinja (both optional).
   */
  static async fromSource(source: FileSource, opts: { eosTokenIds?: number[] } = {}): Promise<ChatTokenizer> {
    const config = await readTokenizerConfig(source);
    const json = await readTokenizerJson(source, config);
    return new ChatTokenizer(json, config, { ...opts, chatTemplateFile: await readChatTemplateFile(source), where: source.label });
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

  /** The conversation as the model's chat template writes it (text, not yet tokenized), as transformers' apply_chat_template does. */
  applyChatTemplate(messages: readonly ChatMessage[], opts: ApplyChatTemplateOptions = {}): string {
    if (!this.template) {
      throw new LabError('unsupported', 'This model has no chat template (no chat_template.jinja, and tokenizer_config.json has no "chat_template"); use an instruct/chat model.');
    }
    return this.template.apply(messages, opts);
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
