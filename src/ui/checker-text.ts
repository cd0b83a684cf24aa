/**
 * The checkers' results in words, for badges beside the refiner's votes: a short label per
 * constraint ("fewer than 50 words", "no commas"), the judge's agreement with the checkers, the
 * judge's accuracy of an iteration, and what a refinement fixed.
 */
import { describeInstruction, LANGUAGE_NAMES, type InstructionId, type Kwargs } from '../eval/instructions';
import type { Agreement, Constraint, IterationJudge, ResponseCheck } from '../lab/checks';
import { brokenConstraints, fixedConstraints } from '../lab/checks';

const rel = (r: unknown) => (r === 'less than' ? 'fewer than' : 'at least');
const quoted = (s: unknown) => `“${String(s).trim()}”`;
const words = (xs: unknown) => (Array.isArray(xs) ? xs.map(quoted).join(', ') : '');

const LABELS: Record<InstructionId, (k: Kwargs) => string> = {
  'keywords:existence': (k) => `includes ${words(k.keywords)}`,
  'keywords:frequency': (k) => `${quoted(k.keyword)} ${rel(k.relation)} ${k.frequency} times`,
  'keywords:forbidden_words': (k) => `avoids ${words(k.forbidden_words)}`,
  'keywords:letter_frequency': (k) => `letter ${quoted(k.letter)} ${rel(k.let_relation)} ${k.let_frequency} times`,
  'language:response_language': (k) => `in ${LANGUAGE_NAMES[String(k.language)] ?? String(k.language)}`,
  'length_constraints:number_sentences': (k) => `${rel(k.relation)} ${k.num_sentences} sentences`,
  'length_constraints:number_paragraphs': (k) => `${k.num_paragraphs} paragraphs`,
  'length_constraints:number_words': (k) => `${rel(k.relation)} ${k.num_words} words`,
  'length_constraints:nth_paragraph_first_word': (k) => `paragraph ${k.nth_paragraph} of ${k.num_paragraphs} starts with ${quoted(k.first_word)}`,
  'detectable_content:number_placeholders': (k) => `at least ${k.num_placeholders} [placeholders]`,
  'detectable_content:postscript': (k) => `postscript ${quoted(k.postscript_marker)}`,
  'detectable_format:number_bullet_lists': (k) => `${k.num_bullets} bullet points`,
  'detectable_format:constrained_response': () => 'answers yes, no or maybe',
  'detectable_format:number_highlighted_sections': (k) => `at least ${k.num_highlights} *highlights*`,
  'detectable_format:multiple_sections': (k) => `${k.num_sections} sections (${String(k.section_spliter)})`,
  'detectable_format:json_format': () => 'JSON',
  'detectable_format:title': () => 'a <<title>>',
  'combination:two_responses': () => 'two responses',
  'combination:repeat_prompt': () => 'repeats the request first',
  'startend:end_checker': (k) => `ends with ${quoted(k.end_phrase)}`,
  'change_case:capital_word_frequency': (k) => `${rel(k.capital_relation)} ${k.capital_frequency} CAPITAL words`,
  'change_case:english_capital': () => 'all capitals',
  'change_case:english_lowercase': () => 'all lowercase',
  'punctuation:no_comma': () => 'no commas',
  'startend:quotation': () => 'in “quotation marks”',
};

/** A few words for a constraint, with its numbers: "fewer than 50 words". */
export function constraintLabel(c: Constraint): string {
  return LABELS[c.id](c.kwargs);
}

/** The sentence a prompt uses to ask for the constraint (IFEval's phrasing). */
export function constraintSentence(c: Constraint): string {
  return describeInstruction(c.id, c.kwargs);
}

export const AGREEMENT_TEXT: Record<Agreement, string> = {
  right: 'judge right',
  fooled: 'judge fooled',
  harsh: 'judge too harsh',
};

/** What an agreement means, for a tooltip and a screen reader. */
export const AGREEMENT_MEANING: Record<Agreement, string> = {
  right: "the refiner's majority agrees with the checkers",
  fooled: "the refiner's majority said Yes, but the checkers say a constraint fails",
  harsh: "the refiner's majority said No, but the checkers say every constraint passes",
};

export function checkerText(check: ResponseCheck): string {
  return `checker: ${check.followed ? 'pass' : 'fail'}`;
}

/** "checker: fail, 1 of 2 constraints pass (no commas fails)", for an accessible name. */
export function checkerSummary(check: ResponseCheck, constraints: readonly Constraint[]): string {
  const failing = constraints.filter((_, i) => !check.passed[i]).map(constraintLabel);
  const passed = check.passed.filter(Boolean).length;
  return `${checkerText(check)}, ${passed} of ${constraints.length} constraint${constraints.length === 1 ? '' : 's'} pass${failing.length ? ` (fails: ${failing.join('; ')})` : ''}`;
}

const percent = (x: number) => `${Math.round(x * 100)}%`;

/** "84% (212/252)": the share of the judge's verdicts the checkers agree with. */
export function judgeAccuracyNumber(j: IterationJudge): string {
  return j.accuracy === null ? 'no verdicts to score' : `${percent(j.accuracy)} (${j.right}/${j.judged})`;
}

/** How the judge's wrong verdicts split, and the tied ones left out: "30 fooled, 10 too harsh". */
export function judgeErrorsText(j: IterationJudge): string {
  const parts = [`${j.fooled} fooled`, `${j.harsh} too harsh`];
  if (j.invalid) parts.push(`${j.invalid} tied, not scored`);
  return parts.join(', ');
}

/**
 * What a refinement did to the constraints, from the rejected (or root) response to the chosen
 * (or final) one: which it fixed, which it broke, which still fail.
 */
export function refinementText(constraints: readonly Constraint[], before: ResponseCheck, after: ResponseCheck, beforeName = 'the rejected response'): string {
  const names = (ids: number[]) => ids.map((i) => constraintLabel(constraints[i])).join('; ');
  const fixed = fixedConstraints(before, after);
  const broken = brokenConstraints(before, after);
  const still = after.passed.flatMap((ok, i) => (!ok && !before.passed[i] ? [i] : []));
  const parts: string[] = [];
  if (fixed.length) parts.push(`fixed: ${names(fixed)}`);
  else if (before.followed) parts.push(`nothing to fix: ${beforeName} already passed every constraint`);
  else parts.push('fixed no constraint');
  if (broken.length) parts.push(`broke: ${names(broken)}`);
  if (still.length) parts.push(`still failing: ${names(still)}`);
  return parts.join(' · ');
}
