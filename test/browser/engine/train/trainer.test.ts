/**
 * The Trainer on the WebGPU engine, in the browser: DPO and SFT converge on a tiny model; the
 * trained adapter is what LabEngine views generate and score with, at once; a NaN stops training
 * with the last good adapter kept; checkpoints go to the real LabStore (IndexedDB) and training
 * resumes after a "reload" (new model, engine and store instance), bit-exactly.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LabEngine } from '../../../../src/backends/lab';
import { CpuBackend } from '../../../../src/backends/cpu';
import { CpuModel } from '../../../../src/engine/cpu/model';
import { Gpu } from '../../../../src/engine/gpu/device';
import { memorySource } from '../../../../src/engine/load/files';
import { loadModel } from '../../../../src/engine/load/model';
import { GpuModel } from '../../../../src/engine/model/gpu-model';
import { GpuTrainEngine } from '../../../../src/engine/model/gpu-train-engine';
import { LINEAR_NAMES, type LoraAdapter } from '../../../../src/engine/model/weights';
import { checkpointId, recordToState } from '../../../../src/engine/train/checkpoint';
import { encodeChat, encodePair, type EncodedPair } from '../../../../src/engine/train/data';
import { adapterTensors, createAdapter } from '../../../../src/engine/train/lora';
import { Trainer, type StepMetrics, type TrainerOptions } from '../../../../src/engine/train/trainer';
import { tinyHfFiles } from '../../../../src/engine/tiny/tiny';
import { LabError } from '../../../../src/errors';
import { LabStore } from '../../../../src/store/lab-store';

const loaded = loadModel(memorySource(tinyHfFiles({ seed: 2 })));
const flat = (a: LoraAdapter) => adapterTensors(a).flatMap((t) => [...t.data]);

const PAIRS = [
  ['Write a short poem about the sea.', 'The sea is blue and wide.', 'No.'],
  ['Is the sky blue?', 'Yes, the sky is blue.', 'The answer is no.'],
  ['Answer in lowercase: what is the capital of France?', 'the capital of france is paris.', 'The Capital Of France Is Paris!'],
  ['Say yes or no.', 'Yes.', 'I do not know, maybe.'],
];

// One device for the file (kernels compile once); a "reload" is a new model, engine and store on it.
let gpu: Gpu;
beforeAll(async () => void (gpu = await Gpu.acquire()));
afterAll(() => gpu.destroy());

const opened: { engine?: LabEngine; models: GpuModel[]; stores: LabStore[] } = { models: [], stores: [] };
afterEach(async () => {
  opened.engine?.destroy();
  opened.engine = undefined;
  for (const m of opened.models.splice(0)) m.destroy();
  for (const s of opened.stores.splice(0)) {
    s.close();
    await new Promise((r) => {
      const req = indexedDB.deleteDatabase(s.name);
      req.onsuccess = req.onerror = req.onblocked = r;
    });
  }
});

describe('Trainer on the WebGPU engine', () => {
  it('DPO drives reward accuracy to 1 and the loss far below log 2; LabEngine views use the trained adapter at once', async () => {
    const { weights, tokenizer } = await loaded;
    const lab = (opened.engine = await LabEngine.create(weights, tokenizer));
    await lab.setAdapter(createAdapter('actor', weights.config, {}, { seed: 1 }));
    const engine = new GpuTrainEngine(lab);
    const pairs = PAIRS.map(([p, c, r]) => encodePair(tokenizer, { prompt: [{ role: 'user', content: p }], chosen: c, rejected: r }));
    const view = lab.view({ adapters: ['actor'], role: 'actor' });
    const scoreMargin = async () => {
      const s = await view.score!(PAIRS.flatMap(([p, c, r]) => [c, r].map((response) => ({ messages: [{ role: 'user' as const, content: p }], response }))));
      return PAIRS.map((_, i) => s[2 * i].logprob - s[2 * i + 1].logprob);
    };
    const before = await scoreMargin();
    const metrics: StepMetrics[] = [];
    const res = await new Trainer({
      engine,
      adapter: 'actor',
      task: { kind: 'dpo', pairs, beta: 0.1, ftx: 0.1 },
      settings: { lr: 1e-2, epochs: 8, batchSize: 4, schedule: 'constant', warmupRatio: 0 },
      onStep: (m) => metrics.push(m),
    }).run();
    const first = metrics[0];
    const last = metrics[metrics.length - 1];
    console.log(
      `GPU DPO (4 pairs, LoRA q,v r8 α16, lr 1e-2, 8 steps): loss ${first.loss.toFixed(3)} → ${last.loss.toFixed(4)} ` +
        `(DPO part ${(first.loss - 0.1 * first.nll!).toFixed(3)} → ${(last.loss - 0.1 * last.nll!).toFixed(4)}), accuracy ${first.rewardAccuracy} → ${last.rewardAccuracy}, ` +
        `margin ${last.rewardMargin!.toFixed(2)}, grad norm ${first.gradNorm.toFixed(3)} → ${last.gradNorm.toFixed(3)}, ${Math.round(last.tokensPerSec)} tokens/s`,
    );
    expect(res.steps).toBe(8);
    expect(first.rewardMargin).toBeCloseTo(0, 6); // B = 0: the policy is the reference
    expect(last.rewardAccuracy).toBe(1);
    expect(last.loss - 0.1 * last.nll!).toBeLessThan(0.1);
    for (const m of metrics) for (const v of Object.values(m)) expect(Number.isFinite(v)).toBe(true);

    // The views score with the trained weights: chosen over rejected, as the CPU reference does with the same adapter.
    const trained = await engine.getAdapter('actor');
    expect(flat(trained)).toEqual(flat(res.adapter));
    const after = await scoreMargin();
    after.forEach((m, i) => expect(m).toBeGreaterThan(before[i]));
    const cpuModel = new CpuModel(weights);
    cpuModel.setAdapter(trained);
    const cpuView = new CpuBackend(cpuModel, tokenizer, { adapters: ['actor'] });
    const reqs = [{ messages: [{ role: 'user' as const, content: PAIRS[0][0] }], response: PAIRS[0][1] }];
    const [g] = await view.score!(reqs);
    const [c] = await cpuView.score!(reqs);
    expect(Math.abs(g.logprob - c.logprob)).toBeLessThan(1e-4 * Math.max(1, Math.abs(c.logprob)));
    const mem = engine.memoryReport();
    expect(mem.byCategory.training).toBeGreaterThan(0);
    engine.release();
    expect(engine.memoryReport().byCategory.training).toBe(0);
  });

  it('SFT on a handful of chats drives the token-mean loss near zero', async () => {
    const { weights, tokenizer } = await loaded;
    const model = await GpuModel.load(gpu, weights);
    opened.models.push(model);
    const engine = GpuTrainEngine.forModel(model);
    await engine.setAdapter(createAdapter('refiner', weights.config, { targets: [...LINEAR_NAMES] }, { seed: 3 }));
    const chats = [
      [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello! How can I help?' }, { role: 'user', content: 'Say yes.' }, { role: 'assistant', content: 'Yes.' }],
      [{ role: 'system', content: 'You are a helpful assistant.' }, { role: 'user', content: 'What is the capital of France?' }, { role: 'assistant', content: 'Paris.' }],
      [{ role: 'user', content: 'Refine the response.' }, { role: 'assistant', content: 'The response follows every constraint.' }],
      [{ role: 'user', content: 'Judge it.' }, { role: 'assistant', content: 'Judgment: the answer is no.' }],
    ] as const;
    const res = await new Trainer({
      engine,
      adapter: 'refiner',
      task: { kind: 'sft', chats: chats.map((c) => encodeChat(tokenizer, [...c])) },
      settings: { lr: 2e-2, epochs: 20, batchSize: 4, microBatchSize: 2, schedule: 'constant', warmupRatio: 0 },
    }).run();
    const first = res.metrics[0];
    const last = res.metrics[res.metrics.length - 1];
    console.log(`GPU SFT (4 chats, all linears r8, lr 2e-2, 20 steps): loss ${first.loss.toFixed(3)} → ${last.loss.toFixed(4)}, ${Math.round(last.tokensPerSec)} tokens/s`);
    expect(first.loss).toBeGreaterThan(3);
    expect(last.loss).toBeLessThan(0.05);
  });
});

describe('Trainer safety on the WebGPU engine', () => {
  const place = { iteration: 1, role: 'actor' as const };

  async function setup() {
    const { weights, tokenizer } = await loaded;
    const pairs: EncodedPair[] = PAIRS.concat(PAIRS.map(([p, c, r]) => [`${p} Briefly.`, c, r])).map(([p, c, r]) =>
      encodePair(tokenizer, { prompt: [{ role: 'user', content: p }], chosen: c, rejected: r }),
    );
    const initial = createAdapter('actor', weights.config, { rank: 4, alpha: 8 }, { seed: 9 });
    const fresh = async (withAdapter = true) => {
      const model = await GpuModel.load(gpu, weights);
      opened.models.push(model);
      const engine = GpuTrainEngine.forModel(model);
      if (withAdapter) await engine.setAdapter(initial);
      return engine;
    };
    const options = (engine: GpuTrainEngine, extra: Partial<TrainerOptions> = {}): TrainerOptions => ({
      engine,
      adapter: 'actor',
      task: { kind: 'dpo', pairs, beta: 0.1, ftx: 0.1 },
      settings: { lr: 1e-2, epochs: 2, batchSize: 3, microBatchSize: 3, schedule: 'cosine', warmupRatio: 0.2, checkpointEvery: 2 },
      ...extra,
    });
    const openStore = async (name: string) => {
      const s = await LabStore.open(name);
      opened.stores.push(s);
      return s;
    };
    return { fresh, options, openStore };
  }

  it('checkpoints to the LabStore and resumes after a reload, bit-exactly as an uninterrupted run', async () => {
    const { fresh, options, openStore } = await setup();
    const straight = await new Trainer(options(await fresh())).run();
    expect(straight.steps).toBe(6);

    const dbName = `spar-lab-train-${Date.now()}`;
    const store = await openStore(dbName);
    const run = await store.createRun({ name: 'gpu training' });
    const persistence = { store, runId: run.id, ...place };
    const ac = new AbortController();
    const err = await new Trainer(options(await fresh(), { persistence, signal: ac.signal, onStep: (m) => m.step === 3 && ac.abort() }))
      .run()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LabError);
    expect((err as LabError).kind).toBe('cancelled');

    // "Reload": a new model, engine (without the adapter) and store instance.
    store.close();
    const reopened = await openStore(dbName);
    const saved = recordToState((await reopened.get('adapters', run.id, checkpointId(1, 'actor')))!);
    expect(saved).toMatchObject({ step: 3, status: 'training' });
    const resumed = await new Trainer(options(await fresh(false), { persistence: { ...persistence, store: reopened } })).run();
    expect(resumed.resumedFrom).toBe(3);
    expect(resumed.metrics.map((m) => m.step)).toEqual([4, 5, 6]);
    expect(resumed.metrics.map((m) => m.loss)).toEqual(straight.metrics.slice(3).map((m) => m.loss));
    expect(flat(resumed.adapter)).toEqual(flat(straight.adapter));
    const done = recordToState((await reopened.get('adapters', run.id, checkpointId(1, 'actor')))!);
    expect(done).toMatchObject({ step: 6, status: 'done' });
    expect((await reopened.list('trainLogs', run.id)).map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('a step whose loss turns NaN is discarded: a clear error, the last good adapter kept (and saved)', async () => {
    const { fresh, options, openStore } = await setup();
    const store = await openStore(`spar-lab-train-nan-${Date.now()}`);
    const run = await store.createRun({ name: 'nan' });
    const engine = await fresh();
    let afterStep1: number[] = [];
    // An absurd learning rate: step 1 pushes B to ±1e38, and the next forward overflows to NaN.
    const err = await new Trainer(
      options(engine, {
        persistence: { store, runId: run.id, ...place },
        settings: { lr: 1e38, epochs: 1, batchSize: 3, microBatchSize: 3, schedule: 'constant', warmupRatio: 0, checkpointEvery: 0 },
        onStep: (m) => m.step === 1 && engine.getAdapter('actor').then((a) => (afterStep1 = flat(a))),
      }),
    )
      .run()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LabError);
    expect((err as LabError).kind).toBe('nan');
    console.log(`GPU NaN: ${(err as LabError).message}`);
    expect((err as LabError).message).toMatch(/step 2 of 3: the (loss is NaN|gradients are not finite)\. That step was discarded; the adapter after step 1 is saved as a checkpoint/);
    expect(afterStep1.length).toBeGreaterThan(0);
    expect(flat(await engine.getAdapter('actor'))).toEqual(afterStep1);
    const saved = recordToState((await store.get('adapters', run.id, checkpointId(1, 'actor')))!);
    expect(saved.step).toBe(1);
    expect(flat(saved.adapter)).toEqual(afterStep1);
  });
});
