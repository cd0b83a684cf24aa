/**
 * Built-in training instructions for self-play: a seed task plus 1-3 machine-checkable
 * constraints drawn from the 25 IFEval types, phrased as IFEval phrases them, with the
 * constraints kept as kwargs so every response can be checked (and the refiner's judgments
 * scored). Deterministic for a seed; never combines conflicting constraints.
 */
import { LabError } from '../errors';
import type { IfevalRecord } from './evaluate';
import {
  conflicts,
  describeInstruction,
  INSTRUCTION_IDS,
  type InstructionId,
  type Kwargs,
  LANGUAGE_NAMES,
  RELATIONS,
} from './instructions';
import { PyRandom } from '../py-random';
import { END_PHRASES, FIRST_WORD_POOL, KEYWORD_POOL, SEED_QUESTIONS, SEED_TASKS } from './seed-tasks';

export interface GeneratorOptions {
  /** How many prompts. */
  count: number;
  /** Same seed, same prompts. */
  seed?: number;
  /** Constraints per prompt, drawn uniformly in [min, max]; IFEval uses 1-3. */
  minConstraints?: number;
  maxConstraints?: number;
  /** Restrict to these instruction types (default: all 25). */
  instructionIds?: readonly InstructionId[];
  /** First `key`; keys count up from it. */
  firstKey?: number;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

/** Draws kwargs for one instruction (repeat_prompt's are filled in once the prompt is known). */
function drawKwargs(id: InstructionId, rng: PyRandom): Kwargs {
  const relation = () => rng.choice(RELATIONS);
  switch (id) {
    case 'keywords:existence':
      return { keywords: sample(rng, KEYWORD_POOL, 2) };
    case 'keywords:frequency':
      return { keyword: rng.choice(KEYWORD_POOL), frequency: rng.randint(1, 4), relation: relation() };
    case 'keywords:forbidden_words':
      return { forbidden_words: sample(rng, KEYWORD_POOL, 2) };
    case 'keywords:letter_frequency': {
      const rel = relation();
      return { letter: rng.choice([...LETTERS]), let_frequency: rel === 'at least' ? rng.randint(1, 10) : rng.randint(2, 12), let_relation: rel };
    }
    case 'language:response_language':
      return { language: rng.choice(Object.keys(LANGUAGE_NAMES).filter((l) => l !== 'en')) };
    case 'length_constraints:number_sentences':
      return { num_sentences: rng.randint(2, 20), relation: relation() };
    case 'length_constraints:number_paragraphs':
      return { num_paragraphs: rng.randint(2, 5) };
    case 'length_constraints:number_words': {
      const rel = relation();
      return { num_words: rel === 'at least' ? 50 * rng.randint(1, 8) : 50 * rng.randint(2, 10), relation: rel };
    }
    case 'length_constraints:nth_paragraph_first_word': {
      const n = rng.randint(2, 5);
      return { num_paragraphs: n, nth_paragraph: rng.randint(1, n), first_word: rng.choice(FIRST_WORD_POOL) };
    }
    case 'detectable_content:number_placeholders':
      return { num_placeholders: rng.randint(1, 4) };
    case 'detectable_content:postscript':
      return { postscript_marker: rng.choice(['P.S.', 'P.P.S']) };
    case 'detectable_format:number_bullet_lists':
      return { num_bullets: rng.randint(2, 6) };
    case 'detectable_format:number_highlighted_sections':
      return { num_highlights: rng.randint(1, 4) };
    case 'detectable_format:multiple_sections':
      return { section_spliter: rng.choice(['Section', 'SECTION', 'Part', 'PART']), num_sections: rng.randint(2, 5) };
    case 'startend:end_checker':
      return { end_phrase: rng.choice(END_PHRASES) };
    case 'change_case:capital_word_frequency':
      return { capital_frequency: rng.randint(2, 20), capital_relation: relation() };
    default:
      return {};
  }
}

function sample<T>(rng: PyRandom, pool: readonly T[], k: number): T[] {
  return rng.shuffle([...pool]).slice(0, k);
}

/** Picks 1..n mutually compatible constraints (constrained_response stands alone, on a yes/no question). */
function drawConstraints(rng: PyRandom, ids: readonly InstructionId[], n: number): InstructionId[] {
  const chosen: InstructionId[] = [];
  for (const id of rng.shuffle([...ids])) {
    if (chosen.length >= n) break;
    if (chosen.some((c) => conflicts(c, id))) continue;
    chosen.push(id);
  }
  return chosen;
}

/**
 * Generates `count` training prompts in IFEval's record shape. Deterministic for a seed;
 * prompts within one call are distinct.
 */
export function generateInstructions(opts: GeneratorOptions): IfevalRecord[] {
  const { count, seed = 0, minConstraints = 1, maxConstraints = 3, firstKey = 0 } = opts;
  const ids = opts.instructionIds ?? INSTRUCTION_IDS;
  if (!Number.isInteger(count) || count < 0) throw new LabError('invalid-input', 'count must be a non-negative integer.');
  if (!(minConstraints >= 1 && maxConstraints >= minConstraints && maxConstraints <= 5)) {
    throw new LabError('invalid-input', 'Constraints per prompt must satisfy 1 <= min <= max <= 5.');
  }
  if (ids.length === 0) throw new LabError('invalid-input', 'Choose at least one instruction type.');
  const rng = new PyRandom(seed >>> 0);
  const seen = new Set<string>();
  const out: IfevalRecord[] = [];
  for (let attempts = 0; out.length < count; attempts++) {
    if (attempts > count * 50 + 1000) {
      throw new LabError('invalid-input', `Could only make ${out.length} distinct prompts with these settings; allow more instruction types or constraints.`);
    }
    const n = rng.randint(minConstraints, maxConstraints);
    const chosen = drawConstraints(rng, ids, n);
    if (chosen.length < Math.min(minConstraints, ids.length)) continue;
    const task = chosen.includes('detectable_format:constrained_response') ? rng.choice(SEED_QUESTIONS) : rng.choice(SEED_TASKS);
    const kwargs = chosen.map((id) => drawKwargs(id, rng));
    // The repeat instruction goes last and repeats everything before it.
    const order = chosen.map((_, i) => i).sort((a, b) => Number(chosen[a] === 'combination:repeat_prompt') - Number(chosen[b] === 'combination:repeat_prompt'));
    const parts = [task];
    for (const i of order) {
      if (chosen[i] === 'combination:repeat_prompt') kwargs[i] = { prompt_to_repeat: parts.join(' ') };
      parts.push(describeInstruction(chosen[i], kwargs[i]));
    }
    const prompt = parts.join(' ');
    if (seen.has(prompt)) continue;
    seen.add(prompt);
    out.push({ key: firstKey + out.length, prompt, instruction_id_list: order.map((i) => chosen[i]), kwargs: order.map((i) => kwargs[i]) });
  }
  return out;
}
