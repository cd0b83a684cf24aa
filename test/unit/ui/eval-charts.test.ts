import { describe, expect, it } from 'vitest';
import { accuracyCharts, typeBars } from '../../../src/ui/eval-charts';
import { describeSet, type ModelComparison } from '../../../src/lab/eval-compare';
import type { EvalListItem } from '../../../src/lab/evaluate';
import type { EvalSettings } from '../../../src/lab/run-config';

const settings = (set: EvalSettings['set']): EvalSettings => ({ set, temperature: 0, topP: 1, maxTokens: 32, seed: 0 }) as EvalSettings;
const BUILT_IN = describeSet(settings({ source: 'generated', count: 5, seed: 1000 }));
const IFEVAL = describeSet(settings({ source: 'ifeval', count: 20, seed: 0 }));

let clock = 0;
function ev(iteration: number, set: string | undefined, promptStrict: number, mode = 'plain'): EvalListItem {
  return {
    runId: 'r',
    id: `e${++clock}`,
    iteration,
    createdAt: clock,
    kind: 'ifeval',
    summary: { promptStrict, instructionStrict: promptStrict, promptLoose: promptStrict, instructionLoose: promptStrict },
    meta: { mode, ...(set === undefined ? {} : { set }) },
  };
}

describe('accuracyCharts', () => {
  it('names the prompt set the models were evaluated on: the built-in set is not called IFEval', () => {
    const [chart, ...rest] = accuracyCharts([ev(0, BUILT_IN, 0.2), ev(1, BUILT_IN, 0.4)]);
    expect(rest).toEqual([]);
    expect(BUILT_IN).toMatch(/^built-in constraint prompts, 5 \(seed 1000\)/);
    expect(chart.title).toBe(`Accuracy of M0, M1, … on ${BUILT_IN}`);
    expect(chart.title).not.toMatch(/IFEval/);
    expect(chart.series[0]).toEqual({ name: 'Prompt strict', points: [{ x: 0, y: 0.2 }, { x: 1, y: 0.4 }] });
  });

  it('gives each set its own chart, the newest first, with each model’s newest result and the refined line', () => {
    const charts = accuracyCharts([ev(0, IFEVAL, 0.1), ev(0, BUILT_IN, 0.3), ev(0, BUILT_IN, 0.35), ev(1, BUILT_IN, 0.5, 'refine'), ev(1, IFEVAL, 0.2), { ...ev(0, IFEVAL, 0.9), kind: 'judge' }]);
    expect(charts.map((c) => c.title)).toEqual([`Accuracy of M0, M1, … on ${IFEVAL}`, `Accuracy of M0, M1, … on ${BUILT_IN}`]);
    expect(charts[0].series[0].points).toEqual([{ x: 0, y: 0.1 }, { x: 1, y: 0.2 }]);
    const builtIn = charts[1].series;
    expect(builtIn.find((s) => s.name === 'Prompt strict')!.points).toEqual([{ x: 0, y: 0.35 }]);
    expect(builtIn.find((s) => s.name === 'Prompt strict, refined at inference')!.points).toEqual([{ x: 1, y: 0.5 }]);
  });

  it('says so where an old evaluation did not record its set', () => {
    expect(accuracyCharts([ev(0, undefined, 0.5)])[0].title).toBe('Accuracy of M0, M1, … on a prompt set not recorded');
  });

  it('bars per instruction type: one per model that met the type, coloured by the model’s place in the legend', () => {
    const scores = (model: number, byType: ModelComparison['models'][number]['byType']) => ({ model, evalId: `m${model}`, createdAt: model, promptStrict: 0, instructionStrict: 0, promptLoose: 0, instructionLoose: 0, byType });
    const c: ModelComparison = {
      set: BUILT_IN,
      types: ['change_case:english_lowercase', 'punctuation:no_comma'],
      models: [scores(0, { 'change_case:english_lowercase': { followed: 1, total: 4 } }), scores(2, { 'change_case:english_lowercase': { followed: 3, total: 4 }, 'punctuation:no_comma': { followed: 2, total: 3 } })],
    };
    expect(typeBars(c)).toEqual({
      legend: ['M0', 'M2'],
      groups: [
        { label: 'change_case:english_lowercase', bars: [{ series: 0, value: 0.25, text: '25% (1/4)' }, { series: 1, value: 0.75, text: '75% (3/4)' }] },
        { label: 'punctuation:no_comma', bars: [{ series: 1, value: 2 / 3, text: '67% (2/3)' }] },
      ],
    });
  });
});
