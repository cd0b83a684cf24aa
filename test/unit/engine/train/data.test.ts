/** Training data: the JSONL shapes we export and TRL / LLaMA-Factory read, and the token masks. */
import { describe, expect, it } from 'vitest';
import { ChatTokenizer } from '../../../../src/engine/load/tokenizer';
import { chatsFromRecords, encodeChat, encodePair, pairsFromRecords, parseChatsJsonl, parsePairsJsonl } from '../../../../src/engine/train/data';
import { pairsToLlamaFactoryJsonl, pairsToTrlJsonl, rftToJsonl } from '../../../../src/spar/export';
import { tinyTokenizerConfig, tinyTokenizerJson } from '../../../../src/engine/tiny/bpe';

const tok = new ChatTokenizer(tinyTokenizerJson(331), tinyTokenizerConfig());
const pair = { prompt: 'Is the sky blue?', chosen: 'Yes, it is.', rejected: 'No.', excluded: false };

describe('pairs JSONL', () => {
  it('reads our TRL and LLaMA-Factory exports and TRL standard rows to the same pairs', () => {
    const expected = { prompt: [{ role: 'user', content: pair.prompt }], chosen: pair.chosen, rejected: pair.rejected };
    expect(parsePairsJsonl(pairsToTrlJsonl([pair]))).toEqual({ records: [expected], errors: [] });
    expect(parsePairsJsonl(pairsToLlamaFactoryJsonl([pair]))).toEqual({ records: [expected], errors: [] });
    expect(parsePairsJsonl(JSON.stringify({ prompt: pair.prompt, chosen: pair.chosen, rejected: pair.rejected })).records).toEqual([expected]);
  });

  it('keeps the good lines and names the bad ones', () => {
    const text = [
      pairsToTrlJsonl([pair]).trim(),
      '{"prompt": "x", "chosen": "y"}',
      'nope',
      '',
      JSON.stringify({ messages: [{ role: 'user', content: 'a' }], chosen: { role: 'user', content: 'b' }, rejected: { role: 'assistant', content: 'c' } }),
      JSON.stringify({ prompt: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }], chosen: 'c', rejected: 'd' }),
    ].join('\n');
    const { records, errors } = parsePairsJsonl(text);
    expect(records).toHaveLength(1);
    expect(errors.map((e) => e.line)).toEqual([2, 3, 5, 6]);
    expect(errors[0].message).toMatch(/missing "chosen" or "rejected"/);
    expect(errors[1].message).toMatch(/not valid JSON/);
    expect(errors[2].message).toMatch(/must be an assistant message/);
    expect(errors[3].message).toMatch(/ends with an assistant message/);
  });

  it('store records: excluded ones are not trained on', () => {
    expect(pairsFromRecords([pair, { ...pair, chosen: 'x', excluded: true }])).toEqual(parsePairsJsonl(pairsToTrlJsonl([pair])).records);
    const messages = [{ role: 'user' as const, content: 'Hi' }, { role: 'assistant' as const, content: 'Hello' }];
    expect(chatsFromRecords([{ messages, excluded: false }, { messages, excluded: true }])).toEqual([messages]);
  });

  it('RFT chats JSONL', () => {
    const messages = [{ role: 'user' as const, content: 'Hi' }, { role: 'assistant' as const, content: 'Hello' }];
    expect(parseChatsJsonl(rftToJsonl([{ messages }])).records).toEqual([messages]);
    expect(parseChatsJsonl('{"messages": [{"role": "user", "content": "Hi"}]}').errors[0].message).toMatch(/no assistant turn/);
  });
});

describe('token sequences and masks', () => {
  it('a pair: the prompt with the generation prompt is masked; the response and its end of turn are trained', () => {
    const [p] = parsePairsJsonl(pairsToTrlJsonl([pair])).records;
    const e = encodePair(tok, p);
    const prompt = tok.encodeChat(p.prompt, { addGenerationPrompt: true });
    expect(e.chosen.tokens.slice(0, prompt.length)).toEqual(prompt);
    const trained = e.chosen.tokens.filter((_, i) => e.chosen.mask[i]);
    expect(tok.decode(trained, { skipSpecialTokens: false })).toBe('Yes, it is.<|im_end|>\n');
    expect([...e.chosen.mask.slice(0, prompt.length)].every((m) => m === 0)).toBe(true);
    expect(e.rejected.tokens.slice(0, prompt.length)).toEqual(prompt);
    expect(tokenText(e.rejected)).toBe('No.<|im_end|>\n');
    // The same split as scoring (backends/cpu.ts): prompt + response.
    const { prompt: sp, response } = tok.encodeResponse(p.prompt, pair.chosen);
    expect([...sp, ...response]).toEqual(e.chosen.tokens);
  });

  it('a multi-turn chat: every assistant turn (with its end of turn) is trained, nothing else', () => {
    const chat = [
      { role: 'system' as const, content: 'Be brief.' },
      { role: 'user' as const, content: 'Hi' },
      { role: 'assistant' as const, content: 'Hello!' },
      { role: 'user' as const, content: 'Say yes.' },
      { role: 'assistant' as const, content: 'Yes.' },
    ];
    const s = encodeChat(tok, chat);
    expect(tok.decode(s.tokens, { skipSpecialTokens: false })).toBe(tok.applyChatTemplate(chat));
    expect(tokenText(s)).toBe('Hello!<|im_end|>\nYes.<|im_end|>\n');
    expect(s.mask[0]).toBe(0);
  });

  it('refuses a template that rewrites earlier turns', () => {
    const weird = new ChatTokenizer(tinyTokenizerJson(331), {
      ...tinyTokenizerConfig(),
      chat_template: "{% for m in messages %}{{ m['content'] }}{% endfor %}{% if add_generation_prompt %}>>{% else %}!{% endif %}",
    });
    expect(() => encodeChat(weird, [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }])).toThrow(/cannot be told apart/);
    // A pair falls back to the response plus the end-of-turn token.
    const e = encodePair(weird, { prompt: [{ role: 'user', content: 'a' }], chosen: 'b', rejected: 'c' });
    expect(e.chosen.tokens.slice(-1)).toEqual([2]);
  });
});

function tokenText(s: { tokens: readonly number[]; mask: Uint8Array }): string {
  return tok.decode(s.tokens.filter((_, i) => s.mask[i]), { skipSpecialTokens: false });
}
