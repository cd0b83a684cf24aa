/** Small text measures shared by the checkers. */
import { W } from './pycompat';

const WORD = new RegExp(`${W}+`, 'gu');

/** The official `count_words`: runs of Python `\w` (letters, digits, `_`; "don't" is two words). */
export function countWords(text: string): number {
  WORD.lastIndex = 0;
  return text.match(WORD)?.length ?? 0;
}

export { countSentences, splitSentences } from './punkt';
export { countCapitalWords, wordTokenize } from './word-tokenize';
