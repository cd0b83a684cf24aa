import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkDate, parseMessages } from '../../../src/cli/render';
import type { ChatMessage } from '../../../src/backends/types';
import { memorySource } from '../../../src/engine/load/files';
import { ChatTokenizer } from '../../../src/engine/load/tokenizer';
import { tinyTokenizerConfig, tinyTokenizerJson } from '../../../src/engine/tiny/bpe';
import { tinyHfFiles } from '../../../src/engine/tiny/tiny';
import { cli, removeTempDirs, tempDir, type CliError } from '../../helpers/cli';

afterAll(removeTempDirs);

const encode = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));
const CONVERSATION: ChatMessage[] = [
  { role: 'system', content: 'Answer in one word.' },
  { role: 'user', content: 'Colour of the sea?\nBe "exact".' },
  { role: 'assistant', content: 'Blue' },
  { role: 'user', content: 'And the sky?' },
];

async function messagesFile(x: unknown): Promise<string> {
  const dir = await tempDir();
  const path = join(dir, 'messages.json');
  await writeFile(path, typeof x === 'string' ? x : JSON.stringify(x));
  return path;
}

describe('render', () => {
  it("prints exactly what the chat template writes, with or without the generation prompt, and nothing more", async () => {
    const files = tinyHfFiles();
    const dir = await tempDir(files);
    const tok = await ChatTokenizer.fromSource(memorySource(files));
    const path = await messagesFile(CONVERSATION);
    const withPrompt = await cli('render', '--model', dir, '--messages', path);
    expect(withPrompt.code).toBe(0);
    expect(withPrompt.stdout).toBe(tok.applyChatTemplate(CONVERSATION, { addGenerationPrompt: true }));
    expect(withPrompt.stdout.endsWith('<|im_start|>assistant\n')).toBe(true);
    const without = await cli('render', '--model', dir, '--messages', await messagesFile({ messages: CONVERSATION }), '--no-generation-prompt');
    expect(without.stdout).toBe(tok.applyChatTemplate(CONVERSATION, { addGenerationPrompt: false }));
    expect(without.stdout.endsWith('And the sky?<|im_end|>\n')).toBe(true);
  });

  it('fixes the date strftime_now gives the template with --date', async () => {
    const config = { ...tinyTokenizerConfig(), chat_template: "{{ strftime_now('%d %b %Y') }}|{% for m in messages %}{{ m.content }}{% endfor %}" };
    const dir = await tempDir({ 'tokenizer.json': encode(tinyTokenizerJson(331)), 'tokenizer_config.json': encode(config) });
    const run = await cli('render', '--model', dir, '--messages', await messagesFile([{ role: 'user', content: 'hi' }]), '--date', '2024-07-26');
    expect(run.stdout).toBe('26 Jul 2024|hi');
  });

  it('refuses a bad messages file or date with exit 2, naming the file, the message and the field', async () => {
    const dir = await tempDir(tinyHfFiles());
    const tool = await messagesFile([{ role: 'user', content: 'hi' }, { role: 'tool', content: '42' }]);
    const run = await cli('render', '--model', dir, '--messages', tool);
    expect(run.code).toBe(2);
    expect(run.json<CliError>().error).toEqual({ kind: 'invalid-input', message: `${tool}: messages[1].role is "tool"; SPaR Lab renders system, user, assistant messages.` });
    expect(() => parseMessages([{ role: 'user' }], 'm.json')).toThrow('m.json: messages[0].content is missing; it must be a string.');
    expect(() => parseMessages({ conversation: [] }, 'm.json')).toThrow(/m\.json: expected a JSON list of \{"role", "content"\} messages/);
    expect(() => parseMessages([], 'm.json')).toThrow('m.json: the conversation has no messages.');
    const notJson = await cli('render', '--model', dir, '--messages', await messagesFile('[{"role": "user",'));
    expect(notJson.json<CliError>().error.message).toMatch(/messages\.json is not valid JSON/);
    expect((await cli('render', '--model', dir, '--messages', join(dir, 'nope.json'))).json<CliError>().error).toMatchObject({ kind: 'not-found', message: expect.stringContaining('nope.json') });
    const base = await tempDir({ 'tokenizer_config.json': encode({ ...tinyTokenizerConfig(), chat_template: undefined }) });
    const hi = await messagesFile([{ role: 'user', content: 'hi' }]);
    expect((await cli('render', '--model', base, '--messages', hi)).json<CliError>().error).toMatchObject({ kind: 'unsupported', message: expect.stringContaining('no "chat_template"') });
    expect((await cli('render', '--model', join(base, 'nope'), '--messages', hi)).json<CliError>().error).toMatchObject({ kind: 'not-found', message: expect.stringContaining('neither tokenizer_config.json nor chat_template.jinja') });
    expect(() => checkDate('2024-02-30')).toThrow('render: --date must be a calendar date as YYYY-MM-DD (e.g. 2024-07-26), got "2024-02-30".');
    expect(() => checkDate('26/07/2024')).toThrow(/YYYY-MM-DD/);
    expect(checkDate('2024-02-29')).toBe('2024-02-29');
  });
});

describe('tokenize', () => {
  it('prints the ids as a JSON list, special tokens added as the tokenizer adds them or not at all; needs only the tokenizer files', async () => {
    const files = tinyHfFiles();
    const dir = await tempDir({ 'tokenizer.json': files['tokenizer.json'], 'tokenizer_config.json': files['tokenizer_config.json'] });
    const tok = await ChatTokenizer.fromSource(memorySource(files));
    const text = '<|im_start|>user\nthe sea is blue<|im_end|>';
    const run = await cli('tokenize', '--model', dir, '--text', text);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(JSON.stringify(tok.encode(text, { addSpecialTokens: true })) + '\n');
    expect(JSON.parse((await cli('tokenize', '--model', dir, '--text', text, '--no-special')).stdout)).toEqual(tok.encode(text, { addSpecialTokens: false }));
    expect((await cli('tokenize', '--model', dir, '--text', '')).stdout).toBe(JSON.stringify(tok.encode('', { addSpecialTokens: true })) + '\n');
    const none = await cli('tokenize', '--model', await tempDir(), '--text', 'x');
    expect(none.code).toBe(2);
    expect(none.json<CliError>().error).toMatchObject({ kind: 'not-found', message: expect.stringContaining('tokenizer.json is missing') });
  });
});
