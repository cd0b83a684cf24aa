import { describe, expect, it } from 'vitest';
import { convTemplateOf, labelLogprobs, loadWebLlmReadout, readoutLoaderFor, renderWebLlmPrompt, type ConvTemplate, type TopLogprob } from '../../../src/backends/webllm-readout';
import { memorySource } from '../../../src/engine/load/files';
import { tinyMlcFiles } from '../../../src/engine/tiny/tiny';
import { LabError } from '../../../src/errors';

// Conversation templates as mlc-llm writes them into mlc-chat-config.json.
const chatml: ConvTemplate = {
  system_template: '<|im_start|>system\n{system_message}<|im_end|>\n',
  system_message: 'You are a helpful AI assistant named SmolLM, trained by Hugging Face',
  roles: { user: '<|im_start|>user', assistant: '<|im_start|>assistant' },
  seps: ['<|im_end|>\n'],
  role_content_sep: '\n',
  role_empty_sep: '\n',
  stop_str: ['<|im_end|>'],
  stop_token_ids: [2],
};
const llama3: ConvTemplate = {
  system_template: '<|start_header_id|>system<|end_header_id|>\n\n{system_message}<|eot_id|>',
  system_message: 'You are a helpful, respectful and honest assistant.',
  roles: { user: '<|start_header_id|>user', assistant: '<|start_header_id|>assistant' },
  seps: ['<|eot_id|>'],
  role_content_sep: '<|end_header_id|>\n\n',
  role_empty_sep: '<|end_header_id|>\n\n',
  stop_str: [],
  system_prefix_token_ids: [128000],
  stop_token_ids: [128001, 128009],
};
const judge = [
  { role: 'user' as const, content: 'Judge this.' },
  { role: 'assistant' as const, content: 'Verdict: No' },
  { role: 'user' as const, content: 'Refine it.' },
];

describe('web-llm prompt as its chat writes it', () => {
  it('chatml: system prompt, turns with separators, assistant header', () => {
    expect(renderWebLlmPrompt(chatml, judge)).toBe(
      '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' +
        '<|im_start|>user\nJudge this.<|im_end|>\n<|im_start|>assistant\nVerdict: No<|im_end|>\n<|im_start|>user\nRefine it.<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('llama-3: the prefix tokens first, a system message overrides the default', () => {
    const text = renderWebLlmPrompt(llama3, [{ role: 'system', content: 'Be brief.' }, judge[0]], '<|begin_of_text|>');
    expect(text).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nJudge this.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it('opens the reply with an empty thinking block when thinking is off, as web-llm does', () => {
    expect(renderWebLlmPrompt(chatml, judge.slice(0, 1), '', { emptyThinking: true }).endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n')).toBe(true);
  });

  it('follows the template switches: empty system, role templates, no role after system, alternating seps, default ": "', () => {
    const t: ConvTemplate = {
      system_template: '[SYS]{system_message}[/SYS]',
      system_message: '',
      render_empty_system_message: false,
      roles: { user: 'USER', assistant: 'BOT' },
      role_templates: { user: '<<{user_message}>>{function_string}' },
      seps: [' | ', ' || '],
      stop_str: [],
      stop_token_ids: [],
    };
    expect(renderWebLlmPrompt(t, judge)).toBe('USER: <<Judge this.>> | BOT: Verdict: No || USER: <<Refine it.>> | BOT: ');
    const noRole = { ...t, system_message: 'S', add_role_after_system_message: false };
    expect(renderWebLlmPrompt(noRole, judge.slice(0, 1))).toBe('[SYS]S[/SYS]<<Judge this.>> | BOT: ');
  });

  it('takes conv_config and the record overrides on top of conv_template, and refuses a named template', () => {
    const conv = convTemplateOf({ conv_template: chatml, conv_config: { system_message: 'A' } }, { conv_config: { role_empty_sep: '\n\n' } });
    expect(conv.system_message).toBe('A');
    expect(conv.role_empty_sep).toBe('\n\n');
    expect(() => convTemplateOf({ conv_template: 'llama-2' })).toThrow(LabError);
  });
});

describe('label log-probabilities from top-5 lists', () => {
  it('uses the first list when both labels are in it, without a second call', async () => {
    const calls: (Record<string, number> | undefined)[] = [];
    const top: TopLogprob[] = [{ token: ' No', logprob: -0.2 }, { token: ' Yes', logprob: -1.8 }];
    const lp = await labelLogprobs(async (b) => (calls.push(b), top), [{ id: 1, text: ' Yes' }, { id: 2, text: ' No' }]);
    expect(lp).toEqual([-1.8, -0.2]);
    expect(calls).toEqual([undefined]);
  });

  it('fails loudly when web-llm returns no log-probabilities', async () => {
    await expect(labelLogprobs(async () => [], [{ id: 1, text: ' Yes' }])).rejects.toThrow(/no top log-probabilities/);
  });
});

describe('read-out inputs from the model files web-llm caches', () => {
  it('reads the conversation template and the label tokens from mlc-chat-config.json and tokenizer.json', async () => {
    const files = tinyMlcFiles({ arch: 'qwen2', quantization: 'q4f32_1' });
    delete files['tokenizer_config.json']; // web-llm does not cache it; the read-out does not need it
    const ro = await loadWebLlmReadout(memorySource(files, 'tiny'));
    expect(ro.conv.roles.assistant).toBe('<|im_start|>assistant');
    expect(ro.prefixTokenText).toBe('');
    const yes = ro.labelToken(' Yes');
    expect(Number.isInteger(yes.id)).toBe(true);
    expect(' Yes'.startsWith(yes.text)).toBe(true);
    const withPrefix = { ...JSON.parse(new TextDecoder().decode(files['mlc-chat-config.json'])) };
    withPrefix.conv_template.system_prefix_token_ids = [0];
    files['mlc-chat-config.json'] = new TextEncoder().encode(JSON.stringify(withPrefix));
    expect((await loadWebLlmReadout(memorySource(files, 'tiny'))).prefixTokenText).toBe('<|endoftext|>');
  });
});

describe('read-out loader for a web-llm model record', () => {
  it('reads the files through hubSource (web-llm\'s cache first, the hub otherwise)', async () => {
    const files = tinyMlcFiles({ arch: 'llama', quantization: 'q0f32' });
    const asked: string[] = [];
    const fetch = (async (input: RequestInfo | URL) => {
      const name = decodeURIComponent(String(input).split('/resolve/main/')[1]);
      asked.push(name);
      return files[name] ? new Response(files[name].slice()) : new Response('Entry not found', { status: 404 });
    }) as typeof globalThis.fetch;
    const load = readoutLoaderFor({ model: 'https://huggingface.co/tests/SmolLM2-Tiny-q0f32-MLC', overrides: { conv_config: { system_message: 'Judge.' } } }, { fetch, caches: null });
    const ro = await load();
    expect(ro.conv.system_message).toBe('Judge.');
    expect(asked.sort()).toEqual(['mlc-chat-config.json', 'tokenizer.json']);
    await expect(readoutLoaderFor({ model: 'https://example.com/m/' })()).rejects.toThrow(/parsed/);
  });
});
