/**
 * The lab's services over an in-memory store and scripted models: an engine kind whose views
 * are the scripted actor and refiner of a SPaR test world (src/spar tests' world), so the run
 * loop, evaluation and browsing can be tested in Node, exactly and fast.
 */
import type { ModelBackend } from '../../src/backends/types';
import type { LoraAdapter } from '../../src/engine/model/weights';
import { createLab } from '../../src/lab/index';
import type { EngineKind } from '../../src/lab/engine';
import { ModelHost } from '../../src/lab/models';
import type { AdapterSource, SelfPlayListener } from '../../src/lab/selfplay';
import { presetPatch } from '../../src/lab/presets';
import { applyConfigPatch, parseRunConfig, type IterationEntry } from '../../src/lab/run-config';
import type { PairRecord, RunRecord } from '../../src/store/records';
import { MemoryLabStore } from './memory-lab-store';
import { TEMPLATES } from './spar-world';

export interface Heard {
  progress: { runId: string; state: string; finished: number; total: number }[];
  trees: string[];
  texts: string[];
  runs: RunRecord[];
}

export interface ScriptedEngineLog {
  created: number;
  adapters: string[];
  views: { adapters: string[]; role?: string }[];
}

/** An engine kind whose views are `pick(role)`: the actor's view for roles "actor…", else the refiner's. */
export function scriptedEngine(models: () => { actor: ModelBackend; refiner: ModelBackend }, log: ScriptedEngineLog = { created: 0, adapters: [], views: [] }): EngineKind & { log: ScriptedEngineLog } {
  return {
    name: 'scripted engine',
    log,
    async create() {
      log.created++;
      const names = new Set<string>();
      return {
        setAdapter: (a: LoraAdapter) => {
          names.add(a.name);
          log.adapters.push(a.name);
        },
        removeAdapter: (n: string) => void names.delete(n),
        adapterNames: () => [...names],
        view: (o: { adapters?: string[]; role?: string } = {}) => {
          log.views.push({ adapters: o.adapters ?? [], role: o.role });
          const m = models();
          return o.role?.startsWith('actor') ? m.actor : m.refiner;
        },
        destroy: () => {},
      };
    },
  };
}

export function labWorld(o: { models: () => { actor: ModelBackend; refiner: ModelBackend }; adapters?: AdapterSource; throttleMs?: number; onTree?: (id: string) => void }) {
  const store = new MemoryLabStore();
  const engine = scriptedEngine(o.models);
  const heard: Heard = { progress: [], trees: [], texts: [], runs: [] };
  const listener: SelfPlayListener = {
    progress: (runId, state, s) => heard.progress.push({ runId, state, finished: s.finished, total: s.total }),
    tree: (_r, _i, t) => {
      heard.trees.push(t.id);
      o.onTree?.(t.id);
    },
    text: (_r, _i, promptId, purpose, text) => heard.texts.push(`${promptId} ${purpose} ${text}`),
    run: (run) => heard.runs.push(run),
  };
  const lab = createLab(store, { models: new ModelHost({ engine }), listener, adapters: o.adapters, throttleMs: o.throttleMs ?? 0 });
  return { store, lab, heard, engine };
}

/** A run on the tiny model (the scripted engine ignores it) with the test templates. */
export async function newRun(store: MemoryLabStore, spar: Record<string, unknown> = {}, name = 'test run') {
  return store.createRun({ name, config: { spar: { seed: 3, concurrency: 2, ...spar, templates: TEMPLATES } } });
}

/** What trainableRun needs of a store: the IndexedDB LabStore and MemoryLabStore both fit. */
interface RunWriter {
  createRun(r: { name: string; config: Record<string, unknown> }): Promise<RunRecord>;
  put(kind: 'pairs', records: PairRecord[]): Promise<unknown>;
}

/** A tiny-demo run whose iteration 0 is done with three kept pairs: ready to train the actor. */
export async function trainableRun(store: RunWriter, name = 'two tabs'): Promise<RunRecord> {
  const config = applyConfigPatch({}, presetPatch('tiny-demo'));
  const c = parseRunConfig(config);
  const entry: IterationEntry = {
    iteration: 0, status: 'done', startedAt: 1, updatedAt: 1, finishedAt: 1, spar: c.spar, models: c.models,
    labels: { actor: 'tiny', refiner: 'tiny' }, adapters: {}, instructions: 3, finished: 3, failed: 0, pairs: 3, rft: 0,
  };
  const run = await store.createRun({ name, config: { ...config, iterations: [entry] } });
  const pairs: PairRecord[] = [0, 1, 2].map((i) => ({
    runId: run.id, id: `0:p${i}:0`, iteration: 0, promptId: `p${i}`, prompt: `Name ${i + 1} colours.`, chosen: ['red', 'red blue', 'red blue green'][i], rejected: 'no', excluded: false,
    meta: { source: 'refinement', chosenValue: 1, rejectedValue: 0, rejectedSample: 0, chosenDepth: 1 },
  }));
  await store.put('pairs', pairs);
  return run;
}
