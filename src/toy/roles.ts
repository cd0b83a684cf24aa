/**
 * What SPaR-toy says in each of the lab's three roles, and the training conversations built
 * from it: the actor answers (following each constraint about half the time, so self-play has
 * room to improve it); the refiner judges with one short line per constraint and a verdict, and
 * refines a failing answer with the smallest edit, between the markers.
 */
import type { ChatMessage } from '../backends/types';
import { judgeMessages, refineMessages, type SparTemplates } from '../spar/templates';
import { DEFAULT_TEMPLATES } from '../spar/templates';
import { PyRandom } from '../py-random';
import { checkToyAnswer, refineDraft, renderDraft, toyAnswer, toyInstructions, type ToyConstraint, type ToyInstruction } from './world';

/** The Toy world preset's judge and refine templates: short, so a refine conversation fits in 512 tokens. */
export const TOY_TEMPLATES: SparTemplates = {
  ...DEFAULT_TEMPLATES,
  judge: 'Prompt: {instruction}\nOutput: {response}\nCheck each constraint, then write Final Judgement: Yes or No.',
  refine: 'Fix the Output; write the new Output between [[start]] and [[end]].',
  verdictMarker: 'Final Judgement',
  verdictCue: 'Final Judgement:',
  yes: 'Yes',
  no: 'No',
  outputStart: '[[start]]',
  outputEnd: '[[end]]',
};

type Kwargs = Record<string, unknown>;

/** How the critique names each constraint, and what its reflection says to do when it fails. */
const CONSTRAINT_WORDS: Record<ToyConstraint, (k: Kwargs) => { label: string; fix: string }> = {
  'change_case:english_lowercase': () => ({ label: 'all lowercase', fix: 'write it all in lowercase' }),
  'change_case:english_capital': () => ({ label: 'all capital letters', fix: 'write it all in capital letters' }),
  'startend:end_checker': (k) => ({ label: 'ends with the phrase', fix: `end with "${k.end_phrase as string}"` }),
  'keywords:existence': (k) => ({ label: `includes ${(k.keywords as string[]).join(' and ')}`, fix: `mention ${(k.keywords as string[]).join(' and ')}` }),
  'keywords:forbidden_words': (k) => ({ label: `avoids ${(k.forbidden_words as string[]).join(' and ')}`, fix: `replace ${(k.forbidden_words as string[]).join(' and ')}` }),
  'punctuation:no_comma': () => ({ label: 'no commas', fix: 'remove the commas' }),
  'startend:quotation': () => ({ label: 'wrapped in double quotes', fix: 'wrap it in double quotes' }),
  'detectable_format:title': () => ({ label: 'has a title in << >>', fix: 'add a title in << >>' }),
  'detectable_format:number_bullet_lists': (k) => ({ label: `exactly ${k.num_bullets} bullet points`, fix: `use exactly ${k.num_bullets} bullet points` }),
  'detectable_content:postscript': () => ({ label: 'has a P.S.', fix: 'add a P.S.' }),
};

function constraintWords(inst: ToyInstruction, i: number): { label: string; fix: string } {
  return CONSTRAINT_WORDS[inst.record.instruction_id_list[i] as ToyConstraint](inst.record.kwargs[i] as Kwargs);
}

/** The judge's critique: one line per constraint, then the verdict line. */
export function toyCritique(inst: ToyInstruction, passes: readonly boolean[], t: SparTemplates = TOY_TEMPLATES): string {
  const lines = passes.map((ok, i) => `${constraintWords(inst, i).label}: ${ok ? 'yes' : 'no'}`);
  return `${lines.join('\n')}\n${t.verdictCue} ${passes.every(Boolean) ? t.yes : t.no}`;
}

/** The refiner's reply: what to change, then the refined answer between the markers. */
export function toyRefineReply(inst: ToyInstruction, passes: readonly boolean[], refined: string, t: SparTemplates = TOY_TEMPLATES): string {
  const fixes = passes.flatMap((ok, i) => (ok ? [] : [constraintWords(inst, i).fix]));
  return `Reflection: ${fixes.join('; ').replace(/\.$/, '')}.\n${t.outputStart} ${refined} ${t.outputEnd}`;
}

/**
 * 'copy' is a drill, not a lab role: repeat an answer between the markers. Refining is mostly
 * copying with a small edit, and a 1M-parameter model learns to copy far sooner from the bare task.
 */
export type ToyRole = 'actor' | 'judge' | 'refine' | 'copy';

export interface ToyExample {
  role: ToyRole;
  /** The conversation; its last message is the assistant turn the model learns to write. */
  messages: ChatMessage[];
}

/** The chance that an actor answer follows each constraint: SPaR-toy's M0 follows about half. */
export const ACTOR_FOLLOW_RATE = 0.5;

/** How many conversations of each role a training set has per unit of `count`. */
export type ToyMix = Record<ToyRole, number>;

/**
 * `count` × `mix` training conversations drawn from the training split, each on its own
 * instruction. Judge examples are balanced between passing and failing answers; refine examples
 * start from failing ones.
 */
export function toyTrainingExamples(count: number, seed: number, mix: ToyMix = { actor: 1, judge: 1, refine: 1, copy: 0 }): ToyExample[] {
  const rng = new PyRandom(seed);
  const perUnit = mix.actor + mix.judge + mix.refine + mix.copy;
  const instructions = toyInstructions({ count: count * perUnit, seed, split: 'train' });
  let next = 0;
  const out: ToyExample[] = [];
  const follow = (inst: ToyInstruction, p: number) => inst.record.instruction_id_list.map(() => rng.random() < p);
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < mix.actor; k++) {
      const a = instructions[next++];
      const answer = toyAnswer(a, follow(a, ACTOR_FOLLOW_RATE), rng).text;
      out.push({ role: 'actor', messages: [{ role: 'user', content: a.record.prompt }, { role: 'assistant', content: answer }] });
    }
    for (let k = 0; k < mix.judge; k++) {
      const j = instructions[next++];
      const judged = toyAnswer(j, follow(j, rng.random() < 0.4 ? 1 : ACTOR_FOLLOW_RATE), rng);
      out.push({ role: 'judge', messages: [...judgeMessages(TOY_TEMPLATES, j.record.prompt, judged.text), { role: 'assistant', content: toyCritique(j, judged.passes) }] });
    }
    for (let k = 0; k < mix.refine; k++) out.push(refineExample(instructions[next++], rng));
    for (let k = 0; k < mix.copy; k++) {
      const c = instructions[next++];
      const text = toyAnswer(c, follow(c, ACTOR_FOLLOW_RATE), rng).text;
      out.push({ role: 'copy', messages: [{ role: 'user', content: `Repeat the Output exactly.\nOutput: ${text}` }, { role: 'assistant', content: `${TOY_TEMPLATES.outputStart} ${text} ${TOY_TEMPLATES.outputEnd}` }] });
    }
  }
  return out;
}

/** A failing answer, its critique, and the smallest refinement that passes. */
function refineExample(inst: ToyInstruction, rng: PyRandom): ToyExample {
  const n = inst.record.instruction_id_list.length;
  let follow: boolean[];
  do follow = Array.from({ length: n }, () => rng.random() < ACTOR_FOLLOW_RATE);
  while (follow.every(Boolean));
  const { draft, text, passes: verdicts } = toyAnswer(inst, follow, rng);
  const failing = inst.record.instruction_id_list.filter((_, i) => !verdicts[i]) as ToyConstraint[];
  // A refinement the checkers still fail (langdetect on a short all-caps text) is drawn again.
  let refined = '';
  for (let attempt = 0; attempt < 20; attempt++) {
    refined = renderDraft(refineDraft(inst, draft, failing, rng));
    if (checkToyAnswer(inst, refined).every(Boolean)) break;
  }
  return {
    role: 'refine',
    messages: [
      ...refineMessages(TOY_TEMPLATES, inst.record.prompt, text, toyCritique(inst, verdicts)),
      { role: 'assistant', content: toyRefineReply(inst, verdicts, refined) },
    ],
  };
}
