/** One line of a LineChart: points (x, y). */
export interface Series {
  name: string;
  points: { x: number; y: number }[];
  dashed?: boolean;
  /** A colour with a meaning (e.g. `var(--chosen)`); otherwise the chart's palette by position. */
  color?: string;
}

/** One group of a BarChart (e.g. an instruction type): a bar per series that has a value there. */
export interface BarGroup {
  label: string;
  /** `series`: the index into the chart's legend (and palette); `value` in [0, 1]; `text` as shown beside the bar. */
  bars: { series: number; value: number; text: string }[];
}

/** The charts' colours by series position, where a series has no colour with a meaning. */
export const PALETTE = ['#2b6cb0', '#c05621', '#2f855a', '#805ad5', '#b83280'];

/** A chart's y axis: fixed ends (or fitted to the data where absent) and the tick format. */
export interface YAxis {
  min?: number;
  max?: number;
  format?: (y: number) => string;
}

/** About `count` round tick values covering [lo, hi] (1, 2, 2.5 or 5 times a power of ten apart). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) {
    const pad = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    [lo, hi] = [lo - pad, hi + pad];
  }
  const raw = (hi - lo) / Math.max(1, count - 1);
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * pow).find((s) => s >= raw) ?? 10 * pow;
  const first = Math.floor(lo / step + 1e-9) * step;
  const out: number[] = [];
  for (let v = first; v < hi + step * (1 - 1e-9); v += step) out.push(Number(v.toPrecision(12)));
  return out;
}
