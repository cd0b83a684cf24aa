/**
 * The training benchmark, run after the engine numbers (engine-page.ts, node.ts, device-check.ts). For
 * one DPO pair (chosen and rejected sharing a prompt) on the bench model with the default LoRA
 * (q,v, r 8), each round measures:
 *   - the forward of the pair's tokens: the training engine's log-prob pass with the adapter, no
 *     gradients, over all of them; and the inference path (generate.ts score(), which prefills
 *     the shared prompt once);
 *   - one DPO step through the Trainer (batch = the pair): the reference log-probs with the
 *     adapter off (once per pair, so part of every first-epoch step; on the inference path),
 *     forward and backward,
 *     reading the gradients, clipping and AdamW on the host, writing the weights back;
 *   - the same step with per-layer recompute.
 * Reported: DPO step / forward of the same tokens (target ≤ 3.5), with and without the
 * reference pass, and against the shared-prompt inference forward; training
 * tokens/s; the peak GPU memory of a step from the memory pool's accounting, by category.
 * Each round brackets its step with forwards; the round with the median ratio is reported.
 */
import { Gpu } from '../src/engine/gpu/device';
import type { MemoryReport } from '../src/engine/gpu/memory';
import { GpuModel } from '../src/engine/model/gpu-model';
import { GpuTrainEngine } from '../src/engine/model/gpu-train-engine';
import { score } from '../src/engine/model/generate';
import type { TrainEngine } from '../src/engine/train/engine';
import { adapterParamCount, createAdapter } from '../src/engine/train/lora';
import { Trainer } from '../src/engine/train/trainer';
import type { ModelWeights } from '../src/engine/model/weights';
import type { TinyModelOptions } from '../src/engine/tiny/tiny';
import { PAIR, benchPair } from './model';
import { benchWeights, type BenchFormat } from './weights';

export interface TrainBenchResult {
  adapter: { vendor: string; architecture: string };
  model: { config: TinyModelOptions; weights: BenchFormat; lora: string; loraParameters: number };
  pair: { promptTokens: number; chosenTokens: number; rejectedTokens: number; tokens: number };
  /** Seconds. */
  forward: number;
  inferenceForward: number;
  step: { total: number; reference: number; forwardBackward: number; readGradients: number; hostOptimizer: number; writeWeights: number };
  stepOverForward: number;
  stepWithoutReferenceOverForward: number;
  stepOverInferenceForward: number;
  trainingTokensPerS: number;
  peakBytes: number;
  peakByCategory: MemoryReport['byCategory'];
  recompute: { stepOverForward: number; peakBytes: number; trainingBytes: number };
  targets: { stepOverForwardAtMost3_5: boolean };
  seconds: number;
}

export interface TrainBenchOptions {
  /** Matrices' storage (default f32). */
  format?: BenchFormat;
  /** Weights already made for the model and format (made here when absent). */
  weights?: ModelWeights;
  /** Measured rounds after the warm-up round (default 3). */
  rounds?: number;
  log?: (s: string) => void;
}

/** Wall time of each engine call, summed by method. */
class TimedEngine implements TrainEngine {
  readonly ms = { logprobs: 0, accumulateGradients: 0, takeGradients: 0, setAdapter: 0 };
  constructor(readonly inner: GpuTrainEngine) {}
  private async time<T>(k: keyof TimedEngine['ms'], p: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await p();
    } finally {
      this.ms[k] += performance.now() - t0;
    }
  }
  logprobs: TrainEngine['logprobs'] = (s, a) => this.time('logprobs', () => this.inner.logprobs(s, a));
  accumulateGradients: TrainEngine['accumulateGradients'] = (s, a, l) => this.time('accumulateGradients', () => this.inner.accumulateGradients(s, a, l));
  takeGradients: TrainEngine['takeGradients'] = (a) => this.time('takeGradients', () => this.inner.takeGradients(a));
  getAdapter: TrainEngine['getAdapter'] = (n) => this.inner.getAdapter(n);
  setAdapter: TrainEngine['setAdapter'] = (a) => this.time('setAdapter', () => this.inner.setAdapter(a));
}

export async function trainBench(model: TinyModelOptions, opts: TrainBenchOptions = {}): Promise<TrainBenchResult> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const format = opts.format ?? 'f32';
  const measuredRounds = opts.rounds ?? 3;
  const t0 = performance.now();
  const gpu = await Gpu.acquire();
  const weights = opts.weights ?? benchWeights(model, format);
  const V = model.vocabSize!;
  const gm = await GpuModel.load(gpu, weights, { contextLength: 512 });
  const adapter = createAdapter('actor', weights.config, {}, { seed: 1 });
  const { prompt, chosen, rejected, seqs: pair } = benchPair(V);
  const pairTokens = pair.chosen.tokens.length + pair.rejected.tokens.length;

  /** The best of three forwards (a forward is short next to a step, so more samples even out the noise). */
  const forwardTime = async (engine: GpuTrainEngine) => {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const s = performance.now();
      await engine.forwardLogprobs([pair.chosen, pair.rejected], 'actor');
      best = Math.min(best, (performance.now() - s) / 1000);
    }
    return best;
  };
  const inferenceTime = async () => {
    const s = performance.now();
    await score(gm, [{ prompt, response: chosen }, { prompt, response: rejected }], { adapters: ['actor'] });
    return (performance.now() - s) / 1000;
  };
  /** One DPO step through the Trainer (a new Trainer: the pair's reference is not cached). */
  const stepTime = async (engine: GpuTrainEngine) => {
    const timed = new TimedEngine(engine);
    let seconds = 0;
    await new Trainer({
      engine: timed,
      adapter: 'actor',
      task: { kind: 'dpo', pairs: [pair], beta: 0.1, ftx: 0.1 },
      settings: { lr: 1e-6, batchSize: 1, epochs: 1, warmupRatio: 0 },
      onStep: (m) => (seconds = m.seconds),
    }).run();
    const ms = timed.ms;
    const engineMs = ms.logprobs + ms.accumulateGradients + ms.takeGradients + ms.setAdapter;
    return {
      total: seconds,
      reference: ms.logprobs / 1000,
      forwardBackward: ms.accumulateGradients / 1000,
      readGradients: ms.takeGradients / 1000,
      hostOptimizer: Math.max(0, seconds - engineMs / 1000),
      writeWeights: ms.setAdapter / 1000,
    };
  };

  const engine = GpuTrainEngine.forModel(gm);
  await engine.setAdapter(adapter);
  // Each round brackets its step with forwards; its ratio uses the faster side. The CPU that
  // runs SwiftShader is shared, so the round with the median ratio is reported.
  type Round = { forward: number; inference: number; step: Awaited<ReturnType<typeof stepTime>>; ratio: number };
  const rounds: Round[] = [];
  for (let round = 0; round <= measuredRounds; round++) {
    const before = await forwardTime(engine);
    const inference = await inferenceTime();
    const st = await stepTime(engine);
    const forward = Math.min(before, await forwardTime(engine));
    if (round === 0) continue; // compiles and warms up
    log(
      `train round ${round}: forward ${forward.toFixed(2)} s (inference path ${inference.toFixed(2)} s), DPO step ${st.total.toFixed(2)} s = reference ${st.reference.toFixed(2)} + ` +
        `forward/backward ${st.forwardBackward.toFixed(2)} + read gradients ${st.readGradients.toFixed(3)} + host AdamW ${st.hostOptimizer.toFixed(3)} + write weights ${st.writeWeights.toFixed(3)}`,
    );
    rounds.push({ forward, inference, step: st, ratio: st.total / forward });
  }
  rounds.sort((a, b) => a.ratio - b.ratio);
  const best = rounds[Math.floor(rounds.length / 2)];
  const step = best.step;
  const peakBytes = engine.peakBytes;
  const peakByCategory = engine.memoryReport().byCategory;
  engine.release();
  gpu.memory.trim();

  // Per-layer recompute: the same step, a fresh engine over the same model.
  const re = GpuTrainEngine.forModel(gm, { recompute: true });
  let reRatio = Infinity;
  for (let round = 0; round <= 1; round++) {
    const f = await forwardTime(re);
    const st = await stepTime(re);
    if (round > 0) reRatio = st.total / Math.min(f, await forwardTime(re));
  }
  const recompute = { stepOverForward: reRatio, peakBytes: re.peakBytes, trainingBytes: re.memoryReport().byCategory.training };
  re.release();
  gm.destroy();
  gpu.destroy();

  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const ratio = step.total / best.forward;
  const ratioNoRef = (step.total - step.reference) / best.forward;
  log('');
  log(`DPO pair: ${PAIR.prompt}-token prompt, ${PAIR.chosen}/${PAIR.rejected}-token chosen/rejected (${pairTokens} tokens), LoRA q,v r8 (${adapterParamCount(adapter)} parameters)`);
  log(`forward of the pair      ${best.forward.toFixed(2)} s (inference path: ${best.inference.toFixed(2)} s)`);
  log(`DPO step                 ${step.total.toFixed(2)} s = ${ratio.toFixed(2)}× the forward (without the once-per-pair reference pass: ${ratioNoRef.toFixed(2)}×; ${(step.total / best.inference).toFixed(2)}× the shared-prompt inference forward)`);
  log(`  host side per step     read gradients ${(1000 * step.readGradients).toFixed(0)} ms (waits for the backward), AdamW ${(1000 * step.hostOptimizer).toFixed(0)} ms, write weights ${(1000 * step.writeWeights).toFixed(0)} ms`);
  log(`training tokens/s        ${(pairTokens / step.total).toFixed(1)}`);
  log(`peak GPU memory of a step ${mib(peakBytes)}: weights ${mib(peakByCategory.weights)}, LoRA ${mib(peakByCategory.lora)}, KV cache ${mib(peakByCategory['kv-cache'])}, training ${mib(peakByCategory.training)}, other ${mib(peakBytes - peakByCategory.weights - peakByCategory.lora - peakByCategory['kv-cache'] - peakByCategory.training)}`);
  log(`with per-layer recompute: step ${recompute.stepOverForward.toFixed(2)}× the forward, training buffers ${mib(recompute.trainingBytes)} (peak ${mib(recompute.peakBytes)})`);
  return {
    adapter: { vendor: gpu.adapterInfo.vendor, architecture: gpu.adapterInfo.architecture },
    model: { config: model, weights: format, lora: 'q,v r8 alpha16', loraParameters: adapterParamCount(adapter) },
    pair: { promptTokens: PAIR.prompt, chosenTokens: PAIR.chosen, rejectedTokens: PAIR.rejected, tokens: pairTokens },
    forward: best.forward,
    inferenceForward: best.inference,
    step,
    stepOverForward: ratio,
    stepWithoutReferenceOverForward: ratioNoRef,
    stepOverInferenceForward: step.total / best.inference,
    trainingTokensPerS: pairTokens / step.total,
    peakBytes,
    peakByCategory,
    recompute,
    targets: { stepOverForwardAtMost3_5: ratio <= 3.5 },
    seconds: (performance.now() - t0) / 1000,
  };
}
