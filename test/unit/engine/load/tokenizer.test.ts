import { describe, expect, it } from 'vitest';
import { memorySource } from '../../../../src/engine/load/files';
import { ChatTokenizer } from '../../../../src/engine/load/tokenizer';
import { loadChatTemplate, specialTokenVariables } from '../../../../src/engine/load/tokenizer-config';
import { TINY_CORPUS, tinySlowTokenizerFiles, tinyTokenizerConfig, tinyTokenizerJson } from '../../../../src/engine/tiny/bpe';

const tok = new ChatTokenizer(tinyTokenizerJson(331), tinyTokenizerConfig());

describe('ChatTokenizer (tiny byte-level BPE)', () => {
  it('round trips any text, including non-ASCII, and uses its merges', () => {
    for (const text of ['Hello world', 'naïve café 🙂 日本語\n\ttabs  and   spaces', '', 'Is the response following the instruction?']) {
      const ids = tok.encode(text);
      expect(ids.every((i) => i >= 0 && i < 331)).toBe(true);
      expect(tok.decode(ids)).toBe(text);
    }
    const line = TINY_CORPUS.split('\n')[2];
    expect(tok.encode(line).length).toBeLessThan(new TextEncoder().encode(line).length / 2);
  });

  it('recognizes special tokens in text and skips them when decoding', () => {
    const ids = tok.encode('<|im_start|>user\nhi<|im_end|>');
    expect(ids[0]).toBe(1);
    expect(ids[ids.length - 1]).toBe(2);
    expect(tok.decode(ids)).toBe('user\nhi');
    expect(tok.decode(ids, { skipSpecialTokens: false })).toBe('<|im_start|>user\nhi<|im_end|>');
    expect(tok.eosTokenIds).toEqual([2]);
    expect(tok.bosTokenId).toBe(0);
    expect(tok.tokenToId('<|im_end|>')).toBe(2);
  });

  it('applies the chat template with and without the generation prompt', () => {
    const messages = [
      { role: 'system' as const, content: 'Be brief.' },
      { role: 'user' as const, content: 'Write a haiku.' },
    ];
    expect(tok.applyChatTemplate(messages)).toBe('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWrite a haiku.<|im_end|>\n');
    const withPrompt = tok.applyChatTemplate(messages, { addGenerationPrompt: true });
    expect(withPrompt.endsWith('<|im_end|>\n<|im_start|>assistant\n')).toBe(true);
    expect(tok.encodeChat(messages, { addGenerationPrompt: true })).toEqual(tok.encode(withPrompt));
  });

  it('passes special tokens to the template like transformers.js, and merges eos ids from config.json', () => {
    const cfg = {
      ...tinyTokenizerConfig(),
      eos_token: { __type: 'AddedToken', content: '<|im_end|>' },
      chat_template: '{{ bos_token }}{% for m in messages %}{{ m.role }}: {{ m.content }}{{ eos_token }}{% endfor %}',
    };
    const t = new ChatTokenizer(tinyTokenizerJson(331), cfg, { eosTokenIds: [0, 2] });
    expect(t.applyChatTemplate([{ role: 'user', content: 'x' }])).toBe('<|endoftext|>user: x<|im_end|>');
    expect(t.eosTokenIds).toEqual([2, 0]);
  });

  it('explains a missing chat template or a broken tokenizer.json', () => {
    const noTemplate = new ChatTokenizer(tinyTokenizerJson(331), { ...tinyTokenizerConfig(), chat_template: undefined });
    expect(noTemplate.hasChatTemplate).toBe(false);
    expect(() => noTemplate.applyChatTemplate([{ role: 'user', content: 'x' }])).toThrow(/no chat template/);
    expect(() => new ChatTokenizer({ version: '1.0' }, {})).toThrow(/not a Hugging Face tokenizers file/);
  });
});

describe('tokenizer_config.json layouts and chat_template.jinja', () => {
  const enc = new TextEncoder();
  const folder = (files: Record<string, string | object>) =>
    memorySource(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, enc.encode(typeof v === 'string' ? v : JSON.stringify(v))])), 'test model');
  const chat = [{ role: 'user' as const, content: 'hi' }];

  it('reads chat_template.jinja beside tokenizer_config.json and prefers it, as transformers does (v5)', async () => {
    const t = await ChatTokenizer.fromSource(
      folder({ 'tokenizer.json': tinyTokenizerJson(331), 'tokenizer_config.json': tinyTokenizerConfig(), 'chat_template.jinja': '{% for m in messages %}[{{ m.content }}]{% endfor %}\n' }),
    );
    expect(t.applyChatTemplate(chat)).toBe('[hi]');
    expect(t.chatTemplate).toContain('[{{ m.content }}]');
    const onlyJinja = await loadChatTemplate(folder({ 'tokenizer_config.json': { eos_token: '</s>' }, 'chat_template.jinja': '{{ eos_token }}' }));
    expect(onlyJinja?.apply(chat)).toBe('</s>');
  });

  it('picks the template named "default" from a list, and names the templates when there is none', () => {
    const cfg = (names: string[]) => ({ ...tinyTokenizerConfig(), chat_template: names.map((name) => ({ name, template: `${name}:{{ messages[0].content }}` })) });
    expect(new ChatTokenizer(tinyTokenizerJson(331), cfg(['tool_use', 'default'])).applyChatTemplate(chat)).toBe('default:hi');
    expect(() => new ChatTokenizer(tinyTokenizerJson(331), cfg(['tool_use', 'rag']))).toThrow(/\("tool_use", "rag"\) but none named "default"/);
  });

  it('gives the template the special tokens of either layout: v4 strings, AddedToken objects, additional_special_tokens; v5 extra_special_tokens', () => {
    const v4 = { eos_token: { __type: 'AddedToken', content: '<|im_end|>' }, additional_special_tokens: [{ content: '<|im_start|>' }, '<|im_end|>'] };
    expect(specialTokenVariables(v4)).toEqual({ eos_token: '<|im_end|>', additional_special_tokens: ['<|im_start|>', '<|im_end|>'] });
    const v5list = { bos_token: null, eos_token: '<|endoftext|>', extra_special_tokens: ['<|im_start|>', '<|im_end|>'] };
    expect(specialTokenVariables(v5list)).toEqual({ eos_token: '<|endoftext|>' });
    const v5dict = { eos_token: '</s>', extra_special_tokens: { image_token: '<image>' } };
    expect(specialTokenVariables(v5dict)).toEqual({ eos_token: '</s>', image_token: '<image>' });
    const t = new ChatTokenizer(tinyTokenizerJson(331), { ...v5dict, chat_template: '{{ image_token }}{{ eos_token }}' });
    expect(t.applyChatTemplate(chat)).toBe('<image></s>');
  });

  it('skips the special tokens of a v5 extra_special_tokens list when decoding', () => {
    const json = tinyTokenizerJson(331) as { added_tokens: { special: boolean }[] };
    json.added_tokens.forEach((t) => (t.special = false)); // only the config says they are special
    const t = new ChatTokenizer(json, { extra_special_tokens: ['<|im_start|>', '<|im_end|>'] });
    expect(t.decode(t.encode('<|im_start|>user\nhi<|im_end|>'))).toBe('user\nhi');
  });

  it('fixes the date strftime_now sees, with the call shape the render CLI uses', () => {
    const t = new ChatTokenizer(tinyTokenizerJson(331), { ...tinyTokenizerConfig(), chat_template: 'Today Date: {{ strftime_now("%d %b %Y") }}{{ "!" if add_generation_prompt }}' });
    expect(t.applyChatTemplate(chat, { addGenerationPrompt: true, date: '2024-09-05' })).toBe('Today Date: 05 Sep 2024!');
    expect(t.applyChatTemplate(chat, { addGenerationPrompt: false, date: new Date(2024, 8, 5) })).toBe('Today Date: 05 Sep 2024');
  });

  it('says which template refused a conversation and why', () => {
    const t = new ChatTokenizer(tinyTokenizerJson(331), { ...tinyTokenizerConfig(), chat_template: "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}" }, { where: 'gemma-2' });
    expect(() => t.applyChatTemplate([{ role: 'system', content: 'x' }])).toThrow('The chat template (gemma-2: tokenizer_config.json "chat_template") refused this conversation: System role not supported');
  });
});

describe('a folder with only the slow tokenizer files (vocab.json + merges.txt)', () => {
  const enc = new TextEncoder();
  const texts = ['Hello world', 'naïve café 🙂 日本語\n\ttabs  and   spaces', "It's 123 o'clock, isn't it?", '<|im_start|>user\nWrite a poem.<|im_end|>\n'];
  const slowFolder = (config: Record<string, unknown>, extra: Record<string, string> = {}) =>
    memorySource(Object.fromEntries(Object.entries({ ...tinySlowTokenizerFiles(331), 'tokenizer_config.json': JSON.stringify(config), ...extra }).map(([k, v]) => [k, enc.encode(v)])), 'slow model');

  it('loads as GPT2Tokenizer and gives the ids of its tokenizer.json', async () => {
    const slow = await ChatTokenizer.fromSource(slowFolder(tinyTokenizerConfig()));
    for (const text of texts) {
      expect(slow.encode(text)).toEqual(tok.encode(text));
      expect(slow.decode(slow.encode(text), { skipSpecialTokens: false })).toBe(text);
    }
    expect(slow.eosTokenIds).toEqual([2]);
    expect(slow.applyChatTemplate([{ role: 'user', content: 'x' }], { addGenerationPrompt: true })).toBe('<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n');
  });

  it('adds the BOS token for add_bos_token, as GPT2Converter does', async () => {
    const slow = await ChatTokenizer.fromSource(slowFolder({ ...tinyTokenizerConfig(), add_bos_token: true }));
    expect(slow.encode('hi', { addSpecialTokens: true })).toEqual([0, ...tok.encode('hi')]);
  });

  it('as Qwen2Tokenizer, normalizes to NFC and splits digits one by one', async () => {
    const qwen = await ChatTokenizer.fromSource(slowFolder({ ...tinyTokenizerConfig(), tokenizer_class: 'Qwen2Tokenizer' }));
    expect(qwen.encode('cafe\u0301')).toEqual(qwen.encode('café'));
    expect(tok.encode('cafe\u0301')).not.toEqual(tok.encode('café'));
    expect(qwen.encode('123').map((id) => qwen.idToToken(id))).toEqual(['1', '2', '3']);
  });

  it('takes special tokens from added_tokens.json when the config has no added_tokens_decoder', async () => {
    const { added_tokens_decoder: _, ...legacy } = tinyTokenizerConfig();
    const vocab = JSON.parse(tinySlowTokenizerFiles(331)['vocab.json']) as Record<string, number>;
    const special = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
    for (const s of special) delete vocab[s];
    const slow = await ChatTokenizer.fromSource(
      slowFolder({ ...legacy, additional_special_tokens: special }, { 'vocab.json': JSON.stringify(vocab), 'added_tokens.json': JSON.stringify(Object.fromEntries(special.map((s, i) => [s, i]))) }),
    );
    expect(slow.encode('<|im_start|>hi<|im_end|>')).toEqual(tok.encode('<|im_start|>hi<|im_end|>'));
    expect(slow.decode(slow.encode('<|im_start|>hi<|im_end|>'))).toBe('hi');
  });

  it('explains what is missing or unsupported', async () => {
    await expect(ChatTokenizer.fromSource(memorySource({}, 'empty folder'))).rejects.toThrow(/empty folder: tokenizer.json is missing, and there is no vocab.json \+ merges.txt/);
    await expect(ChatTokenizer.fromSource(slowFolder({ tokenizer_class: 'LlamaTokenizer' }))).rejects.toThrow(/"LlamaTokenizer": SPaR Lab builds a tokenizer from vocab.json \+ merges.txt only for Qwen2Tokenizer/);
  });
});
