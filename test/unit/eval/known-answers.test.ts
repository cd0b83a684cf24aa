/**
 * Known-answer test: the official GPT-4 responses scored against the archived IFEval prompts
 * must reproduce the official checker's verdicts (`test/fixtures/ifeval/expected_gpt4.jsonl`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateResponses, parseIfevalJsonl, parseResponsesJsonl, responseMap, type IfevalReport } from '../../../src/eval';

const DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../fixtures/ifeval');

interface Expected {
  key: number;
  instruction_id_list: string[];
  follow_instruction_list_strict: boolean[];
  follow_instruction_list_loose: boolean[];
}

function read(name: string): string {
  const path = resolve(DIR, name);
  if (!existsSync(path)) {
    throw new Error(`IFEval reference data not found: ${path} (see test/fixtures/ifeval/README.md).`);
  }
  return readFileSync(path, 'utf8');
}

describe('IFEval known answers (GPT-4 responses, official verdicts)', () => {
  let report: IfevalReport;
  let expected: Expected[];

  beforeAll(async () => {
    const input = parseIfevalJsonl(read('input_data_gpt4_20231107_145030.jsonl'));
    const responses = parseResponsesJsonl(read('input_response_data_gpt4_20231107_145030.jsonl'));
    expect(input.errors).toEqual([]);
    expect(responses.errors).toEqual([]);
    expect(input.records).toHaveLength(541);
    expected = read('expected_gpt4.jsonl').trim().split('\n').map((l) => JSON.parse(l) as Expected);
    report = await evaluateResponses(input.records, responseMap(responses.records));
  });

  for (const mode of ['strict', 'loose'] as const) {
    it(`agrees with the official ${mode} verdicts on >= 99.5% of instructions`, () => {
      const outputs = report[mode];
      expect(report.missing).toEqual([]);
      expect(outputs).toHaveLength(expected.length);
      const disagreements: string[] = [];
      let total = 0;
      outputs.forEach((o, i) => {
        const want = mode === 'strict' ? expected[i].follow_instruction_list_strict : expected[i].follow_instruction_list_loose;
        expect(o.instruction_id_list).toEqual(expected[i].instruction_id_list);
        o.follow_instruction_list.forEach((got, j) => {
          total++;
          if (got !== want[j]) disagreements.push(`key ${expected[i].key} ${o.instruction_id_list[j]}: ours ${got}, official ${want[j]}`);
        });
      });
      const agreement = 1 - disagreements.length / total;
      if (disagreements.length) console.log(`${mode} disagreements:\n${disagreements.join('\n')}`);
      expect(total).toBe(834);
      expect(agreement).toBeGreaterThanOrEqual(0.995);
    });
  }

  it('reproduces the four official accuracies within 0.2 points', () => {
    const got = [
      report.strictAccuracy.promptLevel,
      report.strictAccuracy.instructionLevel,
      report.looseAccuracy.promptLevel,
      report.looseAccuracy.instructionLevel,
    ].map((x) => 100 * x);
    const official = [77.08, 83.69, 79.67, 85.61];
    got.forEach((g, i) => expect(Math.abs(g - official[i])).toBeLessThanOrEqual(0.2));
  });
});
