/**
 * The judge and refine protocol as text. The wording of the defaults is ours; the protocol is
 * the reference's (SPAR.md): the judge prompt asks for a step-by-step verification ending with
 * `Final Judgement (if the Output accurately follows the Prompt): Yes|No`, and the refine request
 * asks for a reflection and then `Final Refined Output: [[start]] … [[end]]`.
 * Templates are per run (stored in the run config) and editable.
 */
import type { ChatMessage } from '../backends/types';

export interface SparTemplates {
  /** The judge prompt (one user turn). `{instruction}` and `{response}` are filled in. */
  judge: string;
  /** The user turn after the critique that asks for a refinement. */
  refine: string;
  /** Verdicts are read from the text after the first occurrence of this marker. */
  verdictMarker: string;
  /**
   * Verdict read-out: the critique is cut where `verdictMarker` starts and this cue is written
   * instead; the backend then compares the labels (`' ' + yes`, `' ' + no`) as continuations.
   */
  verdictCue: string;
  yes: string;
  no: string;
  /** The refined output is the text between these markers. */
  outputStart: string;
  outputEnd: string;
}

export const DEFAULT_TEMPLATES: Readonly<SparTemplates> = Object.freeze({
  judge: `You are an expert reviewer of instruction following. An Output must follow its Prompt exactly: every explicit constraint counts (content, format, length, wording, language, structure, what to include and what to leave out).

Prompt:
"""
{instruction}
"""

Output:
"""
{response}
"""

Go through the constraints the Prompt sets one by one and check whether the Output satisfies each; name every constraint that is not satisfied. Then give your verdict. Use exactly this format:
Step-by-step verification: <your check of each constraint>
Final Judgement (if the Output accurately follows the Prompt): <Yes or No>`,
  refine: `Based on your judgement, rewrite the Output so that it follows the Prompt exactly: fix every constraint that is not satisfied and keep everything that already is.

Use exactly this format:
Reflection on how to refine the Output: <what has to change, and how>
Final Refined Output: [[start]] <the complete refined Output> [[end]]`,
  verdictMarker: 'Final Judgement',
  verdictCue: 'Final Judgement (if the Output accurately follows the Prompt):',
  yes: 'Yes',
  no: 'No',
  outputStart: '[[start]]',
  outputEnd: '[[end]]',
});

/** The judge prompt for one response. Both placeholders are filled in one pass. */
export function judgePrompt(t: SparTemplates, instruction: string, response: string): string {
  return t.judge.replace(/\{(instruction|response)\}/g, (_m, key: string) => (key === 'instruction' ? instruction : response));
}

/** Judge conversation: one user turn (reference `build_judge_message`). */
export function judgeMessages(t: SparTemplates, instruction: string, response: string): ChatMessage[] {
  return [{ role: 'user', content: judgePrompt(t, instruction, response) }];
}

/** Refine conversation (reference `build_refine_message`): judge prompt, critique, refine request. */
export function refineMessages(t: SparTemplates, instruction: string, response: string, critique: string): ChatMessage[] {
  return [
    { role: 'user', content: judgePrompt(t, instruction, response) },
    { role: 'assistant', content: critique },
    { role: 'user', content: t.refine },
  ];
}

/** Which template fields are wrong, as messages naming the field; empty when usable. */
export function templateProblems(t: SparTemplates): string[] {
  const problems: string[] = [];
  for (const key of ['judge', 'refine', 'verdictMarker', 'verdictCue', 'yes', 'no', 'outputStart', 'outputEnd'] as const) {
    if (typeof t[key] !== 'string' || t[key].length === 0) problems.push(`templates.${key} must be a non-empty string`);
  }
  if (problems.length) return problems;
  for (const ph of ['{instruction}', '{response}']) {
    if (!t.judge.includes(ph)) problems.push(`templates.judge must contain ${ph}`);
  }
  if (!t.judge.includes(t.verdictMarker)) problems.push(`templates.judge must ask for a line starting with "${t.verdictMarker}"`);
  if (!t.verdictCue.includes(t.verdictMarker)) problems.push(`templates.verdictCue must contain "${t.verdictMarker}"`);
  if (!t.refine.includes(t.outputStart) || !t.refine.includes(t.outputEnd)) {
    problems.push(`templates.refine must show the markers ${t.outputStart} and ${t.outputEnd}`);
  }
  if (t.yes === t.no) problems.push('templates.yes and templates.no must differ');
  return problems;
}
