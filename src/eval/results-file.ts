/**
 * `eval_results_{strict,loose}.jsonl` exactly as the official checker writes them: Python's
 * `json.dumps` of each output (keys in alphabetical order, `", "` and `": "` separators,
 * non-ASCII characters escaped as `\uXXXX`), one line per prompt.
 */
import type { Accuracy, EvalOutput } from './evaluate';

/** Python `json.dumps(value)` with its defaults (ensure_ascii, spaced separators). */
export function pyJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : value > 0 ? 'Infinity' : value < 0 ? '-Infinity' : 'NaN';
  if (typeof value === 'string') return pyJsonString(value);
  if (Array.isArray(value)) return `[${value.map(pyJsonDumps).join(', ')}]`;
  if (typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${pyJsonString(k)}: ${pyJsonDumps(v)}`)
      .join(', ')}}`;
  }
  throw new TypeError(`Cannot serialise ${typeof value}`);
}

const SHORT_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

function pyJsonString(s: string): string {
  return `"${s.replace(/[\\"]|[^ -~]/g, (c) => SHORT_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

/** One results line; keys sorted as the official `write_outputs` emits them. */
export function resultLine(o: EvalOutput): string {
  return pyJsonDumps({
    follow_all_instructions: o.follow_all_instructions,
    follow_instruction_list: o.follow_instruction_list,
    instruction_id_list: o.instruction_id_list,
    prompt: o.prompt,
    response: o.response,
  });
}

export function resultsJsonl(outputs: readonly EvalOutput[]): string {
  return outputs.map((o) => resultLine(o) + '\n').join('');
}

const pct = (x: number) => (100 * x).toFixed(2);

/** A plain-text report: the four accuracies, then accuracy per instruction type in both modes. */
export function formatReport(strict: Accuracy, loose: Accuracy): string {
  const lines = [
    `prompts: ${strict.prompts}, instructions: ${strict.instructions}`,
    '',
    '                      strict    loose',
    `prompt-level        ${pct(strict.promptLevel).padStart(8)} ${pct(loose.promptLevel).padStart(8)}`,
    `instruction-level   ${pct(strict.instructionLevel).padStart(8)} ${pct(loose.instructionLevel).padStart(8)}`,
    '',
  ];
  const ids = Object.keys(strict.byInstruction);
  const width = Math.max(20, ...ids.map((id) => id.length + 1));
  lines.push(`${'instruction'.padEnd(width)}  n    strict    loose`);
  for (const table of [strict.byCategory, strict.byInstruction] as const) {
    const other = table === strict.byCategory ? loose.byCategory : loose.byInstruction;
    for (const [id, e] of Object.entries(table)) {
      lines.push(`${id.padEnd(width)}${String(e.total).padStart(4)} ${pct(e.accuracy).padStart(8)} ${pct(other[id]?.accuracy ?? 0).padStart(8)}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
