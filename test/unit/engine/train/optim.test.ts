/**
 * AdamW, schedules and clipping against the formulas of torch.optim.AdamW,
 * transformers' get_*_schedule_with_warmup and torch.nn.utils.clip_grad_norm_, written out
 * independently here; the DPO and SFT losses against their definitions.
 */
import { describe, expect, it } from 'vitest';
import { dpoLossFn, dpoPairLoss, emptyDpoStats, logSigmoid, sftLossFn } from '../../../../src/engine/train/losses';
import { AdamW, clipGradNorm, globalNorm, learningRate, warmupSteps } from '../../../../src/engine/train/optim';
import { numericGrad } from '../../../helpers/gradcheck';

describe('learning-rate schedules (transformers semantics)', () => {
  it('warm up linearly from 0 over ceil(ratio·total) steps, then constant / linear / cosine to 0', () => {
    const total = 10;
    expect(warmupSteps(total, 0.1)).toBe(1);
    expect(warmupSteps(total, 0.25)).toBe(3);
    const s = (schedule: 'constant' | 'linear' | 'cosine') => Array.from({ length: total }, (_, i) => learningRate({ lr: 1, schedule, warmupRatio: 0.25 }, i, total));
    expect(s('constant')).toEqual([0, 1 / 3, 2 / 3, 1, 1, 1, 1, 1, 1, 1]);
    s('linear').forEach((v, i) => expect(v).toBeCloseTo(i < 3 ? i / 3 : (10 - i) / 7, 12));
    s('cosine').forEach((v, i) => expect(v).toBeCloseTo(i < 3 ? i / 3 : 0.5 * (1 + Math.cos((Math.PI * (i - 3)) / 7)), 12));
    expect(learningRate({ lr: 2e-5, schedule: 'linear', warmupRatio: 0 }, 0, 4)).toBe(2e-5);
  });
});

describe('AdamW (torch semantics)', () => {
  it('matches a step-by-step transcription with bias correction and decoupled weight decay', () => {
    const settings = { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 };
    const p = Float32Array.from([0.5, -1, 2]);
    const opt = AdamW.forShapes(settings, [3]);
    const ref = { p: [0.5, -1, 2], m: [0, 0, 0], v: [0, 0, 0] };
    const grads = [
      [0.1, -0.2, 0.3],
      [0.05, 0.4, -0.1],
      [-0.3, 0, 0.2],
    ];
    grads.forEach((g, k) => {
      const lr = 0.01 * (k + 1);
      opt.step([p], [Float32Array.from(g)], lr);
      const t = k + 1;
      for (let i = 0; i < 3; i++) {
        ref.p[i] -= lr * 0.1 * ref.p[i];
        ref.m[i] = 0.9 * ref.m[i] + 0.1 * g[i];
        ref.v[i] = 0.99 * ref.v[i] + 0.01 * g[i] * g[i];
        const mh = ref.m[i] / (1 - 0.9 ** t);
        const vh = ref.v[i] / (1 - 0.99 ** t);
        ref.p[i] -= (lr * mh) / (Math.sqrt(vh) + 1e-8);
      }
      expect(p).toBeAllclose(ref.p, { rtol: 1e-6 });
    });
    expect(opt.t).toBe(3);
    // First step without decay moves each weight by about lr·sign(g).
    const q = Float32Array.from([1, 1]);
    AdamW.forShapes({ ...settings, weightDecay: 0 }, [2]).step([q], [Float32Array.from([3, -0.001])], 0.1);
    expect([...q].map((x) => x - 1)).toBeAllclose([-0.1, 0.1], { rtol: 1e-4 });
  });

  it('clips the global norm like clip_grad_norm_ and reports the norm before clipping', () => {
    const g = [Float32Array.from([3, 0]), Float64Array.from([0, 4])];
    expect(clipGradNorm(g, 1)).toBe(5);
    expect(globalNorm(g)).toBeCloseTo(5 / (5 + 1e-6), 6);
    const small = [Float32Array.from([0.3, 0.4])];
    expect(clipGradNorm(small, 1)).toBeCloseTo(0.5, 6);
    expect([...small[0]]).toEqual([Math.fround(0.3), Math.fround(0.4)]);
    expect(Number.isNaN(clipGradNorm([Float32Array.from([1, NaN])], 1))).toBe(true);
    expect(clipGradNorm([Float32Array.from([Infinity])], 1)).toBe(Infinity);
  });
});

describe('losses', () => {
  it('log σ is stable both ways', () => {
    expect(logSigmoid(0)).toBeCloseTo(-Math.log(2), 15);
    expect(logSigmoid(-800)).toBe(-800);
    expect(logSigmoid(800)).toBe(-0);
    expect(logSigmoid(3)).toBeCloseTo(Math.log(1 / (1 + Math.exp(-3))), 14);
  });

  it('DPO pair loss and its gradient follow −log σ(β·Δ) + α·(−π_c/|c|)', () => {
    const x = { policyChosen: -12.5, policyRejected: -9, refChosen: -13, refRejected: -8.25, chosenTokens: 5 };
    const r = dpoPairLoss(x, 0.2, 0.1);
    const z = 0.2 * (-12.5 + 13 - (-9 + 8.25));
    expect(r.loss).toBeCloseTo(Math.log(1 + Math.exp(-z)) + 0.1 * (12.5 / 5), 12);
    expect(r.chosenReward).toBeCloseTo(0.2 * 0.5, 12);
    expect(r.rejectedReward).toBeCloseTo(0.2 * -0.75, 12);
    const v = Float64Array.from([x.policyChosen, x.policyRejected]);
    const f = () => dpoPairLoss({ ...x, policyChosen: v[0], policyRejected: v[1] }, 0.2, 0.1).loss;
    expect([r.dPolicyChosen, r.dPolicyRejected]).toBeAllclose(numericGrad(f, v, 1e-6), { rtol: 1e-7 });
  });

  it('dpoLossFn weights pairs, spreads the gradient over response tokens and gathers statistics', () => {
    const stats = emptyDpoStats();
    const fn = dpoLossFn({ beta: 0.1, ftx: 0, ref: [[-3, -2], [-1, -4]], weight: 0.25, stats });
    const lps = [Float32Array.from([-1, -1]), Float32Array.from([-3]), Float32Array.from([-0.5]), Float32Array.from([-2, -1, -1])];
    const { loss, dlogprobs } = fn(lps);
    const p1 = dpoPairLoss({ policyChosen: -2, policyRejected: -3, refChosen: -3, refRejected: -2, chosenTokens: 2 }, 0.1, 0);
    const p2 = dpoPairLoss({ policyChosen: -0.5, policyRejected: -4, refChosen: -1, refRejected: -4, chosenTokens: 1 }, 0.1, 0);
    expect(loss).toBeCloseTo(0.25 * (p1.loss + p2.loss), 12);
    expect([...dlogprobs[0]]).toEqual([0.25 * p1.dPolicyChosen, 0.25 * p1.dPolicyChosen]);
    expect(dlogprobs[3]).toHaveLength(3);
    expect(stats).toMatchObject({ pairs: 2, correct: 2 });
  });

  it('SFT is the token mean over the whole step', () => {
    const stats = { tokens: 0, nll: 0 };
    const fn = sftLossFn({ stepTokens: 4, stats });
    const a = fn([Float32Array.from([-1, -2])]);
    const b = fn([Float32Array.from([-0.5, -0.5])]);
    expect(a.loss + b.loss).toBeCloseTo(4 / 4, 12);
    expect([...a.dlogprobs[0]]).toEqual([-0.25, -0.25]);
    expect(stats).toEqual({ tokens: 4, nll: 4 });
    expect(() => sftLossFn({ stepTokens: 0 })).toThrow(/no assistant tokens/);
  });
});
