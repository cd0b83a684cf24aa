/**
 * jinja2's whitespace control, applied to a template's source before @huggingface/jinja lexes it.
 *
 * transformers renders with trim_blocks and lstrip_blocks. The library implements them as two
 * regular expressions over the whole source, which also strip inside string literals, and it
 * cannot read the `+` modifiers; here they are applied tag by tag, as jinja2's lexer does.
 */
import { PY_SPACE, pyLstrip, pyRstrip } from './jinja-python';

/** Index just past the `}}` / `%}` that closes the tag whose body starts at `from`, skipping string literals and brackets. */
function tagEnd(src: string, from: number, close: string): number {
  let depth = 0;
  for (let i = from; i < src.length; i++) {
    const c = src[i];
    if (c === '"' || c === "'") {
      for (i++; i < src.length && src[i] !== c; i++) if (src[i] === '\\') i++;
    } else if (c === '(' || c === '[' || c === '{') depth++;
    else if ((c === ')' || c === ']' || c === '}') && depth > 0) depth--;
    else if (depth === 0 && src.startsWith(close, i)) return i + 2;
  }
  return -1;
}

/**
 * The template source with jinja2's whitespace rules applied (trim_blocks, lstrip_blocks, the `-`
 * and `+` modifiers, newline normalization, the dropped final newline) and the modifiers and
 * comments removed, so the library's lexer sees plain tags. Follows jinja2's Lexer.tokeniter:
 * lstrip_blocks strips the spaces between a line start and a `{%` or `{#`; trim_blocks drops the
 * newline right after `%}` or `#}`; `-` strips all whitespace on its side; `+` turns both off.
 */
export function pythonWhitespace(source: string): string {
  let src = source.replace(/\r\n?/g, '\n');
  if (src.endsWith('\n')) src = src.slice(0, -1); // keep_trailing_newline=False
  let out = '';
  let pos = 0;
  let lineStarting = true; // the text begins a line (jinja2's line_starting)
  while (pos <= src.length) {
    const open = src.slice(pos).search(/\{[{%#]/);
    if (open < 0) {
      out += src.slice(pos);
      break;
    }
    const start = pos + open;
    const kind = src[start + 1]; // '{', '%' or '#'
    const openMod = src[start + 2] === '-' || src[start + 2] === '+' ? src[start + 2] : '';
    const bodyStart = start + 2 + openMod.length;
    const close = kind === '{' ? '}}' : kind === '%' ? '%}' : '#}';
    const end = kind === '#' ? src.indexOf('#}', bodyStart) + 2 : tagEnd(src, bodyStart, close);
    if (end < 2) {
      out += src.slice(pos); // unclosed: the library's lexer reports it
      break;
    }
    const before = end - 3 >= bodyStart ? src[end - 3] : '';
    const closeMod = before === '-' || (before === '+' && kind !== '{') ? before : '';
    let text = src.slice(pos, start);
    if (openMod === '-') text = pyRstrip(text);
    else if (openMod !== '+' && kind !== '{') {
      const lineStart = text.lastIndexOf('\n') + 1;
      const tail = text.slice(lineStart);
      if ((lineStart > 0 || lineStarting) && tail.length > 0 && [...tail].every((c) => PY_SPACE.includes(c))) text = text.slice(0, lineStart);
    }
    out += text;
    if (kind !== '#') out += `{${kind}${src.slice(bodyStart, end - 2 - closeMod.length)}${close}`;
    pos = end;
    if (closeMod === '-') {
      const skipped = src.length - pos - pyLstrip(src.slice(pos)).length;
      lineStarting = skipped > 0 && src[pos + skipped - 1] === '\n';
      pos += skipped;
    } else if (closeMod !== '+' && kind !== '{' && src[pos] === '\n') {
      pos++;
      lineStarting = true;
    } else lineStarting = false;
    if (pos >= src.length) break;
  }
  // The library's lexer drops a final newline itself; an empty comment keeps one that is content.
  return out.endsWith('\n') ? `${out}{##}` : out;
}
