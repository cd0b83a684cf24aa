/** The built-in training-instruction generator. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkInstruction, conflicts, evaluateStrict, generateInstructions, INSTRUCTION_IDS, SEED_QUESTIONS, SEED_TASKS, validateKwargs } from '../../../src/eval';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The current IFEval prompts (shipped with the lab) and the archived revision (test data). */
const IFEVAL_FILES = [resolve(HERE, '../../../src/lab/data/ifeval/input_data.jsonl'), resolve(HERE, '../../fixtures/ifeval/input_data_gpt4_20231107_145030.jsonl')];

function words(s: string): string[] {
  return s.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
}

function ngrams(s: string, n: number): Set<string> {
  const w = words(s);
  const out = new Set<string>();
  for (let i = 0; i + n <= w.length; i++) out.add(w.slice(i, i + n).join(' '));
  return out;
}

describe('generateInstructions', () => {
  const recs = generateInstructions({ count: 500, seed: 42 });

  it('is deterministic for a seed and varies with it', () => {
    expect(generateInstructions({ count: 500, seed: 42 })).toEqual(recs);
    expect(generateInstructions({ count: 50, seed: 43 }).map((r) => r.prompt)).not.toEqual(recs.slice(0, 50).map((r) => r.prompt));
  });

  it('makes distinct prompts in IFEval record shape with valid kwargs', () => {
    expect(new Set(recs.map((r) => r.prompt)).size).toBe(recs.length);
    recs.forEach((r, i) => {
      expect(r.key).toBe(i);
      expect(r.instruction_id_list.length).toBeGreaterThanOrEqual(1);
      expect(r.instruction_id_list.length).toBeLessThanOrEqual(3);
      expect(r.kwargs).toHaveLength(r.instruction_id_list.length);
      r.instruction_id_list.forEach((id, j) => expect(validateKwargs(id, r.kwargs[j])).toEqual(r.kwargs[j]));
    });
  });

  it('never combines conflicting constraints and uses all 25 types', () => {
    const used = new Set<string>();
    for (const r of recs) {
      const ids = r.instruction_id_list;
      ids.forEach((a, i) => ids.forEach((b, j) => i !== j && expect(conflicts(a, b), `${a} + ${b}`).toBe(false)));
      ids.forEach((id) => used.add(id));
    }
    expect([...used].sort()).toEqual([...INSTRUCTION_IDS].sort());
  });

  it('keeps constraints checkable: a response repeating the request passes repeat_prompt', () => {
    for (const r of recs.filter((x) => x.instruction_id_list.includes('combination:repeat_prompt')).slice(0, 10)) {
      const j = r.instruction_id_list.indexOf('combination:repeat_prompt');
      const request = r.kwargs[j].prompt_to_repeat as string;
      expect(r.prompt.startsWith(request)).toBe(true);
      expect(checkInstruction('combination:repeat_prompt', r.kwargs[j], `${request}\nMy answer.`)).toBe(true);
      expect(evaluateStrict(r, 'x').follow_instruction_list).toHaveLength(r.instruction_id_list.length);
    }
  });

  it('honours the options', () => {
    const only = generateInstructions({ count: 30, seed: 1, instructionIds: ['punctuation:no_comma', 'startend:quotation'], minConstraints: 2, maxConstraints: 2, firstKey: 1000 });
    expect(only[0].key).toBe(1000);
    for (const r of only) expect([...r.instruction_id_list].sort()).toEqual(['punctuation:no_comma', 'startend:quotation']);
    expect(() => generateInstructions({ count: 5, minConstraints: 3, maxConstraints: 2 })).toThrow(/min <= max/);
  });
});

describe('seed tasks', () => {
  it('has hundreds of distinct tasks and some yes/no questions', () => {
    expect(SEED_TASKS.length).toBeGreaterThanOrEqual(200);
    expect(new Set(SEED_TASKS).size).toBe(SEED_TASKS.length);
    expect(SEED_QUESTIONS.length).toBeGreaterThanOrEqual(20);
    for (const q of SEED_QUESTIONS) expect(q.endsWith('?')).toBe(true);
  });

  it('never overlaps an IFEval prompt (no shared run of 7 words)', () => {
    const files = IFEVAL_FILES;
    for (const f of files) if (!existsSync(f)) throw new Error(`IFEval prompts not found: ${f}.`);
    const ifeval = new Set<string>();
    const prompts = new Set<string>();
    for (const f of files) {
      for (const l of readFileSync(f, 'utf8').trim().split('\n')) {
        const p = JSON.parse(l).prompt as string;
        prompts.add(p);
        for (const g of ngrams(p, 7)) ifeval.add(g);
      }
    }
    const overlaps = [...SEED_TASKS, ...SEED_QUESTIONS].filter((t) => [...ngrams(t, 7)].some((g) => ifeval.has(g)));
    expect(overlaps).toEqual([]);
    for (const r of generateInstructions({ count: 2000, seed: 7 })) expect(prompts.has(r.prompt)).toBe(false);
  });
});
