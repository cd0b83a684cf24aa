import { describe, expect, it } from 'vitest';
import { ChatTokenizer } from '../../../../src/engine/load/tokenizer';
import { TINY_CORPUS, tinyTokenizerConfig, tinyTokenizerJson } from '../../../../src/engine/tiny/bpe';

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
