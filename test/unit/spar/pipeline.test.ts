import { describe, expect, it } from 'vitest';
import type { ModelBackend } from '../../../src/backends/types';
import { LabError } from '../../../src/errors';
import type { SparConfig } from '../../../src/spar/config';
import { MemoryPersistence } from '../../../src/spar/persist';
import { type RunIterationOptions, runIteration, type SparProgress } from '../../../src/spar/pipeline';
import { PyRandom, streamSeeds } from '../../../src/spar/rng';
import type { ChildPut } from '../../../src/store/lab-store';
import { hash32 } from '../../../src/spar/rng';
import { config, type WorldSpec, world } from '../../helpers/spar-world';

const RUN = 'run-1';
const PROMPTS = Array.from({ length: 7 }, (_, i) => ({ id: `q${i}`, index: i, prompt: `Instruction ${i}: write ${i + 2} lines.` }));
const LEVELS = ['NNNNN', 'YNNNN', 'YYNNN', 'YYYNN', 'YYYYN', 'NNNNY'];

/**
 * Samples s0..s4 per instruction: s0 passes (not unanimously), s1 fails (not unanimously), s2
 * fails unanimously, s3 ties, s4 passes unanimously, except q0 whose samples all pass. Refined
 * texts get a value from a hash of the instruction and text.
 */
const VOTES: WorldSpec['votes'] = (response, _o, instruction) => {
  const m = /\/s(\d)$/.exec(response);
  if (m) return instruction.startsWith('Instruction 0') ? 'YYYYY' : ['YYYYN', 'NNNNY', 'NNNNN', 'YYNNx', 'YYYYY'][Number(m[1])];
  return LEVELS[hash32(instruction + response) % LEVELS.length];
};

function settings(over: Parameters<typeof config>[0] = {}): SparConfig {
  return config({ seed: 11, concurrency: 3, ...over });
}

async function run(store: MemoryPersistence, c: SparConfig, models = world({ votes: VOTES }), extra: Partial<RunIterationOptions> = {}) {
  const seen: SparProgress[] = [];
  const result = await runIteration({
    runId: RUN,
    iteration: 0,
    prompts: PROMPTS,
    config: c,
    models,
    store,
    now: () => 0,
    onProgress: (p) => seen.push(p),
    ...extra,
  });
  return { result, seen, models };
}

async function contents(store: MemoryPersistence) {
  return { trees: await store.list('trees', RUN), pairs: await store.list('pairs', RUN), rft: await store.list('rft', RUN) };
}

/** Wraps a backend so `onCall` runs before each generate call. */
function tapped(b: ModelBackend, onCall: () => void): ModelBackend {
  return {
    info: b.info,
    generate: (r, o) => {
      onCall();
      return b.generate(r, o);
    },
  };
}

describe('one self-play iteration', () => {
  it('writes a tree per instruction, pairs above the value threshold and RFT records of every kind', async () => {
    const store = new MemoryPersistence();
    const { result } = await run(store, settings());
    const { trees, pairs, rft } = await contents(store);
    expect(trees.map((t) => [t.id, t.status])).toEqual(PROMPTS.map((p) => [`0:${p.id}`, 'done']));
    expect(result).toMatchObject({ total: 7, finished: 7, failed: 0, inFlight: 0, pairs: pairs.length, rft: rft.length });
    // q0 has no failing sample: no tree, no pair; its non-unanimous judgments still give no RFT (all unanimous)
    const q0 = trees[0].data;
    expect(q0.negative).toBeNull();
    expect(q0.tree).toBeNull();
    // every other instruction: root = a failing sample chosen by shuffling the failing indices
    for (const t of trees.slice(1)) {
      const r = new PyRandom(streamSeeds(11, 0, t.promptId).select);
      expect(t.data.negative).toBe(r.shuffle([1, 2])[0]);
      expect(t.data.tree!.nodes[0].response).toBe(t.data.samples[t.data.negative!].response);
      expect(t.data.samples[3].judge.ok).toBe(false); // the tied sample is dropped
    }
    for (const p of pairs) {
      const t = trees.find((x) => x.promptId === p.promptId)!.data;
      const final = t.tree!.nodes[t.tree!.finalNode!];
      expect(final.value).toBeGreaterThan(0.5);
      expect([p.chosen, p.rejected]).toEqual([final.response, t.tree!.nodes[0].response]);
      expect(p.meta).toMatchObject({ source: 'refinement', chosenDepth: final.depth, chosenValue: final.value });
    }
    expect(pairs.length).toBeGreaterThan(0);
    expect(new Set(rft.map((r) => r.kind))).toEqual(new Set(['refine', 'critique-positive', 'critique-negative', 'judge-no', 'judge-yes']));
    // trees account for their work
    const stats = trees.reduce((a, t) => a + t.data.stats.modelCalls, 0);
    expect(result.modelCalls).toBe(stats);
  });

  it('gives identical records with concurrency 1 and 4 and any call timing', async () => {
    const a = new MemoryPersistence();
    const b = new MemoryPersistence();
    await run(a, settings({ concurrency: 1 }));
    const slow = world({ votes: VOTES, delayMs: (call) => (call * 7) % 5 });
    const { seen } = await run(b, settings({ concurrency: 4 }), slow);
    expect(Math.max(...seen.map((p) => p.inFlight))).toBe(4);
    expect(await contents(b)).toEqual(await contents(a));
  });

  it('the ablation pairs a passing with a failing sample and shares the failing choice with SPaR', async () => {
    const spar = new MemoryPersistence();
    const ablation = new MemoryPersistence();
    await run(spar, settings());
    await run(ablation, settings({ mode: 'independent' }));
    const s = await contents(spar);
    const x = await contents(ablation);
    expect(x.trees.every((t) => t.data.tree === null)).toBe(true);
    expect(x.pairs).toHaveLength(6);
    for (const p of x.pairs) {
      const t = x.trees.find((r) => r.promptId === p.promptId)!.data;
      expect(p.meta).toMatchObject({ source: 'independent', chosenSample: t.positive, rejectedSample: t.negative });
      expect([0, 4]).toContain(t.positive);
      expect(t.negative).toBe(s.trees.find((r) => r.promptId === p.promptId)!.data.negative);
    }
    expect(x.rft.every((r) => r.kind === 'judge-no' || r.kind === 'judge-yes')).toBe(true);
  });
  it("'batched' call order sends each node's branches as one request and yields the same pairs", async () => {
    const reference = new MemoryPersistence();
    const batched = new MemoryPersistence();
    const a = await run(reference, settings());
    const b = await run(batched, settings({ search: { callOrder: 'batched' } }));
    const x = await contents(reference);
    const y = await contents(batched);
    expect(y.pairs).toEqual(x.pairs);
    const shape = (t: (typeof x.trees)[number]) => t.data.tree?.nodes.map((n) => [n.response, n.parent, n.value, n.order]);
    expect(y.trees.map(shape)).toEqual(x.trees.map(shape));
    const refineRequests = (m: typeof a.models) => m.refiner.calls.flatMap((c) => (c.method === 'generate' ? c.requests : [])).filter((r) => r.messages.length === 3);
    expect(refineRequests(b.models).length).toBeLessThan(refineRequests(a.models).length);
    expect(Math.max(...refineRequests(b.models).map((r) => r.n))).toBe(3);
  });
});

describe('run options', () => {
  it('streams text tagged with the prompt and the purpose of the call', async () => {
    const texts: string[] = [];
    await run(new MemoryPersistence(), settings({ concurrency: 1 }), undefined, {
      prompts: PROMPTS.slice(1, 2),
      onText: (promptId, purpose, request, sample, delta) => texts.push(`${promptId} ${purpose} ${request}.${sample} ${delta.slice(0, 12)}`),
    });
    expect(texts.slice(0, 2)).toEqual(['q1 sample 0.0 Instruction ', 'q1 sample 0.1 Instruction ']);
    expect(new Set(texts.map((t) => t.split(' ')[1]))).toEqual(new Set(['sample', 'judge', 'refine']));
  });

  it('refuses duplicate prompt ids', async () => {
    await expect(run(new MemoryPersistence(), settings(), undefined, { prompts: [PROMPTS[0], PROMPTS[0]] })).rejects.toMatchObject({ kind: 'invalid-input' });
  });
});

describe('resume', () => {
  it('after an interruption at any model call: nothing lost, nothing duplicated, nothing finished recomputed', async () => {
    const reference = new MemoryPersistence();
    const { models: used } = await run(reference, settings());
    const want = await contents(reference);
    const totalCalls = used.actor.calls.length + used.refiner.calls.length;
    expect(totalCalls).toBeGreaterThan(40);

    for (let stopAt = 1; stopAt <= totalCalls; stopAt++) {
      const store = new MemoryPersistence();
      const controller = new AbortController();
      let calls = 0;
      const tap = () => {
        if (++calls === stopAt) controller.abort();
      };
      const first = world({ votes: VOTES });
      const models = { actor: tapped(first.actor, tap), refiner: tapped(first.refiner, tap) };
      const paused = run(store, settings(), models as never, { signal: controller.signal });
      await expect(paused).rejects.toMatchObject({ kind: 'cancelled' });
      const before = await store.list('trees', RUN);

      const second = world({ votes: VOTES }); // a fresh page: new backends, same store
      await run(store, settings(), second);
      expect(await contents(store), `interrupted at call ${stopAt}`).toEqual(want);
      const rerun = new Set(second.actor.calls.flatMap((c) => (c.method === 'generate' ? c.requests.map((r) => r.messages[0].content) : [])));
      for (const t of before) expect(rerun.has(t.data.prompt)).toBe(false);
    }
  });

  it('after a failed write: the run stops, the instruction is redone on resume', async () => {
    const reference = new MemoryPersistence();
    await run(reference, settings());
    for (let failAt = 1; failAt <= PROMPTS.length; failAt++) {
      let writes = 0;
      const store = new (class extends MemoryPersistence {
        override async putAll(items: ChildPut[]) {
          if (++writes === failAt) throw new LabError('quota', 'Browser storage is full.');
          return super.putAll(items);
        }
      })();
      await expect(run(store, settings())).rejects.toMatchObject({ kind: 'quota' });
      expect((await store.list('trees', RUN)).length).toBeLessThan(PROMPTS.length);
      await run(store, settings());
      expect(await contents(store)).toEqual(await contents(reference));
    }
  });

  it('resuming a finished iteration does nothing', async () => {
    const store = new MemoryPersistence();
    await run(store, settings());
    const again = world({ votes: VOTES });
    const { result } = await run(store, settings(), again);
    expect(again.actor.calls).toHaveLength(0);
    expect(result).toMatchObject({ finished: 7, inFlight: 0 });
  });
});

describe('failures', () => {
  const down = new LabError('network', 'The model server at http://x did not answer.');

  it('records an instruction whose model calls fail, with the error and what it had done, and goes on', async () => {
    const store = new MemoryPersistence();
    const models = world({ votes: VOTES, fail: (req) => (req.messages.length === 3 && req.messages[0].content.includes('Instruction 2') ? down : undefined) });
    const { result } = await run(store, settings(), models);
    const { trees, pairs, rft } = await contents(store);
    const failed = trees.find((t) => t.promptId === 'q2')!;
    expect(failed).toMatchObject({ status: 'failed', errorKind: 'network', error: down.message, outputs: { pairs: 0, rft: 0 } });
    expect(failed.data.samples).toHaveLength(5); // sampling and judging had finished
    expect(pairs.concat(rft as never[]).some((r) => r.promptId === 'q2')).toBe(false);
    expect(result).toMatchObject({ finished: 7, failed: 1 });
    expect(trees.filter((t) => t.status === 'done')).toHaveLength(6);
  });

  it('stops after too many failures in a row, keeping what finished; retryFailed redoes them', async () => {
    const store = new MemoryPersistence();
    const broken = world({ votes: VOTES, fail: (req) => (req.messages[0].content.includes('Instruction 0') ? undefined : down) });
    await expect(run(store, settings({ concurrency: 1, maxConsecutiveFailures: 3 }), broken)).rejects.toMatchObject({
      kind: 'network',
      message: expect.stringMatching(/^3 instructions in a row failed.*did not answer/),
    });
    expect((await store.list('trees', RUN)).map((t) => t.status)).toEqual(['done', 'failed', 'failed', 'failed']);

    await run(store, settings({ concurrency: 1 }), undefined, { retryFailed: true });
    const reference = new MemoryPersistence();
    await run(reference, settings());
    expect(await contents(store)).toEqual(await contents(reference));
  });

  it('does not retry failed instructions unless asked', async () => {
    const store = new MemoryPersistence();
    await run(store, settings(), world({ votes: VOTES, fail: (req) => (req.messages[0].content.includes('Instruction 3') ? down : undefined) }));
    const again = world({ votes: VOTES });
    const { result } = await run(store, settings(), again);
    expect(again.actor.calls).toHaveLength(0);
    expect(result.failed).toBe(1);
  });
});
