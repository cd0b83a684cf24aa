/**
 * The Evaluate view's charts of the actor across models M0, M1, …. Accuracies on different
 * prompt sets (or sampled differently) do not compare, so each set gets its own chart, titled
 * with the set as the evaluation recorded it; the newest set's chart comes first.
 */
import type { EvalListItem } from '../lab/evaluate';
import type { Series } from './chart';

export interface AccuracyChart {
  /** The set and sampling, as `describeSet` wrote them into the evaluations. */
  set: string;
  title: string;
  series: Series[];
}

/** Written by a version that did not record its set. */
const UNNAMED = 'a prompt set not recorded';

export function accuracyCharts(evals: EvalListItem[]): AccuracyChart[] {
  const bySet = new Map<string, EvalListItem[]>();
  for (const e of [...evals].filter((e) => e.kind === 'ifeval').sort((a, b) => a.createdAt - b.createdAt)) {
    const set = typeof e.meta?.set === 'string' && e.meta.set ? e.meta.set : UNNAMED;
    bySet.set(set, [...(bySet.get(set) ?? []), e]);
  }
  const newest = (list: EvalListItem[]) => list.at(-1)!.createdAt;
  return [...bySet.entries()]
    .sort(([, a], [, b]) => newest(b) - newest(a))
    .map(([set, list]) => ({ set, title: `Accuracy of M0, M1, … on ${set}`, series: seriesOf(list) }));
}

/** The four accuracies of each model's newest plain evaluation, and prompt strict with inference-time refinement. */
function seriesOf(list: EvalListItem[]): Series[] {
  const latest = (refined: boolean) => {
    const perModel = new Map<number, EvalListItem>();
    for (const e of list) if ((e.meta?.mode === 'refine') === refined) perModel.set(e.iteration, e);
    return [...perModel.values()];
  };
  const points = (l: EvalListItem[], key: string) => l.map((e) => ({ x: e.iteration, y: e.summary[key] }));
  const plain = latest(false);
  const refined = latest(true);
  const out: Series[] = [];
  if (plain.length) {
    out.push(
      { name: 'Prompt strict', points: points(plain, 'promptStrict') },
      { name: 'Instruction strict', points: points(plain, 'instructionStrict') },
      { name: 'Prompt loose', points: points(plain, 'promptLoose'), dashed: true },
      { name: 'Instruction loose', points: points(plain, 'instructionLoose'), dashed: true },
    );
  }
  if (refined.length) out.push({ name: 'Prompt strict, refined at inference', points: points(refined, 'promptStrict') });
  return out;
}
