/** `npm run cli -- ifeval`: result files in the official shape, accuracies printed, bad lines reported. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { command } from '../../../src/cli/ifeval';

describe('ifeval command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ifeval-cli-'));
  afterEach(() => vi.restoreAllMocks());

  it('scores good lines, reports bad ones with line numbers, writes both result files', async () => {
    const input = join(dir, 'input.jsonl');
    const responses = join(dir, 'responses.jsonl');
    writeFileSync(
      input,
      [
        '{"key": 1, "prompt": "Say hi without commas.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}',
        '{"key": 2, "prompt": "Quote me.", "instruction_id_list": ["startend:quotation", "punctuation:no_comma"], "kwargs": [{}, {}]}',
        '{"key": 3, "prompt": "Broken", "instruction_id_list": ["startend:end_checker"], "kwargs": [{}]}',
        'oops',
      ].join('\n'),
    );
    writeFileSync(responses, ['{"prompt": "Say hi without commas.", "response": "Hi there"}', '{"prompt": "Quote me.", "response": "Here:\\n\\"ok, sure\\""}'].join('\n'));
    const out: string[] = [];
    const err: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((s: string) => void out.push(s));
    vi.spyOn(console, 'error').mockImplementation((s: string) => void err.push(s));

    const code = await command.run(['--input', input, '--responses', responses, '--out', join(dir, 'res')]);

    expect(code).toBe(0);
    expect(err).toEqual([expect.stringMatching(/input\.jsonl:3: .*end_phrase/), expect.stringMatching(/input\.jsonl:4: not valid JSON/)]);
    const report = out.join('\n');
    // Strict: prompt 2 fails both; loose: dropping its first line fixes the quotes, its last the comma.
    expect(report).toMatch(/prompt-level\s+50\.00\s+100\.00/);
    expect(report).toMatch(/instruction-level\s+33\.33\s+100\.00/);
    const strict = readFileSync(join(dir, 'res', 'eval_results_strict.jsonl'), 'utf8').trim().split('\n');
    expect(strict[0]).toBe(
      '{"follow_all_instructions": true, "follow_instruction_list": [true], "instruction_id_list": ["punctuation:no_comma"], "prompt": "Say hi without commas.", "response": "Hi there"}',
    );
    const loose = readFileSync(join(dir, 'res', 'eval_results_loose.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(loose[1].follow_instruction_list).toEqual([true, true]);
  });

  it('explains its usage when options are missing', async () => {
    const err: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((s: string) => void err.push(s));
    expect(await command.run(['--input', 'x'])).toBe(2);
    expect(err.join('\n')).toMatch(/--input, --responses and --out are all required/);
  });

  it('cleans up', () => rmSync(dir, { recursive: true, force: true }));
});
