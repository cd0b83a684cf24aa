/**
 * The training service on the CPU reference engine and the in-memory store: the actor's DPO on
 * an iteration's kept pairs and the refiner's SFT on its assembled RFT records, the iteration
 * chain (iteration t+1's self-play and evaluations use the adapters trained on iteration t's
 * data, training continues from the previous adapter), pause and resume after a "reload",
 * NaN, discard, frozen roles, and PEFT / merged exports.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { LabError } from '../../../src/errors';
import { CPU_ENGINE, type EngineKind, type LabEngineLike } from '../../../src/lab/engine';
import { createLab, type Lab } from '../../../src/lab/index';
import { ModelHost } from '../../../src/lab/models';
import { presetPatch } from '../../../src/lab/presets';
import { applyConfigPatch, parseRunConfig, type Role } from '../../../src/lab/run-config';
import type { TrainListener } from '../../../src/lab/train';
import { parsePeft } from '../../../src/engine/train/peft';
import { adapterTensors } from '../../../src/engine/train/lora';
import { recordToState } from '../../../src/engine/train/checkpoint';
import { parseHfConfig } from '../../../src/engine/model/config';
import type { StepMetrics } from '../../../src/engine/train/trainer';
import type { RunRecord } from '../../../src/store/records';
import { MemoryLabStore } from '../../helpers/memory-lab-store';

const quiet = { progress() {}, tree() {}, text() {}, run() {} };

interface Heard {
  steps: { role: Role; steps: number[] }[];
  states: string[];
}

function world(o: { engine?: EngineKind; onStep?: (m: StepMetrics, lab: Lab<MemoryLabStore>) => void } = {}) {
  const store = new MemoryLabStore();
  const heard: Heard = { steps: [], states: [] };
  const models = new ModelHost({ engine: o.engine ?? CPU_ENGINE });
  const holder: { lab?: Lab<MemoryLabStore> } = {};
  const trainListener: TrainListener = {
    steps: (_r, _i, role, metrics) => {
      heard.steps.push({ role, steps: metrics.map((m) => m.step) });
      for (const m of metrics) o.onStep?.(m, holder.lab!);
    },
    state: (_r, p) => heard.states.push(`${p.role}:${p.state}`),
    run: () => {},
  };
  const lab = (holder.lab = createLab(store, { models, listener: quiet, trainListener, throttleMs: 0 }));
  return { store, lab, heard, models };
}

/** A tiny-demo run with iteration 0's self-play done on the CPU engine. */
async function selfPlayed(w: ReturnType<typeof world>, prompts = 3): Promise<RunRecord> {
  const run = await w.store.createRun({ name: 'train test', config: applyConfigPatch({}, presetPatch('tiny-demo')) });
  await w.lab.prompts.generate(run.id, { count: prompts, seed: 1, maxConstraints: 1 });
  const out = await w.lab.selfplay.start(run.id);
  expect(out.state).toBe('done');
  return w.store.getRun(run.id);
}

const iterations = async (store: MemoryLabStore, runId: string) => parseRunConfig((await store.getRun(runId)).config).iterations;

/** The same records in a second store (same run id): a twin world to compare against. */
async function twin(from: ReturnType<typeof world>, runId: string, o: Parameters<typeof world>[0] = {}) {
  const w = world(o);
  const run = await from.store.getRun(runId);
  const copy = await w.store.createRun({ name: run.name, config: run.config });
  expect(copy.id).toBe(runId);
  for (const s of ['prompts', 'trees', 'pairs', 'rft'] as const) await w.store.put(s, await from.store.list(s, runId));
  return w;
}


/** Wraps an engine kind so that its training engine's loss turns NaN from the `at`-th micro-batch on. */
function nanAt(at: number): EngineKind {
  return {
    name: CPU_ENGINE.name,
    async create(model, name) {
      const inner = await CPU_ENGINE.create(model, name);
      const t = inner.training!;
      let calls = 0;
      const training = {
        ...t,
        trainEngine: (opts: { recompute?: boolean }) => {
          const e = t.trainEngine(opts);
          const acc = e.accumulateGradients.bind(e);
          e.accumulateGradients = async (seqs, adapter, loss) => {
            const v = await acc(seqs, adapter, loss);
            return ++calls >= at ? NaN : v;
          };
          return e;
        },
      };
      return Object.assign(Object.create(inner) as LabEngineLike, { training });
    },
  };
}

const flat = (a: { layers: Record<string, { a: Float32Array; b: Float32Array }>[] }) => adapterTensors(a as never).flatMap((t) => [...t.data]);

describe('training service (CPU reference engine)', () => {
  let shared: ReturnType<typeof world>;
  let run: RunRecord;
  beforeAll(async () => {
    shared = world();
    run = await selfPlayed(shared);
  });

  it('plans from the kept pairs and the assembled RFT records', async () => {
    const { lab, store } = shared;
    const pairs = (await store.list('pairs', run.id)).length;
    const rft = await store.list('rft', run.id);
    expect(pairs).toBeGreaterThan(1);
    const plan = await lab.train.plan(run.id, 0);
    expect(plan.actor).toMatchObject({ adapter: 'actor-it0', total: pairs, excluded: 0, examples: pairs, previous: null, checkpoint: null, blocked: null });
    expect(plan.refiner.total).toBe(rft.length);
    expect(plan.refiner.examples + plan.refiner.duplicates).toBe(rft.length);
    expect(plan.actor.settings).toMatchObject({ lr: 5e-3, batchSize: 1, beta: 0.1, ftx: 0.1, reference: 'base', init: 'previous' });
    await expect(lab.train.plan(run.id, 1)).rejects.toMatchObject({ kind: 'not-found' });

    // An excluded pair is left out; a role served by web-llm cannot train.
    const [first] = await store.list('pairs', run.id);
    await lab.browse.updatePair(run.id, first.id, { excluded: true });
    expect((await lab.train.plan(run.id, 0)).actor).toMatchObject({ excluded: 1, examples: pairs - 1 });
    await lab.browse.updatePair(run.id, first.id, { excluded: false });
    const frozen = await twin(shared, run.id);
    const config = (await frozen.store.getRun(run.id)).config;
    const its = parseRunConfig(config).iterations.map((e) => ({ ...e, models: { ...e.models, refiner: { kind: 'webllm' as const, model: 'SmolLM2-360M-Instruct-q4f16_1-MLC' } } }));
    await frozen.store.updateRun(run.id, { config: { ...config, iterations: its } });
    expect((await frozen.lab.train.plan(run.id, 0)).refiner.blocked).toMatch(/web-llm .* cannot train LoRA adapters/);
    await expect(frozen.lab.train.start(run.id, { iteration: 0, role: 'refiner' })).rejects.toMatchObject({ kind: 'invalid-input', message: expect.stringContaining('lab engine') });
  });

  it('trains the actor (DPO) and the refiner (SFT); iteration 1 self-plays and evaluates with them (M1, R1)', async () => {
    const { lab, store, heard } = shared;
    const actor = await lab.train.start(run.id, { iteration: 0, role: 'actor' });
    expect(actor.state).toBe('done');
    const pairs = (await store.list('pairs', run.id)).length;
    expect(actor.entry).toMatchObject({ status: 'done', adapter: 'actor-it0', from: null, reference: null, base: 'tiny:1', engine: 'CPU reference engine', examples: pairs, tooLong: 0, lora: { rank: 8, alpha: 16, targets: ['q', 'v'] } });
    expect(actor.entry.totalSteps).toBe(3 * pairs);
    expect(actor.entry.step).toBe(actor.entry.totalSteps);
    expect(Object.keys(actor.entry.last!)).toEqual(expect.arrayContaining(['loss', 'rewardMargin', 'rewardAccuracy', 'gradNorm', 'tokensPerSec', 'lr']));
    // Every step streamed once, in order; every step logged.
    const steps = heard.steps.filter((s) => s.role === 'actor').flatMap((s) => s.steps);
    expect(steps).toEqual(Array.from({ length: actor.entry.totalSteps }, (_, i) => i + 1));
    expect(heard.states.filter((s) => s.startsWith('actor'))).toEqual(['actor:loading', 'actor:training', 'actor:done']);
    const logs = await lab.train.logs(run.id, 0, 'actor');
    expect(logs.map((l) => l.step)).toEqual(steps);
    expect(logs.at(-1)!.metrics.loss).toBe(actor.entry.last!.loss);

    const refiner = await lab.train.start(run.id, { iteration: 0, role: 'refiner' });
    expect(refiner.entry).toMatchObject({ status: 'done', adapter: 'refiner-it0', examples: (await lab.train.plan(run.id, 0)).refiner.examples });
    expect(refiner.entry.last!.rewardMargin).toBeUndefined();
    expect((await lab.train.checkpoints(run.id)).map((c) => [c.id, c.name, c.status])).toEqual([
      ['0:actor', 'actor-it0', 'done'],
      ['0:refiner', 'refiner-it0', 'done'],
    ]);
    await expect(lab.train.start(run.id, { iteration: 0, role: 'actor' })).rejects.toMatchObject({ kind: 'exists', message: expect.stringContaining('Discard') });

    // The trained adapter moved away from PEFT's init (B = 0).
    const trained = (await lab.train.latest(run.id, 'actor', 1))!;
    expect(trained.trainedOn).toBe(0);
    expect(trained.adapter.layers[0].q!.b.some((x) => x !== 0)).toBe(true);

    const it1 = await lab.selfplay.start(run.id);
    expect(it1.state).toBe('done');
    const entry = (await iterations(store, run.id))[1];
    expect(entry.adapters).toEqual({ actor: 'actor-it0', refiner: 'refiner-it0' });
    expect(entry.generation).toEqual({ actor: 1, refiner: 1 });
    expect(entry.labels.actor).toBe('CPU reference engine · tiny-1 · actor (actor-it0)');

    const ev = await lab.evals.evaluateActor(run.id, { settings: { set: { source: 'generated', count: 2, seed: 1000 }, temperature: 0, topP: 1, maxTokens: 8, seed: 0 } });
    expect(ev.iteration).toBe(1);
    expect(ev.meta).toMatchObject({ modelIndex: 1, adapter: 'actor-it0', mode: 'plain' });

    // Iteration 0's adapter cannot be discarded now: iteration 1's self-play used it.
    await expect(lab.train.discard(run.id, 0, 'actor')).rejects.toMatchObject({ kind: 'invalid-input', message: expect.stringContaining('iteration 1') });
  }, 60_000);

  it('continues from the previous adapter; with the "previous" reference the first step has zero rewards', async () => {
    const { lab, store } = shared;
    const plan = (await lab.train.plan(run.id, 1)).actor;
    expect(plan).toMatchObject({ adapter: 'actor-it1', previous: 'actor-it0' });
    expect(plan.examples).toBeGreaterThan(0); // seeded: iteration 1 of this run draws one pair
    const raw = await store.getRun(run.id);
    const train = parseRunConfig(raw.config).train;
    await store.updateRun(run.id, { config: applyConfigPatch(raw.config, { train: { ...train, actor: { ...train.actor, reference: 'previous' } } }) });
    const out = await lab.train.start(run.id, { iteration: 1, role: 'actor' });
    expect(out.entry).toMatchObject({ status: 'done', from: 'actor-it0', reference: 'actor-it0' });
    const [first] = await lab.train.logs(run.id, 1, 'actor');
    expect(Math.abs(first.metrics.rewardChosen)).toBeLessThan(1e-6);
    expect(Math.abs(first.metrics.rewardRejected)).toBeLessThan(1e-6);
    expect((await lab.train.latest(run.id, 'actor', 2))!.adapter.name).toBe('actor-it1');
  }, 30_000);

  it('pauses, and after a reload resumes from the checkpoint to the same adapter as without a pause', async () => {
    const whole = await twin(shared, run.id);
    const iterationsNow = (await iterations(whole.store, run.id)).slice(0, 1).map(({ training: _t, ...e }) => e);
    await whole.store.updateRun(run.id, { config: { ...(await whole.store.getRun(run.id)).config, iterations: iterationsNow } });
    const want = await whole.lab.train.start(run.id, { iteration: 0, role: 'actor' });
    expect(want.entry.totalSteps).toBeGreaterThan(3);

    const paused = await twin(whole, run.id, { onStep: (m, l) => m.step === 3 && l.train.pause(run.id) });
    await paused.store.updateRun(run.id, { config: (await whole.store.getRun(run.id)).config });
    for (const id of ['0:actor']) await paused.store.delete('adapters', run.id, id);
    const cleared = (await iterations(paused.store, run.id)).map(({ training: _t, ...e }) => e);
    await paused.store.updateRun(run.id, { config: { ...(await paused.store.getRun(run.id)).config, iterations: cleared } });
    const out = await paused.lab.train.start(run.id, { iteration: 0, role: 'actor' });
    expect(out.entry).toMatchObject({ status: 'paused', step: 3 });
    expect((await paused.store.get('adapters', run.id, '0:actor'))!.step).toBe(3);

    // A reload: a new lab over the same store; the entry left "training" becomes paused.
    const stale = (await iterations(paused.store, run.id)).map((e) => ({ ...e, training: { actor: { ...e.training!.actor!, status: 'training' as const } } }));
    await paused.store.updateRun(run.id, { config: { ...(await paused.store.getRun(run.id)).config, iterations: stale } });
    const reloaded = createLab(paused.store, { models: new ModelHost({ engine: CPU_ENGINE }), listener: quiet, throttleMs: 0 });
    await reloaded.train.recoverInterrupted();
    const plan = (await reloaded.train.plan(run.id, 0)).actor;
    expect(plan.entry).toMatchObject({ status: 'paused', step: 3 });
    expect(plan.checkpoint).toMatchObject({ step: 3, status: 'training' });
    const resumed = await reloaded.train.start(run.id, { iteration: 0, role: 'actor' });
    expect(resumed.entry).toMatchObject({ status: 'done', step: want.entry.totalSteps });
    const a = recordToState((await whole.store.get('adapters', run.id, '0:actor'))!).adapter;
    const b = recordToState((await paused.store.get('adapters', run.id, '0:actor'))!).adapter;
    expect(flat(b)).toEqual(flat(a));
    expect((await reloaded.train.logs(run.id, 0, 'actor')).map((l) => l.step)).toEqual(Array.from({ length: want.entry.totalSteps }, (_, i) => i + 1));
  }, 30_000);

  it('NaN stops training with the message and keeps the last good adapter; discard clears it', async () => {
    const w = await twin(shared, run.id, { engine: nanAt(3) });
    const cleared = (await iterations(w.store, run.id)).slice(0, 1).map(({ training: _t, ...e }) => e);
    await w.store.updateRun(run.id, { config: { ...(await w.store.getRun(run.id)).config, iterations: cleared } });
    const out = await w.lab.train.start(run.id, { iteration: 0, role: 'actor' });
    // One pair per step: the 3rd micro-batch is step 3.
    expect(out.entry).toMatchObject({ status: 'failed', step: 2, error: { kind: 'nan', message: expect.stringContaining('step 3') } });
    const rec = (await w.store.get('adapters', run.id, '0:actor'))!;
    expect(rec).toMatchObject({ step: 2, config: { status: 'training' } });
    expect(await w.lab.train.latest(run.id, 'actor', 1)).toBeNull();
    await w.lab.train.discard(run.id, 0, 'actor');
    expect(await w.store.get('adapters', run.id, '0:actor')).toBeUndefined();
    expect(await w.lab.train.logs(run.id, 0, 'actor')).toEqual([]);
    expect((await iterations(w.store, run.id))[0].training?.actor).toBeUndefined();
  });

  it('after a NaN stop, a resume takes a lower learning rate; the adapter shape and data order stay', async () => {
    const w = await twin(shared, run.id, { engine: nanAt(3) });
    const cleared = (await iterations(w.store, run.id)).slice(0, 1).map(({ training: _t, ...e }) => e);
    await w.store.updateRun(run.id, { config: { ...(await w.store.getRun(run.id)).config, iterations: cleared } });
    const stopped = await w.lab.train.start(run.id, { iteration: 0, role: 'actor' });
    expect(stopped.entry).toMatchObject({ status: 'failed', step: 2, settings: { lr: 5e-3 }, error: { kind: 'nan', message: expect.stringContaining('lower learning rate (now 0.005 at its peak)') } });

    // The advice, followed: a lower learning rate (and a rank change, which a resume cannot take).
    const raw = (await w.store.getRun(run.id)).config;
    const train = parseRunConfig(raw).train;
    await w.store.updateRun(run.id, { config: applyConfigPatch(raw, { train: { ...train, actor: { ...train.actor, lr: 1e-3, rank: 4 } } }) });
    const healthy = createLab(w.store, { models: new ModelHost({ engine: CPU_ENGINE }), listener: quiet, throttleMs: 0 });
    const plan = (await healthy.train.plan(run.id, 0)).actor;
    expect(plan.settings).toMatchObject({ lr: 1e-3, rank: 8 });
    const resumed = await healthy.train.start(run.id, { iteration: 0, role: 'actor' });
    expect(resumed.entry).toMatchObject({ status: 'done', settings: { lr: 1e-3, rank: 8 }, lora: { rank: 8 } });
    const logs = await healthy.train.logs(run.id, 0, 'actor');
    const total = resumed.entry.totalSteps;
    // tiny-demo: linear schedule, no warmup: lr × (total − step) / total at 0-based step.
    expect(logs.map((l) => l.metrics.lr)).toEqual(Array.from({ length: total }, (_, i) => (i < 2 ? 5e-3 : 1e-3) * ((total - i) / total)));
  });

  it('exports the adapter as PEFT files and merged into the base', async () => {
    const { lab, store } = shared;
    const files = await lab.train.exportAdapter(run.id, 0, 'actor', 'peft');
    expect(files.map((f) => f.fileName)).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    const cfg = JSON.parse(await files[0].blob.text());
    expect(cfg).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 8, lora_alpha: 16, target_modules: ['q_proj', 'v_proj'], use_rslora: false });
    const model = (await shared.models.trainable({ kind: 'lab', model: { type: 'tiny', seed: 1 } }, 'actor')).training.config;
    const back = parsePeft(cfg, new Uint8Array(await files[1].blob.arrayBuffer()), model, 'back');
    const stored = recordToState((await store.get('adapters', run.id, '0:actor'))!).adapter;
    expect(flat(back)).toEqual(flat(stored));

    const merged = await lab.train.exportAdapter(run.id, 0, 'actor', 'merged');
    expect(merged.map((f) => f.fileName)).toEqual(['config.json', 'model.safetensors']);
    expect(parseHfConfig(JSON.parse(await merged[0].blob.text()))).toMatchObject({ numLayers: model.numLayers, hiddenSize: model.hiddenSize });
    await expect(lab.train.exportAdapter(run.id, 5, 'actor', 'peft')).rejects.toBeInstanceOf(LabError);
  });
});
