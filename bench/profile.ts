/**
 * Where a decode step's time goes (`npm run bench -- --profile`), on the bench model of
 * engine.ts, batches 1 and 16: decode-profile.ts in the page. `?rounds=N` sets the rounds.
 */
import { Gpu } from '../src/engine/gpu/device';
import { GpuModel } from '../src/engine/model/gpu-model';
import { tinyWeights } from '../src/engine/tiny/tiny';
import { profileDecode, type DecodeProfile } from './decode-profile';
import { BENCH_MODEL, PROMPT_TOKENS } from './model';
import { log, runPage } from './page';

async function main(): Promise<DecodeProfile> {
  const gpu = await Gpu.acquire();
  const info = gpu.adapterInfo;
  log(`adapter: ${info.vendor} ${info.architecture} (subgroups: ${gpu.subgroups}, sizes ${info.subgroupMinSize}..${info.subgroupMaxSize}, fallback: ${info.isFallbackAdapter})`);
  const model = await GpuModel.load(gpu, tinyWeights(BENCH_MODEL), { contextLength: 512, maxRows: 64 });
  const prompt = Array.from({ length: PROMPT_TOKENS }, (_, i) => (i * 7919) % BENCH_MODEL.vocabSize!);
  const rounds = Number(new URLSearchParams(location.search).get('rounds') ?? 5);
  const result = await profileDecode(model, prompt, { batches: [1, 16], rounds, log });
  model.destroy();
  gpu.destroy();
  return result;
}

runPage(main);
