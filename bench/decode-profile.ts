/**
 * Where a decode step's time goes, for a loaded model: for each batch it replays the recorded
 * decode program of one step, whole and by kernel class (the dispatches of one class only,
 * sharing the step's buffers), each `reps` times in one submission; and it times the step as
 * generation sees it (model.forward with the sampling head and the read-back of the ids) and a
 * bare submit + read-back. Rounds interleave every measurement; medians and min–max spread are
 * printed per figure. profile.ts runs it in the browser on the bench model, device-check.ts in
 * Node on the shaped models.
 */
import type { Gpu } from '../src/engine/gpu/device';
import type { Program } from '../src/engine/gpu/program';
import type { ForwardRow, GpuModel } from '../src/engine/model/gpu-model';
import type { KvSequence } from '../src/engine/model/kv-cache';
import { generate } from '../src/engine/model/generate';
import { decodeJob } from './model';
import { median, replay } from './page';

/**
 * Kernel class of each dispatch of a decode program: matmuls by linear, from the order the model
 * records them (per layer qkv, o, gate|up, down, then the head; one dispatch per slice of a
 * matrix split across bindings), the rest by kernel name.
 */
function classify(model: GpuModel, labels: string[]): string[] {
  const { layers, lmHead } = model.uploaded;
  const order = [...layers.flatMap((l) => [...l.qkv.slices.map(() => 'qkv'), ...l.o.slices.map(() => 'o'), ...l.gateUp.slices.map(() => 'gateUp'), ...l.down.slices.map(() => 'down')]), ...lmHead.slices.map(() => 'lmHead')];
  let mm = 0;
  return labels.map((l) => (l.startsWith('matmul') ? `mm ${order[mm++]}` : l.split('/')[0]));
}

interface Setup {
  batch: number;
  seqs: KvSequence[];
  program: Program;
  subsets: Map<string, Program>;
}

async function setup(model: GpuModel, prompt: number[], batch: number): Promise<Setup> {
  const prefix = model.kv.newSequence();
  await model.forward(prompt.slice(0, -1).map((token) => ({ seq: prefix, token })), { kind: 'none' });
  const seqs = Array.from({ length: batch }, () => model.kv.fork(prefix));
  model.kv.release(prefix);
  await step(model, seqs, prompt[prompt.length - 1], 0);
  const program = model.plan(batch, batch, 'sample');
  const classes = classify(model, program.labels);
  const subsets = new Map<string, Program>();
  for (const c of new Set(classes)) subsets.set(c, program.subset((i) => classes[i] === c));
  subsets.set('mm all', program.subset((i) => classes[i].startsWith('mm ')));
  subsets.set('mm lmHead+sample', program.subset((i) => classes[i] === 'mm lmHead' || classes[i] === 'sample'));
  return { batch, seqs, program, subsets };
}

async function step(model: GpuModel, seqs: KvSequence[], token: number, s: number): Promise<number> {
  const rows: ForwardRow[] = seqs.map((seq) => ({ seq, token }));
  const params = seqs.map((_, i) => ({ temperature: 1, topP: 0.95, seed: 1 + i, step: s }));
  const t0 = performance.now();
  await model.forward(rows, { kind: 'sample', rows: rows.map((_, i) => i), params });
  return performance.now() - t0;
}

async function decodeStepMs(model: GpuModel, prompt: number[], batch: number): Promise<number> {
  const times: number[] = [];
  let last = 0;
  await generate(model, [
    decodeJob(prompt, batch, (i) => {
      if (i !== 0) return;
      const now = performance.now();
      if (last) times.push(now - last);
      last = now;
    }),
  ]);
  return median(times);
}

async function bareRoundTrip(gpu: Gpu): Promise<number> {
  const b = gpu.storage(16, 'activations', 'profile probe');
  const t0 = performance.now();
  await gpu.read(b.buffer, 0, 16);
  const dt = performance.now() - t0;
  gpu.memory.destroy(b);
  return dt;
}

export interface DecodeProfileOptions {
  /** Default 1 and 16. */
  batches?: number[];
  /** Measured rounds after the warm-up round (default 5). */
  rounds?: number;
  log?: (s: string) => void;
}

export interface DecodeProfile {
  /** figure → per-round ms */
  rounds: Record<string, number[]>;
  /** figure → median ms */
  medians: Record<string, number>;
  /** Compute dispatches of one decode step, by batch ("b1", "b16"). */
  dispatches: Record<string, number>;
}

export async function profileDecode(model: GpuModel, prompt: number[], opts: DecodeProfileOptions = {}): Promise<DecodeProfile> {
  const log = opts.log ?? ((s: string) => console.log(s));
  const batches = opts.batches ?? [1, 16];
  const gpu = model.gpu;
  const rounds: Record<string, number[]> = {};
  const add = (k: string, v: number) => (rounds[k] ??= []).push(v);
  // Grow the KV cache's pages and page-table rows first: growing replaces buffers that the
  // held programs bind.
  const most = Math.max(...batches);
  await generate(model, [{ prompt, n: Math.min(model.maxRows, 3 * most), temperature: 1, maxTokens: 20, stopTokens: [] }]);
  const setups: Setup[] = [];
  for (const b of batches) setups.push(await setup(model, prompt, b));
  for (let round = 0; round <= (opts.rounds ?? 5); round++) {
    const r: [string, number][] = [];
    r.push(['round trip (submit + map 16 B)', await bareRoundTrip(gpu)]);
    for (const s of setups) {
      const b = `b${s.batch}`;
      r.push([`${b} generate step`, await decodeStepMs(model, prompt, s.batch)]);
      r.push([`${b} forward (sample + read ids)`, await step(model, s.seqs, 1, 1)]);
      const reps = s.batch === 1 ? 24 : 6;
      const whole = await replay(gpu, s.program, reps);
      r.push([`${b} replay whole step`, whole[0]], [`${b} replay whole step (cpu)`, whole[1]]);
      for (const [c, p] of s.subsets) {
        const [t, cpu] = await replay(gpu, p, 2 * reps);
        r.push([`${b}   ${c}`, t], [`${b}   ${c} (cpu)`, cpu]);
      }
    }
    if (round === 0) continue; // compile, warm-up
    for (const [k, v] of r) add(k, v);
  }
  const medians: Record<string, number> = {};
  log('');
  log('wall ms (median, min–max over rounds); cpu: GPU-process CPU ms (median, browser only), i.e. work, little changed by other load');
  log(`${'figure'.padEnd(36)} ${'wall'.padStart(8)}  ${'spread'.padEnd(14)} ${'cpu'.padStart(8)}`);
  for (const [k, v] of Object.entries(rounds)) {
    if (k.endsWith(' (cpu)')) continue;
    medians[k] = median(v);
    const cpu = rounds[`${k} (cpu)`];
    const spread = `${Math.min(...v).toFixed(2)}–${Math.max(...v).toFixed(2)}`;
    const cpuText = cpu && !Number.isNaN(median(cpu)) ? median(cpu).toFixed(1).padStart(8) : '';
    log(`${k.padEnd(36)} ${medians[k].toFixed(2).padStart(8)}  ${spread.padEnd(14)} ${cpuText}`);
  }
  const dispatches = Object.fromEntries(setups.map((s) => [`b${s.batch}`, s.program.dispatchCount]));
  log(`dispatches per decode step: ${setups.map((s) => `batch ${s.batch}: ${s.program.dispatchCount}`).join(', ')}`);
  for (const s of setups) for (const q of s.seqs) model.kv.release(q);
  return { rounds, medians, dispatches };
}
