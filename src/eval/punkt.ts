/**
 * Punkt sentence splitting (Kiss & Strunk 2006) as NLTK 3.8 applies a pretrained model: every
 * `.`, `?` or `!` followed by punctuation or by whitespace and a token is a candidate; the word
 * before it, the mark and the next token are tokenised and annotated (abbreviation, ellipsis,
 * initial, number; then the orthographic, collocation and sentence-starter heuristics), and the
 * candidate is a break when a token that is not the last one ends a sentence. Closing quotes
 * and brackets after a break are moved back into the sentence they close.
 *
 * The official IFEval checker counts sentences with exactly this (`count_sentences`), so
 * `length_constraints:number_sentences` depends on its quirks: "e.g." and "etc." end sentences,
 * line breaks do not, a heading without a period joins the next sentence.
 */
import { ABBREVIATIONS, COLLOCATIONS, SENTENCE_STARTERS } from './punkt-english';
import { NS, S, pyIsLower, pyIsUpper, pyRstrip, pyStrip } from './pycompat';

// Orthographic context flags (how a word was capitalised where it was seen in training).
const ORTHO_BEG_UC = 1 << 1;
const ORTHO_MID_UC = 1 << 2;
const ORTHO_UNK_UC = 1 << 3;
const ORTHO_BEG_LC = 1 << 4;
const ORTHO_UC = ORTHO_BEG_UC | ORTHO_MID_UC | ORTHO_UNK_UC;
const ORTHO_MID_LC = 1 << 5;
const ORTHO_LC = ORTHO_MID_LC | (1 << 6) | ORTHO_BEG_LC;

/**
 * The pretrained model's orthographic context is a 236 kB table over its training vocabulary
 * (newspaper text); we do not ship it. A word is treated as unseen (context 0, as NLTK treats
 * words outside that vocabulary) except the common English words below, which that text
 * certainly used in lower case, so the table has a lower-case flag for them. That flag decides,
 * for instance, that an initial followed by such a capitalised word ("plan B. Then") ends a
 * sentence. Other decisions can still differ from NLTK's after an abbreviation, initial, number
 * or ellipsis followed by a word of the model's vocabulary.
 */
function orthoContext(type: string): number {
  return COMMON_WORDS.has(type) ? ORTHO_MID_LC : 0;
}
const COMMON_WORDS: ReadonlySet<string> = new Set(
  (
    'a about above after again against all also although always am among an and another any are as at be ' +
    'because been before being below between both but by can could did do does doing down during each either ' +
    'even every few first for from further had has have having her here hers herself him himself his how ' +
    'however if in into is it its itself just last least less let let\'s like many may me might more most ' +
    'much must my myself neither never next no nor not now of off often on once one only or other our ours ' +
    'ourselves out over own perhaps please rather same she should since so some such than that the their ' +
    'theirs them themselves then there therefore these they this those though through thus to too under ' +
    'until up upon us very was we were what when where whether which while who whom whose why will with ' +
    'within without would yet you your yours yourself yourselves finally instead meanwhile moreover ' +
    'otherwise still today tomorrow yesterday consider make take use try keep remember note see check ' +
    'start begin add ensure avoid choose include'
  ).split(' '),
);

const NON_WORD = `(?:[)";}\\]*:@'({\\[!?])`;
const MULTI_CHAR = `(?:-{2,}|\\.{2,}|(?:\\.${S}){2,}\\.)`;
const WORD_START = `[^("\`{\\[:;&#*@)}\\]\\-,]`;
// PunktLanguageVars._word_tokenize_fmt: multi-char punctuation, a word up to its end, or one non-space.
const WORD_TOKENIZER = new RegExp(
  `${MULTI_CHAR}|(?=${WORD_START})${NS}+?(?=${S}|$|${NON_WORD}|${MULTI_CHAR}|,(?=$|${S}|${NON_WORD}|${MULTI_CHAR}))|${NS}`,
  'gu',
);
// A potential sentence end and what follows it: other punctuation, or whitespace and a token.
const PERIOD_CONTEXT = new RegExp(`[.?!](?=(${NON_WORD}|${S}+(${NS}+)))`, 'gud');
const BOUNDARY_REALIGNMENT = new RegExp(`^["')\\]}]+?(?:${S}+|(?=--)|(?=\\n)|$)`, 'u');
const NUMERIC = /^-?[.,]?\p{Nd}[\p{Nd},.-]*\.?$/u;
const INITIAL = /^[\p{L}\p{Nl}\p{No}_]\.$/u;
const ELLIPSIS = /^\.\.+$/;
const ASCII_WS = ' \t\n\r\v\f';
const PUNCTUATION = new Set([';', ':', ',', '.', '!', '?']);

interface Token {
  tok: string;
  type: string;
  periodFinal: boolean;
  sentbreak: boolean;
  abbr: boolean;
  ellipsis: boolean;
}

function makeToken(tok: string): Token {
  const lower = tok.toLowerCase();
  return {
    tok,
    type: NUMERIC.test(lower) ? '##number##' : lower,
    periodFinal: tok.endsWith('.'),
    sentbreak: false,
    abbr: false,
    ellipsis: false,
  };
}

function typeNoPeriod(t: Token): string {
  return t.type.length > 1 && t.type.endsWith('.') ? t.type.slice(0, -1) : t.type;
}
function typeNoSentperiod(t: Token): string {
  return t.sentbreak ? typeNoPeriod(t) : t.type;
}
function firstChar(t: Token): string {
  return String.fromCodePoint(t.tok.codePointAt(0)!);
}
const firstUpper = (t: Token) => pyIsUpper(firstChar(t));
const firstLower = (t: Token) => pyIsLower(firstChar(t));

/** Splits one line's text into Punkt word tokens (periods stay attached to their word). */
function wordTokenize(line: string): string[] {
  WORD_TOKENIZER.lastIndex = 0;
  return line.match(WORD_TOKENIZER) ?? [];
}

function tokenizeWords(text: string): Token[] {
  const out: Token[] = [];
  for (const line of text.split('\n')) {
    if (!pyStrip(line)) continue;
    for (const tok of wordTokenize(line)) out.push(makeToken(tok));
  }
  return out;
}

function firstPass(t: Token): void {
  const tok = t.tok;
  if (tok === '.' || tok === '?' || tok === '!') t.sentbreak = true;
  else if (ELLIPSIS.test(tok)) t.ellipsis = true;
  else if (t.periodFinal && !tok.endsWith('..')) {
    const stem = tok.slice(0, -1).toLowerCase();
    if (ABBREVIATIONS.has(stem) || ABBREVIATIONS.has(stem.split('-').pop()!)) t.abbr = true;
    else t.sentbreak = true;
  }
}

/** Does orthography say `t` starts a sentence? true, false or 'unknown'. */
function orthoHeuristic(t: Token): boolean | 'unknown' {
  if (PUNCTUATION.has(t.tok)) return false;
  const ctx = orthoContext(typeNoSentperiod(t));
  if (firstUpper(t) && ctx & ORTHO_LC && !(ctx & ORTHO_MID_UC)) return true;
  if (firstLower(t) && (ctx & ORTHO_UC || !(ctx & ORTHO_BEG_LC))) return false;
  return 'unknown';
}

function secondPass(t1: Token, t2: Token): void {
  if (!t1.periodFinal) return;
  const typ = typeNoPeriod(t1);
  const nextTyp = typeNoSentperiod(t2);
  const isInitial = INITIAL.test(t1.tok);
  if (COLLOCATIONS.has(`${typ} ${nextTyp}`)) {
    t1.sentbreak = false;
    t1.abbr = true;
    return;
  }
  if ((t1.abbr || t1.ellipsis) && !isInitial) {
    const starter = orthoHeuristic(t2);
    if (starter === true) {
      t1.sentbreak = true;
      return;
    }
    if (firstUpper(t2) && SENTENCE_STARTERS.has(nextTyp)) {
      t1.sentbreak = true;
      return;
    }
  }
  if (isInitial || typ === '##number##') {
    const starter = orthoHeuristic(t2);
    if (starter === false) {
      t1.sentbreak = false;
      t1.abbr = true;
      return;
    }
    if (starter === 'unknown' && isInitial && firstUpper(t2) && !(orthoContext(nextTyp) & ORTHO_LC)) {
      t1.sentbreak = false;
      t1.abbr = true;
    }
  }
}

/** True if a token other than the last one of `text` ends a sentence. */
function containsSentbreak(text: string): boolean {
  const toks = tokenizeWords(text);
  for (const t of toks) firstPass(t);
  for (let i = 0; i + 1 < toks.length; i++) {
    secondPass(toks[i], toks[i + 1]);
    if (toks[i].sentbreak) return true;
  }
  return false;
}

function lastAsciiWhitespace(s: string): number {
  for (let i = s.length - 1; i >= 0; i--) if (ASCII_WS.includes(s[i])) return i;
  return 0;
}

interface Candidate {
  end: number; // index after the punctuation mark
  nextTokStart: number; // start of the following token, or -1 when punctuation follows
  context: string; // the word before, the mark, and what follows it
}

/** Candidate breaks with their context, dropping candidates whose word overlaps the next one ("!!!"). */
function potentialEnds(text: string): Candidate[] {
  const out: Candidate[] = [];
  let prevSlice: [number, number] = [0, 0];
  let prev: RegExpExecArray | null = null;
  const emit = (m: RegExpExecArray, slice: [number, number]) => {
    const idx = m.indices!;
    out.push({
      end: m.index + 1,
      nextTokStart: m[2] !== undefined ? idx[2]![0] : -1,
      context: text.slice(slice[0], slice[1]) + m[0] + m[1],
    });
  };
  PERIOD_CONTEXT.lastIndex = 0;
  for (let m = PERIOD_CONTEXT.exec(text); m; m = PERIOD_CONTEXT.exec(text)) {
    const before = text.slice(prevSlice[1], m.index);
    let start = lastAsciiWhitespace(before);
    start = start ? start + prevSlice[1] + 1 : prevSlice[0];
    const wordSlice: [number, number] = [start, m.index];
    if (prev && prevSlice[1] <= wordSlice[0]) emit(prev, prevSlice);
    prev = m;
    prevSlice = wordSlice;
  }
  if (prev) emit(prev, prevSlice);
  return out;
}

/** Sentence spans [start, end) of `text`, as NLTK's `span_tokenize` with boundary realignment. */
export function sentenceSpans(text: string): Array<[number, number]> {
  const slices: Array<[number, number]> = [];
  let lastBreak = 0;
  for (const c of potentialEnds(text)) {
    if (!containsSentbreak(c.context)) continue;
    slices.push([lastBreak, c.end]);
    lastBreak = c.nextTokStart >= 0 ? c.nextTokStart : c.end;
  }
  slices.push([lastBreak, pyRstrip(text).length]);

  const out: Array<[number, number]> = [];
  let realign = 0;
  for (let i = 0; i < slices.length; i++) {
    const s1: [number, number] = [slices[i][0] + realign, slices[i][1]];
    const nonEmpty = s1[1] > s1[0];
    if (i + 1 === slices.length) {
      if (nonEmpty) out.push(s1);
      continue;
    }
    const s2 = slices[i + 1];
    const m = BOUNDARY_REALIGNMENT.exec(text.slice(s2[0], s2[1]));
    if (m) {
      out.push([s1[0], s2[0] + pyRstrip(m[0]).length]);
      realign = m[0].length;
    } else {
      realign = 0;
      if (nonEmpty) out.push(s1);
    }
  }
  return out;
}

/** NLTK `sent_tokenize(text)` with the English model. */
export function splitSentences(text: string): string[] {
  return sentenceSpans(text).map(([s, e]) => text.slice(s, e));
}

/** The official checker's `count_sentences`. */
export function countSentences(text: string): number {
  return sentenceSpans(text).length;
}
