import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { command as tinyCommand, tinyModelOptions } from '../../../src/cli/tiny-model';
import { readHfConfig } from '../../../src/engine/load/hf';
import { directorySource } from '../../../src/engine/load/node-files';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function writeTiny(...args: string[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'spar-tiny-layout-'));
  dirs.push(dir);
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  expect(await tinyCommand.run(['--out', dir, '--format', 'hf', ...args])).toBe(0);
  log.mockRestore();
  return dir;
}

describe('tiny-model --layout', () => {
  it('parses v4 / v5 for HF folders and refuses anything else', () => {
    expect(tinyModelOptions(['--out', 'x', '--layout', 'v5']).opts).toMatchObject({ format: 'hf', layout: 'v5' });
    expect(tinyModelOptions(['--out', 'x']).opts).toMatchObject({ format: 'hf', layout: undefined });
    expect(() => tinyModelOptions(['--out', 'x', '--layout', 'v6'])).toThrow(/--layout must be v4 or v5 .*got "v6"/);
    expect(() => tinyModelOptions(['--out', 'x', '--format', 'mlc', '--layout', 'v5'])).toThrow(/--layout applies to --format hf/);
  });

  it('writes the folder as transformers v5 saves it, which reads back to the v4 folder’s config', async () => {
    const v5 = await writeTiny('--arch', 'qwen2', '--layout', 'v5', '--dtype', 'bf16');
    const v4 = await writeTiny('--arch', 'qwen2', '--dtype', 'bf16');
    expect((await readdir(v5)).sort()).toEqual(['chat_template.jinja', 'config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    expect((await readdir(v4)).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer.json', 'tokenizer_config.json']);
    const config = JSON.parse(await readFile(join(v5, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ dtype: 'bfloat16', rope_parameters: { rope_theta: 1000000, rope_type: 'default' }, layer_types: ['full_attention', 'full_attention'] });
    expect(await readHfConfig(directorySource(v5))).toEqual(await readHfConfig(directorySource(v4)));
  });
});
