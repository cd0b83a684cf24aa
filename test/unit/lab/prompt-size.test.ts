/**
 * Huge prompts (issue 14, item 16): a 50 MB prompt took 13 s and 5.7 GB to render in Data. An
 * upload refuses a prompt over MAX_PROMPT_CHARS by its line, and the Data view's list sends each
 * prompt cut to a preview.
 */
import { describe, expect, it } from 'vitest';
import { MAX_PROMPT_CHARS, parsePromptSet } from '../../../src/eval/loaders';
import { previewText } from '../../../src/lab/prompts';
import { labWorld, newRun } from '../../helpers/lab-world';
import { world } from '../../helpers/spar-world';

const setup = async () => {
  const w = labWorld({ models: () => world({ votes: () => 'YYYYY' }) });
  return { ...w, run: await newRun(w.store) };
};

describe('prompt size at upload', () => {
  it('refuses a prompt over the limit, naming its line and the limit, and keeps the other lines', async () => {
    const { lab, run } = await setup();
    const text = [
      JSON.stringify({ prompt: 'Write a haiku about rain.' }),
      JSON.stringify({ prompt: 'x'.repeat(5_000_000) }),
      JSON.stringify({ prompt: 'Write a limerick about snow.' }),
    ].join('\n');
    const r = await lab.prompts.importText(run.id, text, { name: 'big.jsonl' });
    expect(r.added).toBe(2);
    expect(r.errors).toEqual([{ line: 2, message: expect.stringContaining('"prompt" has 5,000,000 characters; prompts may have at most 100,000') }]);
    const { items } = await lab.prompts.list(run.id);
    expect(items.map((p) => p.prompt)).toEqual(['Write a haiku about rain.', 'Write a limerick about snow.']);
  });

  it('takes a prompt of exactly the limit, in IFEval files and JSON arrays alike', () => {
    const atLimit = 'y'.repeat(MAX_PROMPT_CHARS);
    const over = 'y'.repeat(MAX_PROMPT_CHARS + 1);
    const ifeval = [atLimit, over].map((prompt, i) => JSON.stringify({ key: i, prompt, instruction_id_list: [], kwargs: [] })).join('\n');
    const a = parsePromptSet(ifeval, 'ifeval');
    expect(a.records.map((r) => r.prompt.length)).toEqual([MAX_PROMPT_CHARS]);
    expect(a.errors.map((e) => e.line)).toEqual([2]);
    const array = `[\n${JSON.stringify({ prompt: 'short' })},\n${JSON.stringify({ prompt: over })}\n]`;
    const b = parsePromptSet(array, 'spar');
    expect(b.records).toHaveLength(1);
    expect(b.errors).toEqual([{ line: 3, message: expect.stringMatching(/^"prompt" has 100,001 characters; .* Shorten it or leave this line out$/) }]);
  });
});

describe('prompt previews', () => {
  it('cuts a long text and says how much is left out', () => {
    expect(previewText('short', 10)).toBe('short');
    expect(previewText('0123456789', 10)).toBe('0123456789');
    expect(previewText('0123456789a', 10)).toBe('0123456789… (1 more character)');
    expect(previewText('a'.repeat(1_234_567), 4)).toBe('aaaa… (1,234,563 more characters)');
  });

  it('lists prompts cut to the preview length when asked, whole otherwise, and searches the whole text', async () => {
    const { lab, run } = await setup();
    const long = `${'word '.repeat(10_000)}needle`;
    await lab.prompts.importText(run.id, [JSON.stringify({ prompt: long }), JSON.stringify({ prompt: 'A short one.' })].join('\n'), { name: 'p.jsonl' });
    const preview = await lab.prompts.list(run.id, { previewChars: 1500 });
    expect(preview.items.map((p) => p.prompt)).toEqual([`${long.slice(0, 1500)}… (48,506 more characters)`, 'A short one.']);
    expect((await lab.prompts.list(run.id)).items[0].prompt).toBe(long);
    const found = await lab.prompts.list(run.id, { query: 'needle', previewChars: 100 });
    expect(found.total).toBe(1);
    expect(found.items[0].prompt).toHaveLength(100 + '… (49,906 more characters)'.length);
  });
});
