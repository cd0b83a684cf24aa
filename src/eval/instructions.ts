/**
 * The 25 IFEval instruction types: their kwargs, how each is phrased in a prompt, and the check
 * the official checker (google-research `instruction_following_eval`) applies to a response,
 * quirks included (keywords are regular expressions, bullets are lines starting with `*` or
 * `-`, a highlight is any `*...*` on one line, failed language detection counts as followed).
 */
import { LabError } from '../errors';
import { detectLanguage } from './langdetect';
import { countMatches, pyIsLower, pyIsUpper, pyRegex, pyStrip, pyStripChars, S } from './pycompat';
import { countCapitalWords, countSentences, countWords } from './text';

export const INSTRUCTION_IDS = [
  'keywords:existence',
  'keywords:frequency',
  'keywords:forbidden_words',
  'keywords:letter_frequency',
  'language:response_language',
  'length_constraints:number_sentences',
  'length_constraints:number_paragraphs',
  'length_constraints:number_words',
  'length_constraints:nth_paragraph_first_word',
  'detectable_content:number_placeholders',
  'detectable_content:postscript',
  'detectable_format:number_bullet_lists',
  'detectable_format:constrained_response',
  'detectable_format:number_highlighted_sections',
  'detectable_format:multiple_sections',
  'detectable_format:json_format',
  'detectable_format:title',
  'combination:two_responses',
  'combination:repeat_prompt',
  'startend:end_checker',
  'change_case:capital_word_frequency',
  'change_case:english_capital',
  'change_case:english_lowercase',
  'punctuation:no_comma',
  'startend:quotation',
] as const;

export type InstructionId = (typeof INSTRUCTION_IDS)[number];
export type Relation = 'less than' | 'at least';
export const RELATIONS: readonly Relation[] = ['less than', 'at least'];

/** Kwargs of one instruction, as in IFEval's `kwargs` lists (missing or null keys are absent). */
export type Kwargs = Record<string, unknown>;

/** ISO 639-1 codes IFEval asks for, with their names. */
export const LANGUAGE_NAMES: Readonly<Record<string, string>> = {
  en: 'English', es: 'Spanish', pt: 'Portuguese', ar: 'Arabic', hi: 'Hindi', fr: 'French', ru: 'Russian',
  de: 'German', ja: 'Japanese', it: 'Italian', bn: 'Bengali', uk: 'Ukrainian', th: 'Thai', ur: 'Urdu',
  ta: 'Tamil', te: 'Telugu', bg: 'Bulgarian', ko: 'Korean', pl: 'Polish', he: 'Hebrew', fa: 'Persian',
  vi: 'Vietnamese', ne: 'Nepali', sw: 'Swahili', kn: 'Kannada', mr: 'Marathi', gu: 'Gujarati',
  pa: 'Punjabi', ml: 'Malayalam', fi: 'Finnish',
};

export const CONSTRAINED_RESPONSE_OPTIONS = ['My answer is yes.', 'My answer is no.', 'My answer is maybe.'] as const;

type ArgKind = 'int' | 'string' | 'strings' | 'relation' | 'letter';

interface InstructionSpec {
  /** Required kwargs and their kinds. */
  args: Record<string, ArgKind>;
  /** The sentence a prompt uses to ask for this constraint. */
  describe(k: Kwargs): string;
  /** Whether `response` follows the instruction (the official `check_following`). */
  check(response: string, k: Kwargs): boolean;
  /** Needs `loadLanguageProfiles()` first. */
  usesLanguageDetection?: boolean;
}

const int = (k: Kwargs, name: string) => k[name] as number;
const str = (k: Kwargs, name: string) => k[name] as string;
const strs = (k: Kwargs, name: string) => k[name] as string[];
const compare = (actual: number, relation: Relation, n: number) => (relation === 'less than' ? actual < n : actual >= n);
const list = (xs: string[]) => `[${xs.map((x) => `'${x}'`).join(', ')}]`;

/** Runs a language check; the official checker counts an undetectable text as followed. */
function languageIs(text: string, lang: string): boolean {
  const got = detectLanguage(text);
  return got === null ? true : got === lang;
}

const SPECS: Record<InstructionId, InstructionSpec> = {
  'keywords:existence': {
    args: { keywords: 'strings' },
    describe: (k) => `Include keywords ${list([...strs(k, 'keywords')].sort())} in the response.`,
    check: (r, k) => strs(k, 'keywords').every((w) => pyRegex(w, { ignoreCase: true }).test(r)),
  },
  'keywords:frequency': {
    args: { keyword: 'string', frequency: 'int', relation: 'relation' },
    describe: (k) => `In your response, the word ${pyStrip(str(k, 'keyword'))} should appear ${k.relation} ${k.frequency} times.`,
    check: (r, k) =>
      compare(countMatches(pyRegex(pyStrip(str(k, 'keyword')), { ignoreCase: true, global: true }), r), k.relation as Relation, int(k, 'frequency')),
  },
  'keywords:forbidden_words': {
    args: { forbidden_words: 'strings' },
    describe: (k) => `Do not include keywords ${list([...new Set(strs(k, 'forbidden_words'))].sort())} in the response.`,
    check: (r, k) => !strs(k, 'forbidden_words').some((w) => pyRegex(`\\b${w}\\b`, { ignoreCase: true }).test(r)),
  },
  'keywords:letter_frequency': {
    args: { letter: 'letter', let_frequency: 'int', let_relation: 'relation' },
    describe: (k) =>
      `In your response, the letter ${pyStrip(str(k, 'letter')).toLowerCase()} should appear ${k.let_relation} ${k.let_frequency} times.`,
    check: (r, k) => {
      // Counts the literal character (the official code swaps a non-letter for a random letter).
      const letter = pyStrip(str(k, 'letter')).toLowerCase();
      let n = 0;
      for (const ch of r.toLowerCase()) if (ch === letter) n++;
      return compare(n, k.let_relation as Relation, int(k, 'let_frequency'));
    },
  },
  'language:response_language': {
    args: { language: 'string' },
    describe: (k) => `Your ENTIRE response should be in ${LANGUAGE_NAMES[str(k, 'language')] ?? str(k, 'language')} language, no other language is allowed.`,
    check: (r, k) => languageIs(r, str(k, 'language')),
    usesLanguageDetection: true,
  },
  'length_constraints:number_sentences': {
    args: { num_sentences: 'int', relation: 'relation' },
    describe: (k) => `Your response should contain ${k.relation} ${k.num_sentences} sentences.`,
    check: (r, k) => compare(countSentences(r), k.relation as Relation, int(k, 'num_sentences')),
  },
  'length_constraints:number_paragraphs': {
    args: { num_paragraphs: 'int' },
    describe: (k) => `There should be ${k.num_paragraphs} paragraphs. Paragraphs are separated with the markdown divider: ***`,
    check: (r, k) => {
      const paragraphs = r.split(new RegExp(`${S}?\\*\\*\\*${S}?`, 'u'));
      let n = paragraphs.length;
      for (let i = 0; i < paragraphs.length; i++) {
        if (pyStrip(paragraphs[i])) continue;
        if (i === 0 || i === paragraphs.length - 1) n--;
        else return false;
      }
      return n === int(k, 'num_paragraphs');
    },
  },
  'length_constraints:number_words': {
    args: { num_words: 'int', relation: 'relation' },
    describe: (k) => `Answer with ${k.relation} ${k.num_words} words.`,
    check: (r, k) => compare(countWords(r), k.relation as Relation, int(k, 'num_words')),
  },
  'length_constraints:nth_paragraph_first_word': {
    args: { num_paragraphs: 'int', nth_paragraph: 'int', first_word: 'string' },
    describe: (k) =>
      `There should be ${k.num_paragraphs} paragraphs. Paragraphs and only paragraphs are separated with each other by two new lines as if it was '\\n\\n' in python. Paragraph ${k.nth_paragraph} must start with word ${str(k, 'first_word').toLowerCase()}.`,
    check: (r, k) => {
      const paragraphs = r.split('\n\n');
      let n = paragraphs.length;
      for (const p of paragraphs) if (!pyStrip(p)) n--;
      const nth = int(k, 'nth_paragraph');
      if (nth > n) return false;
      // Indexes the raw split, empty paragraphs included, as the official code does.
      const paragraph = pyStrip(paragraphs[nth - 1]);
      if (!paragraph) return false;
      let word = paragraph.split(new RegExp(`${S}+`, 'u'))[0];
      word = word.replace(/^'+/, '').replace(/^"+/, '');
      let first = '';
      for (const ch of word) {
        if ('.,?!\'"'.includes(ch)) break;
        first += ch.toLowerCase();
      }
      return n === int(k, 'num_paragraphs') && first === str(k, 'first_word').toLowerCase();
    },
  },
  'detectable_content:number_placeholders': {
    args: { num_placeholders: 'int' },
    describe: (k) => `The response must contain at least ${k.num_placeholders} placeholders represented by square brackets, such as [address].`,
    check: (r, k) => countMatches(/\[[^\n]*?\]/gu, r) >= int(k, 'num_placeholders'),
  },
  'detectable_content:postscript': {
    args: { postscript_marker: 'string' },
    describe: (k) => `At the end of your response, please explicitly add a postscript starting with ${pyStrip(str(k, 'postscript_marker'))}`,
    check: (r, k) => {
      const marker = pyStrip(str(k, 'postscript_marker'));
      const pattern =
        marker === 'P.P.S' ? '\\s*p\\.\\s?p\\.\\s?s.*$' : marker === 'P.S.' ? '\\s*p\\.\\s?s\\..*$' : `\\s*${marker.toLowerCase()}.*$`;
      return pyRegex(pattern, { multiline: true }).test(r.toLowerCase());
    },
  },
  'detectable_format:number_bullet_lists': {
    args: { num_bullets: 'int' },
    describe: (k) =>
      `Your answer must contain exactly ${k.num_bullets} bullet points. Use the markdown bullet points such as:\n* This is point 1. \n* This is point 2`,
    check: (r, k) => {
      const star = countMatches(pyRegex('^\\s*\\*[^\\*].*$', { multiline: true, global: true }), r);
      const dash = countMatches(pyRegex('^\\s*-.*$', { multiline: true, global: true }), r);
      return star + dash === int(k, 'num_bullets');
    },
  },
  'detectable_format:constrained_response': {
    args: {},
    describe: () => `Answer with one of the following options: ('${CONSTRAINED_RESPONSE_OPTIONS.join("', '")}')`,
    check: (r) => {
      const v = pyStrip(r);
      return CONSTRAINED_RESPONSE_OPTIONS.some((o) => v.includes(o));
    },
  },
  'detectable_format:number_highlighted_sections': {
    args: { num_highlights: 'int' },
    describe: (k) => `Highlight at least ${k.num_highlights} sections in your answer with markdown, i.e. *highlighted section*.`,
    check: (r, k) => {
      let n = 0;
      for (const h of r.match(/\*[^\n*]*\*/g) ?? []) if (pyStrip(pyStripChars(h, '*'))) n++;
      for (const h of r.match(/\*\*[^\n*]*\*\*/g) ?? []) if (pyStrip(h.slice(2, -2))) n++;
      return n >= int(k, 'num_highlights');
    },
  },
  'detectable_format:multiple_sections': {
    args: { section_spliter: 'string', num_sections: 'int' },
    describe: (k) => {
      const s = pyStrip(str(k, 'section_spliter'));
      return `Your response must have ${k.num_sections} sections. Mark the beginning of each section with ${s} X, such as:\n${s} 1\n[content of section 1]\n${s} 2\n[content of section 2]`;
    },
    check: (r, k) => {
      const re = pyRegex(`\\s?${pyStrip(str(k, 'section_spliter'))}\\s?\\d+\\s?`, { global: true });
      return countMatches(re, r) >= int(k, 'num_sections');
    },
  },
  'detectable_format:json_format': {
    args: {},
    describe: () => 'Entire output should be wrapped in JSON format. You can use markdown ticks such as ```.',
    check: (r) => {
      let v = pyStrip(r);
      for (const p of ['```json', '```Json', '```JSON', '```']) if (v.startsWith(p)) v = v.slice(p.length);
      if (v.endsWith('```')) v = v.slice(0, -3);
      return isPythonJson(pyStrip(v));
    },
  },
  'detectable_format:title': {
    args: {},
    describe: () => 'Your answer must contain a title, wrapped in double angular brackets, such as <<poem of joy>>.',
    check: (r) => (r.match(/<<[^\n]+>>/g) ?? []).some((t) => pyStrip(t.replace(/^<+/, '').replace(/>+$/, '')) !== ''),
  },
  'combination:two_responses': {
    args: {},
    describe: () => 'Give two different responses. Responses and only responses should be separated by 6 asterisk symbols: ******.',
    check: (r) => {
      const parts = r.split('******');
      const valid: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        if (pyStrip(parts[i])) valid.push(parts[i]);
        else if (i !== 0 && i !== parts.length - 1) return false;
      }
      return valid.length === 2 && pyStrip(valid[0]) !== pyStrip(valid[1]);
    },
  },
  'combination:repeat_prompt': {
    args: { prompt_to_repeat: 'string' },
    describe: () =>
      'First repeat the request word for word without change, then give your answer (1. do not say any words or characters before repeating the request; 2. the request you need to repeat does not include this sentence)',
    check: (r, k) => pyStrip(r).toLowerCase().startsWith(pyStrip(str(k, 'prompt_to_repeat')).toLowerCase()),
  },
  'startend:end_checker': {
    args: { end_phrase: 'string' },
    describe: (k) => `Finish your response with this exact phrase ${pyStrip(str(k, 'end_phrase'))}. No other words should follow this phrase.`,
    check: (r, k) => pyStripChars(pyStrip(r), '"').toLowerCase().endsWith(pyStrip(str(k, 'end_phrase')).toLowerCase()),
  },
  'change_case:capital_word_frequency': {
    args: { capital_frequency: 'int', capital_relation: 'relation' },
    describe: (k) => `In your response, words with all capital letters should appear ${k.capital_relation} ${k.capital_frequency} times.`,
    check: (r, k) => compare(countCapitalWords(r), k.capital_relation as Relation, int(k, 'capital_frequency')),
  },
  'change_case:english_capital': {
    args: {},
    describe: () => 'Your entire response should be in English, and in all capital letters.',
    check: (r) => pyIsUpper(r) && languageIs(r, 'en'),
    usesLanguageDetection: true,
  },
  'change_case:english_lowercase': {
    args: {},
    describe: () => 'Your entire response should be in English, and in all lowercase letters. No capital letters are allowed.',
    check: (r) => pyIsLower(r) && languageIs(r, 'en'),
    usesLanguageDetection: true,
  },
  'punctuation:no_comma': {
    args: {},
    describe: () => 'In your entire response, refrain from the use of any commas.',
    check: (r) => !r.includes(','),
  },
  'startend:quotation': {
    args: {},
    describe: () => 'Wrap your entire response with double quotation marks.',
    check: (r) => {
      const v = pyStrip(r);
      return [...v].length > 1 && v.startsWith('"') && v.endsWith('"');
    },
  },
};

/**
 * Python's `json.loads` on the text: JSON.parse, plus the NaN / Infinity literals Python accepts.
 */
function isPythonJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    if (!/NaN|Infinity/.test(text)) return false;
    try {
      JSON.parse(text.replace(/"(?:\\.|[^"\\])*"|-?Infinity|NaN/g, (t) => (t.startsWith('"') ? t : '0')));
      return true;
    } catch {
      return false;
    }
  }
}

export function isInstructionId(id: string): id is InstructionId {
  return Object.prototype.hasOwnProperty.call(SPECS, id);
}

export function usesLanguageDetection(id: InstructionId): boolean {
  return !!SPECS[id].usesLanguageDetection;
}

/** The kwargs each instruction needs, with their kinds. */
export function instructionArgs(id: InstructionId): Readonly<Record<string, ArgKind>> {
  return SPECS[id].args;
}

/**
 * Checks and cleans one instruction's kwargs: drops null values and keys the instruction does
 * not take (IFEval files list unused keys as null), and throws an `invalid-input` LabError
 * naming the problem when a required value is missing or of the wrong kind.
 */
export function validateKwargs(id: string, raw: unknown): Kwargs {
  if (!isInstructionId(id)) {
    throw new LabError('invalid-input', `Unknown instruction id "${id}": use one of the 25 IFEval ids (${INSTRUCTION_IDS[0]}, ${INSTRUCTION_IDS[1]}, ...; listed in src/eval/instructions.ts).`);
  }
  if (raw !== undefined && raw !== null && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new LabError('invalid-input', `kwargs of "${id}" must be an object.`);
  }
  const given = (raw ?? {}) as Record<string, unknown>;
  const out: Kwargs = {};
  for (const [name, kind] of Object.entries(SPECS[id].args)) {
    const v = given[name];
    const bad = (what: string) => new LabError('invalid-input', `"${id}" needs ${name} (${what}); got ${JSON.stringify(v) ?? 'nothing'}.`);
    if (v === undefined || v === null) throw bad(kindText(kind));
    switch (kind) {
      case 'int':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw bad('a non-negative integer');
        if (name === 'nth_paragraph' && (v < 1 || v > (given.num_paragraphs as number))) throw bad('between 1 and num_paragraphs');
        break;
      case 'string':
        if (typeof v !== 'string' || !v.trim()) throw bad('a non-empty string');
        break;
      case 'letter':
        if (typeof v !== 'string' || [...v].length !== 1) throw bad('a single character');
        break;
      case 'strings':
        if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string' && s.length > 0)) throw bad('a list of non-empty strings');
        break;
      case 'relation':
        if (!RELATIONS.includes(v as Relation)) throw bad(`"less than" or "at least"`);
        break;
    }
    out[name] = v;
  }
  return out;
}

function kindText(kind: ArgKind): string {
  return { int: 'an integer', string: 'a string', strings: 'a list of strings', relation: '"less than" or "at least"', letter: 'a single character' }[kind];
}

/** The prompt sentence that asks for this instruction (IFEval's phrasing). Kwargs must be valid. */
export function describeInstruction(id: InstructionId, kwargs: Kwargs): string {
  return SPECS[id].describe(kwargs);
}

/**
 * Whether `response` follows one instruction, exactly as the official `check_following` (an
 * empty or blank response never does). Kwargs must have passed `validateKwargs`; language
 * instructions need `loadLanguageProfiles()` to have finished.
 */
export function checkInstruction(id: InstructionId, kwargs: Kwargs, response: string): boolean {
  if (!pyStrip(response)) return false;
  return SPECS[id].check(response, kwargs);
}

/**
 * Pairs of instruction ids that must not be combined in one prompt (IFEval's registry
 * `INSTRUCTION_CONFLICTS`, made symmetric; every instruction conflicts with itself).
 */
export const INSTRUCTION_CONFLICTS: ReadonlyMap<InstructionId, ReadonlySet<InstructionId>> = buildConflicts();

function buildConflicts(): Map<InstructionId, Set<InstructionId>> {
  const all = new Set<InstructionId>(INSTRUCTION_IDS);
  const except = (...ids: InstructionId[]) => new Set([...all].filter((i) => !ids.includes(i)));
  const table: Partial<Record<InstructionId, Set<InstructionId>>> = {
    'language:response_language': new Set([
      'detectable_format:multiple_sections', 'keywords:existence', 'keywords:frequency', 'keywords:forbidden_words',
      'startend:end_checker', 'change_case:english_capital', 'change_case:english_lowercase',
    ]),
    'length_constraints:number_paragraphs': new Set(['length_constraints:nth_paragraph_first_word', 'length_constraints:number_sentences']),
    'length_constraints:nth_paragraph_first_word': new Set(['length_constraints:number_paragraphs']),
    'detectable_format:constrained_response': new Set(all),
    'detectable_format:multiple_sections': new Set(['language:response_language', 'detectable_format:number_highlighted_sections']),
    'detectable_format:json_format': except('keywords:forbidden_words', 'keywords:existence'),
    'combination:two_responses': except('keywords:forbidden_words', 'keywords:existence', 'language:response_language', 'detectable_format:title', 'punctuation:no_comma'),
    'combination:repeat_prompt': except('keywords:existence', 'detectable_format:title', 'punctuation:no_comma'),
    'change_case:capital_word_frequency': new Set(['change_case:english_lowercase', 'change_case:english_capital']),
    'change_case:english_lowercase': new Set(['change_case:english_capital']),
    'startend:quotation': new Set(['detectable_format:title']),
  };
  const out = new Map<InstructionId, Set<InstructionId>>(INSTRUCTION_IDS.map((id) => [id, new Set([id])]));
  for (const [a, bs] of Object.entries(table) as [InstructionId, Set<InstructionId>][]) {
    for (const b of bs) {
      out.get(a)!.add(b);
      out.get(b)!.add(a);
    }
  }
  return out;
}

export function conflicts(a: InstructionId, b: InstructionId): boolean {
  return INSTRUCTION_CONFLICTS.get(a)!.has(b);
}
