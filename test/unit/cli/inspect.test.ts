import { rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { INSPECT_LIMITS, inspectModel, parameterCount, type ModelInspection } from '../../../src/engine/load/inspect';
import { directorySource } from '../../../src/engine/load/node-files';
import { memorySource } from '../../../src/engine/load/files';
import { parseHfConfig } from '../../../src/engine/model/config';
import { numel } from '../../../src/engine/model/dtypes';
import { tinyConfigJson, tinyHfFiles, tinyMlcFiles, tinyTensors, type TinyModelOptions } from '../../../src/engine/tiny/tiny';
import { cli, removeTempDirs, tempDir, type CliError } from '../../helpers/cli';

afterAll(removeTempDirs);

type Printed = ModelInspection & { model: string };
const shardNames = (files: Record<string, Uint8Array>) => Object.keys(files).filter((f) => f.startsWith('params_shard_'));
const json = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));

describe('parameterCount', () => {
  it('counts every tensor of the checkpoint the config describes (a tied lm_head once)', () => {
    for (const opts of [{ arch: 'llama' }, { arch: 'qwen2' }, { arch: 'llama', tieWordEmbeddings: true }, { arch: 'qwen2', tieWordEmbeddings: false }] as TinyModelOptions[]) {
      const expected = [...tinyTensors(opts).values()].reduce((a, t) => a + numel(t.shape), 0);
      expect(parameterCount(parseHfConfig(tinyConfigJson(opts)))).toBe(expected);
    }
  });
});

describe('inspect', () => {
  it('describes an MLC build: stored bytes are the shards as written, parameters those of the source checkpoint', async () => {
    const opts = { arch: 'qwen2', seed: 3 } as const;
    const files = tinyMlcFiles({ ...opts, quantization: 'q4f16_1' });
    const dir = await tempDir(files);
    const run = await cli('inspect', '--model', dir);
    expect(run.code).toBe(0);
    const r = run.json<Printed>();
    const shards = shardNames(files);
    let shardBytes = 0;
    for (const s of shards) shardBytes += (await stat(join(dir, s))).size;
    expect(r).toMatchObject({ model: dir, format: 'mlc', architecture: 'qwen2', quantization: 'q4f16_1' });
    expect(r.config).toMatchObject({ numLayers: 2, hiddenSize: 64, numHeads: 4, numKvHeads: 2, vocabSize: 331, tieWordEmbeddings: true, ropeTheta: 1000000 });
    expect(r.weights).toMatchObject({ storedBytes: shardBytes, estimated: false, from: 'tensor-cache.json', dtypes: ['float16', 'uint32'] });
    expect(r.parameters).toBe([...tinyTensors(opts).values()].reduce((a, t) => a + numel(t.shape), 0));
    expect(r.files).toEqual({ missing: [], unusable: [] });
    expect(r.tokenizer).toMatchObject({ loads: true, chatTemplate: true });
    expect(r.gpu.assumptions).toEqual({ ...INSPECT_LIMITS, contextTokens: 512, batch: 16 }); // 2048 capped at the model's 512
    expect(r.gpu.verdict).toBe('fits');
    // q4 stays packed and f16 matrices stay f16; the f16 vectors (five norms [64], two q|k|v
    // biases [128]) are widened to f32 at upload: 2 more bytes a value.
    expect(r.gpu.weightBytes).toBe(shardBytes + (5 * 64 + 2 * 128) * 2);
    expect(r.gpu.kvCacheBytes).toBe(2 * 2 * 2 * 16 * 512 * 16 * 4); // L · (K,V) · NKV · D · T · batch · f32
  });

  it('works on an MLC folder with the metadata alone, listing the shards it lacks; flags Git LFS pointers and truncated shards', async () => {
    const files = tinyMlcFiles({ quantization: 'q0f16' });
    const shards = shardNames(files);
    const full = await inspectModel(memorySource(files));
    const dir = await tempDir(files);
    for (const s of shards) await rm(join(dir, s));
    await writeFile(join(dir, shards[0]), 'version https://git-lfs.github.com/spec/v1\noid sha256:9c83111def0c7ecab2de7a52127af868df8b71f730352896dea5d5e6323965e6\nsize 116686848\n');
    await writeFile(join(dir, shards[1]), files[shards[1]].subarray(0, 100));
    const r = (await cli('inspect', '--model', dir)).json<Printed>();
    expect(r.weights.storedBytes).toBe(full.weights.storedBytes);
    expect(r.parameters).toBe(full.parameters);
    expect(r.files.missing).toEqual(shards.slice(2));
    expect(r.files.unusable).toEqual([
      { path: shards[0], reason: expect.stringMatching(/Git LFS pointer .*git lfs pull/) },
      { path: shards[1], reason: expect.stringContaining(`100 bytes, but the model's tensor cache says ${files[shards[1]].byteLength}`) },
    ]);
  });

  it('describes a Hugging Face checkpoint from its safetensors headers, and without them from config.json', async () => {
    const files = tinyHfFiles({ arch: 'llama', dtype: 'bf16' });
    const dir = await tempDir(files);
    const whole = (await cli('inspect', '--model', dir)).json<Printed>();
    const header = Number(new DataView(files['model.safetensors'].buffer, files['model.safetensors'].byteOffset).getBigUint64(0, true));
    expect(whole).toMatchObject({ format: 'hf', architecture: 'llama', quantization: null, files: { missing: [], unusable: [] } });
    expect(whole.weights).toMatchObject({ storedBytes: files['model.safetensors'].byteLength - 8 - header, estimated: false, from: 'safetensors headers', dtypes: ['BF16'] });

    await rm(join(dir, 'tokenizer.json'));
    const noTokenizer = (await cli('inspect', '--model', dir)).json<Printed>();
    expect(noTokenizer.files.missing).toEqual(['tokenizer.json']);
    expect(noTokenizer.weights).toEqual(whole.weights);
    expect(noTokenizer.tokenizer).toMatchObject({ loads: false, error: { kind: 'not-found' } });

    await rm(join(dir, 'model.safetensors'));
    const meta = (await cli('inspect', '--model', dir)).json<Printed>();
    expect(meta.files.missing).toEqual(['model.safetensors', 'tokenizer.json']);
    expect(meta.weights).toMatchObject({ storedBytes: whole.weights.storedBytes, estimated: true, tensors: whole.weights.tensors, dtypes: ['BF16'] });
    expect(meta.weights.from).toMatch(/config\.json dtype bfloat16/);
    expect(meta.gpu.bytes).toBe(whole.gpu.bytes);
    expect(meta.parameters).toBe(whole.parameters);
  });

  it("takes a sharded checkpoint's stored bytes from its index when the shards are not there", async () => {
    const files = tinyHfFiles({ shards: 3 });
    const dir = await tempDir(files);
    const shards = Object.keys(files).filter((f) => f.endsWith('.safetensors'));
    const whole = await inspectModel(directorySource(dir));
    for (const s of shards.slice(1)) await rm(join(dir, s));
    const r = await inspectModel(directorySource(dir));
    expect(r.files.missing).toEqual(shards.slice(1));
    expect(r.weights).toMatchObject({ storedBytes: whole.weights.storedBytes, estimated: false, from: 'model.safetensors.index.json metadata.total_size' });
  });

  it('states its GPU assumptions and follows --context, --batch and --no-shader-f16', async () => {
    const dir = await tempDir(tinyHfFiles({ dtype: 'f16' }));
    const f16 = (await cli('inspect', '--model', dir, '--context', '100', '--batch', '2')).json<Printed>();
    const f32 = (await cli('inspect', '--model', dir, '--context', '100', '--batch', '2', '--no-shader-f16')).json<Printed>();
    expect(f16.gpu.assumptions).toMatchObject({ shaderF16: true, contextTokens: 100, batch: 2 });
    expect(f32.gpu.assumptions.shaderF16).toBe(false);
    expect(f32.gpu.weightBytes).toBe(f16.gpu.weightBytes); // f16 matrices stay f16 either way (unpack2x16float)
    expect(f16.gpu.kvCacheBytes).toBe(2 * 2 * 2 * 16 * 100 * 2 * 4);
    const bad = await cli('inspect', '--model', dir, '--batch', '0');
    expect(bad.code).toBe(2);
    expect(bad.json<CliError>().error).toEqual({ kind: 'invalid-input', message: 'inspect: --batch must be a whole number ≥ 1, got "0".' });
  });

  it('refuses what the lab cannot use with exit status 2 and a JSON error naming what is supported', async () => {
    const gpt2 = await tempDir({ 'config.json': json({ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', n_layer: 12 }) });
    const run = await cli('inspect', '--model', gpt2);
    expect(run.code).toBe(2);
    expect(run.json<CliError>().error).toMatchObject({ kind: 'unsupported', message: expect.stringMatching(/GPT2LMHeadModel.*LlamaForCausalLM.*Qwen2ForCausalLM/) });

    const cache = await tempDir({ 'ndarray-cache.json': json({ metadata: {}, records: [] }) });
    expect((await cli('inspect', '--model', cache)).json<CliError>().error).toMatchObject({
      kind: 'unsupported',
      message: expect.stringMatching(/ndarray-cache\.json is here but no mlc-chat-config\.json.*MLC LLM builds/),
    });

    const empty = await tempDir();
    const none = await cli('inspect', '--model', empty);
    expect(none.code).toBe(2);
    expect(none.json<CliError>().error.kind).toBe('not-found');
    expect((await cli('inspect')).json<CliError>().error.message).toBe('inspect: --model <dir> is required.');
  });
});
