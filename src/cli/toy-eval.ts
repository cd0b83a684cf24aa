/**
 * `npm run cli -- toy-eval --model <dir> [--count N] [--seed S]` scores a model in the toy
 * world's three roles on held-out toy instructions (src/toy/quality.ts) with the CPU reference:
 * the actor's constraints followed, the judge's verdict accuracy, refinements that pass.
 */
import { parseArgs } from 'node:util';
import type { CliCommand } from './main';
import { LabError } from '../errors';
import { CpuBackend } from '../backends/cpu';
import { CpuModel } from '../engine/cpu/model';
import { loadModel } from '../engine/load/model';
import { directorySource } from '../engine/load/node-files';
import { loadLanguageProfiles } from '../eval/langdetect';
import { measureToyQuality, qualityRates } from '../toy/quality';
import { toyInstructions } from '../toy/world';

export const command: CliCommand = {
  summary: "score a model's actor, judge and refiner on held-out toy instructions (--model <dir> [--count N])",
  async run(argv, out = process.stdout) {
    const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, count: { type: 'string', default: '30' }, seed: { type: 'string', default: '0' } } });
    if (!values.model) throw new LabError('invalid-input', 'toy-eval: --model <dir> is required.');
    const count = Number(values.count);
    const seed = Number(values.seed);
    if (!Number.isInteger(count) || count < 1 || !Number.isInteger(seed)) throw new LabError('invalid-input', 'toy-eval: --count and --seed must be whole numbers.');
    await loadLanguageProfiles();
    const { weights, tokenizer } = await loadModel(directorySource(values.model));
    const backend = new CpuBackend(new CpuModel(weights), tokenizer);
    const started = Date.now();
    const q = await measureToyQuality(backend, toyInstructions({ count, seed, split: 'heldout' }), { seed });
    out.write(`${JSON.stringify({ ...q, rates: qualityRates(q), seconds: Math.round((Date.now() - started) / 1000) })}\n`);
    return 0;
  },
};
