/**
 * The Evaluate view's charts of the actor across models M0, M1, …. Accuracies on different
 * prompt sets (or sampled differently) do not compare, so each set gets its own charts, titled
 * with the set as the evaluation recorded it; the newest set comes first. Per set: the four
 * IFEval accuracies as lines over the models, and instruction-level strict accuracy per
 * instruction type as grouped bars, one bar per model.
 */
import { evalSetOf, type ModelComparison } from '../lab/eval-compare';
import type { EvalListItem } from '../lab/evaluate';
import type { BarGroup, Series } from './chart';

export interface AccuracyChart {
  /** The set and sampling, as `describeSet` wrote them into the evaluations. */
  set: string;
  title: string;
  series: Series[];
}

export function accuracyCharts(evals: EvalListItem[]): AccuracyChart[] {
  const bySet = new Map<string, EvalListItem[]>();
  for (const e of [...evals].filter((e) => e.kind === 'ifeval').sort((a, b) => a.createdAt - b.createdAt)) {
    const set = evalSetOf(e);
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

/** The legend (one entry per model, M0 first) and one group of bars per instruction type. */
export function typeBars(c: ModelComparison): { legend: string[]; groups: BarGroup[] } {
  return {
    legend: c.models.map((m) => `M${m.model}`),
    groups: c.types.map((type) => ({
      label: type,
      bars: c.models.flatMap((m, series) => {
        const n = m.byType[type];
        return n ? [{ series, value: n.followed / n.total, text: `${Math.round((n.followed / n.total) * 100)}% (${n.followed}/${n.total})` }] : [];
      }),
    })),
  };
}
