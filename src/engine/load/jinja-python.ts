/**
 * Python's behaviour for the values a chat template handles, as jinja2 (and so transformers) has
 * it and @huggingface/jinja does not: str() and repr() of values, float repr, json.dumps,
 * strftime in the C locale, str.strip with chars, ==, slices. chat-template.ts uses these where
 * the library's JavaScript semantics would render a different text.
 */
import { Environment, type Interpreter } from '@huggingface/jinja';
import { LabError } from '../../errors';

export type RuntimeValue = ReturnType<Interpreter['evaluate']>;
type ValueClass = new (value?: unknown) => RuntimeValue;

// The library's runtime value classes are not exported; take them from values it makes.
const classOf = (() => {
  const env = new Environment();
  let n = 0;
  return (v: unknown) => env.set(`v${n++}`, v).constructor as ValueClass;
})();
export const StringValue = classOf('');
export const IntegerValue = classOf(0);
export const FloatValue = classOf(0.5);
export const BooleanValue = classOf(true);
export const NullValue = classOf(null);
export const UndefinedValue = classOf(undefined);
export const ArrayValue = classOf([]);
export const FunctionValue = classOf(() => null);

export const str = (s: string) => new StringValue(s);
export const undef = () => new UndefinedValue();
export const bool = (b: boolean) => new BooleanValue(b);
export const isArray = (v: RuntimeValue) => v.type === 'ArrayValue' || v.type === 'TupleValue';
export const isMapping = (v: RuntimeValue) => v.type === 'ObjectValue' || v.type === 'KeywordArgumentsValue' || v.type === 'NamespaceValue';
export const items = (v: RuntimeValue) => v.value as RuntimeValue[];
export const entries = (v: RuntimeValue) => v.value as Map<string, RuntimeValue>;

/** Python's str.isspace() characters (\s in its re module), newline aside. */
export const PY_SPACE = ' \t\v\f\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';
export const isPySpace = (c: string) => c === '\n' || PY_SPACE.includes(c);
/** Python's str.rstrip(chars): whitespace, or the given characters, off the end. */
export function pyRstrip(s: string, chars?: string): string {
  let end = s.length;
  while (end > 0 && (chars === undefined ? isPySpace(s[end - 1]) : chars.includes(s[end - 1]))) end--;
  return s.slice(0, end);
}

/** Python's str.lstrip(chars). */
export function pyLstrip(s: string, chars?: string): string {
  let start = 0;
  while (start < s.length && (chars === undefined ? isPySpace(s[start]) : chars.includes(s[start]))) start++;
  return s.slice(start);
}

/** Python's repr(float): shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export function pyFloat(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (Object.is(x, -0)) return '-0.0';
  const [mantissa, exp] = x.toExponential().split('e');
  const e = Number(exp);
  const sign = mantissa.startsWith('-') ? '-' : '';
  const digits = mantissa.replace(/[-.]/g, '');
  if (e < -4 || e >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  const whole = digits.slice(0, e + 1).padEnd(e + 1, '0');
  return `${sign}${whole}.${digits.slice(e + 1) || '0'}`;
}

function pyNumber(v: RuntimeValue): string {
  return v.type === 'FloatValue' ? pyFloat(v.value as number) : String(v.value);
}

/** Python's repr(str). */
function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const c of s) {
    const cp = c.codePointAt(0)!;
    if (c === '\\' || c === quote) out += `\\${c}`;
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (cp < 0x20 || (cp >= 0x7f && cp <= 0xa0) || c === '\xad') out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else out += c;
  }
  return out + quote;
}

/** Python's repr() of a template value (what a list or dict prints its items as). */
function pyRepr(v: RuntimeValue): string {
  switch (v.type) {
    case 'StringValue':
      return pyStrRepr(v.value as string);
    case 'ArrayValue':
      return `[${items(v).map(pyRepr).join(', ')}]`;
    case 'TupleValue':
      return items(v).length === 1 ? `(${pyRepr(items(v)[0])},)` : `(${items(v).map(pyRepr).join(', ')})`;
    case 'ObjectValue':
    case 'KeywordArgumentsValue':
      return `{${[...entries(v)].map(([k, x]) => `${pyStrRepr(k)}: ${pyRepr(x)}`).join(', ')}}`;
    case 'NamespaceValue':
      return `<Namespace {${[...entries(v)].map(([k, x]) => `${pyStrRepr(k)}: ${pyRepr(x)}`).join(', ')}}>`;
    case 'UndefinedValue':
      return 'Undefined';
    default:
      return pyStr(v);
  }
}

/** Python's str() of a template value: what `{{ x }}` prints. */
export function pyStr(v: RuntimeValue): string {
  switch (v.type) {
    case 'StringValue':
      return v.value as string;
    case 'BooleanValue':
      return v.value ? 'True' : 'False';
    case 'NullValue':
      return 'None';
    case 'UndefinedValue':
      return '';
    case 'IntegerValue':
    case 'FloatValue':
      return pyNumber(v);
    case 'FunctionValue':
      return '<function>';
    default:
      return pyRepr(v);
  }
}

const JSON_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

/** json.dumps of a string: short escapes, \u00XX for other controls, and with ensure_ascii \uXXXX (surrogate pairs) past ASCII. */
function jsonString(s: string, ensureAscii: boolean): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    const code = s.charCodeAt(i);
    if (JSON_ESCAPES[c]) out += JSON_ESCAPES[c];
    else if (code < 0x20 || (ensureAscii && code > 0x7e)) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += c;
  }
  return out + '"';
}

export interface JsonOptions {
  indent: string | null;
  itemSep: string;
  keySep: string;
  sortKeys: boolean;
  ensureAscii: boolean;
}

const byCodePoint = (a: string, b: string) => {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0)! - y[i].codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
};

/** Python's json.dumps of a template value, as transformers' tojson filter calls it. */
export function jsonDumps(v: RuntimeValue, o: JsonOptions, depth = 0): string {
  switch (v.type) {
    case 'NullValue':
    case 'UndefinedValue':
      return 'null';
    case 'BooleanValue':
      return v.value ? 'true' : 'false';
    case 'IntegerValue':
      return String(v.value);
    case 'FloatValue': {
      const x = v.value as number;
      return Number.isNaN(x) ? 'NaN' : !Number.isFinite(x) ? (x > 0 ? 'Infinity' : '-Infinity') : pyFloat(x);
    }
    case 'StringValue':
      return jsonString(v.value as string, o.ensureAscii);
  }
  let parts: string[];
  let brackets: string;
  if (isArray(v)) {
    parts = items(v).map((x) => jsonDumps(x, o, depth + 1));
    brackets = '[]';
  } else if (isMapping(v)) {
    let kv = [...entries(v)];
    if (o.sortKeys) kv = kv.sort(([a], [b]) => byCodePoint(a, b));
    parts = kv.map(([k, x]) => `${jsonString(k, o.ensureAscii)}${o.keySep}${jsonDumps(x, o, depth + 1)}`);
    brackets = '{}';
  } else {
    throw new Error(`Object of type ${v.type} is not JSON serializable`);
  }
  if (parts.length === 0) return brackets;
  if (o.indent === null) return `${brackets[0]}${parts.join(o.itemSep)}${brackets[1]}`;
  const inner = `\n${o.indent.repeat(depth + 1)}`;
  return `${brackets[0]}${inner}${parts.join(o.itemSep + inner)}\n${o.indent.repeat(depth)}${brackets[1]}`;
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/** A date and time as written on a wall clock: no zone, as Python's naive datetime.now(). */
export interface WallClock {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The wall clock of a Date (its local time), of "YYYY-MM-DD[THH:MM[:SS]]" as written, or of now. */
export function wallClock(date: Date | string | undefined): WallClock {
  if (typeof date === 'string') {
    const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(date);
    const c = m && { year: +m[1], month: +m[2], day: +m[3], hour: +(m[4] ?? 0), minute: +(m[5] ?? 0), second: +(m[6] ?? 0) };
    if (!c || c.month < 1 || c.month > 12 || c.day < 1 || c.day > new Date(Date.UTC(c.year, c.month, 0)).getUTCDate() || c.hour > 23 || c.minute > 59 || c.second > 59) {
      throw new LabError('invalid-input', `The date for the chat template must be YYYY-MM-DD (or YYYY-MM-DDTHH:MM[:SS]), a real day; got "${date}".`);
    }
    return c;
  }
  const d = date ?? new Date();
  if (Number.isNaN(d.getTime())) throw new LabError('invalid-input', 'The date for the chat template is an invalid Date.');
  return { year: d.getFullYear(), month: d.getMonth() + 1, day: d.getDate(), hour: d.getHours(), minute: d.getMinutes(), second: d.getSeconds() };
}

/** Python's datetime.strftime in the C locale (what transformers' strftime_now returns on a server). */
export function strftime(format: string, c: WallClock): string {
  const weekday = new Date(Date.UTC(c.year, c.month - 1, c.day)).getUTCDay();
  const yday = (Date.UTC(c.year, c.month - 1, c.day) - Date.UTC(c.year, 0, 1)) / 86_400_000 + 1;
  const p2 = (n: number) => String(n).padStart(2, '0');
  const h12 = c.hour % 12 || 12;
  const fields: Record<string, () => string> = {
    a: () => DAYS[weekday].slice(0, 3),
    A: () => DAYS[weekday],
    b: () => MONTHS[c.month - 1].slice(0, 3),
    h: () => MONTHS[c.month - 1].slice(0, 3),
    B: () => MONTHS[c.month - 1],
    d: () => p2(c.day),
    e: () => String(c.day).padStart(2, ' '),
    m: () => p2(c.month),
    y: () => p2(c.year % 100),
    Y: () => String(c.year),
    H: () => p2(c.hour),
    I: () => p2(h12),
    M: () => p2(c.minute),
    S: () => p2(c.second),
    p: () => (c.hour < 12 ? 'AM' : 'PM'),
    j: () => String(yday).padStart(3, '0'),
    u: () => String(weekday || 7),
    w: () => String(weekday),
    D: () => `${p2(c.month)}/${p2(c.day)}/${p2(c.year % 100)}`,
    F: () => `${c.year}-${p2(c.month)}-${p2(c.day)}`,
    T: () => `${p2(c.hour)}:${p2(c.minute)}:${p2(c.second)}`,
    R: () => `${p2(c.hour)}:${p2(c.minute)}`,
    x: () => `${p2(c.month)}/${p2(c.day)}/${p2(c.year % 100)}`,
    X: () => `${p2(c.hour)}:${p2(c.minute)}:${p2(c.second)}`,
    c: () => `${DAYS[weekday].slice(0, 3)} ${MONTHS[c.month - 1].slice(0, 3)} ${String(c.day).padStart(2, ' ')} ${p2(c.hour)}:${p2(c.minute)}:${p2(c.second)} ${c.year}`,
    z: () => '', // a naive datetime has no zone
    Z: () => '',
    n: () => '\n',
    t: () => '\t',
    '%': () => '%',
  };
  return format.replace(/%(.)/gsu, (all, f: string) => fields[f]?.() ?? all);
}

/** Slice indices as Python's slice.indices(len) computes them. */
export function sliceIndices(len: number, start: number | undefined, stop: number | undefined, step: number): number[] {
  if (step === 0) throw new Error('slice step cannot be zero');
  const clamp = (i: number, lo: number, hi: number) => Math.min(Math.max(i < 0 ? i + len : i, lo), hi);
  const [lo, hi] = step > 0 ? [0, len] : [-1, len - 1];
  const from = start === undefined ? (step > 0 ? 0 : len - 1) : clamp(start, lo, hi);
  const to = stop === undefined ? (step > 0 ? len : -1) : clamp(stop, lo, hi);
  const out: number[] = [];
  for (let i = from; step > 0 ? i < to : i > to; i += step) out.push(i);
  return out;
}

/** Python's ==: numbers and booleans by value (True == 1), lists and dicts item by item, undefined only equal to undefined. */
export function pyEquals(a: RuntimeValue, b: RuntimeValue): boolean {
  const numeric = (v: RuntimeValue) => v.type === 'IntegerValue' || v.type === 'FloatValue' || v.type === 'BooleanValue';
  if (numeric(a) && numeric(b)) return Number(a.value) === Number(b.value);
  if (isArray(a) && isArray(b)) return items(a).length === items(b).length && items(a).every((x, i) => pyEquals(x, items(b)[i]));
  if (isMapping(a) && isMapping(b)) {
    const [x, y] = [entries(a), entries(b)];
    return x.size === y.size && [...x].every(([k, v]) => y.has(k) && pyEquals(v, y.get(k)!));
  }
  if (a.type !== b.type) return false;
  return a.type === 'NullValue' || a.type === 'UndefinedValue' || a.value === b.value;
}

/** Python's str.capitalize(): the first character upper-cased, the rest lower-cased. */
export function capitalize(s: string): string {
  const [first = '', ...rest] = [...s];
  return first.toUpperCase() + rest.join('').toLowerCase();
}
