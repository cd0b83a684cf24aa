/**
 * What an instruction's samples and tree yield for training (reference process_data.py):
 * actor DPO pairs and refiner RFT records of four kinds, de-duplicated by first user message.
 */
import type { ChatMessage } from '../backends/types';
import { PyRandom } from './rng';
import { judgePrompt, type SparTemplates } from './templates';
import { type InstructionData, type JudgedSample, type PairMeta, RFT_KIND_PRIORITY, type RftKind } from './types';

export interface PairDraft {
  prompt: string;
  chosen: string;
  rejected: string;
  meta: PairMeta;
}

export interface RftDraft {
  kind: RftKind;
  messages: ChatMessage[];
}

/**
 * refine mode (process_dpo_data): final node value > minFinalValue gives
 * {prompt, chosen: final response, rejected: root response}.
 * independent mode (the ablation): the chosen passing sample vs the rejected failing sample.
 */
export function extractPairs(data: InstructionData, minFinalValue: number): PairDraft[] {
  if (data.negative === null) return [];
  const rejected = data.samples[data.negative];
  const rejectedValue = valueOf(rejected);
  if (data.mode === 'independent') {
    if (data.positive === null) return [];
    const chosen = data.samples[data.positive];
    return [
      {
        prompt: data.prompt,
        chosen: chosen.response,
        rejected: rejected.response,
        meta: { source: 'independent', chosenValue: valueOf(chosen), rejectedValue, rejectedSample: data.negative, chosenSample: data.positive },
      },
    ];
  }
  const tree = data.tree;
  if (!tree || tree.finalNode === null) return [];
  const final = tree.nodes[tree.finalNode];
  if (!(final.value > minFinalValue)) return [];
  return [
    {
      prompt: data.prompt,
      chosen: final.response,
      rejected: tree.nodes[0].response,
      meta: {
        source: 'refinement',
        chosenValue: final.value,
        rejectedValue,
        rejectedSample: data.negative,
        chosenNode: final.id,
        chosenDepth: final.depth,
        solved: tree.outcome === 'solved',
      },
    },
  ];
}

/**
 * RFT records of one instruction in the reference's priority order (process_rft_data), with
 * later records whose first user message repeats an earlier one dropped:
 * 1. refine: the refinement that produced a final node with value > minFinalValue
 *    (judge prompt of its parent, the parent's critique, the refine request, the final trace);
 * 2. critique-positive, 3. critique-negative: the tree's critique picks;
 * 4. judge-no, 5. judge-yes: non-unanimous sample judgments, judge prompt → an agreeing critique.
 */
export function extractRft(data: InstructionData, templates: SparTemplates, minFinalValue: number): RftDraft[] {
  const drafts: RftDraft[] = [];
  const tree = data.tree;
  if (tree && tree.finalNode !== null) {
    const final = tree.nodes[tree.finalNode];
    if (final.value > minFinalValue && final.parent !== null) {
      const parent = tree.nodes[final.parent];
      drafts.push({
        kind: 'refine',
        messages: [
          { role: 'user', content: judgePrompt(templates, data.prompt, parent.response) },
          { role: 'assistant', content: parent.critique },
          { role: 'user', content: templates.refine },
          { role: 'assistant', content: final.refineTrace },
        ],
      });
    }
  }
  if (tree) {
    for (const [kind, id] of [
      ['critique-positive', tree.critiquePicks.positive],
      ['critique-negative', tree.critiquePicks.negative],
    ] as const) {
      if (id === null) continue;
      const n = tree.nodes[id];
      drafts.push({ kind, messages: judgeTurns(templates, data.prompt, n.response, n.critique) });
    }
  }
  const judged = data.samples.flatMap((s) => {
    const critique = agreeingCritique(s);
    return critique === null ? [] : [{ kind: s.judge.ok && s.judge.judgment.label === 'No' ? ('judge-no' as const) : ('judge-yes' as const), s, critique }];
  });
  for (const kind of ['judge-no', 'judge-yes'] as const) {
    for (const j of judged) if (j.kind === kind) drafts.push({ kind, messages: judgeTurns(templates, data.prompt, j.s.response, j.critique) });
  }
  return dedupeByFirstUser(drafts);
}

/**
 * process_rft_data's choice of critique for a judged sample: walk the critiques, remembering the
 * latest one agreeing with the majority and the latest disagreeing one, and stop as soon as both
 * are known before looking at the next (so the agreeing critique is the last one seen before the
 * first point where both exist). Unanimous judgments (no disagreeing critique) give nothing.
 */
export function agreeingCritique(sample: JudgedSample): string | null {
  if (!sample.judge.ok) return null;
  const { critiques, label } = sample.judge.judgment;
  let good: string | null = null;
  let bad: string | null = null;
  for (const c of critiques) {
    if (good && bad) break; // Python truthiness: empty strings do not count
    if (c.verdict === label) good = c.text;
    else if (c.verdict !== null) bad = c.text;
  }
  return good && bad ? good : null;
}

function judgeTurns(t: SparTemplates, instruction: string, response: string, critique: string): ChatMessage[] {
  return [
    { role: 'user', content: judgePrompt(t, instruction, response) },
    { role: 'assistant', content: critique },
  ];
}

function dedupeByFirstUser<T extends { messages: ChatMessage[] }>(records: T[]): T[] {
  const seen = new Set<string>();
  return records.filter((r) => {
    const key = firstUserMessage(r.messages);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function firstUserMessage(messages: ChatMessage[]): string {
  return messages.find((m) => m.role === 'user')?.content ?? '';
}

function valueOf(s: JudgedSample): number {
  return s.judge.ok ? s.judge.judgment.value : 0;
}

/** Caps per kind (reference process_rft_data: refine 4000, positive 1500, negative 1000, no 500, yes 2500). */
export type RftCaps = Partial<Record<RftKind, number>>;
export const REFERENCE_RFT_CAPS: Readonly<Required<RftCaps>> = Object.freeze({
  refine: 4000,
  'critique-positive': 1500,
  'critique-negative': 1000,
  'judge-no': 500,
  'judge-yes': 2500,
});

/**
 * A refiner training set from a run's RFT records (across instructions), as process_rft_data
 * builds it: kinds in priority order, each de-duplicated against everything kept before it by
 * first user message. Without `caps` every record is kept in the given order (deterministic);
 * with caps, each kind is shuffled with `seed`, cut to its cap, and the result shuffled, as the
 * reference does.
 */
export function assembleRftDataset<T extends { kind: RftKind | string; messages: ChatMessage[]; excluded?: boolean }>(
  records: T[],
  opts: { caps?: RftCaps; seed?: number } = {},
): T[] {
  const byKind = new Map(RFT_KIND_PRIORITY.map((k) => [k, records.filter((r) => r.kind === k && !r.excluded)]));
  let rng: PyRandom | null = null;
  if (opts.caps) {
    rng = new PyRandom(opts.seed ?? 0);
    // The reference shuffles in this order, then cuts each kind to its cap.
    for (const kind of ['critique-positive', 'critique-negative', 'judge-no', 'judge-yes', 'refine'] as const) rng.shuffle(byKind.get(kind)!);
    for (const [kind, list] of byKind) byKind.set(kind, list.slice(0, opts.caps[kind] ?? list.length));
  }
  const kept = dedupeByFirstUser(RFT_KIND_PRIORITY.flatMap((k) => byKind.get(k)!));
  return rng ? rng.shuffle(kept) : kept;
}
