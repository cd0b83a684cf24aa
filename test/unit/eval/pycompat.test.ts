/** Python string and regex semantics used by the checkers. */
import { describe, expect, it } from 'vitest';
import { countMatches, pyIsLower, pyIsUpper, pyRegex, pyStrip, pyStripChars } from '../../../src/eval/pycompat';
import { pyJsonDumps, resultLine } from '../../../src/eval';

describe('Python string methods', () => {
  it('strip() uses Python whitespace', () => {
    expect(pyStrip('\x1c\x85 a \u3000')).toBe('a');
    expect(pyStrip('\ufeffa')).toBe('\ufeffa'); // BOM is not whitespace in Python
    expect(pyStripChars('**a**', '*')).toBe('a');
  });
  it('isupper() / islower() need one cased character and no opposite case', () => {
    expect(pyIsUpper('ABC 123!')).toBe(true);
    expect(pyIsUpper('123')).toBe(false);
    expect(pyIsUpper('ÀÉÎ')).toBe(true);
    expect(pyIsUpper('ABc')).toBe(false);
    expect(pyIsLower('straße')).toBe(true);
    expect(pyIsLower('ǅ')).toBe(false); // titlecase
  });
});

describe('Python regex translation', () => {
  it('\\b and \\w are Unicode-aware', () => {
    expect(pyRegex('\\bcaf\\b', { ignoreCase: true }).test('café')).toBe(false);
    expect(pyRegex('\\bcafé\\b', { ignoreCase: true }).test('Un CAFÉ noir')).toBe(true);
  });
  it('. excludes only \\n, and multiline ^/$ split only on \\n', () => {
    expect(countMatches(pyRegex('^\\s*-.*$', { multiline: true, global: true }), '- a\r- b\n- c')).toBe(2);
  });
  it('falls back to literal text for patterns JS cannot compile', () => {
    expect(pyRegex('a(b', { ignoreCase: true }).test('xA(B')).toBe(true);
  });
});

describe('Python json.dumps', () => {
  it('escapes non-ASCII and uses spaced separators', () => {
    expect(pyJsonDumps({ a: 'é😀\x7f"\\\n', b: [1, true, null, 2.5] })).toBe('{"a": "\\u00e9\\ud83d\\ude00\\u007f\\"\\\\\\n", "b": [1, true, null, 2.5]}');
  });
  it('writes result lines with keys in the official order', () => {
    const line = resultLine({ instruction_id_list: ['punctuation:no_comma'], prompt: 'p', response: 'r', follow_all_instructions: true, follow_instruction_list: [true] });
    expect(line).toBe('{"follow_all_instructions": true, "follow_instruction_list": [true], "instruction_id_list": ["punctuation:no_comma"], "prompt": "p", "response": "r"}');
  });
});
