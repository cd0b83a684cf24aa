/**
 * The training losses, as host functions of token log-probabilities (train/engine.ts LossFn), so
 * every engine trains them the same way.
 *
 * DPO (sigmoid loss, Rafailov et al.; LLaMA-Factory / TRL semantics), per pair:
 *   π_c = Σ log π(chosen tokens), π_r likewise, ref_c / ref_r under the reference (the base with
 *   the adapter off), z = β·((π_c − ref_c) − (π_r − ref_r)),
 *   loss = −log σ(z) + α · (−π_c / |c|)          (α: LLaMA-Factory's pref_ftx; SPaR uses 0.1)
 * Response tokens are the assistant turn as the chat template writes it after the prompt, end of
 * turn included (ChatTokenizer.encodeResponse): the tokens LLaMA-Factory and TRL train on.
 * Rewards as TRL logs them: chosen = β(π_c − ref_c), rejected = β(π_r − ref_r), margin = their
 * difference, accuracy = chosen > rejected.
 *
 * SFT: token mean of −log p over the assistant tokens of the whole optimizer step.
 */
import { LabError } from '../../errors';
import type { Floats, LossFn } from './engine';

/** log σ(z), stable for large |z|. */
export function logSigmoid(z: number): number {
  return z >= 0 ? -Math.log1p(Math.exp(-z)) : z - Math.log1p(Math.exp(z));
}

export function sigmoid(z: number): number {
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}

export interface DpoPairLogps {
  policyChosen: number;
  policyRejected: number;
  refChosen: number;
  refRejected: number;
  /** |c|: tokens of the chosen response (for the SFT term). */
  chosenTokens: number;
}

export interface DpoPairResult {
  loss: number;
  /** d loss / d π_c and d loss / d π_r */
  dPolicyChosen: number;
  dPolicyRejected: number;
  chosenReward: number;
  rejectedReward: number;
}

/** DPO loss of one pair and its gradient with respect to the policy's summed log-probs. */
export function dpoPairLoss(x: DpoPairLogps, beta: number, ftx: number): DpoPairResult {
  const chosenReward = beta * (x.policyChosen - x.refChosen);
  const rejectedReward = beta * (x.policyRejected - x.refRejected);
  const z = chosenReward - rejectedReward;
  // d(−log σ(z))/dz = −σ(−z)
  const g = -sigmoid(-z);
  let loss = -logSigmoid(z);
  let dPolicyChosen = beta * g;
  if (ftx > 0) {
    const n = Math.max(1, x.chosenTokens);
    loss += ftx * (-x.policyChosen / n);
    dPolicyChosen += -ftx / n;
  }
  return { loss, dPolicyChosen, dPolicyRejected: -beta * g, chosenReward, rejectedReward };
}

const sum = (a: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s;
};

/** Per-step DPO statistics, summed over pairs (divide by `pairs`). */
export interface DpoStats {
  pairs: number;
  loss: number;
  chosenReward: number;
  rejectedReward: number;
  correct: number;
  policyChosen: number;
  policyRejected: number;
  /** The SFT term alone (−π_c/|c| summed), for the log. */
  sft: number;
}

export function emptyDpoStats(): DpoStats {
  return { pairs: 0, loss: 0, chosenReward: 0, rejectedReward: 0, correct: 0, policyChosen: 0, policyRejected: 0, sft: 0 };
}

export interface DpoLossOptions {
  beta: number;
  ftx: number;
  /** Reference log-probs [chosen, rejected] of each pair of the micro-batch, in order. */
  ref: readonly (readonly [number, number])[];
  /** Weight of each pair: 1 / (pairs in the optimizer step), so the step's loss is the pair mean. */
  weight: number;
  /** Statistics are added here. */
  stats?: DpoStats;
}

/**
 * DPO over a micro-batch laid out [chosen₀, rejected₀, chosen₁, rejected₁, …] (every token of
 * each sequence's mask is a response token).
 */
export function dpoLossFn(o: DpoLossOptions): LossFn {
  return (logprobs: readonly Floats[]) => {
    if (logprobs.length !== 2 * o.ref.length) throw new LabError('internal', `DPO: ${logprobs.length} sequences for ${o.ref.length} pairs.`);
    let loss = 0;
    const dlogprobs: Floats[] = [];
    o.ref.forEach(([refChosen, refRejected], i) => {
      const c = logprobs[2 * i];
      const r = logprobs[2 * i + 1];
      const x: DpoPairLogps = { policyChosen: sum(c), policyRejected: sum(r), refChosen, refRejected, chosenTokens: c.length };
      const res = dpoPairLoss(x, o.beta, o.ftx);
      loss += o.weight * res.loss;
      // π_c = Σ_j logp_j ⇒ d/dlogp_j = dπ_c
      dlogprobs.push(new Float64Array(c.length).fill(o.weight * res.dPolicyChosen), new Float64Array(r.length).fill(o.weight * res.dPolicyRejected));
      const s = o.stats;
      if (s) {
        s.pairs++;
        s.loss += res.loss;
        s.chosenReward += res.chosenReward;
        s.rejectedReward += res.rejectedReward;
        s.correct += res.chosenReward > res.rejectedReward ? 1 : 0;
        s.policyChosen += x.policyChosen;
        s.policyRejected += x.policyRejected;
        s.sft += -x.policyChosen / Math.max(1, x.chosenTokens);
      }
    });
    return { loss, dlogprobs };
  };
}

export interface SftLossOptions {
  /** Masked tokens in the whole optimizer step: the loss is their mean. */
  stepTokens: number;
  stats?: { tokens: number; nll: number };
}

/** Token-mean cross-entropy: each masked token weighs 1 / (tokens in the step). */
export function sftLossFn(o: SftLossOptions): LossFn {
  if (!(o.stepTokens > 0)) throw new LabError('invalid-input', 'SFT: the step has no assistant tokens to train on.');
  const w = 1 / o.stepTokens;
  return (logprobs: readonly Floats[]) => {
    let loss = 0;
    const dlogprobs = logprobs.map((lp) => {
      const nll = -sum(lp);
      loss += w * nll;
      if (o.stats) {
        o.stats.tokens += lp.length;
        o.stats.nll += nll;
      }
      return new Float64Array(lp.length).fill(-w);
    });
    return { loss, dlogprobs };
  };
}
