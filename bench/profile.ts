/**
 * Where a decode step's time goes (`npm run bench -- --profile`), on the bench model of
 * engine.ts. For batch 1 and 16 it replays the recorded decode program of one step, whole and
 * by kernel class (the dispatches of one class only, sharing the step's buffers), each `reps`
 * times in one submission; and it times the step as generation sees it (model.forward with the
 * sampling head and the read-back of the ids) and a bare submit + read-back. Rounds interleave
 * every measurement; medians and min–max spread are printed per figure.
 */
import { Gpu } from '../src/engine/gpu/device';
import type { Program } from '../src/engine/gpu/program';
import { GpuModel, type ForwardRow } from '../src/engine/model/gpu-model';
import type { KvSequence } from '../src/engine/model/kv-cache';
import { generate } from '../src/engine/model/generate';
import { tinyWeights } from '../src/engine/tiny/tiny';
import { BENCH_MODEL, PROMPT_TOKENS, decodeJob } from './model';
import { log, median, replay, runPage } from './page';

const ROUNDS = Number(new URLSearchParams(location.search).get('rounds') ?? 5);

/** Kernel class of each dispatch of a decode program, from its key and the order of matmuls. */
function classify(labels: string[]): string[] {
  const linears = ['qkv', 'o', 'gateUp', 'down'];
  let mm = 0;
  const matmulCount = labels.filter((l) => l.startsWith('matmul')).length;
  return labels.map((l) => {
    if (l.startsWith('matmul')) {
      const i = mm++;
      return i === matmulCount - 1 ? 'mm lmHead' : `mm ${linears[i % 4]}`;
    }
    return l.split('/')[0];
  });
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
  const classes = classify(program.labels);
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

export interface ProfileResult {
  /** figure → per-round ms */
  rounds: Record<string, number[]>;
}

async function main(): Promise<ProfileResult> {
  const gpu = await Gpu.acquire();
  const info = gpu.adapterInfo;
  log(`adapter: ${info.vendor} ${info.architecture} (subgroups: ${gpu.subgroups}, sizes ${info.subgroupMinSize}..${info.subgroupMaxSize}, fallback: ${info.isFallbackAdapter})`);
  const weights = tinyWeights(BENCH_MODEL);
  const model = await GpuModel.load(gpu, weights, { contextLength: 512, maxRows: 64 });
  const prompt = Array.from({ length: PROMPT_TOKENS }, (_, i) => (i * 7919) % BENCH_MODEL.vocabSize!);
  const rounds: Record<string, number[]> = {};
  const add = (k: string, v: number) => (rounds[k] ??= []).push(v);
  // Grow the KV cache's pages and page-table rows first: growing replaces buffers that the
  // held programs bind.
  await generate(model, [{ prompt, n: 48, temperature: 1, maxTokens: 20, stopTokens: [] }]);
  const setups = [await setup(model, prompt, 1), await setup(model, prompt, 16)];
  for (let round = 0; round <= ROUNDS; round++) {
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
  log('');
  log('wall ms (median, min–max over rounds); cpu: GPU-process CPU ms (median), i.e. work, little changed by other load');
  log(`${'figure'.padEnd(36)} ${'wall'.padStart(8)}  ${'spread'.padEnd(14)} ${'cpu'.padStart(8)}`);
  for (const [k, v] of Object.entries(rounds)) {
    if (k.endsWith(' (cpu)')) continue;
    const cpu = rounds[`${k} (cpu)`];
    const spread = `${Math.min(...v).toFixed(2)}–${Math.max(...v).toFixed(2)}`;
    log(`${k.padEnd(36)} ${median(v).toFixed(2).padStart(8)}  ${spread.padEnd(14)} ${cpu ? median(cpu).toFixed(1).padStart(8) : ''}`);
  }
  for (const s of setups) for (const q of s.seqs) model.kv.release(q);
  model.destroy();
  gpu.destroy();
  return { rounds };
}

runPage(main);
