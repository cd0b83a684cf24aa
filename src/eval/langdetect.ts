/**
 * Language identification as the official IFEval checker does it: Nakatani Shuyo's
 * language-detection algorithm (naive Bayes over character 1-3-grams, 7 trials of randomly
 * sampled n-grams), as ported by the Python `langdetect` package, with its random generator
 * seeded with 0 as in the reference run. The n-gram profiles are those shipped by the npm
 * package `langdetect` (the same Wikipedia profiles; only the JSON data is used, loaded lazily
 * so pages that never detect a language do not download them).
 *
 * Quirks kept on purpose: all-capital words contribute almost no n-grams (so all-caps English
 * is often not recognised as English), and a text with no usable n-gram cannot be classified
 * (`detectLanguage` returns null; the checker then counts the instruction as followed).
 */
import { LabError } from '../errors';
import { PyRandom } from '../py-random';

interface Profile {
  name: string;
  freq: Record<string, number>;
  n_words: number[];
}

const PROFILE_LOADERS: Record<string, () => Promise<{ default: unknown }>> = {
  af: () => import('langdetect/profiles/af.json'),
  ar: () => import('langdetect/profiles/ar.json'),
  bg: () => import('langdetect/profiles/bg.json'),
  bn: () => import('langdetect/profiles/bn.json'),
  cs: () => import('langdetect/profiles/cs.json'),
  da: () => import('langdetect/profiles/da.json'),
  de: () => import('langdetect/profiles/de.json'),
  el: () => import('langdetect/profiles/el.json'),
  en: () => import('langdetect/profiles/en.json'),
  es: () => import('langdetect/profiles/es.json'),
  et: () => import('langdetect/profiles/et.json'),
  fa: () => import('langdetect/profiles/fa.json'),
  fi: () => import('langdetect/profiles/fi.json'),
  fr: () => import('langdetect/profiles/fr.json'),
  gu: () => import('langdetect/profiles/gu.json'),
  he: () => import('langdetect/profiles/he.json'),
  hi: () => import('langdetect/profiles/hi.json'),
  hr: () => import('langdetect/profiles/hr.json'),
  hu: () => import('langdetect/profiles/hu.json'),
  id: () => import('langdetect/profiles/id.json'),
  it: () => import('langdetect/profiles/it.json'),
  ja: () => import('langdetect/profiles/ja.json'),
  kn: () => import('langdetect/profiles/kn.json'),
  ko: () => import('langdetect/profiles/ko.json'),
  lt: () => import('langdetect/profiles/lt.json'),
  lv: () => import('langdetect/profiles/lv.json'),
  mk: () => import('langdetect/profiles/mk.json'),
  ml: () => import('langdetect/profiles/ml.json'),
  mr: () => import('langdetect/profiles/mr.json'),
  ne: () => import('langdetect/profiles/ne.json'),
  nl: () => import('langdetect/profiles/nl.json'),
  no: () => import('langdetect/profiles/no.json'),
  pa: () => import('langdetect/profiles/pa.json'),
  pl: () => import('langdetect/profiles/pl.json'),
  pt: () => import('langdetect/profiles/pt.json'),
  ro: () => import('langdetect/profiles/ro.json'),
  ru: () => import('langdetect/profiles/ru.json'),
  sk: () => import('langdetect/profiles/sk.json'),
  sl: () => import('langdetect/profiles/sl.json'),
  so: () => import('langdetect/profiles/so.json'),
  sq: () => import('langdetect/profiles/sq.json'),
  sv: () => import('langdetect/profiles/sv.json'),
  sw: () => import('langdetect/profiles/sw.json'),
  ta: () => import('langdetect/profiles/ta.json'),
  te: () => import('langdetect/profiles/te.json'),
  th: () => import('langdetect/profiles/th.json'),
  tl: () => import('langdetect/profiles/tl.json'),
  tr: () => import('langdetect/profiles/tr.json'),
  uk: () => import('langdetect/profiles/uk.json'),
  ur: () => import('langdetect/profiles/ur.json'),
  vi: () => import('langdetect/profiles/vi.json'),
  'zh-cn': () => import('langdetect/profiles/zh-cn.json'),
  'zh-tw': () => import('langdetect/profiles/zh-tw.json'),
};
const CJK_LOADER = (): Promise<{ default: unknown }> => import('langdetect/res/cjk.json');

/** Language codes the detector can return. */
export const DETECTABLE_LANGUAGES: readonly string[] = Object.keys(PROFILE_LOADERS);

interface Model {
  langs: string[];
  /** n-gram -> P(n-gram | language), one entry per language in `langs` order. */
  probs: Map<string, Float64Array>;
  /** CJK ideograph -> representative of its class. */
  cjk: Map<string, string>;
}

let model: Model | null = null;
let loading: Promise<void> | null = null;

/** Loads the language profiles once (about 2 MB of JSON). Safe to call repeatedly. */
export function loadLanguageProfiles(): Promise<void> {
  if (model) return Promise.resolve();
  loading ??= (async () => {
    const langs = DETECTABLE_LANGUAGES.slice();
    const [profiles, cjkMod] = await Promise.all([Promise.all(langs.map((l) => PROFILE_LOADERS[l]())), CJK_LOADER()]);
    const probs = new Map<string, Float64Array>();
    profiles.forEach((mod, index) => {
      const p = mod.default as Profile;
      for (const [gram, count] of Object.entries(p.freq)) {
        let row = probs.get(gram);
        if (!row) probs.set(gram, (row = new Float64Array(langs.length)));
        const n = [...gram].length;
        if (n >= 1 && n <= 3) row[index] = count / p.n_words[n - 1];
      }
    });
    const cjk = new Map<string, string>();
    for (const cls of Object.values(cjkMod.default as Record<string, string>)) {
      const chars = [...cls];
      for (const ch of chars) cjk.set(ch, chars[0]);
    }
    model = { langs, probs, cjk };
  })().catch((e) => {
    loading = null;
    throw new LabError('network', `Could not load the language-detection profiles: ${e instanceof Error ? e.message : String(e)}. Check the connection and retry.`, { cause: e });
  });
  return loading;
}

export function languageProfilesLoaded(): boolean {
  return model !== null;
}

const URL_RE = /https?:\/\/[-_.?&~;+=/#0-9A-Za-z]{1,2076}/g;
const MAIL_RE = /[-_.0-9A-Za-z]{1,64}@[-_0-9A-Za-z]{1,255}[-_.0-9A-Za-z]{1,255}/g;
const VI_RE = /([AEIOUYaeiouy\u00c2\u00ca\u00d4\u00e2\u00ea\u00f4\u0102\u0103\u01a0\u01a1\u01af\u01b0])([\u0300\u0301\u0303\u0309\u0323])/g;
const MAX_TEXT_LENGTH = 10000;
const N_TRIAL = 7;
const ALPHA = 0.5;
const ALPHA_WIDTH = 0.05;
const ITERATION_LIMIT = 1000;
const PROB_THRESHOLD = 0.1;
const CONV_THRESHOLD = 0.99999;
const BASE_FREQ = 10000;
const LATIN1_EXCLUDED = '\u00a0\u00ab\u00b0\u00bb';
const UPPER = /\p{Uppercase}/u;
const LOWER = /\p{Lowercase}/u;
const TITLE = /\p{Lt}/u;
const isUpperChar = (ch: string) => UPPER.test(ch) && !LOWER.test(ch) && !TITLE.test(ch);

/** Maps one character to its n-gram alphabet (punctuation to space, kana and hangul to one symbol...). */
function normalizeChar(ch: string, cjk: Map<string, string>): string {
  const cp = ch.codePointAt(0)!;
  if (cp <= 0x7f) return (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) ? ch : ' ';
  if (cp <= 0xff) return LATIN1_EXCLUDED.includes(ch) ? ' ' : ch;
  if (cp >= 0x180 && cp <= 0x24f) return ch === '\u0219' ? '\u015f' : ch === '\u021b' ? '\u0163' : ch;
  if (cp >= 0x2000 && cp <= 0x206f) return ' ';
  if (cp >= 0x600 && cp <= 0x6ff) return ch === '\u06cc' ? '\u064a' : ch;
  if (cp >= 0x1e00 && cp <= 0x1eff) return cp >= 0x1ea0 ? '\u1ec3' : ch;
  if (cp >= 0x3040 && cp <= 0x309f) return '\u3042';
  if (cp >= 0x30a0 && cp <= 0x30ff) return '\u30a2';
  if ((cp >= 0x3100 && cp <= 0x312f) || (cp >= 0x31a0 && cp <= 0x31bf)) return '\u3105';
  if (cp >= 0x4e00 && cp <= 0x9fff) return cjk.get(ch) ?? ch;
  if (cp >= 0xac00 && cp <= 0xd7af) return '\uac00';
  return ch;
}

/** The text as the detector sees it: URLs and e-mail removed, Vietnamese composed, runs of spaces squeezed. */
function prepareText(text: string): string[] {
  text = text.replace(URL_RE, ' ').replace(MAIL_RE, ' ');
  text = text.replace(VI_RE, (_, a: string, d: string) => (a + d).normalize('NFC'));
  const chars: string[] = [];
  let pre = '';
  let i = 0;
  for (const ch of text) {
    if (i++ >= MAX_TEXT_LENGTH) break;
    if (ch !== ' ' || pre !== ' ') chars.push(ch);
    pre = ch;
  }
  // Text mostly in a non-Latin script: drop the Latin letters (the official code counts every
  // character from U+0300 on as non-Latin, Latin Extended Additional included).
  let latin = 0;
  let nonLatin = 0;
  for (const ch of chars) {
    if (ch >= 'A' && ch <= 'z') latin++;
    else if (ch >= '\u0300') nonLatin++;
  }
  return latin * 2 < nonLatin ? chars.filter((ch) => ch < 'A' || ch > 'z') : chars;
}

function extractNgrams(chars: string[], m: Model): string[] {
  const out: string[] = [];
  let grams = [' '];
  let capitalWord = false;
  for (const raw of chars) {
    const ch = normalizeChar(raw, m.cjk);
    const last = grams[grams.length - 1];
    if (last === ' ') {
      grams = [' '];
      capitalWord = false;
      if (ch === ' ') continue;
    } else if (grams.length >= 3) grams = grams.slice(1);
    grams.push(ch);
    if (isUpperChar(ch)) {
      if (isUpperChar(last)) capitalWord = true;
    } else capitalWord = false;
    if (capitalWord) continue;
    for (let n = 1; n <= 3 && n <= grams.length; n++) {
      const w = grams.slice(grams.length - n).join('');
      if (w !== ' ' && m.probs.has(w)) out.push(w);
    }
  }
  return out;
}

/**
 * The most probable language code of `text` (e.g. "en", "zh-cn"), "unknown" when no language
 * reaches probability 0.1, or null when the text has no usable n-gram (the official
 * `LangDetectException`). Deterministic: the sampler is seeded with `seed` (0 as in the reference run).
 */
export function detectLanguage(text: string, seed = 0): string | null {
  const m = model;
  if (!m) throw new LabError('internal', 'Language profiles are not loaded: await loadLanguageProfiles() before checking language instructions.');
  const ngrams = extractNgrams(prepareText(text), m);
  if (ngrams.length === 0) return null;
  const nLang = m.langs.length;
  const langprob = new Float64Array(nLang);
  const rng = new PyRandom(seed);
  for (let t = 0; t < N_TRIAL; t++) {
    const prob = new Float64Array(nLang).fill(1.0 / nLang);
    const alpha = ALPHA + rng.gauss(0.0, 1.0) * ALPHA_WIDTH;
    const weight = alpha / BASE_FREQ;
    for (let i = 0; ; i++) {
      const row = m.probs.get(rng.choice(ngrams))!;
      for (let j = 0; j < nLang; j++) prob[j] *= weight + row[j];
      if (i % 5 === 0) {
        let sum = 0;
        for (let j = 0; j < nLang; j++) sum += prob[j];
        let maxp = 0;
        for (let j = 0; j < nLang; j++) {
          const p = prob[j] / sum;
          if (maxp < p) maxp = p;
          prob[j] = p;
        }
        if (maxp > CONV_THRESHOLD || i >= ITERATION_LIMIT) break;
      }
    }
    for (let j = 0; j < nLang; j++) langprob[j] += prob[j] / N_TRIAL;
  }
  let best = -1;
  for (let j = 0; j < nLang; j++) if (langprob[j] > PROB_THRESHOLD && (best < 0 || langprob[j] > langprob[best])) best = j;
  return best < 0 ? 'unknown' : m.langs[best];
}
