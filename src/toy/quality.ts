/**
 * How well a model plays the toy world's three roles, scored by the IFEval checkers: the actor's
 * share of constraints followed, the judge's verdict accuracy, and the share of refinements (from
 * a correct critique) that pass. Runs over any ModelBackend, so the same numbers come from the
 * CPU reference in Node and the lab engine in a browser.
 */
import type { ModelBackend } from '../backends/types';
import { judgeMessages, refineMessages, type SparTemplates } from '../spar/templates';
import { parseVerdict } from '../spar/verdict';
import { extractRefined } from '../spar/refine';
import { toyCritique, TOY_TEMPLATES } from './roles';
import { checkToyAnswer, type ToyInstruction } from './world';

export interface ToyQuality {
  actor: { answers: number; constraints: number; followed: number };
  judge: { judged: number; correct: number; invalid: number };
  refine: { attempts: number; extracted: number; passing: number };
}

export interface ToyQualityOptions {
  /** Actor answers per instruction (sampled as self-play samples them). */
  samples?: number;
  seed?: number;
  templates?: SparTemplates;
}

export async function measureToyQuality(backend: ModelBackend, instructions: readonly ToyInstruction[], o: ToyQualityOptions = {}): Promise<ToyQuality> {
  const t = o.templates ?? TOY_TEMPLATES;
  const n = o.samples ?? 2;
  const seed = o.seed ?? 0;
  const answers = await backend.generate(
    instructions.map((inst, i) => ({ messages: [{ role: 'user', content: inst.record.prompt }], n, sampling: { temperature: 0.9, topP: 0.9, maxTokens: 160, seed: seed + i } })),
  );
  const items = instructions.flatMap((inst, i) => answers[i].map((g) => ({ inst, text: g.text.trim(), passes: checkToyAnswer(inst, g.text.trim()) })));
  const q: ToyQuality = {
    actor: { answers: items.length, constraints: 0, followed: 0 },
    judge: { judged: items.length, correct: 0, invalid: 0 },
    refine: { attempts: 0, extracted: 0, passing: 0 },
  };
  for (const x of items) {
    q.actor.constraints += x.passes.length;
    q.actor.followed += x.passes.filter(Boolean).length;
  }
  const critiques = await backend.generate(
    items.map((x, i) => ({ messages: judgeMessages(t, x.inst.record.prompt, x.text), n: 1, sampling: { temperature: 0, topP: 1, maxTokens: 64, seed: seed + i } })),
  );
  items.forEach((x, i) => {
    const verdict = parseVerdict(critiques[i][0].text, t);
    if (verdict === null) q.judge.invalid++;
    else if ((verdict === 'Yes') === x.passes.every(Boolean)) q.judge.correct++;
  });
  const failing = items.filter((x) => !x.passes.every(Boolean));
  const replies = await backend.generate(
    failing.map((x, i) => ({
      messages: refineMessages(t, x.inst.record.prompt, x.text, toyCritique(x.inst, x.passes, t)),
      n: 1,
      sampling: { temperature: 0, topP: 1, maxTokens: 220, seed: seed + i },
    })),
  );
  failing.forEach((x, i) => {
    q.refine.attempts++;
    const refined = extractRefined(replies[i][0].text, t);
    if (refined === null) return;
    q.refine.extracted++;
    if (checkToyAnswer(x.inst, refined).every(Boolean)) q.refine.passing++;
  });
  return q;
}

/** The three rates as percentages. */
export function qualityRates(q: ToyQuality): { actorFollowed: number; judgeAccuracy: number; refinePassing: number } {
  const pct = (a: number, b: number) => (b === 0 ? 0 : Math.round((1000 * a) / b) / 10);
  return { actorFollowed: pct(q.actor.followed, q.actor.constraints), judgeAccuracy: pct(q.judge.correct, q.judge.judged), refinePassing: pct(q.refine.passing, q.refine.attempts) };
}
