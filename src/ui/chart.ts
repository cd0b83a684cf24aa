/** One line of a LineChart: points (x, y) with y in [0, 1]. */
export interface Series {
  name: string;
  points: { x: number; y: number }[];
  dashed?: boolean;
}
