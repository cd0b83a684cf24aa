/**
 * `generate --gpu` in Node on Dawn: the same tokens as the CPU reference (greedy and seeded
 * sampling, the samples decoded as one batch on the GPU); and where Vulkan offers no adapter, a
 * LabError that says which driver file to point VK_ICD_FILENAMES at.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import type { GenerateResult } from '../../src/cli/generate';
import { tinyMlcFiles } from '../../src/engine/tiny/tiny';
import { swiftshaderDriverFile } from '../../src/node/vulkan';
import { cli, removeTempDirs, tempDir, type CliError } from '../helpers/cli';

afterAll(removeTempDirs);

describe('generate --gpu (Dawn)', () => {
  it('draws the CPU reference\'s tokens, greedy and sampled, and says which adapter ran them', async () => {
    const dir = await tempDir(tinyMlcFiles({ arch: 'qwen2', quantization: 'q4f16_1', seed: 4 }));
    for (const sampling of [['--temperature', '0'], ['--temperature', '0.9', '--top-p', '0.95', '--seed', '3']]) {
      const args = ['generate', '--model', dir, '--prompt', 'Hello there', '--n', '4', '--max-tokens', '8', ...sampling, '--json'];
      const cpu = (await cli(...args)).json<GenerateResult>();
      const gpuRun = await cli(...args, '--gpu');
      expect(gpuRun.code).toBe(0);
      const gpu = gpuRun.json<GenerateResult>();
      expect(gpu.engine).toBe('gpu');
      expect(gpu.adapter).toBeTruthy();
      expect(gpu.samples).toEqual(cpu.samples);
      expect(gpu.tokensPerS).toBeGreaterThan(0);
    }
  });

  it('names the driver file to point VK_ICD_FILENAMES at when Vulkan offers no adapter', async () => {
    const dir = await tempDir(tinyMlcFiles());
    const r = spawnSync('npx', ['tsx', 'src/cli/main.ts', 'generate', '--model', dir, '--prompt', 'x', '--gpu'], {
      encoding: 'utf8',
      env: { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json', VK_DRIVER_FILES: '/nonexistent/icd.json' },
    });
    expect(r.status).toBe(1);
    const { error } = JSON.parse(r.stdout) as CliError;
    expect(error.kind).toBe('no-webgpu');
    expect(error.message).toContain('Dawn found no Vulkan adapter');
    expect(error.message).toContain('/nonexistent/icd.json');
    expect(error.message).toContain('Point VK_ICD_FILENAMES at');
    const swiftshader = swiftshaderDriverFile();
    if (swiftshader) expect(error.message).toContain(swiftshader);
  });
});
