/**
 * Sentence splitting, word tokenizing and word counting. Expected values were produced by
 * NLTK 3.8's own PunktSentenceTokenizer and word_tokenize given the same English parameters.
 */
import { describe, expect, it } from 'vitest';
import { countCapitalWords, countSentences, countWords, splitSentences, wordTokenize } from '../../../src/eval';

const SENTENCES: Array<[string, string[]]> = [
  ['Hello world. How are you? I am fine!', ['Hello world.', 'How are you?', 'I am fine!']],
  ['Mr. Smith went to Washington. He arrived at 5 p.m. Then he left.', ['Mr. Smith went to Washington.', 'He arrived at 5 p.m.', 'Then he left.']],
  ['Use tools, e.g. a hammer, etc. Done.', ['Use tools, e.g.', 'a hammer, etc.', 'Done.']],
  ['Very bad acting!!! I promise.', ['Very bad acting!!!', 'I promise.']],
  ['(Sent one.) Sent two.', ['(Sent one.)', 'Sent two.']],
  ['He said "stop." Then he left.', ['He said "stop."', 'Then he left.']],
  ['1. Buy milk\n2. Walk the dog\n3. Read', ['1.', 'Buy milk\n2.', 'Walk the dog\n3.', 'Read']],
  ['Plan B. Then we go.', ['Plan B.', 'Then we go.']],
  ['The U.S. Army is large. It has many soldiers.', ['The U.S. Army is large.', 'It has many soldiers.']],
  ['Wait... What happened?', ['Wait...', 'What happened?']],
  ['No punctuation at all', ['No punctuation at all']],
  ['', []],
  ['Version 2.0 is out. Get it now.', ['Version 2.0 is out.', 'Get it now.']],
  ['First line\n\nSecond paragraph. Third sentence.', ['First line\n\nSecond paragraph.', 'Third sentence.']],
  ['The price is $3.50. That is cheap.', ['The price is $3.50.', 'That is cheap.']],
];

describe('Punkt sentence splitting (NLTK English model)', () => {
  for (const [text, want] of SENTENCES) {
    it(JSON.stringify(text), () => {
      expect(splitSentences(text)).toEqual(want);
      expect(countSentences(text)).toBe(want.length);
    });
  }
});

const TOKENS: Array<[string, string[]]> = [
  ["I DON'T KNOW, DO YOU?", ['I', 'DO', "N'T", 'KNOW', ',', 'DO', 'YOU', '?']],
  ['"HELLO," SAID THE U.S. ARMY.', ['``', 'HELLO', ',', "''", 'SAID', 'THE', 'U.S.', 'ARMY', '.']],
  ["It's OK -- REALLY (TRUE) [YES] {NO} <MAYBE>", ['It', "'s", 'OK', '--', 'REALLY', '(', 'TRUE', ')', '[', 'YES', ']', '{', 'NO', '}', '<', 'MAYBE', '>']],
  ['CANNOT GONNA wanna GIMME', ['CAN', 'NOT', 'GON', 'NA', 'wan', 'na', 'GIM', 'ME']],
  ["'TIS THE SEASON", ["'T", 'IS', 'THE', 'SEASON']],
];

describe('NLTK word_tokenize', () => {
  for (const [text, want] of TOKENS) {
    it(JSON.stringify(text), () => {
      expect(wordTokenize(text)).toEqual(want);
      expect(countCapitalWords(text)).toBe(want.filter((t) => /\p{Lu}/u.test(t) && !/\p{Ll}/u.test(t)).length);
    });
  }
});

describe('count_words', () => {
  it('counts runs of Python \\w', () => {
    expect(countWords("Don't stop-me now_2 42")).toBe(6);
    expect(countWords('')).toBe(0);
    expect(countWords('Привет, мир! 你好')).toBe(3);
  });
});
