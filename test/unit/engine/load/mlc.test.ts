import { describe, expect, it } from 'vitest';
import { CpuModel } from '../../../../src/engine/cpu/model';
import { memorySource, type FileMap } from '../../../../src/engine/load/files';
import { hfNames, loadHfWeights } from '../../../../src/engine/load/hf';
import { loadModel } from '../../../../src/engine/load/model';
import { MLC_QUANTIZATIONS, loadMlcWeights, type TensorCache } from '../../../../src/engine/load/mlc';
import { f16ArrayToF32, f16BitsToF32, f32ArrayToBf16, f32ArrayToF16, tensorToF32 } from '../../../../src/engine/model/dtypes';
import type { ModelWeights, Tensor } from '../../../../src/engine/model/weights';
import { tinyHfFiles, tinyMlcFiles, tinyTensors } from '../../../../src/engine/tiny/tiny';

const enc = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));
const dec = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));

function byName(w: ModelWeights): Map<string, Tensor> {
  const m = new Map<string, Tensor>([[hfNames.embed, w.embed], [hfNames.finalNorm, w.finalNorm]]);
  if (w.lmHead) m.set(hfNames.lmHead, w.lmHead);
  w.layers.forEach((l, i) => {
    const n = hfNames.layer(i);
    for (const k of Object.keys(n) as (keyof typeof n)[]) if (l[k]) m.set(n[k], l[k]!);
  });
  return m;
}

function withCache(files: FileMap, edit: (c: TensorCache) => void): FileMap {
  const cache = dec(files['tensor-cache.json']) as TensorCache;
  edit(cache);
  const out: FileMap = { ...files, 'tensor-cache.json': enc(cache) };
  delete out['ndarray-cache.json'];
  return out;
}

describe.each(['llama', 'qwen2'] as const)('MLC loader (%s)', (arch) => {
  const master = tinyTensors({ arch, seed: 6 });

  it('uses mlc-llm parameter names and layouts', () => {
    const cache = dec(tinyMlcFiles({ arch, seed: 6, quantization: 'q4f16_1', maxShardBytes: 16384 })['tensor-cache.json']) as TensorCache;
    const recs = new Map(cache.records.flatMap((s) => s.records.map((r) => [r.name, r])));
    const qkv = arch === 'qwen2' ? 'model.layers.0.self_attn.c_attn' : 'model.layers.0.self_attn.qkv_proj';
    expect(recs.get(`${qkv}.q_weight`)).toMatchObject({ dtype: 'uint32', shape: [128, 8] });
    expect(recs.get(`${qkv}.q_scale`)).toMatchObject({ dtype: 'float16', shape: [128, 2] });
    expect(recs.has(`${qkv}.bias`)).toBe(arch === 'qwen2');
    expect(recs.get('model.layers.1.mlp.gate_up_proj.q_weight')).toMatchObject({ shape: [320, 8] });
    expect(recs.get('model.layers.1.mlp.down_proj.q_scale')).toMatchObject({ shape: [64, 5] });
    expect(recs.get('model.embed_tokens.q_weight')).toMatchObject({ shape: [331, 8] });
    expect(recs.get('model.norm.weight')).toMatchObject({ dtype: 'float16', shape: [64] });
    expect(recs.has('lm_head.q_weight')).toBe(arch === 'llama');
    expect(cache.records.length).toBeGreaterThan(1);
  });

  it.each(MLC_QUANTIZATIONS)('loads %s with every weight where it belongs', async (quant) => {
    const w = await loadMlcWeights(memorySource(tinyMlcFiles({ arch, seed: 6, quantization: quant, maxShardBytes: 8192 })));
    const got = byName(w);
    expect([...got.keys()].sort()).toEqual([...master.keys()].sort());
    const half = quant.includes('f16');
    for (const [name, t] of master) {
      const g = got.get(name)!;
      expect(g.shape).toEqual(t.shape);
      const values = tensorToF32(g);
      const ref = half ? f16ArrayToF32(f32ArrayToF16(t.data)) : t.data;
      if (g.dtype !== 'q4') {
        expect(g.dtype).toBe(half ? 'f16' : 'f32');
        expect(Array.from(values)).toEqual(Array.from(ref));
        continue;
      }
      expect(quant.startsWith('q4')).toBe(true);
      expect(g.scaleDtype).toBe(half ? 'f16' : 'f32');
      // Independent of the quantizer: every value within half a step (max|group|/7) of the original.
      const cols = t.shape[1];
      let worst = 0; // error in units of the group's step max|w|/7
      for (let i = 0; i < values.length; i += 32) {
        let maxAbs = 0;
        for (let j = 0; j < 32; j++) maxAbs = Math.max(maxAbs, Math.abs(ref[i + j]));
        for (let j = 0; j < 32; j++) worst = Math.max(worst, Math.abs(values[i + j] - ref[i + j]) / (maxAbs / 7));
      }
      expect(worst, name).toBeLessThanOrEqual(0.502);
      expect(values.length % cols).toBe(0);
    }
  });

  it('q4 codes are read straight from the shard bytes (bit order and row slicing of fused tensors)', async () => {
    const files = tinyMlcFiles({ arch, seed: 6, quantization: 'q4f16_1' });
    const w = await loadMlcWeights(memorySource(files));
    // Decode layer 0's v rows of the fused qkv by hand from the shard: byte = word LE, nibble order low first.
    const cache = dec(files['tensor-cache.json']) as TensorCache;
    const qkvName = arch === 'qwen2' ? 'model.layers.0.self_attn.c_attn' : 'model.layers.0.self_attn.qkv_proj';
    const find = (n: string) => {
      for (const s of cache.records) for (const r of s.records) if (r.name === n) return { bytes: files[s.dataPath], r };
      throw new Error(n);
    };
    const qw = find(`${qkvName}.q_weight`);
    const qs = find(`${qkvName}.q_scale`);
    const C = 64;
    const vRow0 = 64 + 32; // q rows, then k rows
    const v = tensorToF32(w.layers[0].v);
    for (const [row, col] of [[0, 0], [0, 9], [5, 33], [31, 63]]) {
      const elem = (vRow0 + row) * C + col;
      const byte = qw.bytes[qw.r.byteOffset + (elem >> 1)];
      const code = elem % 2 === 0 ? byte & 15 : byte >> 4;
      const sOff = qs.r.byteOffset + ((vRow0 + row) * 2 + (col >> 5)) * 2;
      const scale = f16BitsToF32(qs.bytes[sOff] | (qs.bytes[sOff + 1] << 8));
      expect(v[row * C + col]).toBe((code - 7) * scale);
    }
  });

  it('q0f32 gives exactly the HF f32 model; q4 runs through the CPU model', async () => {
    const hf = new CpuModel(await loadHfWeights(memorySource(tinyHfFiles({ arch, seed: 6 }))));
    const mlc = new CpuModel(await loadMlcWeights(memorySource(tinyMlcFiles({ arch, seed: 6, quantization: 'q0f32' }))));
    const toks = [5, 77, 300, 2, 41];
    expect(mlc.forward(mlc.newCache(), toks).logits).toEqual(hf.forward(hf.newCache(), toks).logits);
    const q4 = new CpuModel(await loadMlcWeights(memorySource(tinyMlcFiles({ arch, seed: 6, quantization: 'q4f32_1' }))));
    const l = q4.forward(q4.newCache(), toks).logits;
    expect(l.every(Number.isFinite)).toBe(true);
  });
});

describe('MLC loader: files and errors', () => {
  const files = tinyMlcFiles({ quantization: 'q4f32_1' });

  it('reads older builds that only have ndarray-cache.json, and f32-to-bf16 records', async () => {
    const old = { ...files };
    delete old['tensor-cache.json'];
    const a = await loadMlcWeights(memorySource(old));
    const b = await loadMlcWeights(memorySource(files));
    expect(tensorToF32(a.layers[1].down)).toEqual(tensorToF32(b.layers[1].down));
    // Re-encode the final norm as bf16 inside a fresh one-record shard.
    const q0 = tinyMlcFiles({ quantization: 'q0f32' });
    const norm = (await loadMlcWeights(memorySource(q0))).finalNorm;
    const bf = f32ArrayToBf16(tensorToF32(norm));
    const bytes = new Uint8Array(bf.buffer);
    const edited = withCache(q0, (c) => {
      for (const s of c.records) s.records = s.records.filter((r) => r.name !== 'model.norm.weight');
      c.records.push({ dataPath: 'params_shard_99.bin', format: 'raw-shard', nbytes: bytes.length, records: [{ name: 'model.norm.weight', shape: [64], dtype: 'float32', format: 'f32-to-bf16', nbytes: bytes.length, byteOffset: 0 }] });
    });
    edited['params_shard_99.bin'] = bytes;
    const w = await loadMlcWeights(memorySource(edited));
    const got = tensorToF32(w.finalNorm);
    tensorToF32(norm).forEach((x, i) => expect(got[i]).toBeCloseTo(x, 2));
  });

  it('explains truncated shards, unknown dtypes, missing tensors and unsupported builds', async () => {
    const cut = { ...files, params_shard_0: undefined } as unknown as FileMap;
    cut['params_shard_0.bin'] = files['params_shard_0.bin'].subarray(0, 100);
    await expect(loadMlcWeights(memorySource(cut))).rejects.toThrow(/params_shard_0.bin has 100 bytes but tensor-cache.json says \d+ \(truncated/);
    const badDtype = withCache(files, (c) => (c.records[0].records[0].dtype = 'float8'));
    await expect(loadMlcWeights(memorySource(badDtype))).rejects.toThrow(/unknown dtype "float8"/);
    const missing = withCache(files, (c) => (c.records[0].records = c.records[0].records.filter((r) => r.name !== 'model.embed_tokens.q_scale')));
    await expect(loadMlcWeights(memorySource(missing))).rejects.toThrow(/tensor "model.embed_tokens.q_scale" is missing/);
    const cfg = dec(files['mlc-chat-config.json']);
    const phi = { ...files, 'mlc-chat-config.json': enc({ ...cfg, model_type: 'phi3' }) };
    await expect(loadMlcWeights(memorySource(phi))).rejects.toMatchObject({ kind: 'unsupported', message: expect.stringMatching(/"phi3".*"llama".*"qwen2"/s) });
    const q3 = { ...files, 'mlc-chat-config.json': enc({ ...cfg, quantization: 'q3f16_1' }) };
    await expect(loadMlcWeights(memorySource(q3))).rejects.toThrow(/Unsupported MLC quantization "q3f16_1"; SPaR Lab reads q0f32, q0f16, q4f32_1, q4f16_1/);
    const noCache = { ...files };
    delete noCache['tensor-cache.json'];
    delete noCache['ndarray-cache.json'];
    await expect(loadMlcWeights(memorySource(noCache))).rejects.toThrow(/neither tensor-cache.json nor ndarray-cache.json/);
  });

  it('loadModel reads config, quantization and tokenizer of an MLC folder', async () => {
    const m = await loadModel(memorySource(tinyMlcFiles({ arch: 'qwen2', quantization: 'q0f16' })));
    expect(m).toMatchObject({ format: 'mlc', quantization: 'q0f16' });
    expect(m.config).toMatchObject({ arch: 'qwen2', hiddenSize: 64, numKvHeads: 2, tieWordEmbeddings: true, attentionBias: true, ropeTheta: 1000000, maxPositionEmbeddings: 512, eosTokenIds: [2] });
    const hf = await loadModel(memorySource(tinyHfFiles({ arch: 'qwen2' })));
    expect(m.config).toEqual(hf.config);
    const llama = await loadModel(memorySource(tinyMlcFiles({ arch: 'llama', quantization: 'q0f32' })));
    const llamaHf = await loadModel(memorySource(tinyHfFiles({ arch: 'llama' })));
    expect(llama.config).toEqual(llamaHf.config);
  });
});
