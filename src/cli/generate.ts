/**
 * `npm run cli -- generate --model <dir> --prompt <text> [--gpu] [--n N] [--max-tokens N]
 *   [--temperature T] [--top-p P] [--seed S] [--raw] [--json]` samples N continuations of one
 * prompt and prints them with the tokens/s. --gpu runs the lab's WebGPU engine in Node on Dawn
 * (a real GPU when Vulkan offers one, else SwiftShader), the N samples decoded as one batch;
 * without it the CPU reference runs them one after another. Temperature 0 (the default) is
 * greedy; sample i draws with seed + i, the same tokens on either engine. The prompt goes through
 * the chat template as one user message when the tokenizer has one (--raw: as is). HF or MLC
 * folders. --json prints { engine, adapter, promptTokens, samples, seconds, tokensPerS,
 * decodeTokensPerS } instead of text.
 */
import { parseArgs } from 'node:util';
import type { CliCommand } from './main';
import { LabError } from '../errors';
import { CpuModel, type GeneratedSequence } from '../engine/cpu/model';
import type { ModelWeights } from '../engine/model/weights';
import { loadModel } from '../engine/load/model';
import { directorySource } from '../engine/load/node-files';

export interface GenerateResult {
  engine: 'gpu' | 'cpu';
  /** The GPU adapter's description (gpu only). */
  adapter: string | null;
  promptTokens: number;
  samples: { text: string; tokens: number[]; finishReason: 'stop' | 'length' }[];
  /** From the call to the last token (prefill included). */
  seconds: number;
  /** Generated tokens / seconds. */
  tokensPerS: number;
  /** Tokens after each sample's first / time from the first token to the last: the decode steps alone. */
  decodeTokensPerS: number;
}

interface Settings {
  n: number;
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: number;
}

/** onToken's clock: when the first and the last token of any sample came. */
class TokenClock {
  readonly start = performance.now();
  first = 0;
  last = 0;
  tick = (): void => {
    this.last = performance.now();
    this.first ||= this.last;
  };
}

/** Generation on the lab's WebGPU engine in Node (Dawn); loaded only with --gpu. */
async function onGpu(weights: ModelWeights, prompt: number[], stop: number[], s: Settings, clock: TokenClock): Promise<{ out: GeneratedSequence[]; start: number; adapter: string }> {
  const { useDawn } = await import('../node/dawn');
  const { Gpu } = await import('../engine/gpu/device');
  const { GpuModel } = await import('../engine/model/gpu-model');
  const { generate } = await import('../engine/model/generate');
  await useDawn();
  const gpu = await Gpu.acquire();
  try {
    const model = await GpuModel.load(gpu, weights, { contextLength: prompt.length + s.maxTokens + 1, maxRows: Math.max(s.n, 1) });
    const start = performance.now();
    const [out] = await generate(model, [{ prompt, n: s.n, temperature: s.temperature, topP: s.topP, maxTokens: s.maxTokens, seed: s.seed, stopTokens: stop, onToken: clock.tick }]);
    return { out, start, adapter: gpu.adapterInfo.description || `${gpu.adapterInfo.vendor} ${gpu.adapterInfo.architecture}` };
  } finally {
    gpu.destroy();
  }
}

export const command: CliCommand = {
  summary: 'sample N continuations of a prompt, on the GPU in Node (--gpu, Dawn) or the CPU reference, with tokens/s (--model <dir> --prompt <t>)',
  async run(argv, out = process.stdout) {
    const { values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string' },
        prompt: { type: 'string' },
        gpu: { type: 'boolean' },
        n: { type: 'string', default: '1' },
        'max-tokens': { type: 'string', default: '64' },
        temperature: { type: 'string', default: '0' },
        'top-p': { type: 'string', default: '1' },
        seed: { type: 'string', default: '0' },
        raw: { type: 'boolean' },
        json: { type: 'boolean' },
      },
    });
    if (!values.model || values.prompt === undefined) throw new LabError('invalid-input', 'generate: --model <dir> and --prompt <text> are required.');
    const number = (name: string, v: string, ok: (x: number) => boolean, what: string) => {
      const x = Number(v);
      if (!ok(x)) throw new LabError('invalid-input', `generate: --${name} must be ${what}, got "${v}".`);
      return x;
    };
    const settings: Settings = {
      n: number('n', values.n, (x) => Number.isInteger(x) && x >= 1, 'a whole number ≥ 1'),
      maxTokens: number('max-tokens', values['max-tokens'], (x) => Number.isInteger(x) && x >= 1, 'a whole number ≥ 1'),
      temperature: number('temperature', values.temperature, (x) => x >= 0, 'a number ≥ 0'),
      topP: number('top-p', values['top-p'], (x) => x > 0 && x <= 1, 'in (0, 1]'),
      seed: number('seed', values.seed, (x) => Number.isInteger(x) && x >= 0, 'a whole number ≥ 0'),
    };
    const { weights, tokenizer } = await loadModel(directorySource(values.model));
    const useTemplate = !values.raw && tokenizer.chatTemplate !== null;
    const prompt = useTemplate ? tokenizer.encodeChat([{ role: 'user', content: values.prompt }], { addGenerationPrompt: true }) : tokenizer.encode(values.prompt, { addSpecialTokens: true });
    if (prompt.length === 0) throw new LabError('invalid-input', 'generate: the prompt encodes to no tokens.');
    const stop = [...new Set([...weights.config.eosTokenIds, ...tokenizer.eosTokenIds])];

    const clock = new TokenClock();
    let sequences: GeneratedSequence[];
    let adapter: string | null = null;
    let start = clock.start;
    if (values.gpu) {
      ({ out: sequences, start, adapter } = await onGpu(weights, prompt, stop, settings, clock));
    } else {
      const model = new CpuModel(weights);
      sequences = model.generate(prompt, { ...settings, stopTokens: stop, onToken: clock.tick });
    }
    const tokens = sequences.reduce((a, s) => a + s.tokens.length, 0);
    const seconds = (clock.last - start) / 1000;
    const result: GenerateResult = {
      engine: values.gpu ? 'gpu' : 'cpu',
      adapter,
      promptTokens: prompt.length,
      samples: sequences.map((s) => ({ text: tokenizer.decode(s.tokens), tokens: s.tokens, finishReason: s.finishReason })),
      seconds,
      tokensPerS: tokens / seconds,
      decodeTokensPerS: (tokens - sequences.length) / ((clock.last - clock.first) / 1000),
    };
    if (values.json) {
      out.write(JSON.stringify(result) + '\n');
      return 0;
    }
    result.samples.forEach((s, i) => out.write(`── sample ${i} (${s.tokens.length} tokens, ${s.finishReason}) ──\n${s.text}\n`));
    const where = values.gpu ? `GPU (${adapter}), ${settings.n} sample${settings.n === 1 ? '' : 's'} batched` : 'CPU reference';
    out.write(
      `\n${tokens} tokens in ${seconds.toFixed(2)} s: ${result.tokensPerS.toFixed(1)} tokens/s (decode steps alone ${result.decodeTokensPerS.toFixed(1)} tokens/s; ` +
        `${prompt.length}-token prompt; ${settings.temperature === 0 ? 'greedy' : `temperature ${settings.temperature}, top-p ${settings.topP}, seed ${settings.seed}`}) on ${where}\n`,
    );
    return 0;
  },
};
