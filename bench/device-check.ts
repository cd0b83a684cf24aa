/**
 * The device check: what the engine does on one adapter (a real GPU when Dawn finds one), in
 * Node, for
 *   (a) the bench model (20.4M parameters, f32),
 *   (b) a Qwen2.5-0.5B-shaped model (the real config, random weights) in q4f16_1 and in f16,
 *   (c) a SmolLM2-360M-shaped model (q4f16_1):
 * decode tokens/s at batch 1, 8, 16 and 64, prefill tokens/s, the GEMV's GB/s (the model's
 * gate|up matrix in its format) and the weight bytes a batch-1 step reads per second, both
 * against the copy bandwidth, matmul GFLOP/s, the dispatches of a decode step, DPO step /
 * forward, and the decode profile by kernel class (batch 1 and 16). Written model by model to
 * bench/results/device-check.json (a run cut short keeps what it finished), summed up at the end.
 * bench/device-check.sh runs it (it brings the Vulkan loader where the machine has none).
 *
 * Smaller settings, for SwiftShader: --layers N and --vocab N shrink the shaped models (their
 * per-layer shapes stay), --rounds, --steps, --train-rounds, --profile-rounds, and --models
 * picks some of the ids below (comma-separated); --out names the JSON file.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { listDawnAdapters, useDawn } from '../src/node/dawn';
import type { TinyModelOptions } from '../src/engine/tiny/tiny';
import { engineBench, type EngineBenchResult } from './engine';
import { BENCH_MODEL, QWEN25_05B, SMOLLM2_360M } from './model';
import { log } from './page';
import { trainBench, type TrainBenchResult } from './train';
import { benchWeights, type BenchFormat } from './weights';

const MODELS: Record<string, { shape: TinyModelOptions; format: BenchFormat; shaped: boolean }> = {
  'bench-f32': { shape: BENCH_MODEL, format: 'f32', shaped: false },
  'qwen2.5-0.5b-q4f16_1': { shape: QWEN25_05B, format: 'q4f16', shaped: true },
  'qwen2.5-0.5b-f16': { shape: QWEN25_05B, format: 'f16', shaped: true },
  'smollm2-360m-q4f16_1': { shape: SMOLLM2_360M, format: 'q4f16', shaped: true },
};

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: Object.keys(MODELS).join(',') },
    layers: { type: 'string' },
    vocab: { type: 'string' },
    rounds: { type: 'string', default: '2' },
    steps: { type: 'string', default: '16' },
    'train-rounds': { type: 'string', default: '2' },
    'profile-rounds': { type: 'string', default: '3' },
    out: { type: 'string', default: 'bench/results/device-check.json' },
  },
});
const int = (name: string, v: string | undefined) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number ≥ 1, got "${v}"`);
  return n;
};
const settings = {
  models: values.models.split(','),
  layers: int('layers', values.layers),
  vocab: int('vocab', values.vocab),
  rounds: int('rounds', values.rounds)!,
  steps: int('steps', values.steps)!,
  trainRounds: int('train-rounds', values['train-rounds'])!,
  profileRounds: int('profile-rounds', values['profile-rounds'])!,
  batches: [1, 8, 16, 64],
};
for (const id of settings.models) if (!(id in MODELS)) throw new Error(`unknown model "${id}" (known: ${Object.keys(MODELS).join(', ')})`);

const t0 = performance.now();
const { vulkan } = await useDawn();
const adapters = await listDawnAdapters();
log(`Dawn sees: ${adapters.map((a) => `${a.name} (${a.backend})`).join(', ') || 'no adapter'}`);
if (vulkan) log(`Vulkan: loader ${vulkan.loader ?? 'none'}, driver files ${vulkan.drivers.join(', ') || 'none'} (${vulkan.driversFrom})`);

interface ModelResult {
  id: string;
  shape: TinyModelOptions;
  format: BenchFormat;
  engine: EngineBenchResult;
  train: TrainBenchResult;
  seconds: number;
}
const results: ModelResult[] = [];
const save = () => {
  mkdirSync(dirname(values.out), { recursive: true });
  const host = { runtime: `Node ${process.version}, Dawn (webgpu package)`, adapters, vulkan };
  writeFileSync(values.out, JSON.stringify({ date: new Date().toISOString(), host, settings, models: results, seconds: (performance.now() - t0) / 1000 }, null, 2) + '\n');
};

for (const id of settings.models) {
  const m = MODELS[id];
  const shape: TinyModelOptions = m.shaped
    ? { ...m.shape, ...(settings.layers ? { numLayers: Math.min(settings.layers, m.shape.numLayers!) } : {}), ...(settings.vocab ? { vocabSize: settings.vocab } : {}) }
    : m.shape;
  log(`\n══ ${id}: ${shape.numLayers} layers, C ${shape.hiddenSize}, I ${shape.intermediateSize}, V ${shape.vocabSize}, ${m.format} ══`);
  const s0 = performance.now();
  const weights = benchWeights(shape, m.format);
  const engine = await engineBench({
    model: shape,
    format: m.format,
    weights,
    batches: settings.batches,
    rounds: settings.rounds,
    decodeSteps: settings.steps,
    promptTokens: 128,
    gemv: [2 * shape.intermediateSize!, shape.hiddenSize!],
    profile: { batches: [1, 16], rounds: settings.profileRounds },
    log,
  });
  log('');
  const train = await trainBench(shape, { format: m.format, weights, rounds: settings.trainRounds, log });
  results.push({ id, shape, format: m.format, engine, train, seconds: (performance.now() - s0) / 1000 });
  save();
}

summary();

function summary(): void {
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  const pct = (x: number) => `${f(100 * x, 0)}%`;
  const desc = results[0]?.engine.adapter;
  log(`\n══ device check on ${desc ? `${desc.vendor} ${desc.architecture} ${desc.description}` : 'no adapter'} (${f((performance.now() - t0) / 1000, 0)} s) ══`);
  log(
    ['model'.padEnd(22), 'decode tok/s b1/b8/b16/b64'.padEnd(30), 'b16/b1'.padStart(6), 'prefill'.padStart(8), 'GEMV GB/s'.padStart(14), 'b1 reads GB/s'.padStart(14), 'matmul GF/s'.padStart(12), 'DPO/fwd'.padStart(8), 'disp/step'.padStart(9)].join(' '),
  );
  for (const r of results) {
    const e = r.engine;
    const d = e.decodeTokensPerS;
    log(
      [
        r.id.padEnd(22),
        [d.batch1, d.batch8, d.batch16, d.batch64].map((x) => f(x)).join(' / ').padEnd(30),
        `${f(e.batch16OverBatch1, 2)}×`.padStart(6),
        f(e.prefillTokensPerS, 0).padStart(8),
        `${f(e.gemv.GBs)} ${pct(e.gemv.fractionOfCopy)}`.padStart(14),
        `${f(e.decodeBatch1GBs)} ${pct(e.decodeBatch1FractionOfCopy)}`.padStart(14),
        f(e.matmul.GFLOPs).padStart(12),
        `${f(r.train.stepOverForward, 2)}×`.padStart(8),
        String(e.dispatchesPerDecodeStep.batch1).padStart(9),
      ].join(' '),
    );
  }
  log(`copy bandwidth ${results.map((r) => f(r.engine.copyGBs)).join(' / ')} GB/s; FMA peak ${results.map((r) => f(r.engine.fmaGFLOPs)).join(' / ')} GFLOP/s (one per model run)`);
  log('\ndecode step by kernel class (ms, replayed; median):');
  for (const r of results) {
    const med = r.engine.profile?.medians ?? {};
    for (const b of ['b1', 'b16']) {
      const classes = Object.entries(med)
        .filter(([k]) => k.startsWith(`${b}   `) && !k.includes('all') && !k.includes('+'))
        .sort((x, y) => y[1] - x[1])
        .map(([k, v]) => `${k.slice(b.length + 3)} ${f(v, 2)}`);
      log(`  ${r.id.padEnd(22)} ${b.padEnd(3)} step ${f(med[`${b} replay whole step`], 2)} (generate ${f(med[`${b} generate step`], 2)}): ${classes.join(', ')}`);
    }
  }
  const qwen = results.find((r) => r.id === 'qwen2.5-0.5b-q4f16_1') ?? results.find((r) => r.id.startsWith('qwen'));
  const mark = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  log('\ntargets:');
  for (const r of results) log(`  ${mark(r.engine.batch16OverBatch1 >= 8)}  ${r.id}: batch-16 decode ≥ 8× batch-1 (${f(r.engine.batch16OverBatch1, 2)}×)`);
  if (qwen) log(`  ${mark(qwen.engine.decodeBatch1FractionOfCopy >= 0.5)}  ${qwen.id}: batch-1 decode reads weights at ≥ 50% of copy bandwidth (${pct(qwen.engine.decodeBatch1FractionOfCopy)}; the GEMV alone ${pct(qwen.engine.gemv.fractionOfCopy)})`);
  for (const r of results) log(`  ${mark(r.train.stepOverForward <= 3.5)}  ${r.id}: DPO step ≤ 3.5× the forward of its tokens (${f(r.train.stepOverForward, 2)}×)`);
  log(`(written to ${values.out})`);
}
