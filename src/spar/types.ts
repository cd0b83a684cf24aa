/**
 * The data SPaR produces for one instruction: judged samples, the refinement tree, and what was
 * extracted from them. Plain structured-cloneable data: it is stored as-is in IndexedDB
 * (`TreeRecord.data`) and exported as JSON.
 */

export type Verdict = 'Yes' | 'No';

/** The verdict read-out of one critique: P(Yes) vs P(No) at the verdict position. */
export interface Readout {
  /** log p of the yes and no labels' first tokens; -Infinity where the backend did not see one. */
  logprobs: [number, number];
  /** P(Yes) / (P(Yes) + P(No)); null when neither label had any probability. */
  pYes: number | null;
}

/** One sampled critique of a response. */
export interface Critique {
  text: string;
  /** The verdict parsed from the text as the reference's `get_acc` does (null = invalid). */
  parsed: Verdict | null;
  /** Present when the run's verdict setting asked for a read-out of this critique. */
  readout?: Readout;
  /** The verdict that was counted (parsed, read out, or null = ignored). */
  verdict: Verdict | null;
}

/** A decided k-vote judgment of one response. */
export interface Judgment {
  /** The k critiques of the attempt that decided, in sampled order. */
  critiques: Critique[];
  yes: number;
  no: number;
  /** #Yes / (#Yes + #No); with the 'readout-mean' setting, the mean P(Yes). */
  value: number;
  /** Majority verdict (No only when #No > #Yes, as in the reference). */
  label: Verdict;
  /** Index in `critiques` of the representative critique: the first whose verdict is `label`. */
  representative: number;
  /** Earlier attempts that tied (#Yes == #No, including 0 == 0) and were retried. */
  tiedAttempts: Critique[][];
}

/** Every attempt tied: the response is dropped (a tied sample, or a discarded tree child). */
export interface TiedJudgment {
  tiedAttempts: Critique[][];
}

export type JudgeOutcome = { ok: true; judgment: Judgment } | { ok: false; tied: TiedJudgment };

/** One actor sample of an instruction with its step-2 judgment. */
export interface JudgedSample {
  response: string;
  finishReason: 'stop' | 'length';
  judge: JudgeOutcome;
}

/** One refine call: the whole reply, and what was extracted from it. */
export interface RefineCall {
  reply: string;
  /** The text between the markers, trimmed; null when the start marker was missing. */
  extracted: string | null;
  seed: number;
}

export interface TreeNode {
  /** Index in `SearchTree.nodes`; the root is 0. */
  id: number;
  parent: number | null;
  /** Child ids in creation order (getBestV and the critique RFT walk them in this order). */
  children: number[];
  depth: number;
  /** Visit order (reference `visit_sequence`): 0 for the root, then 1, 2, … as children are judged. */
  order: number;
  response: string;
  /** The full refine reply (reflection + refined output) that produced this node; '' for the root. */
  refineTrace: string;
  /** Every refine call made for this branch, failed attempts included. */
  refineCalls: RefineCall[];
  /** The representative critique (for the root: the one from the sample's judgment). */
  critique: string;
  /** Reference `V`: the k-vote value; the root starts at 0 as in the reference. */
  value: number;
  /** The judgment; absent on a value-cache hit (see `cachedFrom`). The root carries its sample's. */
  judgment?: Judgment;
  /** Node whose judgment was reused because it had the same response text. */
  cachedFrom?: number;
}

/** A branch that produced no child: refinement failed, or every judgment attempt tied. */
export interface DiscardedBranch {
  parent: number;
  reason: 'refine-failed' | 'judge-tied';
  refineCalls: RefineCall[];
  response?: string;
  tiedAttempts?: Critique[][];
}

export type SearchOutcome =
  /** A node's value exceeded end_gate. */
  | 'solved'
  /** No node passed end_gate: the best node in the tree was taken (getBestV). */
  | 'fallback'
  /**
   * Sampled selection met a level whose candidates all have value 0. The reference divides by
   * zero there and produces nothing for the instruction; so do we (no final node).
   */
  | 'zero-values';

export interface SearchTree {
  algorithm: 'bfs' | 'dfs';
  nodes: TreeNode[];
  discarded: DiscardedBranch[];
  outcome: SearchOutcome;
  /** The final node (null only for 'zero-values'). */
  finalNode: number | null;
  budgetLeft: number;
  /** The critique RFT picks (node ids), drawn after the search as the reference does. */
  critiquePicks: { negative: number | null; positive: number | null };
}

export interface InstructionStats {
  /** Model requests issued (a request with n samples counts once). */
  modelCalls: number;
  generatedTokens: number;
  /** k-vote judgments decided or dropped (cache hits excluded). */
  judgments: number;
}

/** Everything one instruction produced in one iteration. */
export interface InstructionData {
  prompt: string;
  mode: 'refine' | 'independent';
  /** Seeds of this instruction's random streams (see rng.ts `streamSeeds`). */
  seeds: { sample: number; judge: number; select: number; search: number };
  samples: JudgedSample[];
  /** Index in `samples` of the failing response that roots the tree (or is rejected). */
  negative: number | null;
  /** Ablation 'independent': index in `samples` of the passing response chosen. */
  positive: number | null;
  tree: SearchTree | null;
  stats: InstructionStats;
}

export type RftKind =
  /** The refinement that produced a successful final node: judge, critique, refine, trace. */
  | 'refine'
  /** A tree node with end_gate < V < 1: judge prompt → its representative critique. */
  | 'critique-positive'
  /** A tree node with 0 < V < end_gate. */
  | 'critique-negative'
  /** A sample judged No by a non-unanimous majority: judge prompt → an agreeing critique. */
  | 'judge-no'
  /** A sample judged Yes by a non-unanimous majority. */
  | 'judge-yes';

/** The order in which kinds win when two records share their first user message. */
export const RFT_KIND_PRIORITY: readonly RftKind[] = [
  'refine',
  'critique-positive',
  'critique-negative',
  'judge-no',
  'judge-yes',
];

/** What a pair record's `meta` holds. A type alias (not an interface) so it is a plain record. */
export type PairMeta = {
  source: 'refinement' | 'independent';
  /** Value of the chosen response (final node, or the chosen sample's judgment). */
  chosenValue: number;
  /** The rejected sample's step-2 value. */
  rejectedValue: number;
  rejectedSample: number;
  /** refinement: the final node, its depth, and whether end_gate was passed (vs. fallback). */
  chosenNode?: number;
  chosenDepth?: number;
  solved?: boolean;
  /** independent: the chosen sample. */
  chosenSample?: number;
};
