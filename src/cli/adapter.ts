/**
 * `npm run cli -- adapter --model <dir> --adapter <dir>` checks a PEFT LoRA adapter folder
 * (adapter_config.json + adapter_model.safetensors) against a model's config, as the lab does on
 * import, and prints what it is as JSON: rank, alpha, rsLoRA, scaling, target modules, the layers
 * it touches and its parameter count. An adapter the lab refuses exits 2 with {"error": …}.
 * The model folder needs only its config (config.json or mlc-chat-config.json).
 */
import { parseArgs } from 'node:util';
import type { CliCommand } from './main';
import { LabError } from '../errors';
import { readModelInfo } from '../engine/load/model';
import { directorySource } from '../engine/load/node-files';
import type { LoraAdapter } from '../engine/model/weights';
import { adapterSettings, PROJ_NAMES } from '../engine/train/lora';
import { importPeft } from '../engine/train/peft';

export interface AdapterReport {
  rank: number;
  alpha: number;
  rslora: boolean;
  /** What B·A is multiplied by: alpha / r, or alpha / √r with rsLoRA. */
  scaling: number;
  /** PEFT module names (q_proj, v_proj, …). */
  targets: string[];
  /** Indices of the layers the adapter changes. */
  layers: number[];
  /** Values in its A and B matrices (PEFT's "trainable params"). */
  parameters: number;
}

export function describeAdapter(a: LoraAdapter): AdapterReport {
  const s = adapterSettings(a);
  const layers = a.layers.flatMap((l, i) => (Object.keys(l).length > 0 ? [i] : []));
  const parameters = a.layers.reduce((n, l) => n + Object.values(l).reduce((m, ab) => m + ab.a.length + ab.b.length, 0), 0);
  return { rank: s.rank, alpha: s.alpha, rslora: s.rslora, scaling: a.scale, targets: s.targets.map((t) => PROJ_NAMES[t].split('.')[1]), layers, parameters };
}

export const command: CliCommand = {
  summary: "check a PEFT LoRA adapter against a model's config and describe it as JSON (--model <dir> --adapter <dir>)",
  async run(argv, out = process.stdout) {
    const { values } = parseArgs({ args: argv, options: { model: { type: 'string' }, adapter: { type: 'string' } } });
    if (!values.model || !values.adapter) throw new LabError('invalid-input', 'adapter: --model <dir> and --adapter <dir> are required.');
    const { config } = await readModelInfo(directorySource(values.model));
    const adapter = await importPeft(directorySource(values.adapter), config, 'adapter');
    out.write(JSON.stringify({ model: values.model, adapter: values.adapter, ...describeAdapter(adapter) }, null, 2) + '\n');
    return 0;
  },
};
