/**
 * The WebGPU TrainEngine's LoRA gradients against the CPU reference (CpuTrainEngine, itself
 * checked against finite differences in test/unit/engine/train/gradients.test.ts), in f32, under
 * the DPO and the SFT loss, on tiny Llama (untied, llama3 RoPE scaling) and Qwen2 (q/k/v biases,
 * tied embeddings) models with GQA, over an f32 and a q4 base, every linear targeted and B ≠ 0
 * so every gradient is exercised. Also: log-probs (policy and reference), recompute-per-layer,
 * a chunked LM head, accumulation across calls.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuModel } from '../../../../src/engine/cpu/model';
import { CpuTrainEngine } from '../../../../src/engine/cpu/train-engine';
import { GpuModel } from '../../../../src/engine/model/gpu-model';
import { GpuTrainEngine } from '../../../../src/engine/model/gpu-train-engine';
import { LINEAR_NAMES } from '../../../../src/engine/model/weights';
import type { Floats, LossFn, TrainEngine, TrainSequence } from '../../../../src/engine/train/engine';
import { adapterTensors, createAdapter } from '../../../../src/engine/train/lora';
import { dpoLossFn, sftLossFn } from '../../../../src/engine/train/losses';
import { Gpu } from '../../../../src/engine/gpu/device';
import { relErr } from '../../../helpers/gradcheck';
import { formatName, loadTiny, type TinyFormat } from '../../../helpers/models';
import { rng } from '../../../unit/engine/random';

const results: string[] = [];
// One device for the file: each kernel compiles once.
let gpu: Gpu;
beforeAll(async () => void (gpu = await Gpu.acquire()));
afterAll(() => {
  gpu.destroy();
  console.log(results.join('\n'));
});

function sequence(r: () => number, V: number, prompt: number, response: number): TrainSequence {
  const tokens = Array.from({ length: prompt + response }, () => Math.floor(r() * V));
  const mask = new Uint8Array(prompt + response).fill(1, prompt);
  return { tokens, mask };
}

/** Two "assistant turns" with masked-out tokens between them. */
function chat(r: () => number, V: number, turn: number): TrainSequence {
  const T = 3 + turn + 3 + turn + 1;
  const tokens = Array.from({ length: T }, () => Math.floor(r() * V));
  const mask = new Uint8Array(T);
  mask.fill(1, 3, 3 + turn);
  mask.fill(1, 6 + turn, 6 + 2 * turn);
  return { tokens, mask };
}

const sum = (a: Floats) => Array.from(a).reduce((x, y) => x + y, 0);

async function gradients(engine: TrainEngine, seqs: TrainSequence[], loss: LossFn): Promise<{ loss: number; grads: Float32Array[] }> {
  const value = await engine.accumulateGradients(seqs, 'actor', loss);
  return { loss: value, grads: adapterTensors({ rank: 4, layers: await engine.takeGradients('actor') }).map((t) => t.data) };
}

const BASES: TinyFormat[] = [
  { format: 'hf', dtype: 'f32' },
  { format: 'mlc', quantization: 'q4f16_1' },
];

describe.each(['llama', 'qwen2'] as const)('GPU LoRA gradients vs the CPU reference (%s)', (arch) => {
  for (const base of BASES) {
    it(`${formatName(base)} base: log-probs, DPO and SFT gradients${arch === 'llama' && base.format === 'hf' ? '; recompute, accumulation, chunked head' : ''}`, async () => {
      const { weights } = await loadTiny(base, { arch });
      const V = weights.config.vocabSize;
      const adapter = createAdapter('actor', weights.config, { rank: 4, alpha: 8, targets: [...LINEAR_NAMES] }, { seed: 5, init: 'random' });
      const cpu = new CpuTrainEngine(new CpuModel(weights));
      await cpu.setAdapter(adapter);
      {
        const model = await GpuModel.load(gpu, weights);
        const engine = GpuTrainEngine.forModel(model);
        await engine.setAdapter(adapter);
        const r = rng(arch === 'llama' ? 11 : 12);

        // DPO: two pairs in one micro-batch, the reference from the base.
        const pairs = [0, 1].map(() => [sequence(r, V, 6, 5), sequence(r, V, 7, 3)]);
        const seqs = pairs.flat();
        const [refGpu, refCpu] = [await engine.logprobs(seqs, null), await cpu.logprobs(seqs, null)];
        const lpGpu = await engine.logprobs(seqs, 'actor');
        const lpCpu = await cpu.logprobs(seqs, 'actor');
        const lpErr = relErr([...refGpu, ...lpGpu].flatMap((a) => [...a]), [...refCpu, ...lpCpu].flatMap((a) => [...a]));
        expect(lpErr).toBeLessThan(1e-5);
        const ref = pairs.map((_, i) => [sum(refCpu[2 * i]), sum(refCpu[2 * i + 1])] as const);
        const dpo = () => dpoLossFn({ beta: 0.5, ftx: 0.1, ref, weight: 0.5 });
        const want = await gradients(cpu, seqs, dpo());
        const got = await gradients(engine, seqs, dpo());
        expect(Math.abs(got.loss - want.loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(want.loss)));
        const perTensor = got.grads.map((g, i) => relErr(g, want.grads[i]));
        const dpoErr = Math.max(...perTensor);
        expect(want.grads.every((g) => g.some((x) => x !== 0))).toBe(true);
        expect(dpoErr).toBeLessThan(1e-4);

        // SFT over chat-like masks.
        const chats = [chat(r, V, 4), chat(r, V, 6)];
        const tokens = chats.reduce((n, s) => n + s.mask.reduce((a, b) => a + b, 0), 0);
        const sft = () => sftLossFn({ stepTokens: tokens });
        // Log-probs of chats (masks with gaps) take the training graph's forward, those of pairs the inference path.
        const chatErr = relErr((await engine.logprobs(chats, 'actor')).flatMap((a) => [...a]), (await cpu.logprobs(chats, 'actor')).flatMap((a) => [...a]));
        expect(chatErr).toBeLessThan(1e-5);
        const wantSft = await gradients(cpu, chats, sft());
        const gotSft = await gradients(engine, chats, sft());
        const sftErr = Math.max(...gotSft.grads.map((g, i) => relErr(g, wantSft.grads[i])));
        expect(sftErr).toBeLessThan(1e-4);
        results.push(`${arch} ${formatName(base)}: log-probs ${Math.max(lpErr, chatErr).toExponential(2)}, DPO grads ${dpoErr.toExponential(2)}, SFT grads ${sftErr.toExponential(2)} (max over ${got.grads.length} tensors of max|Δ|/max|ref|)`);
        // The engine's modes, once (they share every kernel with the checks above).
        if (arch === 'llama' && base.format === 'hf') await modes(engine, cpu, model, r, V, chats, gotSft.grads, sft);
        engine.release();
        model.destroy();
        expect(gpu.memoryReport().totalBytes - gpu.memoryReport().pooledFreeBytes).toBe(0);
      }
    });
  }
});

/** Recompute-per-layer, accumulation across calls and a chunked LM head, on one model. */
async function modes(
  engine: GpuTrainEngine,
  cpu: TrainEngine,
  model: GpuModel,
  r: () => number,
  V: number,
  chats: TrainSequence[],
  sftGrads: Float32Array[],
  sft: () => LossFn,
): Promise<void> {
  const recompute = GpuTrainEngine.forModel(model, { recompute: true });
  const gotRe = await gradients(recompute, chats, sft());
  expect(gotRe.grads).toEqual(sftGrads);
  recompute.release();

  // Two calls accumulate twice the gradient; takeGradients zeroes.
  await engine.accumulateGradients(chats, 'actor', sft());
  await engine.accumulateGradients(chats, 'actor', sft());
  const twice = adapterTensors({ rank: 4, layers: await engine.takeGradients('actor') }).map((t) => t.data);
  expect(relErr(twice.flatMap((g) => [...g]), sftGrads.flatMap((g) => [...g].map((x) => 2 * x)))).toBeLessThan(1e-6);
  const zero = adapterTensors({ rank: 4, layers: await engine.takeGradients('actor') });
  expect(zero.every((t) => t.data.every((x) => x === 0))).toBe(true);

  // A long SFT batch (130 target rows) with the LM head in chunks of 64 rows.
  const long = [chat(r, V, 33), chat(r, V, 32)];
  const longTokens = long.reduce((n, s) => n + s.mask.reduce((a, b) => a + b, 0), 0);
  const chunked = GpuTrainEngine.forModel(model, { headChunkBytes: 1 });
  const gotChunked = await gradients(chunked, long, sftLossFn({ stepTokens: longTokens }));
  const wantLong = await gradients(cpu, long, sftLossFn({ stepTokens: longTokens }));
  const chunkErr = Math.max(...gotChunked.grads.map((g, i) => relErr(g, wantLong.grads[i])));
  expect(chunkErr).toBeLessThan(1e-4);
  chunked.release();

  results.push(`recompute per layer: identical gradients; head in chunks of 64 rows: ${chunkErr.toExponential(2)}`);
}
