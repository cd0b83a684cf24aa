/**
 * A small scripted world for SPaR tests: the actor's samples, the refiner's votes and
 * refinements are functions of the instruction, the response and how often that response was
 * asked about before, so results do not depend on call interleaving.
 */
import { createScriptedBackend, type ScriptedBackend } from '../../src/backends/scripted';
import type { GenerateRequest } from '../../src/backends/types';
import type { ModelCtx } from '../../src/spar/calls';
import { parseSparConfig, type SparConfig } from '../../src/spar/config';
import { DEFAULT_TEMPLATES } from '../../src/spar/templates';

export const TEMPLATES = {
  ...DEFAULT_TEMPLATES,
  judge: 'JUDGE {instruction} ||| {response} ||| Final Judgement (Yes or No)',
  refine: 'REFINE. Final Refined Output: [[start]] ... [[end]]',
};

type DeepPartial<T> = { [K in keyof T]?: T[K] extends unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** Reference defaults with the test templates, overridden per test. */
export function config(over: DeepPartial<SparConfig> = {}): SparConfig {
  return parseSparConfig({ ...over, templates: { ...TEMPLATES, ...over.templates } });
}

export function newCtx(): ModelCtx {
  return { stats: { modelCalls: 0, generatedTokens: 0, judgments: 0 } };
}

/** A refine reply with the output markers. */
export const fixed = (text: string) => `Reflection on how to refine the Output: fix it.\nFinal Refined Output: [[start]] ${text} [[end]]`;
/** A refine reply without the start marker. */
export const NOMARK = 'Reflection on how to refine the Output: I do not know.';
/** A refine reply whose output is empty. */
export const EMPTY = 'Reflection on how to refine the Output: none.\nFinal Refined Output: [[start]]   [[end]]';

/** A critique with verdict letter Y, N, or x (no verdict). */
export function critique(tag: string, v: string): string {
  if (v === 'x') return `${tag}: I cannot tell.`;
  return `${tag}: checked.\nFinal Judgement (if the Output accurately follows the Prompt): ${v === 'Y' ? 'Yes' : 'No'}`;
}

export interface WorldSpec {
  /** The actor's samples for an instruction (all n at once). */
  samples?: (instruction: string, n: number) => string[];
  /** Verdict letters of the o-th judgment of `response` (one per critique; cycled if short). */
  votes: (response: string, o: number, instruction: string) => string;
  /** The o-th refine reply for `parent` (default: `fixed(parent + '.' + o)`). */
  refine?: (parent: string, o: number, instruction: string) => string;
  /** Throw this from the model for matching requests. */
  fail?: (req: GenerateRequest) => Error | undefined;
  delayMs?: number | ((call: number) => number);
}

export function parseJudge(content: string): { instruction: string; response: string } {
  const [head, response] = content.split(' ||| ');
  return { instruction: head.slice('JUDGE '.length), response };
}

export function world(spec: WorldSpec): { actor: ScriptedBackend; refiner: ScriptedBackend } {
  const seen = new Map<string, number>();
  const next = (key: string) => {
    const o = seen.get(key) ?? 0;
    seen.set(key, o + 1);
    return o;
  };
  let judgeO = 0;
  const actor = createScriptedBackend({
    label: 'actor',
    delayMs: spec.delayMs,
    generate: (req, at) => {
      const err = spec.fail?.(req);
      if (err) throw err;
      const instruction = req.messages[0].content;
      return (spec.samples ?? ((p, n) => Array.from({ length: n }, (_, i) => `${p}/s${i}`)))(instruction, req.n)[at.sample];
    },
  });
  const refiner = createScriptedBackend({
    label: 'refiner',
    delayMs: spec.delayMs,
    generate: (req, at) => {
      const err = spec.fail?.(req);
      if (err) throw err;
      const { instruction, response } = parseJudge(req.messages[0].content);
      if (req.messages.length === 1) {
        if (at.sample === 0) judgeO = next(`J|${instruction}|${response}`);
        const letters = spec.votes(response, judgeO, instruction);
        return critique(`c(${response})#${judgeO}.${at.sample}`, letters[at.sample % letters.length]);
      }
      const o = next(`R|${instruction}|${response}`);
      return (spec.refine ?? ((p, i) => fixed(`${p}.${i}`)))(response, o, instruction);
    },
  });
  return { actor, refiner };
}

/** Requests of a scripted backend as [kind, response] pairs, in call order. */
export function callLog(b: ScriptedBackend): [string, string][] {
  return b.calls.flatMap((c) =>
    c.method === 'generate'
      ? c.requests.map((r): [string, string] => [r.messages.length === 1 ? 'judge' : 'refine', parseJudge(r.messages[0].content).response])
      : [],
  );
}
