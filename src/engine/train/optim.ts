/**
 * AdamW, learning-rate schedules and gradient clipping, with PyTorch / transformers semantics:
 * - AdamW as torch.optim.AdamW: decoupled weight decay p ← p·(1 − lr·wd), then
 *   p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε).
 * - Schedules as transformers' get_{constant,linear,cosine}_schedule_with_warmup: warmup from 0
 *   over ⌈ratio·total⌉ steps, then constant, linear to 0, or half a cosine to 0; step s (from 0)
 *   uses factor(s), so with warmup the first step has lr 0, as in the HF Trainer.
 * - Global grad-norm clipping as torch.nn.utils.clip_grad_norm_ (coefficient max/(norm + 1e-6)).
 * State is plain Float32Arrays so it checkpoints as bytes.
 */
import { LabError } from '../../errors';

export type Schedule = 'constant' | 'linear' | 'cosine';

export interface ScheduleSettings {
  lr: number;
  schedule: Schedule;
  /** Fraction of the total steps spent warming up (LLaMA-Factory / SPaR: 0.1). */
  warmupRatio: number;
}

export function warmupSteps(totalSteps: number, warmupRatio: number): number {
  return Math.ceil(totalSteps * warmupRatio);
}

/** The learning rate of step `step` (0-based) of `totalSteps`. */
export function learningRate(s: ScheduleSettings, step: number, totalSteps: number): number {
  const warm = warmupSteps(totalSteps, s.warmupRatio);
  if (step < warm) return (s.lr * step) / Math.max(1, warm);
  if (s.schedule === 'constant') return s.lr;
  const rest = Math.max(1, totalSteps - warm);
  if (s.schedule === 'linear') return s.lr * Math.max(0, (totalSteps - step) / rest);
  const progress = (step - warm) / rest;
  return s.lr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}

export interface AdamWSettings {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const DEFAULT_ADAMW: Readonly<AdamWSettings> = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 };

/** Moments of one parameter tensor. */
export interface AdamWMoments {
  m: Float32Array;
  v: Float32Array;
}

export class AdamW {
  /** Optimizer steps taken (t in the bias corrections). */
  t = 0;

  constructor(
    readonly settings: AdamWSettings,
    /** One entry per parameter tensor, in the order step() receives them. */
    readonly moments: AdamWMoments[],
  ) {}

  static forShapes(settings: AdamWSettings, sizes: readonly number[]): AdamW {
    return new AdamW(settings, sizes.map((n) => ({ m: new Float32Array(n), v: new Float32Array(n) })));
  }

  /** One update of every tensor in place: params[i] -= … from grads[i]. */
  step(params: readonly Float32Array[], grads: readonly ArrayLike<number>[], lr: number): void {
    if (params.length !== this.moments.length || grads.length !== params.length) {
      throw new LabError('internal', `AdamW: ${params.length} parameters, ${grads.length} gradients, ${this.moments.length} moment pairs.`);
    }
    const { beta1, beta2, eps, weightDecay } = this.settings;
    this.t++;
    const bc1 = 1 - beta1 ** this.t;
    const bc2 = 1 - beta2 ** this.t;
    const stepSize = lr / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    params.forEach((p, i) => {
      const g = grads[i];
      const { m, v } = this.moments[i];
      for (let j = 0; j < p.length; j++) {
        let x = p[j];
        if (weightDecay !== 0) x *= 1 - lr * weightDecay;
        m[j] = beta1 * m[j] + (1 - beta1) * g[j];
        v[j] = beta2 * v[j] + (1 - beta2) * g[j] * g[j];
        x -= (stepSize * m[j]) / (Math.sqrt(v[j]) / sqrtBc2 + eps);
        p[j] = x;
      }
    });
  }
}

/** √(Σ g²) over every tensor. NaN or Inf anywhere gives a non-finite norm. */
export function globalNorm(grads: readonly ArrayLike<number>[]): number {
  let ss = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) ss += g[i] * g[i];
  return Math.sqrt(ss);
}

/** Scales the gradients in place so their global norm is at most maxNorm; returns the norm before. */
export function clipGradNorm(grads: readonly (Float32Array | Float64Array)[], maxNorm: number): number {
  const norm = globalNorm(grads);
  if (maxNorm > 0 && Number.isFinite(norm)) {
    const coef = maxNorm / (norm + 1e-6);
    if (coef < 1) for (const g of grads) for (let i = 0; i < g.length; i++) g[i] *= coef;
  }
  return norm;
}
