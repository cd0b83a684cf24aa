/**
 * What the Trainer needs from a model engine: the contract the CPU reference
 * (cpu/train-engine.ts) and the WebGPU runtime (model/gpu-train-engine.ts) implement. The Trainer owns the data, the
 * loss, the optimizer and checkpoints; an engine only runs forward and backward passes over a
 * micro-batch of token sequences and holds the adapters' weights and gradient accumulators.
 *
 * One micro-batch call = forward of every sequence with the adapter applied → the token
 * log-probabilities go to the host → `loss` (a host function, tiny) turns them into the loss
 * and d loss / d logp of every token → backward, adding the adapter's dA, dB into the
 * accumulators. So DPO, SFT or any other loss over token log-probs needs no engine change.
 */
import type { LoraAdapter } from '../model/weights';

/** The array types log-probs may come in (f32 from the GPU, f64 from the CPU gradient checks). */
export type Floats = Float32Array | Float64Array;

/** One token sequence and which of its tokens are trained on or scored. */
export interface TrainSequence {
  /** [T] the whole sequence: prompt, response, end of turn. */
  tokens: readonly number[];
  /**
   * [T] 1 where log p(tokens[t] | tokens[<t]) counts (response and assistant tokens), 0 elsewhere
   * (prompt, template). mask[0] is always 0: nothing predicts the first token.
   */
  mask: Uint8Array;
}

/** What a loss function returns for one micro-batch. */
export interface MicroBatchLoss {
  /** This micro-batch's share of the step's loss. */
  loss: number;
  /** d loss / d logp, shaped like the log-probs it was given: one array per sequence. */
  dlogprobs: Floats[];
}

/**
 * Loss of a micro-batch from its token log-probs: logprobs[i][j] is log p of the j-th masked
 * token of sequence i (masked tokens in order).
 */
export type LossFn = (logprobs: readonly Floats[]) => MicroBatchLoss;

/** LoRA weights or gradients, laid out like LoraAdapter.layers (per layer, per linear, A and B). */
export type LoraTensors = LoraAdapter['layers'];

export interface TrainEngine {
  /**
   * Log-probs of the masked tokens of each sequence under `adapter` applied to the base (null:
   * the base alone, e.g. DPO's reference), with no gradients: one array per sequence.
   */
  logprobs(seqs: readonly TrainSequence[], adapter: string | null): Promise<Floats[]>;

  /**
   * Forward of the micro-batch with `adapter` applied, `loss` on its token log-probs, backward;
   * adds the gradients of the adapter's A and B into the engine's accumulators (+=), so several
   * calls accumulate one optimizer step. Returns the micro-batch loss.
   */
  accumulateGradients(seqs: readonly TrainSequence[], adapter: string, loss: LossFn): Promise<number>;

  /** The gradients accumulated for `adapter` since the last call (then zeroed). */
  takeGradients(adapter: string): Promise<LoraTensors>;

  /** A copy of the adapter's current weights. */
  getAdapter(name: string): Promise<LoraAdapter>;

  /** Adds or replaces an adapter (after an optimizer step, a resume or an import). */
  setAdapter(adapter: LoraAdapter): Promise<void>;
}

/** The rows of a sequence whose logits predict its masked tokens: row t-1 predicts token t. */
export function targetRows(seq: TrainSequence): { rows: number[]; targets: number[] } {
  const rows: number[] = [];
  const targets: number[] = [];
  for (let t = 1; t < seq.tokens.length; t++) {
    if (seq.mask[t]) {
      rows.push(t - 1);
      targets.push(seq.tokens[t]);
    }
  }
  return { rows, targets };
}

/** Number of masked tokens. */
export function maskedCount(seq: TrainSequence): number {
  let n = 0;
  for (let t = 1; t < seq.mask.length; t++) n += seq.mask[t] ? 1 : 0;
  return n;
}
