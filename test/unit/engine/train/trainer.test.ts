/**
 * The Trainer with the CPU reference engine: DPO and SFT converge on a tiny model; checkpoints
 * resume bit-exactly after a "reload"; NaN stops training and keeps the last good adapter.
 */
import { describe, expect, it } from 'vitest';
import { CpuModel } from '../../../../src/engine/cpu/model';
import { CpuTrainEngine } from '../../../../src/engine/cpu/train-engine';
import { memorySource } from '../../../../src/engine/load/files';
import { loadModel } from '../../../../src/engine/load/model';
import type { LoraAdapter } from '../../../../src/engine/model/weights';
import { checkpointId, MemoryTrainPersistence, recordToState, type TrainPersistence } from '../../../../src/engine/train/checkpoint';
import { encodeChat, encodePair, type EncodedPair } from '../../../../src/engine/train/data';
import type { TrainEngine, TrainSequence } from '../../../../src/engine/train/engine';
import { adapterTensors, createAdapter } from '../../../../src/engine/train/lora';
import { learningRate } from '../../../../src/engine/train/optim';
import { Trainer, type StepMetrics, type TrainerOptions } from '../../../../src/engine/train/trainer';
import { tinyHfFiles, tinyWeights } from '../../../../src/engine/tiny/tiny';
import { LINEAR_NAMES } from '../../../../src/engine/model/weights';
import type { LabStore } from '../../../../src/store/lab-store';
import { LabError } from '../../../../src/errors';
import { rng } from '../random';

// The store itself is the persistence the Trainer writes through.
const storeIsPersistence: (s: LabStore) => TrainPersistence = (s) => s;
void storeIsPersistence;

const loaded = loadModel(memorySource(tinyHfFiles({ seed: 2 })));

/** Counts reference passes, to see they happen once per pair. */
class CountingEngine implements TrainEngine {
  refSeqs = 0;
  constructor(readonly inner: TrainEngine) {}
  logprobs: TrainEngine['logprobs'] = (seqs, adapter) => {
    if (adapter === null) this.refSeqs += seqs.length;
    return this.inner.logprobs(seqs, adapter);
  };
  accumulateGradients: TrainEngine['accumulateGradients'] = (...a) => this.inner.accumulateGradients(...a);
  takeGradients: TrainEngine['takeGradients'] = (a) => this.inner.takeGradients(a);
  getAdapter: TrainEngine['getAdapter'] = (n) => this.inner.getAdapter(n);
  setAdapter: TrainEngine['setAdapter'] = (a) => this.inner.setAdapter(a);
}

describe('Trainer convergence on a tiny model (CPU reference)', () => {
  it('DPO drives reward accuracy to 1 and the loss far below log 2; the reference is computed once per pair', async () => {
    const { weights, tokenizer } = await loaded;
    const engine = new CountingEngine(new CpuTrainEngine(new CpuModel(weights)));
    await engine.setAdapter(createAdapter('actor', weights.config, {}, { seed: 1 }));
    const data = [
      ['Write a short poem about the sea.', 'The sea is blue and wide.', 'No.'],
      ['Is the sky blue?', 'Yes, the sky is blue.', 'The answer is no.'],
      ['Answer in lowercase: what is the capital of France?', 'the capital of france is paris.', 'The Capital Of France Is Paris!'],
      ['Say yes or no.', 'Yes.', 'I do not know, maybe.'],
    ];
    const pairs = data.map(([p, c, r]) => encodePair(tokenizer, { prompt: [{ role: 'user', content: p }], chosen: c, rejected: r }));
    const metrics: StepMetrics[] = [];
    const res = await new Trainer({
      engine,
      adapter: 'actor',
      task: { kind: 'dpo', pairs, beta: 0.1, ftx: 0.1 },
      settings: { lr: 1e-2, epochs: 8, batchSize: 4, schedule: 'constant', warmupRatio: 0 },
      onStep: (m) => metrics.push(m),
    }).run();
    expect(res.steps).toBe(8);
    // Step 1: B = 0, so the policy is the reference: zero rewards, loss log 2 + the SFT term.
    expect(metrics[0].rewardMargin).toBeCloseTo(0, 6);
    expect(metrics[0].loss).toBeCloseTo(Math.log(2) + 0.1 * metrics[0].nll!, 6);
    const last = metrics[metrics.length - 1];
    console.log(
      `DPO (4 pairs, default LoRA q,v r8 α16, lr 1e-2, 8 steps): loss ${metrics[0].loss.toFixed(3)} → ${last.loss.toFixed(4)} ` +
        `(DPO part ${(metrics[0].loss - 0.1 * metrics[0].nll!).toFixed(3)} → ${(last.loss - 0.1 * last.nll!).toFixed(4)}), ` +
        `accuracy ${last.rewardAccuracy}, margin ${last.rewardMargin!.toFixed(2)}, ${Math.round(last.tokensPerSec)} tokens/s`,
    );
    expect(last.rewardAccuracy).toBe(1);
    expect(last.loss - 0.1 * last.nll!).toBeLessThan(0.1); // the DPO part, far below log 2 ≈ 0.693
    expect(last.rewardMargin!).toBeGreaterThan(1);
    expect(engine.refSeqs).toBe(2 * pairs.length);
    for (const m of metrics) for (const v of Object.values(m)) expect(Number.isFinite(v)).toBe(true);
  });

  it('SFT on a handful of chats drives the token-mean loss near zero', async () => {
    const { weights, tokenizer } = await loaded;
    const engine = new CpuTrainEngine(new CpuModel(weights));
    await engine.setAdapter(createAdapter('refiner', weights.config, { targets: [...LINEAR_NAMES] }, { seed: 3 }));
    const chats = [
      [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello! How can I help?' }, { role: 'user', content: 'Say yes.' }, { role: 'assistant', content: 'Yes.' }],
      [{ role: 'system', content: 'You are a helpful assistant.' }, { role: 'user', content: 'What is the capital of France?' }, { role: 'assistant', content: 'Paris.' }],
      [{ role: 'user', content: 'Refine the response.' }, { role: 'assistant', content: 'The response follows every constraint.' }],
      [{ role: 'user', content: 'Judge it.' }, { role: 'assistant', content: 'Judgment: the answer is no.' }],
    ] as const;
    const seqs = chats.map((c) => encodeChat(tokenizer, [...c]));
    const res = await new Trainer({
      engine,
      adapter: 'refiner',
      task: { kind: 'sft', chats: seqs },
      settings: { lr: 2e-2, epochs: 20, batchSize: 4, microBatchSize: 2, schedule: 'constant', warmupRatio: 0 },
    }).run();
    const first = res.metrics[0];
    const last = res.metrics[res.metrics.length - 1];
    console.log(`SFT (4 chats, all linears r8, lr 2e-2, 20 steps): loss ${first.loss.toFixed(3)} → ${last.loss.toFixed(4)}, ${Math.round(last.tokensPerSec)} tokens/s`);
    expect(first.loss).toBeGreaterThan(3);
    expect(last.loss).toBeLessThan(0.05);
    expect(last.nll).toBeCloseTo(last.loss, 6);
  });
});

describe('Trainer safety: checkpoints, resume, NaN', () => {
  const weights = tinyWeights({ seed: 4, hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 48, vocabSize: 280 });
  const r = rng(31);
  const seq = (p: number, n: number): TrainSequence => {
    const tokens = Array.from({ length: p + n }, () => Math.floor(r() * 280));
    const mask = new Uint8Array(p + n).fill(1, p);
    return { tokens, mask };
  };
  const pairs: EncodedPair[] = Array.from({ length: 6 }, () => ({ chosen: seq(4, 4), rejected: seq(4, 3) }));
  const initial = createAdapter('actor', weights.config, { rank: 4, alpha: 8 }, { seed: 9 });
  const place = { runId: 'run-1', iteration: 1, role: 'actor' as const };
  const options = (engine: TrainEngine, extra: Partial<TrainerOptions> = {}): TrainerOptions => ({
    engine,
    adapter: 'actor',
    task: { kind: 'dpo', pairs, beta: 0.1, ftx: 0.1 },
    settings: { lr: 1e-2, epochs: 2, batchSize: 2, schedule: 'cosine', warmupRatio: 0.2, checkpointEvery: 2 },
    ...extra,
  });
  const freshEngine = async () => {
    const e = new CpuTrainEngine(new CpuModel(weights));
    await e.setAdapter(initial);
    return e;
  };
  const flat = (a: LoraAdapter) => adapterTensors(a).flatMap((t) => [...t.data]);
  /** An engine's methods, bound, to wrap some of them. */
  const bound = (e: TrainEngine): TrainEngine => ({
    logprobs: (s, a) => e.logprobs(s, a),
    accumulateGradients: (s, a, l) => e.accumulateGradients(s, a, l),
    takeGradients: (a) => e.takeGradients(a),
    getAdapter: (n) => e.getAdapter(n),
    setAdapter: (a) => e.setAdapter(a),
  });

  it('resumes after a reload from the last checkpoint, bit-exactly as an uninterrupted run', async () => {
    const straight = await new Trainer(options(await freshEngine())).run();
    expect(straight.steps).toBe(6);

    const store = new MemoryTrainPersistence();
    const ac = new AbortController();
    const first = new Trainer(options(await freshEngine(), { persistence: { store, ...place }, signal: ac.signal, onStep: (m) => m.step === 3 && ac.abort() }));
    const err = await first.run().catch((e) => e);
    expect(err).toBeInstanceOf(LabError);
    expect((err as LabError).kind).toBe('cancelled');
    const saved = recordToState((await store.get('adapters', place.runId, checkpointId(1, 'actor')))!);
    expect(saved).toMatchObject({ step: 3, totalSteps: 6, status: 'training' });
    expect(saved.optimizer?.t).toBe(3);
    expect(store.logs(place.runId).map((l) => l.step)).toEqual([1, 2, 3]);

    // "Reload": a new model and engine, without the adapter; only the store survives.
    const reloaded = new CpuTrainEngine(new CpuModel(weights));
    const resumed = await new Trainer(options(reloaded, { persistence: { store, ...place } })).run();
    expect(resumed.resumedFrom).toBe(3);
    expect(resumed.metrics.map((m) => m.step)).toEqual([4, 5, 6]);
    expect(resumed.metrics.map((m) => m.lr)).toEqual(straight.metrics.slice(3).map((m) => m.lr));
    expect(flat(resumed.adapter)).toEqual(flat(straight.adapter));
    const done = recordToState((await store.get('adapters', place.runId, checkpointId(1, 'actor')))!);
    expect(done).toMatchObject({ step: 6, status: 'done', optimizer: null });
    expect(flat(done.adapter)).toEqual(flat(straight.adapter));
    expect(store.logs(place.runId).map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(store.logs(place.runId)[5].metrics).toMatchObject({ step: 6, rewardAccuracy: expect.any(Number), gradNorm: expect.any(Number) });

    // Done: a further run does nothing and hands back the trained adapter.
    const again = await new Trainer(options(await freshEngine(), { persistence: { store, ...place } })).run();
    expect(again.metrics).toEqual([]);
    expect(flat(again.adapter)).toEqual(flat(straight.adapter));

    // Other data: the checkpoint is not silently resumed.
    const other = new Trainer({ ...options(await freshEngine(), { persistence: { store, ...place } }), task: { kind: 'dpo', pairs: pairs.slice(1), beta: 0.1, ftx: 0.1 } });
    await expect(other.run()).rejects.toMatchObject({ kind: 'invalid-input', message: expect.stringMatching(/other data or another data order/) });
  });

  it('a resume takes new optimizer settings (a lower learning rate), but not another data order', async () => {
    const store = new MemoryTrainPersistence();
    const ac = new AbortController();
    await new Trainer(options(await freshEngine(), { persistence: { store, ...place }, signal: ac.signal, onStep: (m) => m.step === 3 && ac.abort() })).run().catch(() => undefined);
    const lower = { ...options(await freshEngine()).settings, lr: 1e-3, maxGradNorm: 0.5 };
    const refused = new Trainer(options(new CpuTrainEngine(new CpuModel(weights)), { persistence: { store, ...place }, settings: { ...lower, batchSize: 3 } }));
    await expect(refused.run()).rejects.toMatchObject({ kind: 'invalid-input', message: expect.stringMatching(/batch size/) });

    const resumed = await new Trainer(options(new CpuTrainEngine(new CpuModel(weights)), { persistence: { store, ...place }, settings: lower })).run();
    expect(resumed.resumedFrom).toBe(3);
    // The options' cosine schedule with warmup 0.2, now peaking at 1e-3.
    expect(resumed.metrics.map((m) => m.lr)).toEqual([3, 4, 5].map((step) => learningRate({ lr: 1e-3, schedule: 'cosine', warmupRatio: 0.2 }, step, 6)));
    expect(resumed.metrics[0].lr).toBeLessThan(1e-3);
  });

  it('NaN in the gradients: the step is discarded, training stops with kind "nan", the last good adapter stays and is saved', async () => {
    const inner = await freshEngine();
    let calls = 0;
    const engine: TrainEngine = {
      logprobs: (s, a) => inner.logprobs(s, a),
      accumulateGradients: (s, a, l) => inner.accumulateGradients(s, a, l),
      takeGradients: async (a) => {
        const g = await inner.takeGradients(a);
        if (++calls === 4) g[1].v!.b[3] = NaN;
        return g;
      },
      getAdapter: (n) => inner.getAdapter(n),
      setAdapter: (a) => inner.setAdapter(a),
    };
    const store = new MemoryTrainPersistence();
    let afterStep3: number[] = [];
    const trainer = new Trainer(
      options(engine, {
        persistence: { store, ...place },
        settings: { ...options(engine).settings, checkpointEvery: 0 },
        onStep: (m) => m.step === 3 && inner.getAdapter('actor').then((a) => (afterStep3 = flat(a))),
      }),
    );
    const err = await trainer.run().catch((e) => e);
    expect(err).toBeInstanceOf(LabError);
    expect(err.kind).toBe('nan');
    expect(err.message).toMatch(/step 4 of 6: the gradients are not finite\. That step was discarded; the adapter after step 3 is saved as a checkpoint to resume from\..*lower learning rate \(now 0\.01 at its peak\).*A resume takes changed optimizer settings/);
    expect(flat(await inner.getAdapter('actor'))).toEqual(afterStep3);
    const saved = recordToState((await store.get('adapters', place.runId, checkpointId(1, 'actor')))!);
    expect(saved.step).toBe(3);
    expect(flat(saved.adapter)).toEqual(afterStep3);
    expect(store.logs(place.runId).map((l) => l.step)).toEqual([1, 2, 3]);
  });

  it('NaN in the loss stops at once, before any update', async () => {
    const inner = await freshEngine();
    const engine: TrainEngine = {
      logprobs: (s, a) => inner.logprobs(s, a),
      accumulateGradients: async () => NaN,
      takeGradients: (a) => inner.takeGradients(a),
      getAdapter: (n) => inner.getAdapter(n),
      setAdapter: (a) => inner.setAdapter(a),
    };
    await expect(new Trainer(options(engine)).run()).rejects.toMatchObject({ kind: 'nan', message: expect.stringMatching(/step 1 of 6: the loss is NaN/) });
    expect(flat(await inner.getAdapter('actor'))).toEqual(flat(initial));
  });

  it('says honestly what a stop saved: nothing before the first step, else the checkpoint it kept', async () => {
    const nanFrom = async (from: number): Promise<TrainEngine> => {
      const inner = await freshEngine();
      let steps = 0;
      return { ...bound(inner), accumulateGradients: async (s, a, l) => (++steps >= from ? NaN : inner.accumulateGradients(s, a, l)) };
    };
    // Batch 2, micro-batch 1: step k is micro-batches 2k-1 and 2k.
    const store = new MemoryTrainPersistence();
    const first = await new Trainer(options(await nanFrom(1), { persistence: { store, ...place } })).run().catch((e) => e);
    expect(first).toMatchObject({ kind: 'nan', message: expect.stringMatching(/step 1 of 6: the loss is NaN\. That step was discarded; nothing was saved \(no step had finished\), so training starts over\./) });
    expect(first.message).not.toMatch(/resume/i);
    expect(await store.get('adapters', place.runId, checkpointId(1, 'actor'))).toBeUndefined();

    // Checkpoint at step 2 (checkpointEvery 2); NaN in step 3: the checkpoint of step 2 is what is left.
    const third = await new Trainer(options(await nanFrom(5), { persistence: { store, ...place } })).run().catch((e) => e);
    expect(third.message).toMatch(/step 3 of 6: the loss is NaN\. That step was discarded; the checkpoint of step 2, saved before, is kept to resume from\./);
    expect((await store.get('adapters', place.runId, checkpointId(1, 'actor')))!.step).toBe(2);

    const memoryOnly = await new Trainer(options(await nanFrom(1))).run().catch((e) => e);
    expect(memoryOnly.message).toMatch(/the adapter is as it was before training \(nothing is saved\)/);
  });

  it('a vanishing gradient stops the run instead of saving a dead adapter as done', async () => {
    // A DPO policy that already separates every pair by many nats, trained on with β = 100 and no
    // SFT term: σ(−β·margin) underflows to 0, so every gradient is exactly 0.
    const engine = await freshEngine();
    const separated = await new Trainer(options(engine, { task: { kind: 'dpo', pairs, beta: 0.1, ftx: 0 }, settings: { lr: 3e-2, epochs: 8, batchSize: 6, schedule: 'constant', warmupRatio: 0 } })).run();
    expect(separated.metrics.at(-1)!.rewardAccuracy).toBe(1);
    const before = flat(await engine.getAdapter('actor'));
    const store = new MemoryTrainPersistence();
    const saturated = new Trainer(options(engine, { task: { kind: 'dpo', pairs, beta: 100, ftx: 0 }, persistence: { store, ...place }, settings: { lr: 1e-2, epochs: 1, batchSize: 3, warmupRatio: 0 } }));
    const err = await saturated.run().catch((e) => e);
    expect(err).toBeInstanceOf(LabError);
    expect(err).toMatchObject({ kind: 'diverged', message: expect.stringMatching(/step 1 of 2: the gradient vanished \(norm 0\).*nothing was saved.*too large a LoRA alpha, learning rate \(now 0\.01 at its peak\) or β/) });
    expect(flat(await engine.getAdapter('actor'))).toEqual(before);
    expect(await store.get('adapters', place.runId, checkpointId(1, 'actor'))).toBeUndefined();
  });

  it('an exploding gradient (alpha 1e30) stops the run at the first step', async () => {
    const engine = new CpuTrainEngine(new CpuModel(weights));
    await engine.setAdapter(createAdapter('actor', weights.config, { rank: 4, alpha: 1e30 }, { seed: 9 }));
    const err = await new Trainer(options(engine)).run().catch((e) => e);
    expect(err).toMatchObject({ kind: 'diverged', message: expect.stringMatching(/step 1 of 6: the gradient norm is [\d.]+e\+29, above 1000000: the adapter is diverging/) });
  });

  it('refuses bad settings and empty data with clear errors', async () => {
    const e = await freshEngine();
    expect(() => new Trainer(options(e, { settings: { lr: 0 } }))).toThrow(/learning rate/);
    expect(() => new Trainer(options(e, { settings: { batchSize: 1.5 } }))).toThrow(/batchSize/);
    expect(() => new Trainer({ ...options(e), task: { kind: 'sft', chats: [] } })).toThrow(/Nothing to train on/);
    expect(() => new Trainer({ ...options(e), task: { kind: 'dpo', pairs, beta: 0.1, ftx: 0, reference: 'actor' } })).toThrow(/reference/);
  });
});
