/**
 * NLTK's `word_tokenize` (Punkt sentences, then the improved Treebank word tokenizer of NLTK
 * 3.8), which the official checker uses to count all-capital words. What matters for that count
 * is where words are cut: punctuation and brackets are split off, hyphenated words stay whole,
 * and contractions are split ("DON'T" -> "DO", "N'T"; "IT'S" -> "IT", "'S").
 */
import { splitSentences } from './punkt';
import { B, S, W, pyIsUpper } from './pycompat';

type Rule = [RegExp, string];
const r = (src: string, flags = '') => new RegExp(src, `gu${flags}`);

const STARTING_QUOTES: Rule[] = [
  [r('([«“‘„]|[`]+)'), ' $1 '],
  [r('^"'), '``'],
  [r('(``)'), ' $1 '],
  [r(`([ ([{<])("|'{2})`), '$1 `` '],
  [r(`(')(?!re|ve|ll|m|t|s|d|n)(${W})${B}`, 'i'), '$1 $2'],
];
const PUNCTUATION: Rule[] = [
  [r(`([^.])(\\.)([\\])}>"'»”’ ]*)${S}*$`), '$1 $2 $3 '],
  [r('([:,])(\\P{Nd})'), ' $1 $2'],
  [r('([:,])$'), ' $1 '],
  [r('\\.{2,}'), ' $& '],
  [r('[;@#$%&]'), ' $& '],
  [r(`([^.])(\\.)([\\])}>"']*)${S}*$`), '$1 $2$3 '],
  [r('[?!]'), ' $& '],
  [r("([^'])' "), "$1 ' "],
  [r('[*]'), ' $& '],
];
const PARENS_BRACKETS: Rule = [r('[\\][(){}<>]'), ' $& '];
const DOUBLE_DASHES: Rule = [r('--'), ' -- '];
const ENDING_QUOTES: Rule[] = [
  [r('([»”’])'), ' $1 '],
  [r("''"), " '' "],
  [r('"'), " '' "],
  [r("([^' ])('[sS]|'[mM]|'[dD]|') "), '$1 $2 '],
  [r("([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), '$1 $2 '],
];
const CONTRACTIONS: Rule[] = [
  ...['(can)(not)', "(d)('ye)", '(gim)(me)', '(gon)(na)', '(got)(ta)', '(lem)(me)', "(more)('n)"].map(
    (p): Rule => [r(`${B}${p}${B}`, 'i'), ' $1 $2 '],
  ),
  [r(`${B}(wan)(na)(?=${S})`, 'i'), ' $1 $2 '],
  [r(` ('t)(is)${B}`, 'i'), ' $1 $2 '],
  [r(` ('t)(was)${B}`, 'i'), ' $1 $2 '],
];

function applyAll(text: string, rules: Rule[]): string {
  for (const [re, sub] of rules) text = text.replace(re, sub);
  return text;
}

const SPLIT_WS = new RegExp(`${S}+`, 'u');

/** Treebank-style tokens of one sentence. */
export function treebankTokenize(sentence: string): string[] {
  let text = applyAll(sentence, STARTING_QUOTES);
  text = applyAll(text, PUNCTUATION);
  text = applyAll(text, [PARENS_BRACKETS, DOUBLE_DASHES]);
  text = ` ${text} `;
  text = applyAll(text, ENDING_QUOTES);
  text = applyAll(text, CONTRACTIONS);
  return text.split(SPLIT_WS).filter((t) => t.length > 0);
}

/** NLTK `word_tokenize(text)`. */
export function wordTokenize(text: string): string[] {
  return splitSentences(text).flatMap(treebankTokenize);
}

/** Number of tokens that are all capitals (Python `isupper()`), as the official checker counts them. */
export function countCapitalWords(text: string): number {
  return wordTokenize(text).filter(pyIsUpper).length;
}
