/**
 * Focused checks of each IFEval instruction type against the official checker's rules,
 * including the edge cases that trip up re-implementations.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  checkInstruction,
  conflicts,
  describeInstruction,
  evaluateLoose,
  evaluateStrict,
  INSTRUCTION_IDS,
  loadLanguageProfiles,
  looseVariants,
  validateKwargs,
  type InstructionId,
} from '../../../src/eval';
import { LabError } from '../../../src/errors';

type Case = [response: string, kwargs: Record<string, unknown>, expected: boolean, why: string];

const CASES: Record<InstructionId, Case[]> = {
  'keywords:existence': [
    ['The River flows.', { keywords: ['river', 'flow'] }, true, 'case-insensitive, substring match'],
    ['The river is calm.', { keywords: ['river', 'flow'] }, false, 'every keyword must appear'],
    ['Gardening tips', { keywords: ['garden'] }, true, 'no word boundary: "garden" in "Gardening"'],
  ],
  'keywords:frequency': [
    ['cat Cat CAT', { keyword: 'cat', frequency: 3, relation: 'at least' }, true, 'case-insensitive count'],
    ['cat category', { keyword: 'cat', frequency: 2, relation: 'less than' }, false, 'substrings count too'],
    ['one cat', { keyword: ' cat ', frequency: 2, relation: 'less than' }, true, 'keyword is stripped'],
  ],
  'keywords:forbidden_words': [
    ['I like the river.', { forbidden_words: ['River'] }, false, 'whole word, any case'],
    ['Riverside walks', { forbidden_words: ['river'] }, true, 'word boundary: part of a longer word is allowed'],
    ['Café culture', { forbidden_words: ['caf'] }, true, 'Unicode word boundary: é is a word character'],
  ],
  'keywords:letter_frequency': [
    ['Banana', { letter: 'a', let_frequency: 3, let_relation: 'at least' }, true, 'lowercased count'],
    ['Banana', { letter: 'A', let_frequency: 3, let_relation: 'less than' }, false, 'letter kwarg is lowercased'],
    ['Hi! Hey! Ho!', { letter: '!', let_frequency: 3, let_relation: 'at least' }, true, 'a non-letter counts literally'],
  ],
  'language:response_language': [
    ['Der schnelle braune Fuchs springt über den faulen Hund und läuft in den Wald.', { language: 'de' }, true, 'German'],
    ['The quick brown fox jumps over the lazy dog and runs into the forest.', { language: 'de' }, false, 'English is not German'],
    ['これは日本語で書かれた短い文章です。', { language: 'ja' }, true, 'Japanese'],
    ['12345 !!! ???', { language: 'fr' }, true, 'no letters: detection fails, counted as followed'],
  ],
  'length_constraints:number_sentences': [
    ['One. Two! Three?', { num_sentences: 3, relation: 'at least' }, true, 'three marks, three sentences'],
    ['Use tools, e.g. a hammer. Done.', { num_sentences: 3, relation: 'at least' }, true, '"e.g." ends a sentence in Punkt'],
    ['Dr. Smith arrived. He sat.', { num_sentences: 3, relation: 'less than' }, true, '"Dr." is an abbreviation'],
    ['# Title\nFirst line\nSecond line.', { num_sentences: 2, relation: 'less than' }, true, 'line breaks do not split'],
  ],
  'length_constraints:number_paragraphs': [
    ['A\n***\nB\n***\nC', { num_paragraphs: 3 }, true, 'three parts'],
    ['***\nA\n***\nB\n***', { num_paragraphs: 2 }, true, 'empty first and last parts do not count'],
    ['A\n***\n***\nB', { num_paragraphs: 2 }, false, 'an empty part in the middle fails'],
    ['A\n\nB', { num_paragraphs: 2 }, false, 'blank lines are not dividers here'],
  ],
  'length_constraints:number_words': [
    ["Don't stop", { num_words: 3, relation: 'at least' }, true, "\\w+ runs: don, t, stop"],
    ['snake_case-word 42', { num_words: 3, relation: 'less than' }, false, 'underscore joins, hyphen splits, digits are words'],
    ['नमस्ते दुनिया', { num_words: 3, relation: 'at least' }, true, 'combining vowel signs split Devanagari words as in Python'],
  ],
  'length_constraints:nth_paragraph_first_word': [
    ['Intro text.\n\n"Then, we go.', { num_paragraphs: 2, nth_paragraph: 2, first_word: 'then' }, true, 'quotes and punctuation stripped, lowercased'],
    ['Intro.\n\nThen we go.\n\nEnd.', { num_paragraphs: 2, nth_paragraph: 2, first_word: 'then' }, false, 'paragraph count must match'],
    ['\n\nThen we go.\n\nEnd.', { num_paragraphs: 2, nth_paragraph: 1, first_word: 'then' }, false, 'indexes the raw split: paragraph 1 is the empty one'],
  ],
  'detectable_content:number_placeholders': [
    ['Dear [name], at [address].', { num_placeholders: 2 }, true, 'two placeholders'],
    ['[a\nb] [c]', { num_placeholders: 2 }, false, 'a placeholder cannot span lines'],
    ['[]', { num_placeholders: 1 }, true, 'empty brackets count'],
  ],
  'detectable_content:postscript': [
    ['Hello.\n\nP.S. See you.', { postscript_marker: 'P.S.' }, true, 'P.S.'],
    ['Hello.\np. p. s. later', { postscript_marker: 'P.P.S' }, true, 'case and single spaces allowed'],
    ['Hello. PS see you', { postscript_marker: 'P.S.' }, false, 'dots required'],
    ['Bye.\nP.S. only one', { postscript_marker: 'P.P.S' }, false, 'P.S. is not P.P.S'],
  ],
  'detectable_format:number_bullet_lists': [
    ['* one\n* two\n- three', { num_bullets: 3 }, true, '* and - bullets both count'],
    ['* one\n**bold** line\n* two', { num_bullets: 2 }, true, '** at line start is not a bullet'],
    ['1. one\n2. two', { num_bullets: 2 }, false, 'numbered lists are not bullets'],
    ['  - nested\n* top', { num_bullets: 2 }, true, 'indented bullets count'],
  ],
  'detectable_format:constrained_response': [
    ['  My answer is yes.  ', {}, true, 'option present'],
    ['I think so. My answer is maybe. Really.', {}, true, 'contained anywhere'],
    ['My answer is Yes.', {}, false, 'case-sensitive'],
  ],
  'detectable_format:number_highlighted_sections': [
    ['*one* and *two*', { num_highlights: 2 }, true, 'two single-star highlights'],
    ['**bold** text', { num_highlights: 1 }, true, '"**bold**" counts once (as **...**)'],
    ['**bold** text', { num_highlights: 2 }, false, '"**bold**" is not two highlights: its *...* matches are the empty "**"'],
    ['* *', { num_highlights: 1 }, false, 'blank highlights do not count'],
    ['*a\nb*', { num_highlights: 1 }, false, 'a highlight cannot span lines'],
  ],
  'detectable_format:multiple_sections': [
    ['Section 1\nA\nSection 2\nB', { section_spliter: 'Section', num_sections: 2 }, true, 'two sections'],
    ['SECTION 1\nA', { section_spliter: 'Section', num_sections: 1 }, false, 'case-sensitive'],
    ['Section: intro', { section_spliter: 'Section', num_sections: 1 }, false, 'needs a number'],
  ],
  'detectable_format:json_format': [
    ['```json\n{"a": 1}\n```', {}, true, 'JSON in a json fence'],
    ['```\n[1, 2]\n```', {}, true, 'JSON in a bare fence'],
    ['Here: {"a": 1}', {}, false, 'text around the JSON'],
    ['{"a": NaN}', {}, true, 'Python accepts NaN'],
  ],
  'detectable_format:title': [
    ['<<My Title>>\nText', {}, true, 'a title'],
    ['<< >> text', {}, false, 'blank title'],
    ['<<a\nb>>', {}, false, 'a title is on one line'],
  ],
  'combination:two_responses': [
    ['First answer.\n******\nSecond answer.', {}, true, 'two different responses'],
    ['Same.\n******\nSame.', {}, false, 'responses must differ'],
    ['A\n******\n******\nB', {}, false, 'an empty response in the middle fails'],
    ['******\nA\n******\nB\n******', {}, true, 'empty ends are fine'],
  ],
  'combination:repeat_prompt': [
    ['  write a poem. Here it is.', { prompt_to_repeat: 'Write a poem.' }, true, 'case-insensitive prefix after strip'],
    ['Sure! Write a poem.', { prompt_to_repeat: 'Write a poem.' }, false, 'nothing may come before it'],
  ],
  'startend:end_checker': [
    ['Bye. Any other questions?', { end_phrase: 'Any other questions?' }, true, 'ends with the phrase'],
    ['"Bye. any other questions?"  ', { end_phrase: 'Any other questions?' }, true, 'quotes and case ignored'],
    ['Any other questions? Thanks.', { end_phrase: 'Any other questions?' }, false, 'nothing may follow'],
  ],
  'change_case:capital_word_frequency': [
    ['THE END IS NEAR', { capital_frequency: 4, capital_relation: 'at least' }, true, 'four capital words'],
    ["I DON'T KNOW", { capital_frequency: 4, capital_relation: 'at least' }, true, "contractions split: I, DO, N'T, KNOW"],
    ['WELL-KNOWN fact', { capital_frequency: 2, capital_relation: 'less than' }, true, 'hyphenated words are one word'],
    ['NASA and ESA, USA.', { capital_frequency: 3, capital_relation: 'at least' }, true, 'punctuation split off'],
  ],
  'change_case:english_capital': [
    ['THIS IS A LONG ENGLISH SENTENCE WRITTEN IN CAPITAL LETTERS ONLY, 100%!', {}, true, 'all caps, digits and punctuation allowed'],
    ['THIS IS ALL CAPS EXCEPT one WORD', {}, false, 'one lowercase word fails'],
    ['12345 !!!', {}, false, 'no cased letter: isupper() is false'],
  ],
  'change_case:english_lowercase': [
    ['this is an english sentence in lowercase letters with some words.', {}, true, 'lowercase English'],
    ['this is mostly lowercase but not I', {}, false, 'one capital fails'],
    ['ceci est une phrase en français tout en minuscules et assez longue.', {}, false, 'lowercase but French'],
  ],
  'punctuation:no_comma': [
    ['No commas here.', {}, true, 'none'],
    ['One, two.', {}, false, 'ASCII comma'],
    ['一，二', {}, true, 'the fullwidth comma is not ","'],
  ],
  'startend:quotation': [
    ['  "Wrapped."  ', {}, true, 'wrapped after strip'],
    ['"', {}, false, 'a single quote mark is too short'],
    ['“Curly”', {}, false, 'curly quotes are not "'],
  ],
};

beforeAll(async () => {
  await loadLanguageProfiles();
});

describe('instruction checkers', () => {
  it('covers all 25 instruction types', () => {
    expect(Object.keys(CASES).sort()).toEqual([...INSTRUCTION_IDS].sort());
    expect(INSTRUCTION_IDS).toHaveLength(25);
  });

  for (const id of INSTRUCTION_IDS) {
    describe(id, () => {
      for (const [response, kwargs, expected, why] of CASES[id]) {
        it(`${why}: ${JSON.stringify(response).slice(0, 50)} -> ${expected}`, () => {
          expect(checkInstruction(id, validateKwargs(id, kwargs), response)).toBe(expected);
        });
      }
      it('never accepts an empty or blank response', () => {
        const kwargs = validateKwargs(id, CASES[id][0][1]);
        expect(checkInstruction(id, kwargs, '')).toBe(false);
        expect(checkInstruction(id, kwargs, ' \n\t ')).toBe(false);
      });
      it('describes itself in IFEval phrasing', () => {
        expect(describeInstruction(id, validateKwargs(id, CASES[id][0][1])).length).toBeGreaterThan(10);
      });
    });
  }
});

describe('kwargs validation', () => {
  it('drops nulls and unused keys, keeps required ones', () => {
    expect(validateKwargs('punctuation:no_comma', { num_words: null })).toEqual({});
    expect(validateKwargs('length_constraints:number_words', { num_words: 5, relation: 'at least', letter: null })).toEqual({ num_words: 5, relation: 'at least' });
  });
  it('rejects unknown ids and bad values with a LabError naming the field', () => {
    expect(() => validateKwargs('keywords:nope', {})).toThrow(LabError);
    expect(() => validateKwargs('length_constraints:number_words', { num_words: 5, relation: 'at most' })).toThrow(/relation/);
    expect(() => validateKwargs('keywords:letter_frequency', { letter: 'ab', let_frequency: 1, let_relation: 'at least' })).toThrow(/letter/);
    expect(() => validateKwargs('length_constraints:nth_paragraph_first_word', { num_paragraphs: 2, nth_paragraph: 3, first_word: 'x' })).toThrow(/nth_paragraph/);
  });
});

describe('strict and loose modes', () => {
  const rec = (ids: InstructionId[], kwargs: Record<string, unknown>[]) => ({
    key: 1,
    prompt: 'p',
    instruction_id_list: ids,
    kwargs: ids.map((id, i) => validateKwargs(id, kwargs[i])),
  });

  it('loose mode forgives a chatty first line and markdown stars', () => {
    const r = rec(['startend:quotation', 'detectable_format:json_format'], [{}, {}]);
    const response = 'Sure, here it is:\n"quoted"';
    expect(evaluateStrict(r, response).follow_instruction_list).toEqual([false, false]);
    expect(evaluateLoose(r, response).follow_instruction_list).toEqual([true, true]);
    const stars = rec(['startend:end_checker'], [{ end_phrase: 'The end.' }]);
    expect(evaluateStrict(stars, '**The end.**').follow_all_instructions).toBe(false);
    expect(evaluateLoose(stars, '**The end.**').follow_all_instructions).toBe(true);
  });

  it('builds the 8 variants in the official order', () => {
    expect(looseVariants('a\n*b*\nc')).toEqual(['a\n*b*\nc', 'a\nb\nc', '*b*\nc', 'a\n*b*', '*b*', 'b\nc', 'a\nb', 'b']);
  });

  it('reports follow_all_instructions as the conjunction', () => {
    const r = rec(['punctuation:no_comma', 'startend:quotation'], [{}, {}]);
    expect(evaluateStrict(r, '"a, b"')).toMatchObject({ follow_all_instructions: false, follow_instruction_list: [false, true] });
  });
});

describe('conflicts', () => {
  it('is symmetric and reflexive, as the official registry makes it', () => {
    for (const a of INSTRUCTION_IDS) {
      expect(conflicts(a, a)).toBe(true);
      for (const b of INSTRUCTION_IDS) expect(conflicts(a, b)).toBe(conflicts(b, a));
    }
    expect(conflicts('startend:quotation', 'detectable_format:title')).toBe(true);
    expect(conflicts('detectable_format:json_format', 'keywords:existence')).toBe(false);
    expect(conflicts('detectable_format:constrained_response', 'punctuation:no_comma')).toBe(true);
    expect(conflicts('punctuation:no_comma', 'startend:quotation')).toBe(false);
  });
});
