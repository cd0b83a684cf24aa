/**
 * Verdicts from critiques: parsed from the text (the reference's `get_acc`, exactly), or read
 * out as P(Yes) vs P(No) at the verdict position (an option of this lab).
 */
import type { SparTemplates } from './templates';
import type { Readout, Verdict } from './types';

type VerdictWords = Pick<SparTemplates, 'verdictMarker' | 'yes' | 'no'>;

/**
 * Reference `get_acc`: the segment after the first verdict marker (up to a second marker, as
 * Python's `split(marker)[1]` gives) is searched for the labels as substrings (so "Not" counts
 * as No). Neither label: invalid (null). Both: the one that appears first wins.
 */
export function parseVerdict(critique: string, t: VerdictWords): Verdict | null {
  const parts = critique.split(t.verdictMarker);
  if (parts.length < 2) return null;
  const segment = parts[1];
  const yes = segment.indexOf(t.yes);
  const no = segment.indexOf(t.no);
  if (yes < 0 && no < 0) return null;
  if (yes >= 0) return no >= 0 && no < yes ? 'No' : 'Yes';
  return 'No';
}

/**
 * Where the verdict read-out reads: the critique up to its verdict marker (or all of it, when it
 * has none), then the canonical cue. The labels are compared as continuations of this text.
 */
export function readoutPrefix(critique: string, t: Pick<SparTemplates, 'verdictMarker' | 'verdictCue'>): string {
  const at = critique.indexOf(t.verdictMarker);
  const head = at >= 0 ? critique.slice(0, at) : critique.length ? critique.trimEnd() + '\n' : '';
  return head + t.verdictCue;
}

/** The continuations compared by the read-out: yes first, then no. */
export function readoutLabels(t: Pick<SparTemplates, 'yes' | 'no'>): [string, string] {
  return [' ' + t.yes, ' ' + t.no];
}

/** P(Yes) normalised over the two labels, computed stably from log-probs. */
export function toReadout(logprobs: [number, number]): Readout {
  const [y, n] = logprobs;
  if (Number.isNaN(y) || Number.isNaN(n) || (y === -Infinity && n === -Infinity)) return { logprobs, pYes: null };
  // 1 / (1 + e^(n - y)), which is 0 or 1 exactly when one side is -Infinity.
  return { logprobs, pYes: 1 / (1 + Math.exp(n - y)) };
}

/** The read-out's verdict: Yes above 1/2, No below, none at exactly 1/2 or without probability. */
export function readoutVerdict(r: Readout | undefined): Verdict | null {
  if (!r || r.pYes === null) return null;
  return r.pYes > 0.5 ? 'Yes' : r.pYes < 0.5 ? 'No' : null;
}
