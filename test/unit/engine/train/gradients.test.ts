/**
 * The whole model's LoRA gradients (CpuModel.backward through every layer, via the TrainEngine
 * the Trainer uses) against central finite differences of the loss, in f64, under the DPO and
 * the SFT loss, for both architectures (Llama: untied, Llama-3 RoPE scaling; Qwen2: q/k/v biases,
 * tied embeddings) with GQA and every linear targeted. The adapter's B is non-zero so every
 * gradient is exercised. Checked on sampled entries of every A and B tensor.
 */
import { describe, expect, it } from 'vitest';
import { CpuModel } from '../../../../src/engine/cpu/model';
import { CpuTrainEngine } from '../../../../src/engine/cpu/train-engine';
import type { Floats, LossFn, TrainEngine, TrainSequence } from '../../../../src/engine/train/engine';
import { adapterTensors, createAdapter } from '../../../../src/engine/train/lora';
import { dpoLossFn, sftLossFn } from '../../../../src/engine/train/losses';
import { LINEAR_NAMES } from '../../../../src/engine/model/weights';
import { tinyWeights } from '../../../../src/engine/tiny/tiny';
import { numericGradAsync, relErr, sampleIndices } from '../../../helpers/gradcheck';
import { rng } from '../random';

const SHAPE = { hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 48, vocabSize: 280 };
const PER_TENSOR = 3;
const H = 1e-4;

function sequence(r: () => number, V: number, prompt: number, response: number): TrainSequence {
  const T = prompt + response;
  const tokens = Array.from({ length: T }, () => Math.floor(r() * V));
  const mask = new Uint8Array(T);
  mask.fill(1, prompt);
  return { tokens, mask };
}

/** A chat-like mask: two "assistant turns" separated by masked-out tokens. */
function chat(r: () => number, V: number): TrainSequence {
  const tokens = Array.from({ length: 14 }, () => Math.floor(r() * V));
  const mask = Uint8Array.from([0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0]);
  return { tokens, mask };
}

const results: string[] = [];

describe.each(['llama', 'qwen2'] as const)('LoRA gradients of the whole model vs finite differences (%s, f64)', (arch) => {
  const weights = tinyWeights({ arch, seed: 21, ...SHAPE });
  const V = weights.config.vocabSize;

  async function check(kind: string, seqs: TrainSequence[], makeLoss: () => LossFn, rslora: boolean) {
    const model = new CpuModel(weights, Float64Array);
    const engine = new CpuTrainEngine(model);
    const adapter = createAdapter('actor', weights.config, { rank: 2, alpha: 3, rslora, targets: [...LINEAR_NAMES] }, { seed: 5, init: 'random' });
    model.setAdapter(adapter); // the model holds these very arrays: perturbing them moves the loss
    const loss = async () => {
      const lps = await engine.logprobs(seqs, 'actor');
      return makeLoss()(lps).loss;
    };
    await engine.accumulateGradients(seqs, 'actor', makeLoss());
    const grads = adapterTensors({ rank: 2, layers: await engine.takeGradients('actor') });
    const params = adapterTensors(adapter);
    const r = rng(99);
    const analytic: number[] = [];
    const numeric: number[] = [];
    for (let i = 0; i < params.length; i++) {
      const idx = sampleIndices(params[i].data.length, PER_TENSOR, r);
      const fd = await numericGradAsync(loss, params[i].data, H, idx);
      idx.forEach((j, n) => {
        analytic.push(grads[i].data[j]);
        numeric.push(fd[n]);
      });
      // Per tensor too, so a wrong linear cannot hide behind a large neighbour.
      expect(relErr(idx.map((j) => grads[i].data[j]), fd), params[i].key).toBeLessThan(1e-3);
    }
    const e = relErr(analytic, numeric);
    results.push(`${arch} ${kind}: ${analytic.length} entries over ${params.length} tensors, max rel err ${e.toExponential(2)}`);
    expect(e).toBeLessThan(1e-4);
    expect(numeric.some((x) => Math.abs(x) > 1e-4)).toBe(true);
  }

  it('under the DPO loss (β, SFT term), B ≠ 0', async () => {
    const r = rng(7);
    const pairs = [0, 1].map(() => [sequence(r, V, 5, 4), sequence(r, V, 5, 3)]);
    const seqs = pairs.flat();
    // Reference log-probs from the base model, as the Trainer computes them.
    const base = new CpuTrainEngine(new CpuModel(weights, Float64Array));
    const refLps = await base.logprobs(seqs, null);
    const sum = (a: Floats) => Array.from(a).reduce((x, y) => x + y, 0);
    const ref = pairs.map((_, i) => [sum(refLps[2 * i]), sum(refLps[2 * i + 1])] as const);
    await check('DPO', seqs, () => dpoLossFn({ beta: 0.5, ftx: 0.1, ref, weight: 0.5 }), false);
  });

  it('under the SFT loss (token mean over assistant turns), rsLoRA scale', async () => {
    const r = rng(8);
    const seqs = [chat(r, V), chat(r, V)];
    const tokens = seqs.reduce((n, s) => n + s.mask.reduce((a, b) => a + b, 0), 0);
    await check('SFT', seqs, () => sftLossFn({ stepTokens: tokens }), true);
  });

  it('recompute-per-layer gives exactly the saved-activation gradients; f32 agrees with f64', async () => {
    const r = rng(9);
    const seqs = [sequence(r, V, 4, 6), sequence(r, V, 3, 5)];
    const adapter = createAdapter('actor', weights.config, { rank: 4, alpha: 8, targets: [...LINEAR_NAMES] }, { seed: 6, init: 'random' });
    const grads = async (engine: TrainEngine) => {
      await engine.setAdapter(adapter);
      await engine.accumulateGradients(seqs, 'actor', sftLossFn({ stepTokens: 11 }));
      return adapterTensors({ rank: 4, layers: await engine.takeGradients('actor') }).map((t) => t.data);
    };
    const full = await grads(new CpuTrainEngine(new CpuModel(weights)));
    const recomputed = await grads(new CpuTrainEngine(new CpuModel(weights), { recompute: true }));
    expect(recomputed).toEqual(full);
    const f64 = await grads(new CpuTrainEngine(new CpuModel(weights, Float64Array)));
    const e = relErr(full.flatMap((a) => [...a]), f64.flatMap((a) => [...a]));
    results.push(`${arch} f32 vs f64 gradients: max rel err ${e.toExponential(2)}`);
    expect(e).toBeLessThan(1e-4);
  });

  it('accumulates: two calls give twice the gradient; takeGradients zeroes', async () => {
    const r = rng(10);
    const seqs = [sequence(r, V, 3, 3)];
    const engine = new CpuTrainEngine(new CpuModel(weights, Float64Array));
    await engine.setAdapter(createAdapter('actor', weights.config, { rank: 2, alpha: 2, targets: ['q', 'v'] }, { seed: 1, init: 'random' }));
    const once = async () => {
      await engine.accumulateGradients(seqs, 'actor', sftLossFn({ stepTokens: 3 }));
    };
    await once();
    const g1 = adapterTensors({ rank: 2, layers: await engine.takeGradients('actor') }).map((t) => [...t.data]);
    await once();
    await once();
    const g2 = adapterTensors({ rank: 2, layers: await engine.takeGradients('actor') }).map((t) => [...t.data]);
    expect(relErr(g2.flat(), g1.flat().map((x) => 2 * x))).toBeLessThan(1e-6);
    const g0 = adapterTensors({ rank: 2, layers: await engine.takeGradients('actor') });
    expect(g0.every((t) => t.data.every((x) => x === 0))).toBe(true);
    expect(g0.map((t) => t.key)).toEqual(g1.map((_, i) => adapterTensors(createAdapter('x', weights.config, { rank: 2, alpha: 2, targets: ['q', 'v'] }, { seed: 1 }))[i].key));
  });
});

describe('gradient check summary', () => {
  it('prints the measured errors', () => {
    console.log(results.join('\n'));
  });
});
