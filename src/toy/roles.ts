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

/** How the critique names a constraint. */
function label(inst: ToyInstruction, i: number): string {
  const id = inst.record.instruction_id_list[i] as ToyConstraint;
  const k = inst.record.kwargs[i] as Record<string, unknown>;
  switch (id) {
    case 'change_case:english_lowercase':
      return 'all lowercase';
    case 'change_case:english_capital':
      return 'all capital letters';
    case 'startend:end_checker':
      return 'ends with the phrase';
    case 'keywords:existence':
      return `includes ${(k.keywords as string[]).join(' and ')}`;
    case 'keywords:forbidden_words':
      return `avoids ${(k.forbidden_words as string[]).join(' and ')}`;
    case 'punctuation:no_comma':
      return 'no commas';
    case 'startend:quotation':
      return 'wrapped in double quotes';
    case 'detectable_format:title':
      return 'has a title in << >>';
    case 'detectable_format:number_bullet_lists':
      return `exactly ${k.num_bullets} bullet points`;
    case 'detectable_content:postscript':
      return 'has a P.S.';
  }
}

/** What the reflection says to do about a failing constraint. */
function fixText(inst: ToyInstruction, i: number): string {
  const id = inst.record.instruction_id_list[i] as ToyConstraint;
  const k = inst.record.kwargs[i] as Record<string, unknown>;
  switch (id) {
    case 'change_case:english_lowercase':
      return 'write it all in lowercase';
    case 'change_case:english_capital':
      return 'write it all in capital letters';
    case 'startend:end_checker':
      return `end with "${k.end_phrase as string}"`;
    case 'keywords:existence':
      return `mention ${(k.keywords as string[]).join(' and ')}`;
    case 'keywords:forbidden_words':
      return `replace ${(k.forbidden_words as string[]).join(' and ')}`;
    case 'punctuation:no_comma':
      return 'remove the commas';
    case 'startend:quotation':
      return 'wrap it in double quotes';
    case 'detectable_format:title':
      return 'add a title in << >>';
    case 'detectable_format:number_bullet_lists':
      return `use exactly ${k.num_bullets} bullet points`;
    case 'detectable_content:postscript':
      return 'add a P.S.';
  }
}

/** The judge's critique: one line per constraint, then the verdict line. */
export function toyCritique(inst: ToyInstruction, passes: readonly boolean[], t: SparTemplates = TOY_TEMPLATES): string {
  const lines = passes.map((ok, i) => `${label(inst, i)}: ${ok ? 'yes' : 'no'}`);
  return `${lines.join('\n')}\n${t.verdictCue} ${passes.every(Boolean) ? t.yes : t.no}`;
}

/** The refiner's reply: what to change, then the refined answer between the markers. */
export function toyRefineReply(inst: ToyInstruction, passes: readonly boolean[], refined: string, t: SparTemplates = TOY_TEMPLATES): string {
  const fixes = passes.flatMap((ok, i) => (ok ? [] : [fixText(inst, i)]));
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
