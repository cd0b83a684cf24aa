/**
 * Every chat template in ../shared/real-world renders byte for byte as transformers renders it.
 *
 * The expected text comes from test/fixtures/chat-templates/render_expected.py, which runs each
 * template through Python's jinja2 in transformers' apply_chat_template environment and keeps
 * only the output (or the error the template raises). The templates themselves are read here in
 * place; the fixture names them by their path under real-world/.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, it } from 'vitest';
import { ChatTemplate } from '../../src/engine/load/chat-template';
import { ChatTokenizer } from '../../src/engine/load/tokenizer';
import { loadChatTemplate, specialTokenVariables, type TokenizerConfig } from '../../src/engine/load/tokenizer-config';
import type { ChatMessage } from '../../src/backends/types';
import { LabError } from '../../src/errors';
import { REAL_WORLD, describeRealWorld, realJson, realSource, realText } from '../helpers/real-world';

interface Rendered {
  text?: string;
  error?: string;
}
interface Expected {
  now: string;
  conversations: Record<string, { messages: ChatMessage[]; tools: unknown[] | null }>;
  templates: Record<string, { folder: string | null; selected: boolean; special_tokens: Record<string, unknown>; renders: Record<string, Rendered> }>;
}
const expected = JSON.parse(readFileSync(join(__dirname, '../fixtures/chat-templates/expected.json'), 'utf8')) as Expected;

/** A template's source, read in place: a .jinja file, or tokenizer_config.json's chat_template ("path#name" for one of a list). */
function templateSource(key: string): string {
  const [path, name] = key.split('#');
  if (path.endsWith('.jinja')) return realText(path);
  const t = (realJson(path) as TokenizerConfig).chat_template;
  return typeof t === 'string' ? t : (t as { name: string; template: string }[]).find((x) => x.name === name)!.template;
}

/** What render_expected.py looks for: every *.jinja and every tokenizer_config.json with a chat_template. */
function templatesOnDisk(): string[] {
  const keys: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.jinja')) keys.push(relative(REAL_WORLD, path));
      else if (entry.name === 'tokenizer_config.json') {
        const t = (JSON.parse(readFileSync(path, 'utf8')) as TokenizerConfig).chat_template;
        if (typeof t === 'string') keys.push(relative(REAL_WORLD, path));
        else if (Array.isArray(t)) for (const x of t as { name: string }[]) keys.push(`${relative(REAL_WORLD, path)}#${x.name}`);
      }
    }
  };
  walk(REAL_WORLD);
  return keys.sort();
}

const cases = Object.entries(expected.templates).flatMap(([key, t]) => Object.entries(t.renders).map(([render, want]) => ({ key, render, want, tokens: t.special_tokens })));

describeRealWorld('real chat templates render as transformers renders them', () => {
  it('the fixture covers every template in the real-world folder (else rerun render_expected.py)', () => {
    expect(Object.keys(expected.templates).sort()).toEqual(templatesOnDisk());
  });

  it.each(cases)('$key: $render', ({ key, render, want, tokens }) => {
    const [conversation, gen] = render.split('+');
    const { messages, tools } = expected.conversations[conversation];
    const run = () => new ChatTemplate(templateSource(key)).render({ messages, tools, documents: null, add_generation_prompt: gen === 'gen', ...tokens }, { date: expected.now });
    if (want.text !== undefined) expect(run()).toBe(want.text);
    else expect(run).toThrow(LabError);
  });

  it("refuses what Gemma-2's template refuses, with the template's own words", () => {
    const key = 'chat-templates/llama.cpp-models-templates/google-gemma-2-2b-it.jinja';
    expect(expected.templates[key].renders['system-user'].error).toBe('TemplateError: System role not supported');
    const t = new ChatTemplate(realText(key));
    const { messages } = expected.conversations['system-user'];
    expect(() => t.render({ messages, add_generation_prompt: true, bos_token: '<bos>' })).toThrow('The chat template refused this conversation: System role not supported');
  });
});

const folders = Object.entries(expected.templates).filter(([, t]) => t.folder !== null && t.selected);
const plain = Object.keys(expected.conversations).filter((c) => expected.conversations[c].tools === null);

describeRealWorld('a model folder renders its chat template as transformers does', () => {
  it.each(folders)('%s: the template and special tokens transformers would use', async (key, t) => {
    const template = await loadChatTemplate(realSource(t.folder!));
    expect(template?.source).toBe(templateSource(key));
    expect(template?.variables).toEqual(specialTokenVariables(realJson(t.folder!, 'tokenizer_config.json') as TokenizerConfig));
    expect(template?.variables).toEqual(t.special_tokens);
    for (const conversation of plain) {
      for (const gen of [false, true]) {
        const want = t.renders[`${conversation}${gen ? '+gen' : ''}`];
        const run = () => template!.apply(expected.conversations[conversation].messages, { addGenerationPrompt: gen, date: expected.now });
        if (want.text !== undefined) expect(run()).toBe(want.text);
        else expect(run).toThrow(LabError);
      }
    }
  });

  it.each(['hf/smollm2-135m-arch-tf4.47.0-v4-tokenizer', 'peft/smollm2-135m-instruct-lora-r8-qv-peft0.19.1-COMPLETE', 'mlc/readerlm-v2-qwen2-q4f16_1'])(
    '%s: ChatTokenizer.applyChatTemplate gives the same text',
    async (folder) => {
      const [, t] = folders.find(([, f]) => f.folder === folder)!;
      const tok = await ChatTokenizer.fromSource(realSource(folder));
      const { messages } = expected.conversations['multi-turn'];
      expect(tok.applyChatTemplate(messages, { addGenerationPrompt: true, date: expected.now })).toBe(t.renders['multi-turn+gen'].text);
      expect(tok.applyChatTemplate(messages)).toBe(t.renders['multi-turn'].text);
    },
    120_000, // the Qwen2 tokenizer is built from 151k merges
  );

  it('reads the v5 layout (chat_template.jinja beside a tokenizer_config.json without one) with no tokenizer files at all', async () => {
    const folder = realSource('hf/qwen2.5-0.5b-merged-transformers-v5.13.1');
    const template = await loadChatTemplate(folder);
    expect(template?.template.label).toMatch(/qwen2\.5-0\.5b-merged-transformers-v5\.13\.1: chat_template\.jinja\)$/);
    await expect(ChatTokenizer.fromSource(folder)).rejects.toThrow(/tokenizer\.json is missing, and there is no vocab\.json \+ merges\.txt/);
  });
});
