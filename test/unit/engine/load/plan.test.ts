import { describe, expect, it } from 'vitest';
import { LabError } from '../../../../src/errors';
import { memorySource, type FileMap, type FileSource } from '../../../../src/engine/load/files';
import type { TensorCache } from '../../../../src/engine/load/mlc';
import { checkModelFits, planModel } from '../../../../src/engine/load/plan';
import { parseSafetensors, writeSafetensors } from '../../../../src/engine/load/safetensors';
import { tinyHfFiles, tinyMlcFiles } from '../../../../src/engine/tiny/tiny';

const dec = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));
const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);
const limits = { maxBufferSize: 1 << 30, maxStorageBufferBindingSize: 1 << 30, shaderF16: true };

function shardBytes(files: FileMap): number {
  return Object.entries(files)
    .filter(([p]) => p.startsWith('params_shard_'))
    .reduce((a, [, f]) => a + f.byteLength, 0);
}

describe('planModel: sizes of MLC builds as tvmjs stores them', () => {
  it('q4f16_1: stored bytes are the records\' nbytes (f32-to-bf16 on uint32/float16 records changes nothing)', async () => {
    const files = tinyMlcFiles({ arch: 'qwen2', quantization: 'q4f16_1' });
    const plan = await planModel(memorySource(files));
    expect(plan.weightBytes).toBe(shardBytes(files));
    expect(plan.tensors.find((t) => t.name === 'model.embed_tokens.q_weight')).toMatchObject({ dtype: 'uint32', storedDtype: 'uint32', bytes: 331 * 8 * 4 });
    // On the GPU 4-bit weights stay packed and f16 matrices stay f16 (read with unpack2x16float,
    // shader-f16 or not); only f16 vectors (norms, biases) are widened to f32 at upload.
    const f16Vectors = plan.tensors.filter((t) => t.dtype === 'float16' && t.shape.length === 1).reduce((a, t) => a + t.bytes, 0);
    expect(f16Vectors).toBeGreaterThan(0);
    expect(checkModelFits(plan, limits).gpuWeightBytes).toBe(shardBytes(files) + f16Vectors);
    const noF16 = checkModelFits(plan, { ...limits, shaderF16: false });
    expect(noF16.gpuWeightBytes).toBe(shardBytes(files) + f16Vectors);
    expect(noF16.message).not.toMatch(/widened/);
  });

  it('q0f32 and q4f32_1: float32 stored as bf16 (2 bytes), held as f32 (4 bytes) on the GPU', async () => {
    for (const quantization of ['q0f32', 'q4f32_1'] as const) {
      const files = tinyMlcFiles({ arch: 'llama', quantization });
      const plan = await planModel(memorySource(files));
      expect(plan.weightBytes).toBe(shardBytes(files));
      const f32 = plan.tensors.filter((t) => t.dtype === 'float32');
      expect(f32.length).toBeGreaterThan(0);
      for (const t of f32) expect(t).toMatchObject({ storedDtype: 'bfloat16', bytes: numel(t.shape) * 2 });
      const fit = checkModelFits(plan, limits);
      expect(fit.gpuWeightBytes).toBe(plan.weightBytes + f32.reduce((a, t) => a + t.bytes, 0));
      expect(checkModelFits(plan, { ...limits, shaderF16: false }).gpuWeightBytes).toBe(fit.gpuWeightBytes);
    }
  });

  it('plans a folder that holds only the metadata (no shards), as the inspect command needs', async () => {
    const files = tinyMlcFiles({ arch: 'llama', quantization: 'q4f16_1', maxShardBytes: 8192 });
    const metadataOnly = Object.fromEntries(Object.entries(files).filter(([p]) => !p.startsWith('params_shard_')));
    const full = await planModel(memorySource(files));
    const meta = await planModel(memorySource(metadataOnly));
    expect(meta.weightBytes).toBe(full.weightBytes);
    expect(meta.downloadBytes).toBe(full.downloadBytes);
    expect(meta.weightBytes).toBe((dec(files['tensor-cache.json']) as TensorCache).metadata.ParamBytes);
  });
});

/** A safetensors file's bytes from a header object and a data section. */
function stFile(header: unknown, data: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** A tiny HF folder whose model.safetensors is `st`; `sized: false` hides the file's size (a server without Content-Length). */
function hfWith(st: Uint8Array, sized = true): FileSource {
  const src = memorySource({ ...tinyHfFiles(), 'model.safetensors': st }, 'folder');
  return sized ? src : { ...src, size: async (p) => (p === 'model.safetensors' ? null : src.size(p)) };
}

async function planError(src: FileSource): Promise<LabError> {
  const e = await planModel(src).catch((x) => x);
  expect(e).toBeInstanceOf(LabError);
  return e;
}

function parseError(bytes: Uint8Array): LabError {
  try {
    parseSafetensors(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(LabError);
    return e as LabError;
  }
  throw new Error('expected an error');
}

describe('safetensors headers: one validator for the whole-file parser and the planner', () => {
  const f32 = (n: number) => ({ dtype: 'F32', shape: [n] });

  it('a header longer than the file is reported as truncated, not as "not JSON"', async () => {
    const good = writeSafetensors({ a: { dtype: 'F32', shape: [4], data: new Float32Array(4) } });
    const cut = good.subarray(0, 40);
    expect(parseError(cut).message).toMatch(/the header needs \d+ bytes but the file has 32 after the length \(truncated\)/);
    for (const sized of [true, false]) {
      const e = await planError(hfWith(cut, sized));
      expect(e.message).toMatch(/folder: model.safetensors is not a valid safetensors file: the header needs \d+ bytes but the file has 32 after the length \(truncated\)/);
    }
  });

  it('a null header, a tensor that is not an object, a tensor without data_offsets: clear errors, no TypeError', async () => {
    const nullHeader = stFile(null, new Uint8Array(0));
    expect(parseError(nullHeader).message).toMatch(/does not start with "\{"/);
    expect((await planError(hfWith(nullHeader))).message).toMatch(/does not start with "\{"/);
    const nullTensor = stFile({ a: null }, new Uint8Array(0));
    expect(parseError(nullTensor).message).toMatch(/tensor "a" is null, not an object with dtype, shape and data_offsets/);
    expect((await planError(hfWith(nullTensor))).message).toMatch(/tensor "a" is null/);
    const noOffsets = stFile({ a: f32(2) }, new Uint8Array(8));
    expect(parseError(noOffsets).message).toMatch(/tensor "a" has no data_offsets/);
    expect((await planError(hfWith(noOffsets))).message).toMatch(/tensor "a" has no data_offsets/);
  });

  it('refuses overlapping tensors', async () => {
    const overlap = stFile({ a: { ...f32(4), data_offsets: [0, 16] }, b: { ...f32(4), data_offsets: [8, 24] } }, new Uint8Array(24));
    expect(parseError(overlap).message).toMatch(/tensors "a" \[0, 16\) and "b" \[8, 24\) overlap/);
    expect((await planError(hfWith(overlap))).message).toMatch(/tensors "a" \[0, 16\) and "b" \[8, 24\) overlap/);
    // Back to back is fine, and so is an empty tensor at a boundary.
    const fine = stFile({ a: { ...f32(4), data_offsets: [0, 16] }, e: { ...f32(0), data_offsets: [16, 16] }, b: { ...f32(2), data_offsets: [16, 24] } }, new Uint8Array(24));
    expect([...parseSafetensors(fine).tensors.keys()]).toEqual(['a', 'e', 'b']);
  });

  it('the planner checks offsets against the file size when it knows it', async () => {
    const past = stFile({ a: { ...f32(4), data_offsets: [0, 16] } }, new Uint8Array(8));
    expect((await planError(hfWith(past))).message).toMatch(/tensor "a" ends at byte 16 of the data but the file holds only 8 data bytes \(truncated\)/);
  });
});

describe('planModel: the files a download fetches', () => {
  it("counts a v5 checkpoint's chat_template.jinja and an MLC build's listed tokenizer files", async () => {
    const v5 = tinyHfFiles({ layout: 'v5' });
    expect(v5).toHaveProperty(['chat_template.jinja']);
    const hfPlan = await planModel(memorySource(v5));
    expect(hfPlan.files.map((f) => f.path)).toContain('chat_template.jinja');
    expect(hfPlan.downloadBytes).toBe(Object.values(v5).reduce((a, f) => a + f.byteLength, 0) - (v5['special_tokens_map.json']?.byteLength ?? 0));
    const mlc = await planModel(memorySource(tinyMlcFiles({ quantization: 'q4f16_1' })));
    expect(mlc.files.map((f) => f.path)).toEqual(expect.arrayContaining(['tokenizer.json', 'tokenizer_config.json', 'mlc-chat-config.json', 'tensor-cache.json']));
  });
});
