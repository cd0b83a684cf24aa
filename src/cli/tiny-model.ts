/**
 * `npm run cli -- tiny-model --out <dir> --format hf|mlc [--arch llama|qwen2]
 *   [--quant q0f32|q0f16|q4f32_1|q4f16_1] [--dtype f32|f16|bf16] [--layout v4|v5] [--seed N] [--shards N]
 *   [--hidden N] [--layers N] [--heads N] [--kv-heads N] [--intermediate N] [--vocab N] [--tie|--no-tie]`
 * writes a deterministic random test model (see src/engine/tiny/tiny.ts); --layout v5 writes the
 * HF folder as transformers v5 saves it (see src/engine/tiny/hf-layout.ts).
 */
import { parseArgs } from 'node:util';
import type { CliCommand } from './main';
import { LabError } from '../errors';
import { MLC_QUANTIZATIONS, type MlcQuantization } from '../engine/load/mlc';
import { writeFileMap } from '../engine/load/node-files';
import { HF_LAYOUTS, type HfLayout } from '../engine/tiny/hf-layout';
import { tinyModelFiles, type TinyFormatOptions, type TinyModelOptions } from '../engine/tiny/tiny';

export function tinyModelOptions(argv: string[]): { out: string; opts: TinyFormatOptions } {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      format: { type: 'string', default: 'hf' },
      arch: { type: 'string', default: 'llama' },
      quant: { type: 'string', default: 'q4f16_1' },
      dtype: { type: 'string', default: 'f32' },
      layout: { type: 'string' },
      seed: { type: 'string', default: '1' },
      shards: { type: 'string' },
      hidden: { type: 'string' },
      layers: { type: 'string' },
      heads: { type: 'string' },
      'kv-heads': { type: 'string' },
      intermediate: { type: 'string' },
      vocab: { type: 'string' },
      tie: { type: 'boolean' },
      'no-tie': { type: 'boolean' },
    },
  });
  const fail = (msg: string): never => {
    throw new LabError('invalid-input', msg);
  };
  if (!values.out) fail('tiny-model: --out <dir> is required.');
  const int = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    return Number.isInteger(n) && n >= 0 ? n : fail(`tiny-model: --${name} must be a whole number, got "${v}".`);
  };
  if (values.arch !== 'llama' && values.arch !== 'qwen2') fail(`tiny-model: --arch must be llama or qwen2, got "${values.arch}".`);
  const model: TinyModelOptions = {
    arch: values.arch as 'llama' | 'qwen2',
    seed: int('seed', values.seed),
    hiddenSize: int('hidden', values.hidden),
    numLayers: int('layers', values.layers),
    numHeads: int('heads', values.heads),
    numKvHeads: int('kv-heads', values['kv-heads']),
    intermediateSize: int('intermediate', values.intermediate),
    vocabSize: int('vocab', values.vocab),
    tieWordEmbeddings: values.tie ? true : values['no-tie'] ? false : undefined,
  };
  let opts: TinyFormatOptions;
  if (values.format === 'hf') {
    if (!['f32', 'f16', 'bf16'].includes(values.dtype!)) fail(`tiny-model: --dtype must be f32, f16 or bf16, got "${values.dtype}".`);
    if (values.layout !== undefined && !(HF_LAYOUTS as readonly string[]).includes(values.layout)) fail(`tiny-model: --layout must be ${HF_LAYOUTS.join(' or ')} (the transformers version whose files to write), got "${values.layout}".`);
    opts = { format: 'hf', ...model, dtype: values.dtype as 'f32' | 'f16' | 'bf16', shards: int('shards', values.shards), layout: values.layout as HfLayout | undefined };
  } else if (values.format === 'mlc') {
    if (values.layout !== undefined) fail('tiny-model: --layout applies to --format hf (an MLC build has one layout).');
    if (!(MLC_QUANTIZATIONS as readonly string[]).includes(values.quant!)) fail(`tiny-model: --quant must be one of ${MLC_QUANTIZATIONS.join(', ')}, got "${values.quant}".`);
    opts = { format: 'mlc', ...model, quantization: values.quant as MlcQuantization };
  } else {
    return fail(`tiny-model: --format must be hf or mlc, got "${values.format}".`);
  }
  return { out: values.out!, opts };
}

export const command: CliCommand = {
  summary: 'write a deterministic random tiny model (--out <dir> --format hf|mlc [--arch llama|qwen2] [--quant …] [--layout v4|v5] [--seed N])',
  async run(argv) {
    const { out, opts } = tinyModelOptions(argv);
    const files = tinyModelFiles(opts);
    await writeFileMap(out, files);
    const bytes = Object.values(files).reduce((a, f) => a + f.byteLength, 0);
    console.log(`Wrote ${Object.keys(files).length} files (${(bytes / 1024).toFixed(1)} KiB) to ${out}`);
    return 0;
  },
};
