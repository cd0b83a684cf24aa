import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChatTemplate, DEFAULT_TEMPLATE_LIMITS } from '../../../../src/engine/load/chat-template';
import { pythonWhitespace } from '../../../../src/engine/load/jinja-whitespace';
import { LabError } from '../../../../src/errors';

/**
 * The probes of test/fixtures/chat-templates/expected.json: small templates of our own, each aimed
 * at one place where @huggingface/jinja and Python's jinja2 part ways, with what jinja2 renders in
 * transformers' environment (render_expected.py). The real templates are checked in
 * test/real-world/chat-templates.test.ts.
 */
interface Probe {
  template: string;
  text?: string;
  error?: string;
}
const expected = JSON.parse(readFileSync(join(__dirname, '../../../fixtures/chat-templates/expected.json'), 'utf8')) as {
  now: string;
  probe_messages: unknown[];
  probe_special_tokens: Record<string, string>;
  probes: Record<string, Probe>;
};
const context = { messages: expected.probe_messages, tools: null, documents: null, add_generation_prompt: true, ...expected.probe_special_tokens };
const render = (source: string) => new ChatTemplate(source).render(context, { date: expected.now });

/** What the library cannot parse, and so we refuse (rather than render something else). */
const UNPARSED = ['unparsed-test-with-argument', 'unparsed-exponent-literal', 'unparsed-raw-block'];

describe('chat templates render as Python jinja2 renders them in transformers', () => {
  const rendered = Object.entries(expected.probes).filter(([name, p]) => p.text !== undefined && !UNPARSED.includes(name));
  it.each(rendered)('%s', (_, p) => {
    expect(render(p.template)).toBe(p.text);
  });

  const raised = Object.entries(expected.probes).filter(([, p]) => p.error !== undefined);
  it.each(raised)('%s is refused, as jinja2 refuses it', (_, p) => {
    expect(() => render(p.template)).toThrow(LabError);
  });

  it.each(UNPARSED)('%s, which the library cannot parse, is refused with a parse error, never misrendered', (name) => {
    expect(expected.probes[name].text).toBeDefined(); // Python renders it
    expect(() => render(expected.probes[name].template)).toThrow(/could not be parsed/);
  });

  it("passes raise_exception's message on, as the template wrote it", () => {
    const err = (() => {
      try {
        render(expected.probes['raise-exception'].template);
      } catch (e) {
        return e as LabError;
      }
    })();
    expect(err).toMatchObject({ kind: 'invalid-input', message: 'The chat template refused this conversation: Only one message is supported, got 2' });
    expect(expected.probes['raise-exception'].error).toBe('TemplateError: Only one message is supported, got 2');
  });
});

describe('strftime_now', () => {
  const t = new ChatTemplate('{{ strftime_now("%d %b %Y %A") }}');
  it('formats the date it is given, in the C locale, as written or in local time', () => {
    expect(t.render({}, { date: '2024-07-26' })).toBe('26 Jul 2024 Friday');
    expect(t.render({}, { date: new Date(2025, 0, 5, 23, 59) })).toBe('05 Jan 2025 Sunday');
  });
  it('uses today by default', () => {
    const now = new Date();
    expect(new ChatTemplate('{{ strftime_now("%Y-%m-%d") }}').render({})).toBe(
      `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`,
    );
  });
  it('refuses a malformed date, saying the format', () => {
    expect(() => t.render({}, { date: '2024-02-30' })).toThrow(/YYYY-MM-DD/);
    expect(() => t.render({}, { date: '26/07/2024' })).toThrow(/YYYY-MM-DD/);
  });
});

describe('a runaway template cannot hang the worker', () => {
  const stopped = (source: string, ctx: Record<string, unknown> = {}) => {
    const t0 = performance.now();
    let error: unknown;
    try {
      new ChatTemplate(source).render(ctx);
    } catch (e) {
      error = e;
    }
    return { error: error as LabError, ms: performance.now() - t0 };
  };

  it('stops nested loops of range(100000) at once, with a clear LabError', () => {
    const { error, ms } = stopped('{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}');
    expect(error).toBeInstanceOf(LabError);
    expect(error.kind).toBe('unsupported');
    expect(error.message).toMatch(/was stopped: it ran more than 500,000 steps/);
    expect(ms).toBeLessThan(DEFAULT_TEMPLATE_LIMITS.ms * 3);
  });

  it('stops nested loops over a long conversation within about a second', () => {
    const messages = Array.from({ length: 3000 }, (_, i) => ({ role: 'user', content: String(i) }));
    const { error, ms } = stopped('{% for a in messages %}{% for b in messages %}{{ a.content }}{% endfor %}{% endfor %}', { messages });
    expect(error?.message).toMatch(/was stopped/);
    expect(ms).toBeLessThan(DEFAULT_TEMPLATE_LIMITS.ms * 3);
  });

  it('refuses range(10**9) before building it, endless recursion, and strings that double forever', () => {
    expect(stopped('{{ range(1000000000) | length }}').error?.message).toMatch(/steps/);
    expect(stopped('{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}').error?.message).toMatch(/nested more than 1000 levels/);
    expect(stopped('{% set ns = namespace(s="x") %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}').error?.message).toMatch(/string of more than/);
  });

  it('leaves room for real conversations: 2000 turns render', () => {
    const messages = Array.from({ length: 2000 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `turn ${i}` }));
    const chatml = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}";
    expect(new ChatTemplate(chatml).render({ messages }).split('<|im_end|>').length).toBe(2001);
  });
});

describe('whitespace control', () => {
  it('applies trim_blocks and lstrip_blocks tag by tag, not inside string literals', () => {
    expect(pythonWhitespace('a\n  {% if x %}\n  b\n  {% endif %}\nc')).toBe('a\n{% if x %}  b\n{% endif %}c');
    expect(pythonWhitespace('{{ "%}\n  {%" }}\n')).toBe('{{ "%}\n  {%" }}');
  });
  it('honours - and + modifiers and drops comments', () => {
    expect(pythonWhitespace('a  {%- if x -%}  b {#- c -#} d\n')).toBe('a{% if x %}bd');
    expect(pythonWhitespace('  {%+ if x %}\nb{% endif +%}\nc')).toBe('  {% if x %}b{% endif %}\nc');
  });
  it('keeps a final newline that is content', () => {
    expect(new ChatTemplate('{{ "x" }}\n\n').render({})).toBe('x\n');
  });
});
