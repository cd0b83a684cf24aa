import { describe, expect, it } from 'vitest';
import { LabError } from '../../../../src/errors';
import { memorySource } from '../../../../src/engine/load/files';
import { checkpointFiles, entryToTensor, parseSafetensors, readCheckpoint, writeSafetensors } from '../../../../src/engine/load/safetensors';
import { f32ArrayToBf16, f32ArrayToF16, f16ArrayToF32 } from '../../../../src/engine/model/dtypes';

function header(obj: unknown, data = new Uint8Array(0), pad = 0): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(obj) + ' '.repeat(pad));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function error(fn: () => unknown): LabError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LabError);
    return e as LabError;
  }
  throw new Error('expected an error');
}

describe('safetensors', () => {
  const a = Float32Array.from([1, -2.5, 3e-3, 4, 5, 6]);
  it('round trips F32, F16 and BF16 tensors and metadata', () => {
    const bytes = writeSafetensors(
      { a: { dtype: 'F32', shape: [2, 3], data: a }, h: { dtype: 'F16', shape: [6], data: f32ArrayToF16(a) }, b: { dtype: 'BF16', shape: [3, 2], data: f32ArrayToBf16(a) } },
      { format: 'pt' },
    );
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLen) % 8).toBe(0);
    const f = parseSafetensors(bytes);
    expect(f.metadata).toEqual({ format: 'pt' });
    const ta = entryToTensor(f.tensors.get('a')!, 'x');
    expect(ta).toMatchObject({ dtype: 'f32', shape: [2, 3] });
    expect(ta.dtype === 'f32' && Array.from(ta.data)).toEqual(Array.from(a));
    const th = entryToTensor(f.tensors.get('h')!, 'x');
    expect(th.dtype).toBe('f16');
    expect(th.dtype === 'f16' && Array.from(f16ArrayToF32(th.data))).toEqual(Array.from(f16ArrayToF32(f32ArrayToF16(a))));
    const tb = entryToTensor(f.tensors.get('b')!, 'x');
    expect(tb.dtype).toBe('f32');
    if (tb.dtype === 'f32') for (let i = 0; i < 6; i++) expect(tb.data[i]).toBeCloseTo(a[i], 2);
    expect(entryToTensor(f.tensors.get('b')!, 'x', { bf16To: 'f16' }).dtype).toBe('f16');
  });

  it('reads tensors whose data is not 4-byte aligned', () => {
    // Header padded so the data section starts at an odd offset.
    const data = new Uint8Array(a.buffer.slice(0));
    const bytes = header({ a: { dtype: 'F32', shape: [6], data_offsets: [0, 24] } }, data, 1);
    const t = entryToTensor(parseSafetensors(bytes).tensors.get('a')!, 'x');
    expect(t.dtype === 'f32' && Array.from(t.data)).toEqual(Array.from(a));
  });

  it('explains bad files: wrong type, truncated, unknown dtype, inconsistent offsets, unsupported dtype', () => {
    expect(error(() => parseSafetensors(new Uint8Array(3))).message).toMatch(/only 3 bytes/);
    const notSafetensors = new TextEncoder().encode('PK\u0003\u0004 this is a zip file, not safetensors at all');
    expect(error(() => parseSafetensors(notSafetensors, 'model.safetensors')).message).toMatch(/model.safetensors is not a valid safetensors file: its header length .* implausible/);
    const good = writeSafetensors({ a: { dtype: 'F32', shape: [6], data: a } });
    const truncated = good.subarray(0, good.length - 4);
    expect(error(() => parseSafetensors(truncated)).message).toMatch(/truncated.*Download it again/s);
    expect(error(() => parseSafetensors(header({ a: { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)))).message).toMatch(/unknown dtype "F33"/);
    expect(error(() => parseSafetensors(header({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(8)))).message).toMatch(/should take 8 bytes/);
    expect(error(() => parseSafetensors(header({ a: 1 }, new Uint8Array(0)).subarray(0, 12))).message).toMatch(/header needs/);
    const i64 = parseSafetensors(header({ pos: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)));
    const e = error(() => entryToTensor(i64.tensors.get('pos')!, 'model.safetensors'));
    expect(e.kind).toBe('unsupported');
    expect(e.message).toMatch(/"pos" is I64; SPaR Lab reads F32, F16 and BF16/);
  });

  it('reads sharded checkpoints through model.safetensors.index.json', async () => {
    const s1 = writeSafetensors({ x: { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) } });
    const s2 = writeSafetensors({ y: { dtype: 'F32', shape: [1], data: Float32Array.from([3]) } });
    const index = new TextEncoder().encode(JSON.stringify({ metadata: { total_size: 12 }, weight_map: { x: 'a.safetensors', y: 'b.safetensors' } }));
    const source = memorySource({ 'a.safetensors': s1, 'b.safetensors': s2, 'model.safetensors.index.json': index });
    expect(await checkpointFiles(source)).toEqual(['a.safetensors', 'b.safetensors']);
    const all = await readCheckpoint(source);
    expect([...all.keys()]).toEqual(['x', 'y']);
    expect(all.get('y')!.file).toBe('b.safetensors');
    await expect(checkpointFiles(memorySource({}))).rejects.toThrow(/no model.safetensors or model.safetensors.index.json/);
    const dup = memorySource({ 'a.safetensors': s1, 'b.safetensors': s1, 'model.safetensors.index.json': new TextEncoder().encode(JSON.stringify({ weight_map: { x: 'a.safetensors', z: 'b.safetensors' } })) });
    await expect(readCheckpoint(dup)).rejects.toThrow(/"x" appears in both a.safetensors and b.safetensors/);
  });

  it('refuses an index whose weight_map is not a map of shard file names (a TypeError before)', async () => {
    const withIndex = (index: unknown) => memorySource({ 'model.safetensors.index.json': new TextEncoder().encode(JSON.stringify(index)) });
    await expect(checkpointFiles(withIndex({ weight_map: null }))).rejects.toThrow(/has no "weight_map"/);
    await expect(checkpointFiles(withIndex({ weight_map: ['a.safetensors'] }))).rejects.toThrow(/has no "weight_map"/);
    await expect(checkpointFiles(withIndex({ weight_map: { x: 3 } }))).rejects.toThrow(/maps "x" to 3; a shard must be a .safetensors file name/);
    await expect(checkpointFiles(withIndex({ weight_map: { x: '../../etc/passwd.safetensors' } }))).rejects.toThrow(/maps "x" to/);
  });
});
