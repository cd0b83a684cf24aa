/**
 * How good are a judge's verdicts? For prompts with checkable constraints, the checkers give the
 * ground truth (strict mode: every constraint followed); a judge (the refiner) says Yes or No
 * for each prompt + response. "No" is the class that matters to SPaR (it picks the responses
 * to refine), so besides accuracy we report precision and recall of "No".
 */
import { evaluateStrict, type IfevalRecord } from './evaluate';

export type Verdict = 'Yes' | 'No';

export interface JudgedItem {
  /** The judge's verdict; null when it gave none (invalid or tied). */
  verdict: Verdict | null;
  /** Ground truth: did the response follow every constraint? */
  followed: boolean;
}

export interface JudgeAccuracy {
  /** Items with a verdict. */
  judged: number;
  /** Items without a verdict (not counted in the rates). */
  invalid: number;
  /** Fraction of judged items whose verdict matches the truth; null when none was judged. */
  accuracy: number | null;
  /** Of the "No" verdicts, the fraction on responses that really fail; null without "No" verdicts. */
  precisionNo: number | null;
  /** Of the failing responses, the fraction the judge called "No"; null without failing responses. */
  recallNo: number | null;
  /** Confusion counts: verdict x truth. */
  noOnFailing: number;
  noOnFollowing: number;
  yesOnFailing: number;
  yesOnFollowing: number;
}

/** The checker's verdict for a judge to be compared with: strict, all constraints followed. */
export function checkerVerdict(record: IfevalRecord, response: string): Verdict {
  return evaluateStrict(record, response).follow_all_instructions ? 'Yes' : 'No';
}

export function judgeAccuracy(items: readonly JudgedItem[]): JudgeAccuracy {
  let invalid = 0;
  let noOnFailing = 0;
  let noOnFollowing = 0;
  let yesOnFailing = 0;
  let yesOnFollowing = 0;
  for (const it of items) {
    if (it.verdict === null) invalid++;
    else if (it.verdict === 'No') it.followed ? noOnFollowing++ : noOnFailing++;
    else it.followed ? yesOnFollowing++ : yesOnFailing++;
  }
  const judged = items.length - invalid;
  const ratio = (a: number, b: number) => (b > 0 ? a / b : null);
  return {
    judged,
    invalid,
    accuracy: ratio(noOnFailing + yesOnFollowing, judged),
    precisionNo: ratio(noOnFailing, noOnFailing + noOnFollowing),
    recallNo: ratio(noOnFailing, noOnFailing + yesOnFailing),
    noOnFailing,
    noOnFollowing,
    yesOnFailing,
    yesOnFollowing,
  };
}
