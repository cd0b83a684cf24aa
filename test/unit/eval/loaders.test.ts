/** Loading instruction sets and responses: good records kept, bad lines reported by number. */
import { describe, expect, it } from 'vitest';
import { loadPromptSetFromUrl, parseIfevalJsonl, parsePromptSet, parseResponsesJsonl, parseSparPrompts } from '../../../src/eval';
import { LabError } from '../../../src/errors';

const GOOD = '{"key": 7, "prompt": "Write a haiku.", "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"], "kwargs": [{}, {"num_words": 20, "relation": "less than", "letter": null}]}';

describe('IFEval JSONL', () => {
  it('keeps good lines and reports bad ones with their line numbers', () => {
    const text = [
      GOOD,
      '',
      '{"key": 8, "prompt": "x", "instruction_id_list": ["keywords:nope"], "kwargs": [{}]}',
      '{not json',
      '{"key": 9, "prompt": "y", "instruction_id_list": ["startend:end_checker"], "kwargs": [{}]}',
      '{"key": 10, "prompt": "z", "instruction_id_list": ["punctuation:no_comma"], "kwargs": []}',
      '{"key": 11, "prompt": "w"}',
    ].join('\n');
    const { records, errors } = parseIfevalJsonl(text);
    expect(records).toEqual([
      { key: 7, prompt: 'Write a haiku.', instruction_id_list: ['punctuation:no_comma', 'length_constraints:number_words'], kwargs: [{}, { num_words: 20, relation: 'less than' }] },
    ]);
    expect(errors.map((e) => e.line)).toEqual([3, 4, 5, 6, 7]);
    expect(errors[0].message).toMatch(/Unknown instruction id "keywords:nope"/);
    expect(errors[1].message).toMatch(/not valid JSON/);
    expect(errors[2].message).toMatch(/end_phrase/);
    expect(errors[3].message).toMatch(/one object per instruction/);
    expect(errors[4].message).toMatch(/instruction_id_list/);
  });

  it('accepts CRLF line ends and a byte-order mark', () => {
    expect(parseIfevalJsonl(`\uFEFF${GOOD}\r\n${GOOD}\r\n`).records).toHaveLength(2);
  });
});

describe('responses JSONL', () => {
  it('needs a prompt and a response string per line', () => {
    const { records, errors } = parseResponsesJsonl('{"prompt": "a", "response": "b"}\n{"prompt": "c"}\n[1]');
    expect(records).toEqual([{ prompt: 'a', response: 'b' }]);
    expect(errors).toEqual([
      { line: 2, message: 'missing "response" (a string)' },
      { line: 3, message: 'expected a JSON object' },
    ]);
  });
});

describe('SPaR-style prompts', () => {
  it('reads a JSON array, reporting bad items by the line they start on', () => {
    const text = '[\n  {"prompt": "Tell a joke."},\n  {"id": 3},\n  {"prompt": "Count to three.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}\n]';
    const { records, errors } = parseSparPrompts(text);
    expect(records.map((r) => [r.key, r.prompt, r.instruction_id_list])).toEqual([
      [0, 'Tell a joke.', []],
      [2, 'Count to three.', ['punctuation:no_comma']],
    ]);
    expect(errors).toEqual([{ line: 3, message: 'missing "prompt" (a non-empty string)' }]);
  });

  it('reads JSONL and reports a broken array with its line', () => {
    expect(parsePromptSet('{"prompt": "a"}\n{"prompt": "b"}').records.map((r) => r.prompt)).toEqual(['a', 'b']);
    const broken = parseSparPrompts('[\n {"prompt": "a"},\n {"prompt": },\n {"prompt": "c, [d]"}\n]');
    expect(broken.records.map((r) => r.prompt)).toEqual(['a', 'c, [d]']);
    expect(broken.errors).toHaveLength(1);
    expect(broken.errors[0].line).toBe(3);
    const unclosed = parseSparPrompts('[{"prompt": "a"}');
    expect(unclosed.records.map((r) => r.prompt)).toEqual(['a']);
    expect(unclosed.errors[0].message).toMatch(/not closed/);
  });

  it('loads from a URL and turns HTTP failures into network errors', async () => {
    const ok = (async () => new Response('{"prompt": "from the web"}\n')) as unknown as typeof fetch;
    expect((await loadPromptSetFromUrl('https://x.test/p.jsonl', 'spar', ok)).records[0].prompt).toBe('from the web');
    const missing = (async () => new Response('nope', { status: 404 })) as unknown as typeof fetch;
    await expect(loadPromptSetFromUrl('https://x.test/p.jsonl', 'spar', missing)).rejects.toThrow(LabError);
    await expect(loadPromptSetFromUrl('https://x.test/p.jsonl', 'spar', missing)).rejects.toThrow(/HTTP 404/);
  });
});
