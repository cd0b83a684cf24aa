/**
 * Training checkpoints and logs in the lab's store: the narrow persistence interface the Trainer
 * writes through (LabStore satisfies it; MemoryTrainPersistence is the in-memory twin for Node
 * and tests), and the conversion between a training state and an AdapterRecord.
 *
 * One AdapterRecord per (iteration, role), id `${iteration}:${role}`, rewritten at every
 * checkpoint: the adapter's tensors under PEFT's names (f32 bytes), AdamW's moments under
 * `${name}.exp_avg` / `${name}.exp_avg_sq`, and in `config` the LoRA settings, the step, the
 * schedule position and a fingerprint of the data and settings (a resume with other data is
 * refused). When training ends the record is marked done and the optimizer state dropped.
 * Train logs: one TrainLogRecord per step, id `${iteration}:${role}:${step, 6 digits}`.
 */
import { LabError } from '../../errors';
import type { AdapterRecord, TrainLogRecord } from '../../store/records';
import type { LoraAdapter } from '../model/weights';
import { adapterSettings, adapterTensors, loraScale, parsePeftKey } from './lora';
import type { AdamWMoments } from './optim';

export type TrainRole = AdapterRecord['role'];

export type TrainPut = { store: 'adapters'; record: AdapterRecord } | { store: 'trainLogs'; record: TrainLogRecord };

/** What the Trainer needs from the store: LabStore has exactly these verbs. */
export interface TrainPersistence {
  get(store: 'adapters', runId: string, id: string): Promise<AdapterRecord | undefined>;
  /** All or nothing. */
  putAll(items: TrainPut[]): Promise<void>;
}

/** The store's behaviour in memory: records are copied in and out, as IndexedDB does. */
export class MemoryTrainPersistence implements TrainPersistence {
  readonly adapters = new Map<string, AdapterRecord>();
  readonly trainLogs = new Map<string, TrainLogRecord>();

  async get(_store: 'adapters', runId: string, id: string): Promise<AdapterRecord | undefined> {
    const r = this.adapters.get(`${runId}/${id}`);
    return r ? structuredClone(r) : undefined;
  }

  async putAll(items: TrainPut[]): Promise<void> {
    const copies = items.map((i) => ({ ...i, record: structuredClone(i.record) }) as TrainPut);
    for (const i of copies) {
      if (i.store === 'adapters') this.adapters.set(`${i.record.runId}/${i.record.id}`, i.record);
      else this.trainLogs.set(`${i.record.runId}/${i.record.id}`, i.record);
    }
  }

  /** The logs of a run in id (step) order. */
  logs(runId: string): TrainLogRecord[] {
    return [...this.trainLogs.values()].filter((r) => r.runId === runId).sort((a, b) => (a.id < b.id ? -1 : 1));
  }
}

export function checkpointId(iteration: number, role: TrainRole): string {
  return `${iteration}:${role}`;
}

export function trainLogId(iteration: number, role: TrainRole, step: number): string {
  return `${iteration}:${role}:${String(step).padStart(6, '0')}`;
}

export interface TrainState {
  adapter: LoraAdapter;
  /** Optimizer steps done. */
  step: number;
  totalSteps: number;
  status: 'training' | 'done';
  /** Of the data and the settings the run trains with. */
  fingerprint: string;
  /** AdamW's step count and moments, one pair per tensor in adapterTensors order; null when done. */
  optimizer: { t: number; moments: AdamWMoments[] } | null;
  /** Settings kept with the record for the reader (not needed to resume). */
  settings?: Record<string, unknown>;
}

export interface RecordPlace {
  runId: string;
  iteration: number;
  role: TrainRole;
}

const FORMAT = 'spar-lab-lora';

function bytes(a: Float32Array): ArrayBuffer {
  return a.slice().buffer as ArrayBuffer;
}

export function stateToRecord(s: TrainState, place: RecordPlace, createdAt = Date.now()): AdapterRecord {
  const tensors: Record<string, ArrayBuffer> = {};
  const optimizer: Record<string, ArrayBuffer> = {};
  const refs = adapterTensors(s.adapter);
  refs.forEach((t, i) => {
    tensors[t.key] = bytes(t.data);
    if (s.optimizer) {
      optimizer[`${t.key}.exp_avg`] = bytes(s.optimizer.moments[i].m);
      optimizer[`${t.key}.exp_avg_sq`] = bytes(s.optimizer.moments[i].v);
    }
  });
  const lora = adapterSettings(s.adapter);
  return {
    runId: place.runId,
    id: checkpointId(place.iteration, place.role),
    iteration: place.iteration,
    role: place.role,
    step: s.step,
    createdAt,
    config: {
      format: FORMAT,
      version: 1,
      name: s.adapter.name,
      numLayers: s.adapter.layers.length,
      rank: lora.rank,
      alpha: lora.alpha,
      rslora: lora.rslora,
      targets: lora.targets,
      shapes: Object.fromEntries(refs.map((t) => [t.key, t.shape])),
      status: s.status,
      totalSteps: s.totalSteps,
      fingerprint: s.fingerprint,
      optimizerStep: s.optimizer?.t ?? null,
      settings: s.settings ?? {},
    },
    tensors,
    optimizer: s.optimizer ? optimizer : undefined,
  };
}

export function recordToState(r: AdapterRecord): TrainState {
  const c = r.config as Record<string, unknown>;
  const bad = (what: string) => new LabError('invalid-input', `The saved adapter ${r.id} of run ${r.runId} is unreadable (${what}); delete it and train again.`);
  if (c.format !== FORMAT) throw bad(`format ${String(c.format)}`);
  const rank = Number(c.rank);
  const alpha = Number(c.alpha);
  const numLayers = Number(c.numLayers);
  const shapes = (c.shapes ?? {}) as Record<string, [number, number]>;
  const layers: LoraAdapter['layers'] = Array.from({ length: numLayers }, () => ({}));
  const f32 = (buf: ArrayBuffer | undefined, key: string, n: number) => {
    if (!buf || buf.byteLength !== n * 4) throw bad(`tensor ${key} has ${buf?.byteLength ?? 0} bytes, expected ${n * 4}`);
    return new Float32Array(buf.slice(0));
  };
  for (const [key, shape] of Object.entries(shapes)) {
    const k = parsePeftKey(key);
    if (!k || k.layer >= numLayers) throw bad(`tensor name ${key}`);
    const ab = (layers[k.layer][k.linear] ??= { a: new Float32Array(0), b: new Float32Array(0) });
    ab[k.which] = f32(r.tensors[key], key, shape[0] * shape[1]);
  }
  const adapter: LoraAdapter = {
    name: String(c.name),
    rank,
    alpha,
    scale: loraScale(rank, alpha, Boolean(c.rslora)),
    targets: (c.targets as LoraAdapter['targets']) ?? [],
    layers,
  };
  let optimizer: TrainState['optimizer'] = null;
  if (r.optimizer && c.optimizerStep != null) {
    const refs = adapterTensors(adapter);
    optimizer = {
      t: Number(c.optimizerStep),
      moments: refs.map((t) => ({
        m: f32(r.optimizer![`${t.key}.exp_avg`], `${t.key}.exp_avg`, t.data.length),
        v: f32(r.optimizer![`${t.key}.exp_avg_sq`], `${t.key}.exp_avg_sq`, t.data.length),
      })),
    };
  }
  return {
    adapter,
    step: r.step,
    totalSteps: Number(c.totalSteps),
    status: c.status === 'done' ? 'done' : 'training',
    fingerprint: String(c.fingerprint),
    optimizer,
    settings: (c.settings ?? {}) as Record<string, unknown>,
  };
}
