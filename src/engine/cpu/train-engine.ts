/**
 * The CPU reference as a TrainEngine (train/engine.ts): forward with saved activations, the loss
 * on the host, then CpuModel.backward per sequence. The ground truth the GPU engine's gradients
 * are checked against; in f64 (a CpuModel over Float64Array) it is checked against finite
 * differences itself.
 */
import { LabError } from '../../errors';
import type { LoraAdapter } from '../model/weights';
import { cloneAdapter, zeroGrads } from '../train/lora';
import { targetRows, type Floats, type LossFn, type LoraTensors, type TrainEngine, type TrainSequence } from '../train/engine';
import type { Activations, CpuModel } from './model';
import { crossEntropyBackward, crossEntropyForward, type FloatArray } from './ops';

export interface CpuTrainEngineOptions {
  /** Keep only each layer's input in the forward and recompute the layer in backward. */
  recompute?: boolean;
}

interface SavedSequence<F extends FloatArray> {
  acts: Activations<F>;
  logits: F; // [R,V]
  lse: F; // [R]
  targets: number[]; // [R]
}

export class CpuTrainEngine<F extends FloatArray = Float32Array> implements TrainEngine {
  private readonly grads = new Map<string, LoraTensors>();

  constructor(
    readonly model: CpuModel<F>,
    readonly opts: CpuTrainEngineOptions = {},
  ) {}

  async logprobs(seqs: readonly TrainSequence[], adapter: string | null): Promise<Floats[]> {
    return seqs.map((seq) => this.forward(seq, adapter, false).logprobs);
  }

  async accumulateGradients(seqs: readonly TrainSequence[], adapter: string, loss: LossFn): Promise<number> {
    const fwd = seqs.map((seq) => this.forward(seq, adapter, true));
    const { loss: value, dlogprobs } = loss(fwd.map((f) => f.logprobs));
    if (dlogprobs.length !== seqs.length) throw new LabError('internal', `The loss returned ${dlogprobs.length} gradients for ${seqs.length} sequences.`);
    let acc = this.grads.get(adapter);
    if (!acc) this.grads.set(adapter, (acc = zeroGrads(this.model.getAdapter(adapter))));
    const grads = new Map([[adapter, acc]]);
    const V = this.model.config.vocabSize;
    fwd.forEach(({ saved }, i) => {
      const s = saved!;
      const R = s.targets.length;
      if (R === 0) return;
      // logp = -loss  ⇒  dloss = -dlogp
      const dlosses = new this.model.Float(R);
      for (let j = 0; j < R; j++) dlosses[j] = -dlogprobs[i][j];
      const dlogits = new this.model.Float(R * V);
      crossEntropyBackward(dlogits, dlosses, s.logits, s.lse, s.targets, R, V);
      this.model.backward(s.acts, dlogits, grads);
    });
    return value;
  }

  async takeGradients(adapter: string): Promise<LoraTensors> {
    const g = this.grads.get(adapter) ?? zeroGrads(this.model.getAdapter(adapter));
    this.grads.delete(adapter);
    return g;
  }

  async getAdapter(name: string): Promise<LoraAdapter> {
    return cloneAdapter(this.model.getAdapter(name));
  }

  async setAdapter(adapter: LoraAdapter): Promise<void> {
    this.model.setAdapter(cloneAdapter(adapter));
  }

  /** Log-probs of a sequence's masked tokens; with `save`, what backward needs. */
  private forward(seq: TrainSequence, adapter: string | null, save: boolean): { logprobs: F; saved: SavedSequence<F> | null } {
    const m = this.model;
    const F = m.Float;
    if (seq.mask.length !== seq.tokens.length) throw new LabError('invalid-input', `A training sequence has ${seq.tokens.length} tokens but a mask of ${seq.mask.length}.`);
    const { rows, targets } = targetRows(seq);
    const R = rows.length;
    if (R === 0) return { logprobs: new F(0), saved: null };
    const { logits, acts } = m.forward(m.newCache(seq.tokens.length), seq.tokens, {
      adapters: adapter ? [adapter] : [],
      logitRows: rows,
      save,
      recompute: this.opts.recompute,
    });
    const V = m.config.vocabSize;
    const losses = new F(R);
    const lse = new F(R);
    crossEntropyForward(losses, lse, logits, targets, R, V);
    const logprobs = new F(R);
    for (let j = 0; j < R; j++) logprobs[j] = -losses[j];
    return { logprobs, saved: save ? { acts: acts!, logits, lse, targets } : null };
  }
}
