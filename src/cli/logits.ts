/**
 * `npm run cli -- logits --model <dir> --text <t> [--chat] [--no-special]` prints the CPU
 * reference's logits at every position as JSON: { "tokens": [...], "logits": [[V floats], ...] }.
 * The text is tokenized as is, the way `tokenizer(text)` does in transformers (special tokens
 * such as a BOS added where the tokenizer adds them; --no-special adds none); --chat wraps it as
 * one user message in the chat template, with the generation prompt. Loads HF or MLC folders.
 */
import { parseArgs } from 'node:util';
import type { CliCommand } from './main';
import { LabError } from '../errors';
import { CpuModel } from '../engine/cpu/model';
import type { FileSource } from '../engine/load/files';
import { loadModel } from '../engine/load/model';
import { directorySource } from '../engine/load/node-files';

export interface LogitsResult {
  tokens: number[];
  /** [T][V] */
  logits: number[][];
}

export async function computeLogits(source: FileSource, text: string, opts: { chat?: boolean; addSpecialTokens?: boolean } = {}): Promise<LogitsResult> {
  const { weights, tokenizer } = await loadModel(source);
  const tokens = opts.chat
    ? tokenizer.encodeChat([{ role: 'user', content: text }], { addGenerationPrompt: true })
    : tokenizer.encode(text, { addSpecialTokens: opts.addSpecialTokens ?? true });
  if (tokens.length === 0) throw new LabError('invalid-input', 'logits: the text encodes to no tokens.');
  const model = new CpuModel(weights);
  const { logits } = model.forward(model.newCache(tokens.length), tokens);
  const V = model.config.vocabSize;
  return { tokens, logits: Array.from({ length: tokens.length }, (_, t) => Array.from(logits.subarray(t * V, (t + 1) * V))) };
}

export const command: CliCommand = {
  summary: "print the CPU reference's logits at every position as JSON (--model <dir> --text <t> [--chat])",
  async run(argv, out = process.stdout) {
    const { values } = parseArgs({
      args: argv,
      options: { model: { type: 'string' }, text: { type: 'string' }, chat: { type: 'boolean' }, 'no-special': { type: 'boolean' } },
    });
    if (!values.model || values.text === undefined) throw new LabError('invalid-input', 'logits: --model <dir> and --text <t> are required.');
    const result = await computeLogits(directorySource(values.model), values.text, { chat: values.chat, addSpecialTokens: !values['no-special'] });
    out.write(JSON.stringify(result) + '\n');
    return 0;
  },
};
