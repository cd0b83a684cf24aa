/**
 * Where a DPO step's GPU time goes (`npm run bench -- --page train-profile`), on the train
 * bench's model and pair: the recorded forward and backward programs of one step, replayed
 * whole and by kernel class (matmuls by linear), each in one submission; medians over rounds.
 */
import { Gpu } from '../src/engine/gpu/device';
import type { Program } from '../src/engine/gpu/program';
import { GpuModel } from '../src/engine/model/gpu-model';
import { GpuTrainEngine } from '../src/engine/model/gpu-train-engine';
import { createAdapter } from '../src/engine/train/lora';
import { tinyWeights } from '../src/engine/tiny/tiny';
import { BENCH_MODEL, benchPair } from './model';
import { log, median, replay, runPage } from './page';

const ROUNDS = Number(new URLSearchParams(location.search).get('rounds') ?? 3);

/**
 * Kernel class of each dispatch: matmuls named by linear from their recording order (the bench
 * adapter targets q and v: each LoRA is two matmuls in the forward, two dx in the backward).
 */
function classify(labels: string[], backward: boolean): string[] {
  const layer = backward ? ['down', 'gateUp', 'o', 'qkv', 'lora', 'lora', 'lora', 'lora'] : ['qkv', 'lora', 'lora', 'lora', 'lora', 'o', 'gateUp', 'down'];
  const isMatmul = (l: string) => l.startsWith('matmul/') || l.startsWith('matmul-dx/');
  const count = labels.filter(isMatmul).length;
  let mm = 0;
  return labels.map((l) => {
    const kind = l.split('/')[0];
    if (!isMatmul(l)) return kind;
    const i = mm++;
    const head = backward ? i === 0 : i === count - 1;
    return `${kind} ${head ? 'lmHead' : layer[(backward ? i - 1 : i) % layer.length]}`;
  });
}

async function main(): Promise<unknown> {
  const gpu = await Gpu.acquire();
  const weights = tinyWeights(BENCH_MODEL);
  const gm = await GpuModel.load(gpu, weights, { contextLength: 512 });
  const engine = GpuTrainEngine.forModel(gm);
  await engine.setAdapter(createAdapter('actor', weights.config, {}, { seed: 1 }));
  const { seqs } = benchPair(BENCH_MODEL.vocabSize!);
  await engine.accumulateGradients([seqs.chosen, seqs.rejected], 'actor', (lp) => ({ loss: 0, dlogprobs: lp.map((x) => x.map(() => 1)) }));
  await engine.takeGradients('actor');
  const subsets = new Map<string, Program>();
  for (const [key, program] of engine.recordedPrograms) {
    const pass = key.split('/')[0];
    const classes = classify(program.labels, pass === 'backward');
    subsets.set(`${pass} whole`, program);
    for (const c of new Set(classes)) subsets.set(`${pass}   ${c}`, program.subset((i) => classes[i] === c));
  }
  const rounds: Record<string, number[]> = {};
  for (let round = 0; round <= ROUNDS; round++) {
    for (const [k, p] of subsets) {
      const [t, cpu] = await replay(gpu, p, 2);
      if (round === 0) continue;
      (rounds[k] ??= []).push(t);
      (rounds[`${k} (cpu)`] ??= []).push(cpu);
    }
  }
  log(`${'figure'.padEnd(36)} ${'wall ms'.padStart(8)} ${'cpu ms'.padStart(8)}`);
  const figures: Record<string, { wallMs: number; cpuMs: number }> = {};
  for (const [k, v] of Object.entries(rounds)) {
    if (k.endsWith(' (cpu)')) continue;
    figures[k.trim()] = { wallMs: median(v), cpuMs: median(rounds[`${k} (cpu)`]) };
    log(`${k.padEnd(36)} ${median(v).toFixed(1).padStart(8)} ${median(rounds[`${k} (cpu)`]).toFixed(1).padStart(8)}`);
  }
  return { medians: figures };
}

runPage(main);
