import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { computeLogits, command as logitsCommand } from '../../../src/cli/logits';
import { command as tinyCommand, tinyModelOptions } from '../../../src/cli/tiny-model';
import { CpuModel } from '../../../src/engine/cpu/model';
import { memorySource } from '../../../src/engine/load/files';
import { loadModel } from '../../../src/engine/load/model';
import { directorySource } from '../../../src/engine/load/node-files';
import { tinyMlcFiles } from '../../../src/engine/tiny/tiny';

const dirs: string[] = [];
const tmp = async () => {
  const d = await mkdtemp(join(tmpdir(), 'spar-tiny-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('tiny-model command', () => {
  it('parses its options and refuses bad ones with a message', () => {
    expect(tinyModelOptions(['--out', 'x', '--format', 'mlc', '--arch', 'qwen2', '--quant', 'q0f16', '--seed', '4', '--vocab', '300'])).toEqual({
      out: 'x',
      opts: expect.objectContaining({ format: 'mlc', arch: 'qwen2', quantization: 'q0f16', seed: 4, vocabSize: 300 }),
    });
    expect(tinyModelOptions(['--out', 'x', '--dtype', 'bf16', '--shards', '2', '--no-tie']).opts).toMatchObject({ format: 'hf', dtype: 'bf16', shards: 2, tieWordEmbeddings: false });
    expect(() => tinyModelOptions(['--format', 'hf'])).toThrow(/--out <dir> is required/);
    expect(() => tinyModelOptions(['--out', 'x', '--format', 'gguf'])).toThrow(/--format must be hf or mlc/);
    expect(() => tinyModelOptions(['--out', 'x', '--format', 'mlc', '--quant', 'q4f16_0'])).toThrow(/--quant must be one of q0f32, q0f16, q4f32_1, q4f16_1/);
    expect(() => tinyModelOptions(['--out', 'x', '--seed', 'abc'])).toThrow(/--seed must be a whole number/);
  });

  it('writes a model folder the loaders read back; logits prints every position', async () => {
    const dir = await tmp();
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    expect(await tinyCommand.run(['--out', dir, '--format', 'mlc', '--arch', 'llama', '--quant', 'q4f16_1', '--seed', '5'])).toBe(0);
    log.mockRestore();
    expect((await readdir(dir)).sort()).toEqual(Object.keys(tinyMlcFiles({ seed: 5 })).sort());
    const fromDisk = await loadModel(directorySource(dir));
    expect(fromDisk.quantization).toBe('q4f16_1');

    const result = await computeLogits(directorySource(dir), 'The sea is blue.');
    const m = new CpuModel((await loadModel(memorySource(tinyMlcFiles({ seed: 5 })))).weights);
    expect(result.tokens).toEqual(fromDisk.tokenizer.encode('The sea is blue.', { addSpecialTokens: true }));
    const V = m.config.vocabSize;
    const logits = m.forward(m.newCache(), result.tokens).logits;
    expect(result.logits).toHaveLength(result.tokens.length);
    result.logits.forEach((row, t) => expect(row).toEqual(Array.from(logits.subarray(t * V, (t + 1) * V))));
    const chat = await computeLogits(directorySource(dir), 'hi', { chat: true });
    expect(chat.tokens).toEqual(fromDisk.tokenizer.encodeChat([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true }));

    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    expect(await logitsCommand.run(['--model', dir, '--text', 'sea'])).toBe(0);
    const printed = JSON.parse(String(out.mock.calls[0][0]));
    out.mockRestore();
    expect(printed.tokens).toEqual(fromDisk.tokenizer.encode('sea', { addSpecialTokens: true }));
    expect(printed.logits[0]).toHaveLength(V);
    await expect(logitsCommand.run(['--model', dir])).rejects.toThrow(/--text <t> are required/);
  });
});
