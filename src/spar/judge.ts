/**
 * k-vote judging (reference `get_value` for tree nodes, judge.py + `process_score_res_voting`
 * for samples): k critiques per response in one request, invalid verdicts ignored, a tie
 * (#Yes == #No, including 0 == 0) retried up to `attempts` times and otherwise dropped.
 * Value = #Yes / (#Yes + #No); label No only when #No > #Yes; the representative critique is
 * the first whose verdict equals the label.
 */
import type { ModelBackend, VerdictRequest } from '../backends/types';
import { count, generate, type ModelCtx, readVerdicts } from './calls';
import type { SamplingSettings, VerdictMode } from './config';
import { requestSeed, type PyRandom } from './rng';
import { judgeMessages, type SparTemplates } from './templates';
import type { Critique, JudgeOutcome, Judgment } from './types';
import { parseVerdict, readoutLabels, readoutPrefix, readoutVerdict, toReadout } from './verdict';

export interface JudgeSettings extends SamplingSettings {
  k: number;
  attempts: number;
  verdict: VerdictMode;
  /** Trim critiques (judge.py strips its critiques; get_value in the tree search does not). */
  strip: boolean;
}

/**
 * Judges several responses to one instruction. Each attempt is one batched call (one request
 * of k samples per undecided response, seeds drawn from `seeds` in response order), plus one
 * batched read-out call when the verdict setting needs one; only tied responses are retried.
 */
export async function judgeResponses(
  refiner: ModelBackend,
  instruction: string,
  responses: string[],
  s: JudgeSettings,
  t: SparTemplates,
  seeds: PyRandom,
  ctx: ModelCtx,
): Promise<JudgeOutcome[]> {
  const outcomes: JudgeOutcome[] = new Array(responses.length);
  const tied: Critique[][][] = responses.map(() => []);
  let pending = responses.map((_, i) => i);
  for (let attempt = 0; attempt < s.attempts && pending.length; attempt++) {
    const requests = pending.map((i) => ({
      messages: judgeMessages(t, instruction, responses[i]),
      n: s.k,
      sampling: { temperature: s.temperature, topP: s.topP, maxTokens: s.maxTokens, stop: s.stop, seed: requestSeed(seeds) },
    }));
    const generations = await generate(refiner, requests, ctx, 'judge');
    const critiques = generations.map((g) =>
      g.map((x): Critique => {
        const text = s.strip ? x.text.trim() : x.text;
        return { text, parsed: parseVerdict(text, t), verdict: null };
      }),
    );
    await addReadouts(refiner, pending.map((i) => responses[i]), critiques, instruction, s.verdict, t, ctx);
    const next: number[] = [];
    pending.forEach((i, j) => {
      const list = critiques[j];
      for (const c of list) c.verdict = verdictOf(c, s.verdict);
      const decided = tally(list, s.verdict, tied[i]);
      if (decided) outcomes[i] = { ok: true, judgment: decided };
      else {
        tied[i].push(list);
        next.push(i);
      }
    });
    pending = next;
  }
  for (const i of pending) outcomes[i] = { ok: false, tied: { tiedAttempts: tied[i] } };
  count(ctx, { judgments: responses.length });
  return outcomes;
}

function needsReadout(c: Critique, mode: VerdictMode): boolean {
  return mode === 'readout' || mode === 'readout-mean' || (mode === 'parsed-else-readout' && c.parsed === null);
}

function verdictOf(c: Critique, mode: VerdictMode): Critique['verdict'] {
  if (mode === 'parsed') return c.parsed;
  if (mode === 'parsed-else-readout') return c.parsed ?? readoutVerdict(c.readout);
  return readoutVerdict(c.readout);
}

async function addReadouts(
  refiner: ModelBackend,
  responses: string[],
  critiques: Critique[][],
  instruction: string,
  mode: VerdictMode,
  t: SparTemplates,
  ctx: ModelCtx,
): Promise<void> {
  if (mode === 'parsed') return;
  const requests: VerdictRequest[] = [];
  const targets: Critique[] = [];
  critiques.forEach((list, j) => {
    for (const c of list) {
      if (!needsReadout(c, mode)) continue;
      requests.push({ messages: judgeMessages(t, instruction, responses[j]), prefix: readoutPrefix(c.text, t), labels: readoutLabels(t) });
      targets.push(c);
    }
  });
  const results = await readVerdicts(refiner, requests, ctx);
  results.forEach((r, i) => (targets[i].readout = toReadout([r.logprobs[0], r.logprobs[1]])));
}

/** The decided judgment, or null on a tie. */
function tally(critiques: Critique[], mode: VerdictMode, tiedAttempts: Critique[][]): Judgment | null {
  let yes = 0;
  let no = 0;
  for (const c of critiques) {
    if (c.verdict === 'Yes') yes++;
    else if (c.verdict === 'No') no++;
  }
  let value: number;
  let label: Judgment['label'];
  if (mode === 'readout-mean') {
    const ps = critiques.flatMap((c) => (c.readout?.pYes == null ? [] : [c.readout.pYes]));
    if (ps.length === 0) return null;
    value = ps.reduce((a, b) => a + b, 0) / ps.length;
    if (value === 0.5) return null;
    label = value > 0.5 ? 'Yes' : 'No';
  } else {
    if (yes === no) return null;
    label = no > yes ? 'No' : 'Yes';
    value = yes / (yes + no);
  }
  const representative = critiques.findIndex((c) => c.verdict === label);
  if (representative < 0) return null; // unreachable: the majority label has at least one critique
  return { critiques, yes, no, value, label, representative, tiedAttempts: [...tiedAttempts] };
}
