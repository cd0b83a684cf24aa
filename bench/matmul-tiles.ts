/**
 * Matmul tilings on the bench model's shapes (`npm run bench -- --page matmul-tiles`; pass
 * BENCH_QUERY='T=16&v=[{"tileRows":16,"workgroupSize":16},…]' to choose the rows and the
 * MatmulOptions to compare; the default is the kernel's own choice next to the previous decode
 * tile). Every variant runs once per round, rounds interleave, and each reports its best wall
 * time, its median, and the median CPU time of the GPU process (SwiftShader runs there): work
 * done, which other programs sharing the cores hardly change. The tile choices in matmul.ts were
 * made with it.
 */
import { Gpu } from '../src/engine/gpu/device';
import { uploadLinear } from '../src/engine/gpu/linear';
import { matmulForward, type MatmulOptions } from '../src/engine/gpu/matmul';
import { Recorder, type Program } from '../src/engine/gpu/program';
import { BENCH_MODEL } from './model';
import { gpuCpuMs, log, median, runPage } from './page';

const query = new URLSearchParams(location.search);
const ROUNDS = Number(query.get('rounds') ?? 4);

function randomF32(n: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (Math.random() * 2 - 1) * scale;
  return a;
}

export interface TileResult {
  shape: string;
  options: MatmulOptions;
  bestWallMs: number;
  medianWallMs: number;
  medianCpuMs: number;
  GFLOPs: number;
}

async function main(): Promise<{ T: number; results: TileResult[] }> {
  const gpu = await Gpu.acquire();
  const T = Number(query.get('T') ?? 16);
  const { hiddenSize: C, intermediateSize: I, numHeads: NH, numKvHeads: NKV, vocabSize: V } = BENCH_MODEL as Required<typeof BENCH_MODEL>;
  const D = C / NH;
  // q|k|v, o, gate|up, down, lm_head: [IC, OC]
  const shapes: [number, number][] = [[C, (NH + 2 * NKV) * D], [C, C], [C, 2 * I], [I, C], [C, V]];
  const variants: MatmulOptions[] = JSON.parse(query.get('v') ?? (T > 8 ? '[{}, {"tileRows": 8, "workgroupSize": 64}]' : '[{}]'));
  const cases: { shape: string; options: MatmulOptions; program: Program; flops: number; wall: number[]; cpu: number[] }[] = [];
  for (const [IC, OC] of shapes) {
    const w = uploadLinear(gpu, { dtype: 'f32', shape: [OC, IC], data: randomF32(OC * IC, 0.05) }, 'w');
    const x = gpu.storage(T * IC * 4, 'activations', 'x', randomF32(T * IC, 1));
    const y = gpu.storage(T * OC * 4, 'activations', 'y');
    for (const options of variants) {
      const rec = new Recorder(gpu);
      matmulForward(rec, y, x, w, T, options);
      cases.push({ shape: `${T}x${IC}·${IC}x${OC}`, options, program: rec.finish(), flops: 2 * T * IC * OC, wall: [], cpu: [] });
    }
  }
  // Round 0 compiles and warms up.
  for (let round = 0; round <= ROUNDS; round++) {
    for (const c of cases) {
      const reps = Math.max(2, Math.round((T === 1 ? 1.5e8 : 1e9) / c.flops));
      const enc = gpu.device.createCommandEncoder();
      for (let i = 0; i < reps; i++) c.program.encode(enc);
      const c0 = await gpuCpuMs();
      const t0 = performance.now();
      gpu.submit([enc.finish()]);
      await gpu.device.queue.onSubmittedWorkDone();
      const t = (performance.now() - t0) / reps;
      const cpu = ((await gpuCpuMs()) - c0) / reps;
      if (round > 0) {
        c.wall.push(t);
        c.cpu.push(cpu);
      }
    }
  }
  await gpu.check();
  const results = cases.map((c) => ({
    shape: c.shape,
    options: c.options,
    bestWallMs: Math.min(...c.wall),
    medianWallMs: median(c.wall),
    medianCpuMs: median(c.cpu),
    GFLOPs: c.flops / Math.min(...c.wall) / 1e6,
  }));
  for (const r of results) {
    log(
      `${r.shape.padEnd(20)} ${JSON.stringify(r.options).padEnd(40)} best ${r.bestWallMs.toFixed(3)} ms (${r.GFLOPs.toFixed(2)} GFLOP/s), ` +
        `median ${r.medianWallMs.toFixed(3)} ms, cpu ${r.medianCpuMs.toFixed(2)} ms`,
    );
  }
  gpu.destroy();
  return { T, results };
}

runPage(main);
