/**
 * Issue 14, item 13: training showed "step 0 of 3" with every metric "—" for ~25 s while GPU
 * kernels compiled, then finished in a second and reported "1020 tokens/s" next to "Took 25s".
 * The Trainer now says which phase it is in (compiling, DPO's reference pass, steps) and times
 * each apart, so tokens per second are the steps' tokens over the steps' own time.
 *
 * A fake clock makes the arithmetic exact: the engine below charges its first call of each kind
 * as compiling (25 s for a training pass, 3 s for a scoring pass) and a fixed time per call after.
 */
import { describe, expect, it } from 'vitest';
import { CpuModel } from '../../../../src/engine/cpu/model';
import { CpuTrainEngine } from '../../../../src/engine/cpu/train-engine';
import { memorySource } from '../../../../src/engine/load/files';
import { loadModel } from '../../../../src/engine/load/model';
import { encodeChat, encodePair } from '../../../../src/engine/train/data';
import type { TrainEngine } from '../../../../src/engine/train/engine';
import { adapterTensors, createAdapter } from '../../../../src/engine/train/lora';
import { Trainer, type StepMetrics, type TrainPhase, type TrainTask } from '../../../../src/engine/train/trainer';
import { tinyHfFiles } from '../../../../src/engine/tiny/tiny';
import { formatSeconds, phaseText, stepThroughput, timeText } from '../../../../src/ui/train-progress';

const loaded = loadModel(memorySource(tinyHfFiles({ seed: 2 })));

const COMPILE_TRAIN_MS = 25_000;
const COMPILE_SCORE_MS = 3_000;
const TRAIN_CALL_MS = 100;
const SCORE_CALL_MS = 50;

/** A CPU engine on a fake clock whose first training and scoring calls cost a compile. */
class CompilingEngine implements TrainEngine {
  clock = 0;
  private compiledTrain = false;
  private compiledScore = false;
  constructor(readonly inner: TrainEngine) {}
  logprobs: TrainEngine['logprobs'] = async (seqs, adapter) => {
    this.clock += this.compiledScore ? SCORE_CALL_MS : COMPILE_SCORE_MS;
    this.compiledScore = true;
    return this.inner.logprobs(seqs, adapter);
  };
  accumulateGradients: TrainEngine['accumulateGradients'] = async (...a) => {
    this.clock += this.compiledTrain ? TRAIN_CALL_MS : COMPILE_TRAIN_MS;
    this.compiledTrain = true;
    return this.inner.accumulateGradients(...a);
  };
  takeGradients: TrainEngine['takeGradients'] = (a) => this.inner.takeGradients(a);
  getAdapter: TrainEngine['getAdapter'] = (n) => this.inner.getAdapter(n);
  setAdapter: TrainEngine['setAdapter'] = (a) => this.inner.setAdapter(a);
}

async function dpoTask(): Promise<TrainTask> {
  const { tokenizer } = await loaded;
  const data = [
    ['Write a short poem about the sea.', 'The sea is blue and wide.', 'No.'],
    ['Is the sky blue?', 'Yes, the sky is blue.', 'The answer is no.'],
    ['Say yes or no.', 'Yes.', 'I do not know, maybe.'],
    ['Name a colour.', 'Red.', 'Seven.'],
  ];
  const pairs = data.map(([p, c, r]) => encodePair(tokenizer, { prompt: [{ role: 'user', content: p }], chosen: c, rejected: r }));
  return { kind: 'dpo', pairs, beta: 0.1, ftx: 0.1 };
}

async function train(task: TrainTask, warmUp: boolean) {
  const { weights } = await loaded;
  const engine = new CompilingEngine(new CpuTrainEngine(new CpuModel(weights)));
  await engine.setAdapter(createAdapter('actor', weights.config, {}, { seed: 1 }));
  const phases: TrainPhase[] = [];
  const metrics: StepMetrics[] = [];
  // 3 steps of 4 examples in one micro-batch each; the reference pass goes 2 pairs at a time.
  const trainer = new Trainer({
    engine,
    adapter: 'actor',
    task,
    warmUp,
    settings: { lr: 1e-2, epochs: 3, batchSize: 4, microBatchSize: 2, schedule: 'constant', warmupRatio: 0 },
    now: () => engine.clock,
    onPhase: (p) => phases.push(p),
    onStep: (m) => metrics.push(m),
  });
  const result = await trainer.run();
  return { trainer, phases, metrics, result, engine };
}

describe('training phases and honest throughput', () => {
  it('DPO on a compiling engine: compile, reference pass, steps; tokens/s over the steps alone', async () => {
    const { trainer, phases, metrics } = await train(await dpoTask(), true);
    expect(phases).toEqual([
      { phase: 'compile' },
      { phase: 'reference', done: 0, total: 4 },
      { phase: 'reference', done: 2, total: 4 },
      { phase: 'steps' },
    ]);
    expect(metrics.map((m) => m.step)).toEqual([1, 2, 3]);
    // The warm-up paid both compiles (and nothing else); the reference pass is two scoring calls.
    expect(trainer.timing.compileSeconds).toBeCloseTo((COMPILE_SCORE_MS + COMPILE_TRAIN_MS) / 1000, 9);
    expect(trainer.timing.referenceSeconds).toBeCloseTo((2 * SCORE_CALL_MS) / 1000, 9);
    // Each step: two micro-batches of two pairs.
    for (const m of metrics) expect(m.seconds).toBeCloseTo((2 * TRAIN_CALL_MS) / 1000, 9);
    const tokens = metrics.reduce((n, m) => n + m.tokens, 0);
    expect(trainer.timing).toMatchObject({ steps: 3, stepTokens: tokens });
    expect(trainer.timing.stepSeconds).toBeCloseTo(0.6, 9);
    const speed = stepThroughput(metrics);
    expect(speed.tokensPerSecond).toBeCloseTo(tokens / 0.6, 6);
    expect(speed).toMatchObject({ steps: 3, tokens });
    // Every step runs at the same pace: none pays for compiling.
    for (const m of metrics) expect(m.tokensPerSec).toBeCloseTo(m.tokens / 0.2, 6);
  });

  it('without the warm-up the first step pays for compiling (what the Train view used to report)', async () => {
    const { trainer, phases, metrics } = await train(await dpoTask(), false);
    expect(phases.map((p) => p.phase)).toEqual(['reference', 'reference', 'steps']);
    // The reference pass now compiles the scoring kernels, step 1 the training ones.
    expect(trainer.timing.referenceSeconds).toBeCloseTo((COMPILE_SCORE_MS + SCORE_CALL_MS) / 1000, 9);
    expect(metrics[0].seconds).toBeCloseTo((COMPILE_TRAIN_MS + TRAIN_CALL_MS) / 1000, 9);
    expect(metrics[0].tokensPerSec).toBeLessThan(metrics[1].tokensPerSec / 100);
  });

  it('the warm-up changes nothing the training computes', async () => {
    const task = await dpoTask();
    const a = await train(task, true);
    const b = await train(task, false);
    expect(a.metrics.map((m) => m.loss)).toEqual(b.metrics.map((m) => m.loss));
    expect(a.metrics.map((m) => m.gradNorm)).toEqual(b.metrics.map((m) => m.gradNorm));
    const flat = (x: typeof a.result.adapter) => adapterTensors(x).flatMap((t) => [...t.data]);
    expect(flat(a.result.adapter)).toEqual(flat(b.result.adapter));
  });

  it('SFT has no reference pass: compile, then steps', async () => {
    const { tokenizer } = await loaded;
    const chats = ['Say hi.', 'Name a colour.', 'Count to three.', 'Say bye.'].map((q) => encodeChat(tokenizer, [{ role: 'user', content: q }, { role: 'assistant', content: 'Sure: done.' }]));
    const { trainer, phases } = await train({ kind: 'sft', chats }, true);
    expect(phases).toEqual([{ phase: 'compile' }, { phase: 'steps' }]);
    expect(trainer.timing.compileSeconds).toBeCloseTo(COMPILE_TRAIN_MS / 1000, 9);
    expect(trainer.timing.referenceSeconds).toBe(0);
    expect(trainer.timing.stepSeconds).toBeCloseTo(0.6, 9);
  });
});

describe('what the Train view says', () => {
  it('names each phase, and leaves the steps to the step count', () => {
    expect(phaseText({ phase: 'loading' })).toBe('Loading the model…');
    expect(phaseText({ phase: 'compile' })).toBe('Compiling GPU kernels (once per model and shape; steps wait for it)…');
    expect(phaseText({ phase: 'reference', done: 6, total: 40 })).toBe("Reference pass: 6 of 40 pairs (DPO's reference log-probs, once per pair)…");
    expect(phaseText({ phase: 'steps' })).toBeNull();
    expect(phaseText(undefined)).toBeNull();
  });

  it('adds up tokens and seconds over steps, skipping entries without them', () => {
    expect(stepThroughput([])).toEqual({ steps: 0, tokens: 0, seconds: 0, tokensPerSecond: null });
    expect(stepThroughput([{ tokens: 300, seconds: 0.5 }, { tokens: 100, seconds: 0.5 }, {}])).toEqual({ steps: 2, tokens: 400, seconds: 1, tokensPerSecond: 400 });
  });

  it('says where the time went, with the total apart', () => {
    expect(timeText({ wallSeconds: 25.4, loadSeconds: 0.8, compileSeconds: 22.1, referenceSeconds: 0.5, steps: 3, stepSeconds: 1.2, stepTokens: 1224 })).toBe(
      '25 s in all: loading the model 0.8 s, compiling GPU kernels 22 s, reference pass 0.5 s, 3 steps 1.2 s',
    );
    expect(timeText({ wallSeconds: 130, loadSeconds: 2, compileSeconds: 0, referenceSeconds: 0, steps: 1, stepSeconds: 120, stepTokens: 10 })).toBe(
      '2m 10s in all: loading the model 2.0 s, 1 step 2m 00s',
    );
    expect(formatSeconds(9.94)).toBe('9.9 s');
    expect(formatSeconds(9.96)).toBe('10 s');
  });
});
