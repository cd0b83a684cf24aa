/**
 * Python 3 string and `re` semantics the official IFEval checker relies on, written for
 * JavaScript. Python's `\s`, `\w`, `\b`, `.`, `str.strip()`, `isupper()` and `islower()` differ
 * from JavaScript's in small ways (which characters are whitespace, Unicode-aware word
 * boundaries, `\r` in `.`), and a checker that agrees with the official one must use Python's.
 */

/** Python's whitespace (`str.isspace`, `\s` in a str pattern): JS's set plus \x1c-\x1f and \x85, minus \ufeff. */
export const PY_WS = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
/** `\s` / `\S` of a Python str pattern, as JS (u-flag) class text. */
export const S = `[${PY_WS}]`;
export const NS = `[^${PY_WS}]`;
/** Python's `\w` for str patterns: letters, numbers and `_` (combining marks are not word characters). */
export const W_CHARS = '\\p{L}\\p{N}_';
export const W = `[${W_CHARS}]`;
export const NW = `[^${W_CHARS}]`;
/** Python's `\b` (Unicode-aware, unlike JS's ASCII-only `\b`). */
export const B = `(?:(?<=${W})(?!${W})|(?<!${W})(?=${W}))`;

const WS_SET = new Set<string>();
for (const c of ['\t', '\n', '\v', '\f', '\r', '\x1c', '\x1d', '\x1e', '\x1f', ' ', '\x85', '\xa0', '\u1680', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000']) WS_SET.add(c);
for (let c = 0x2000; c <= 0x200a; c++) WS_SET.add(String.fromCharCode(c));

export function isPySpace(ch: string): boolean {
  return WS_SET.has(ch);
}

/** `str.strip()` / `lstrip()` / `rstrip()` with no argument. */
export function pyStrip(s: string): string {
  return pyRstrip(pyLstrip(s));
}
export function pyLstrip(s: string): string {
  let i = 0;
  while (i < s.length && WS_SET.has(s[i])) i++;
  return s.slice(i);
}
export function pyRstrip(s: string): string {
  let j = s.length;
  while (j > 0 && WS_SET.has(s[j - 1])) j--;
  return s.slice(0, j);
}

/** `str.strip(chars)` with an explicit set of characters. */
export function pyStripChars(s: string, chars: string): string {
  let i = 0;
  let j = s.length;
  while (i < j && chars.includes(s[i])) i++;
  while (j > i && chars.includes(s[j - 1])) j--;
  return s.slice(i, j);
}

const UPPER = /\p{Uppercase}/u;
const LOWER = /\p{Lowercase}/u;
const TITLE = /\p{Lt}/u;

/** `str.isupper()`: at least one cased character, and none lowercase or titlecase. */
export function pyIsUpper(s: string): boolean {
  let cased = false;
  for (const ch of s) {
    if (LOWER.test(ch) || TITLE.test(ch)) return false;
    if (!cased && UPPER.test(ch)) cased = true;
  }
  return cased;
}

/** `str.islower()`: at least one cased character, and none uppercase or titlecase. */
export function pyIsLower(s: string): boolean {
  let cased = false;
  for (const ch of s) {
    if (UPPER.test(ch) || TITLE.test(ch)) return false;
    if (!cased && LOWER.test(ch)) cased = true;
  }
  return cased;
}

/** Python's `len(s)`: code points, not UTF-16 units. */
export function pyLen(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/**
 * Translates a Python `re` pattern (as IFEval kwargs such as keywords are used) to a JS RegExp
 * with the u flag: `\s \S \w \W \b \B \d \D`, `.` (no `\n` only), and `^`/`$` (with `multiline`,
 * only `\n` separates lines; without it, `$` also matches before a final `\n`). A pattern that is
 * not valid in JS falls back to matching the literal text.
 */
export function pyRegex(pattern: string, opts: { ignoreCase?: boolean; multiline?: boolean; global?: boolean } = {}): RegExp {
  let flags = 'u';
  if (opts.ignoreCase) flags += 'i';
  if (opts.global) flags += 'g';
  try {
    return new RegExp(translatePattern(pattern, !!opts.multiline), flags);
  } catch {
    return new RegExp(escapeRegex(pattern), flags);
  }
}

export function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

function translatePattern(p: string, multiline: boolean): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\' && i + 1 < p.length) {
      const n = p[++i];
      const inside = (cls: string) => (inClass ? cls : `[${cls}]`);
      switch (n) {
        case 's': out += inside(PY_WS); break;
        // Inside a class, \S and \W fall back to JS's (nearly equal) meaning.
        case 'S': out += inClass ? '\\S' : NS; break;
        case 'w': out += inside(W_CHARS); break;
        case 'W': out += inClass ? '\\W' : NW; break;
        case 'd': out += inside('\\p{Nd}'); break;
        case 'D': out += '\\P{Nd}'; break;
        case 'b': out += inClass ? '\\x08' : B; break;
        case 'B': out += `(?:(?<=${W})(?=${W})|(?<!${W})(?!${W}))`; break;
        case 'A': out += '^'; break;
        case 'Z': out += '(?![^])'; break;
        default:
          // Python lets any punctuation be escaped; JS's u flag only allows syntax characters.
          out += /[A-Za-z0-9]/.test(n) ? `\\${n}` : escapeRegex(n);
      }
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      if (p[i + 1] === '^') out += p[++i];
      if (p[i + 1] === ']') out += '\\' + p[++i];
      continue;
    }
    if (c === '.') out += '[^\\n]';
    else if (c === '^') out += multiline ? '(?<=^|\\n)' : '^';
    else if (c === '$') out += multiline ? '(?=\\n|$)' : '(?=\\n?$)';
    else out += c;
  }
  return out;
}

/** Number of non-overlapping matches, as `len(re.findall(...))`. */
export function countMatches(re: RegExp, s: string): number {
  const g = re.global ? re : new RegExp(re.source, re.flags + 'g');
  g.lastIndex = 0;
  let n = 0;
  for (;;) {
    const m = g.exec(s);
    if (!m) return n;
    n++;
    if (m[0].length === 0) g.lastIndex++;
  }
}
