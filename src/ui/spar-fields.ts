/**
 * Every SPaR setting as the Setup view shows it: where it lives in the config, a label, the
 * paper's (reference) value, and one line on what it does.
 */
import { defaultSparConfig, type SparConfig } from '../spar/config';

export interface Field {
  path: string;
  label: string;
  help: string;
  kind: 'int' | 'number' | 'select' | 'bool' | 'stops';
  options?: { value: string; label: string }[];
  min?: number;
  max?: number;
  step?: number;
}

export interface FieldGroup {
  title: string;
  fields: Field[];
}

const sampling = (prefix: string, what: string): Field[] => [
  { path: `${prefix}.temperature`, label: 'Temperature', help: `Randomness of ${what} (0 = greedy).`, kind: 'number', min: 0, max: 10, step: 0.05 },
  { path: `${prefix}.topP`, label: 'Top-p', help: `Nucleus sampling for ${what}: keep the smallest set of tokens with this much probability.`, kind: 'number', min: 0.01, max: 1, step: 0.01 },
  { path: `${prefix}.maxTokens`, label: 'Max tokens', help: `Longest ${what}, in tokens.`, kind: 'int', min: 1 },
  { path: `${prefix}.stop`, label: 'Stop strings', help: `Extra strings that end ${what} (one per line; the chat template's end of turn always does).`, kind: 'stops' },
];

export const FIELD_GROUPS: FieldGroup[] = [
  {
    title: 'Run',
    fields: [
      { path: 'seed', label: 'Seed', help: 'Seeds every random choice; the same seed and models give the same trees.', kind: 'int' },
      { path: 'mode', label: 'Mode', help: 'SPaR refines a failing response; the ablation pairs two independent samples instead.', kind: 'select', options: [{ value: 'refine', label: 'SPaR (tree-search refinement)' }, { value: 'independent', label: 'Ablation: independent samples' }] },
      { path: 'concurrency', label: 'Instructions in flight', help: 'How many instructions run at once, so a backend can batch across them.', kind: 'int', min: 1, max: 256 },
      { path: 'maxConsecutiveFailures', label: 'Stop after failures in a row', help: 'Stop the run (keeping finished work) when this many instructions fail one after another.', kind: 'int', min: 1 },
    ],
  },
  {
    title: 'Actor samples',
    fields: [{ path: 'sample.n', label: 'Samples per instruction (n)', help: 'Responses the actor writes for each instruction; one failing response roots the tree.', kind: 'int', min: 1 }, ...sampling('sample', 'actor samples')],
  },
  {
    title: 'Judging (refiner)',
    fields: [
      { path: 'judge.k', label: 'Critiques per judgment (k)', help: 'The refiner judges each response k times; the majority verdict decides, the share of Yes is its value.', kind: 'int', min: 1 },
      { path: 'judge.verdict', label: 'Verdict from', help: 'Read the Yes/No from the critique text, or from P(Yes) vs P(No) at the verdict position.', kind: 'select', options: [
        { value: 'parsed', label: 'the critique text (reference)' },
        { value: 'readout', label: 'P(Yes) vs P(No) read-out' },
        { value: 'parsed-else-readout', label: 'text, else the read-out' },
        { value: 'readout-mean', label: 'read-out, mean P(Yes) as value' },
      ] },
      { path: 'judge.sampleAttempts', label: 'Attempts for samples', help: 'Judgments of a sample retried while tied (the reference drops ties: 1).', kind: 'int', min: 1 },
      { path: 'judge.treeAttempts', label: 'Attempts for tree nodes', help: 'Judgments of a refined node retried while tied.', kind: 'int', min: 1 },
      ...sampling('judge', 'critiques'),
    ],
  },
  {
    title: 'Refinement (refiner)',
    fields: [
      { path: 'refine.attempts', label: 'Attempts per branch', help: 'Tries while the extracted refinement is empty; a branch that stays empty is dropped.', kind: 'int', min: 1 },
      { path: 'refine.callAttempts', label: 'Calls per attempt', help: 'Calls while the reply lacks the output start marker.', kind: 'int', min: 1 },
      ...sampling('refine', 'refinements'),
    ],
  },
  {
    title: 'Tree search',
    fields: [
      { path: 'search.algorithm', label: 'Search', help: 'Breadth-first (the paper) or depth-first expansion of the refinement tree.', kind: 'select', options: [{ value: 'bfs', label: 'BFS' }, { value: 'dfs', label: 'DFS' }] },
      { path: 'search.branch', label: 'Branches per node', help: 'Refinements made of each expanded node.', kind: 'int', min: 1 },
      { path: 'search.selectBranch', label: 'Nodes kept per level', help: 'BFS: how many children of a level are expanded further.', kind: 'int', min: 1 },
      { path: 'search.maxDepth', label: 'Max depth', help: 'Refinement rounds before the search gives up and takes its best node.', kind: 'int', min: 0 },
      { path: 'search.endGate', label: 'End gate', help: 'The search succeeds at the first node whose value is above this.', kind: 'number', min: 0, max: 1, step: 0.05 },
      { path: 'search.budget', label: 'Node budget', help: 'Most judged nodes per search.', kind: 'int' },
      { path: 'search.selection', label: 'Selection', help: 'Expand the best children (greedy) or draw them in proportion to their value.', kind: 'select', options: [{ value: 'greedy', label: 'greedy' }, { value: 'sampled', label: 'sampled' }] },
      { path: 'search.callOrder', label: 'Call order', help: 'Batched: a node’s branches are refined and judged together (same trees for order-independent models, much faster).', kind: 'select', options: [{ value: 'batched', label: 'batched (fast)' }, { value: 'reference', label: 'reference (one branch at a time)' }] },
      { path: 'search.dfsSampledRootQuirk', label: 'DFS sampled-root quirk', help: 'Reproduce a quirk of the reference code in DFS with sampled selection.', kind: 'bool' },
    ],
  },
  {
    title: 'Extraction',
    fields: [
      { path: 'extract.minFinalValue', label: 'Min final value for a pair', help: 'A pair (refined vs. original) is kept when the final node’s value is above this.', kind: 'number', min: 0, max: 1, step: 0.05 },
      { path: 'extract.critiqueGate', label: 'Critique RFT split', help: 'Tree nodes above this value give positive critique records, below it negative ones.', kind: 'number', min: 0, max: 1, step: 0.05 },
    ],
  },
];

const DEFAULTS = defaultSparConfig();

export function getPath(o: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((x, k) => (x as Record<string, unknown> | undefined)?.[k], o);
}

/** A copy of `o` with `path` set to `value`. */
export function setPath<T>(o: T, path: string, value: unknown): T {
  const copy = structuredClone(o) as Record<string, unknown>;
  const keys = path.split('.');
  let at = copy;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
  at[keys.at(-1)!] = value;
  return copy as T;
}

/** The reference value of a setting, as text. */
export function paperValue(path: string): string {
  const v = getPath(DEFAULTS, path);
  return Array.isArray(v) ? (v.length ? v.join(', ') : 'none') : String(v);
}

export type { SparConfig };
