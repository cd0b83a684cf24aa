/**
 * The generate command on the CPU reference: the samples are CpuModel.generate's (greedy and
 * seeded sampling), decoded, with the tokens/s; bad options are refused with the option named.
 * The GPU path (--gpu, Dawn) is compared with this one in test/node-gpu/generate.test.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { GenerateResult } from '../../../src/cli/generate';
import { CpuModel } from '../../../src/engine/cpu/model';
import { memorySource } from '../../../src/engine/load/files';
import { loadModel } from '../../../src/engine/load/model';
import { tinyHfFiles } from '../../../src/engine/tiny/tiny';
import { cli, removeTempDirs, tempDir, type CliError } from '../../helpers/cli';

afterAll(removeTempDirs);

describe('generate command (CPU reference)', () => {
  it('prints the samples CpuModel.generate draws from the chat-templated prompt, and the tokens/s', async () => {
    const files = tinyHfFiles({ arch: 'qwen2', seed: 3 });
    const dir = await tempDir(files);
    const run = await cli('generate', '--model', dir, '--prompt', 'Hello there', '--n', '3', '--max-tokens', '6', '--temperature', '0.8', '--top-p', '0.9', '--seed', '5', '--json');
    expect(run.code).toBe(0);
    const got = run.json<GenerateResult>();

    const { weights, tokenizer } = await loadModel(memorySource(files));
    const prompt = tokenizer.encodeChat([{ role: 'user', content: 'Hello there' }], { addGenerationPrompt: true });
    const stop = [...new Set([...weights.config.eosTokenIds, ...tokenizer.eosTokenIds])];
    const want = new CpuModel(weights).generate(prompt, { n: 3, maxTokens: 6, temperature: 0.8, topP: 0.9, seed: 5, stopTokens: stop });
    expect(got.engine).toBe('cpu');
    expect(got.promptTokens).toBe(prompt.length);
    expect(got.samples).toEqual(want.map((s) => ({ tokens: s.tokens, finishReason: s.finishReason, text: tokenizer.decode(s.tokens) })));
    expect(got.tokensPerS).toBeGreaterThan(0);

    const text = await cli('generate', '--model', dir, '--prompt', 'Hello there', '--raw', '--max-tokens', '4');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/── sample 0 \(\d+ tokens, (stop|length)\) ──/);
    expect(text.stdout).toMatch(/tokens\/s .*greedy\) on CPU reference/);
  });

  it('refuses missing or malformed options, naming them', async () => {
    const dir = await tempDir(tinyHfFiles());
    for (const [args, message] of [
      [['--prompt', 'x'], /--model <dir> and --prompt <text> are required/],
      [['--model', dir, '--prompt', 'x', '--n', '0'], /--n must be a whole number ≥ 1, got "0"/],
      [['--model', dir, '--prompt', 'x', '--top-p', '1.5'], /--top-p must be in \(0, 1\]/],
      [['--model', dir, '--prompt', 'x', '--temperature=-1'], /--temperature must be a number ≥ 0/],
    ] as const) {
      const run = await cli('generate', ...args);
      expect(run.code).toBe(2);
      expect(run.json<CliError>().error.message).toMatch(message);
    }
  });
});
