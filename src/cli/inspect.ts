/**
 * `npm run cli -- inspect --model <dir> [--context N] [--batch N] [--no-shader-f16]` prints, as
 * JSON, what a model folder is (see src/engine/load/inspect.ts): format, architecture,
 * quantization, config, parameter count, stored weight bytes, the GPU memory the lab would need
 * under the stated assumptions, missing or unusable files, and whether the tokenizer loads.
 * Needs only the small files; a folder the lab cannot use exits 2 with {"error": …}.
 */
import { parseArgs } from 'node:util';
import type { CliCommand } from './main';
import { LabError } from '../errors';
import { INSPECT_BATCH, INSPECT_CONTEXT_TOKENS, INSPECT_LIMITS, inspectModel } from '../engine/load/inspect';
import { directorySource } from '../engine/load/node-files';

/** A whole number ≥ 1 from an option, or its default. */
function positiveInt(command: string, name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new LabError('invalid-input', `${command}: --${name} must be a whole number ≥ 1, got "${v}".`);
  return n;
}

export const command: CliCommand = {
  summary: 'describe a model folder as JSON: format, config, parameters, stored bytes, GPU memory, missing files (--model <dir>)',
  async run(argv, out = process.stdout) {
    const { values } = parseArgs({
      args: argv,
      options: { model: { type: 'string' }, context: { type: 'string' }, batch: { type: 'string' }, 'no-shader-f16': { type: 'boolean' } },
    });
    if (!values.model) throw new LabError('invalid-input', 'inspect: --model <dir> is required.');
    const report = await inspectModel(directorySource(values.model), {
      limits: { ...INSPECT_LIMITS, shaderF16: !values['no-shader-f16'] },
      contextTokens: positiveInt('inspect', 'context', values.context, INSPECT_CONTEXT_TOKENS),
      batch: positiveInt('inspect', 'batch', values.batch, INSPECT_BATCH),
    });
    out.write(JSON.stringify({ model: values.model, ...report }, null, 2) + '\n');
    return 0;
  },
};
