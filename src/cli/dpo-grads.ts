/**
 * `npm run cli -- dpo-grads --model <dir> --pairs <jsonl> --out <file.safetensors>
 *   [--rank 8] [--alpha 16] [--rslora] [--targets q,v] [--beta 0.1] [--ftx 0.1] [--seed 0]
 *   [--adapter-out <dir>]`
 * computes the DPO loss over the pairs (mean over pairs, reference = the base with the adapter
 * off) and its gradients with respect to a seeded LoRA adapter, with the CPU reference, and
 * writes:
 *   --out          the gradients under PEFT's tensor names (…q_proj.lora_A.weight = dL/dA), F32,
 *                  with the loss and settings in the safetensors metadata;
 *   --adapter-out  the adapter itself as a PEFT folder (default: <out without .safetensors>-adapter),
 *                  so another implementation (PEFT + TRL / LLaMA-Factory) can load the same weights
 *                  and compare its gradients.
 * The adapter's B is drawn non-zero (createAdapter init 'random'), so every gradient is
 * exercised. Pairs: TRL conversational or standard JSONL, or the SPaR / LLaMA-Factory layout.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import type { CliCommand } from './main';
import { LabError } from '../errors';
import { CpuModel } from '../engine/cpu/model';
import { CpuTrainEngine } from '../engine/cpu/train-engine';
import type { FileSource } from '../engine/load/files';
import { loadModel } from '../engine/load/model';
import { directorySource, writeFileMap } from '../engine/load/node-files';
import { writeSafetensors, type SafetensorsInput } from '../engine/load/safetensors';
import type { LoraAdapter } from '../engine/model/weights';
import { encodePair, parsePairsJsonl, type LineError } from '../engine/train/data';
import type { Floats } from '../engine/train/engine';
import { adapterTensors, createAdapter, DEFAULT_LORA, parseTargets, type LoraSettings } from '../engine/train/lora';
import { dpoLossFn, emptyDpoStats } from '../engine/train/losses';
import { exportPeft } from '../engine/train/peft';

export interface DpoGradsOptions {
  lora?: Partial<LoraSettings>;
  beta?: number;
  ftx?: number;
  seed?: number;
}

export interface DpoGradsResult {
  loss: number;
  pairs: number;
  /** Lines of the pairs file that were skipped, with why. */
  skipped: LineError[];
  rewardAccuracy: number;
  rewardMargin: number;
  adapter: LoraAdapter;
  /** Gradient of the mean loss, tensor by tensor in adapterTensors order, keyed like PEFT. */
  gradients: { key: string; shape: [number, number]; data: Float32Array }[];
  settings: { beta: number; ftx: number; seed: number } & LoraSettings;
}

export async function computeDpoGrads(source: FileSource, pairsJsonl: string, opts: DpoGradsOptions = {}): Promise<DpoGradsResult> {
  const beta = opts.beta ?? 0.1;
  const ftx = opts.ftx ?? 0.1;
  const seed = opts.seed ?? 0;
  const { records, errors } = parsePairsJsonl(pairsJsonl);
  if (records.length === 0) {
    throw new LabError('invalid-input', `dpo-grads: no usable pair in the file${errors.length ? ` (line ${errors[0].line}: ${errors[0].message})` : ''}.`);
  }
  const { weights, tokenizer } = await loadModel(source);
  const adapter = createAdapter('dpo-grads', weights.config, opts.lora ?? {}, { seed, init: 'random' });
  const engine = new CpuTrainEngine(new CpuModel(weights));
  await engine.setAdapter(adapter);
  const pairs = records.map((p) => encodePair(tokenizer, p));
  const seqs = pairs.flatMap((p) => [p.chosen, p.rejected]);
  const sum = (a: Floats) => Array.from(a).reduce((x, y) => x + y, 0);
  const refLps = await engine.logprobs(seqs, null);
  const ref = pairs.map((_, i) => [sum(refLps[2 * i]), sum(refLps[2 * i + 1])] as const);
  const stats = emptyDpoStats();
  const loss = await engine.accumulateGradients(seqs, adapter.name, dpoLossFn({ beta, ftx, ref, weight: 1 / pairs.length, stats }));
  const grads = adapterTensors({ rank: adapter.rank, layers: await engine.takeGradients(adapter.name) });
  return {
    loss,
    pairs: pairs.length,
    skipped: errors,
    rewardAccuracy: stats.correct / stats.pairs,
    rewardMargin: (stats.chosenReward - stats.rejectedReward) / stats.pairs,
    adapter,
    gradients: grads.map((g) => ({ key: g.key, shape: g.shape, data: g.data })),
    settings: { beta, ftx, seed, rank: adapter.rank, alpha: adapter.alpha, rslora: opts.lora?.rslora ?? false, targets: adapter.targets },
  };
}

/** The gradients file: PEFT names, F32, loss and settings in the metadata. */
export function gradientsSafetensors(r: DpoGradsResult): Uint8Array {
  const tensors: Record<string, SafetensorsInput> = {};
  for (const g of r.gradients) tensors[g.key] = { dtype: 'F32', shape: g.shape, data: g.data };
  return writeSafetensors(tensors, {
    format: 'pt',
    content: 'gradients of the mean DPO loss with respect to the LoRA weights of the adapter written alongside',
    loss: String(r.loss),
    pairs: String(r.pairs),
    beta: String(r.settings.beta),
    pref_ftx: String(r.settings.ftx),
    reference: 'base model, adapter disabled',
    response_tokens: 'the assistant turn as the chat template writes it, end of turn included',
    r: String(r.settings.rank),
    lora_alpha: String(r.settings.alpha),
    use_rslora: String(r.settings.rslora),
    scale: String(r.adapter.scale),
    target_modules: r.settings.targets.join(','),
    seed: String(r.settings.seed),
    reward_accuracy: String(r.rewardAccuracy),
    reward_margin: String(r.rewardMargin),
  });
}

export const command: CliCommand = {
  summary: 'DPO loss and LoRA gradients of a pairs file with the CPU reference, as safetensors (--model <dir> --pairs <jsonl> --out <file>)',
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        pairs: { type: 'string' },
        out: { type: 'string' },
        'adapter-out': { type: 'string' },
        rank: { type: 'string' },
        alpha: { type: 'string' },
        rslora: { type: 'boolean' },
        targets: { type: 'string' },
        beta: { type: 'string' },
        ftx: { type: 'string' },
        seed: { type: 'string' },
      },
    });
    if (!values.model || !values.pairs || !values.out) throw new LabError('invalid-input', 'dpo-grads: --model <dir>, --pairs <jsonl> and --out <file.safetensors> are required.');
    const num = (name: string, v: string | undefined, fallback: number) => {
      if (v === undefined) return fallback;
      const n = Number(v);
      if (!Number.isFinite(n)) throw new LabError('invalid-input', `dpo-grads: --${name} must be a number, got "${v}".`);
      return n;
    };
    const pairsText = await readFile(values.pairs, 'utf8').catch(() => {
      throw new LabError('not-found', `dpo-grads: cannot read the pairs file ${values.pairs}.`);
    });
    const result = await computeDpoGrads(directorySource(values.model), pairsText, {
      lora: {
        rank: num('rank', values.rank, DEFAULT_LORA.rank),
        alpha: num('alpha', values.alpha, DEFAULT_LORA.alpha),
        rslora: values.rslora ?? false,
        targets: values.targets ? parseTargets(values.targets) : DEFAULT_LORA.targets,
      },
      beta: num('beta', values.beta, 0.1),
      ftx: num('ftx', values.ftx, 0.1),
      seed: num('seed', values.seed, 0),
    });
    for (const e of result.skipped) console.error(`${values.pairs}:${e.line}: skipped (${e.message})`);
    await mkdir(dirname(values.out), { recursive: true });
    await writeFile(values.out, gradientsSafetensors(result));
    const adapterDir = values['adapter-out'] ?? values.out.replace(/\.safetensors$/, '') + '-adapter';
    await writeFileMap(adapterDir, exportPeft(result.adapter));
    console.error(`dpo-grads: ${result.pairs} pairs, loss ${result.loss}; gradients → ${values.out}, adapter → ${adapterDir}`);
    return 0;
  },
};
