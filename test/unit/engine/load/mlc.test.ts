import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CpuModel } from '../../../../src/engine/cpu/model';
import { memorySource, type FileMap } from '../../../../src/engine/load/files';
import { hfNames, loadHfWeights } from '../../../../src/engine/load/hf';
import { loadModel } from '../../../../src/engine/load/model';
import { MLC_QUANTIZATIONS, decodeRecord, loadMlcWeights, parseMlcChatConfig, parseTensorCache, type TensorCache, type TensorCacheRecord } from '../../../../src/engine/load/mlc';
import { bf16ArrayToF32, f16ArrayToF32, f16BitsToF32, f32ArrayToBf16, f32ArrayToF16, tensorToF32 } from '../../../../src/engine/model/dtypes';
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
      // What the model holds (mlc_llm casts to f16 first) and what tvmjs stores: float32 as bf16.
      const ref = half ? f16ArrayToF32(f32ArrayToF16(t.data)) : t.data;
      const stored = half ? ref : bf16ArrayToF32(f32ArrayToBf16(t.data));
      if (g.dtype !== 'q4') {
        expect(g.dtype).toBe(half ? 'f16' : 'f32');
        expect(Array.from(values)).toEqual(Array.from(stored));
        continue;
      }
      expect(quant.startsWith('q4')).toBe(true);
      expect(g.scaleDtype).toBe(half ? 'f16' : 'f32');
      // Independent of the quantizer: every value within half a step (max|group|/7) of the original,
      // plus, for q4f32_1, the f32 scale's rounding to bf16 when stored (≤ 2^-8 relative, × at most 7 steps).
      const bound = half ? 0.502 : 0.502 + 7 * 2 ** -8;
      const cols = t.shape[1];
      let worst = 0; // error in units of the group's step max|w|/7
      for (let i = 0; i < values.length; i += 32) {
        let maxAbs = 0;
        for (let j = 0; j < 32; j++) maxAbs = Math.max(maxAbs, Math.abs(ref[i + j]));
        for (let j = 0; j < 32; j++) worst = Math.max(worst, Math.abs(values[i + j] - ref[i + j]) / (maxAbs / 7));
      }
      expect(worst, name).toBeLessThanOrEqual(bound);
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

  it('q0f32 gives exactly the HF bf16 checkpoint (tvmjs stores float32 as bf16); q4 runs through the CPU model', async () => {
    const hf = new CpuModel(await loadHfWeights(memorySource(tinyHfFiles({ arch, seed: 6, dtype: 'bf16' }))));
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

  it('reads older builds that only have ndarray-cache.json, and "raw" float32 records (4 bytes a value)', async () => {
    const old = { ...files };
    delete old['tensor-cache.json'];
    const a = await loadMlcWeights(memorySource(old));
    const b = await loadMlcWeights(memorySource(files));
    expect(tensorToF32(a.layers[1].down)).toEqual(tensorToF32(b.layers[1].down));
    // A dump made with encode_format "raw" keeps float32 as float32: the final norm, in a shard of its own.
    const q0 = tinyMlcFiles({ quantization: 'q0f32' });
    const norm = tinyTensors().get(hfNames.finalNorm)!.data;
    const bytes = new Uint8Array(norm.slice().buffer);
    const edited = withCache(q0, (c) => {
      for (const s of c.records) s.records = s.records.filter((r) => r.name !== 'model.norm.weight');
      c.records.push({ dataPath: 'params_shard_99.bin', format: 'raw-shard', nbytes: bytes.length, records: [{ name: 'model.norm.weight', shape: [64], dtype: 'float32', format: 'raw', nbytes: 256, byteOffset: 0 }] });
    });
    edited['params_shard_99.bin'] = bytes;
    expect(Array.from(tensorToF32((await loadMlcWeights(memorySource(edited))).finalNorm))).toEqual(Array.from(norm));
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

describe('tensor-cache.json as tvmjs writes it ("f32-to-bf16" on every record)', () => {
  const recordsOf = (c: TensorCache) => c.records.flatMap((s) => s.records);

  it.each(MLC_QUANTIZATIONS)('%s: every record says f32-to-bf16; only float32 is stored as bf16; nbytes is the stored size', (quant) => {
    const files = tinyMlcFiles({ quantization: quant, maxShardBytes: 8192 });
    const cache = dec(files['tensor-cache.json']) as TensorCache;
    for (const r of recordsOf(cache)) {
      expect(r.format).toBe('f32-to-bf16');
      expect(r.nbytes).toBe(r.shape.reduce((a, b) => a * b, 1) * { float32: 2, float16: 2, uint32: 4 }[r.dtype as 'float32']);
    }
    expect(new Set(recordsOf(cache).map((r) => r.dtype))).toEqual(new Set({ q0f32: ['float32'], q0f16: ['float16'], q4f32_1: ['float32', 'uint32'], q4f16_1: ['float16', 'uint32'] }[quant]));
    // Each shard entry: the md5 of its bytes (checked with node:crypto), its size, records inside it.
    for (const s of cache.records) {
      expect(Object.keys(s)).toEqual(['dataPath', 'format', 'nbytes', 'records', 'md5sum']);
      expect(s.md5sum).toBe(createHash('md5').update(files[s.dataPath]).digest('hex'));
      expect(files[s.dataPath].byteLength).toBe(s.nbytes);
    }
    // tvmjs's sharding: a shard reaches the cap only with a single record of half the cap or more.
    for (const s of cache.records) if (s.nbytes >= 8192) expect(s.records.length === 1 && s.records[0].nbytes * 2 >= 8192).toBe(true);
    // convert_weight's metadata: ParamSize counts records; ParamBytes counts float32 as 4 bytes; BitsPerParam over the HF parameters.
    const hfParams = [...tinyTensors().values()].reduce((a, t) => a + t.data.length, 0);
    const paramBytes = recordsOf(cache).reduce((a, r) => a + r.shape.reduce((x, y) => x * y, 1) * { float32: 4, float16: 2, uint32: 4 }[r.dtype as 'float32'], 0);
    expect(cache.metadata).toEqual({ ParamSize: recordsOf(cache).length, ParamBytes: paramBytes, BitsPerParam: (paramBytes * 8) / hfParams });
  });

  it('a q4f16_1 build (uint32 and float16 records marked f32-to-bf16, stored raw) parses and loads', async () => {
    // The bug: every f32-to-bf16 record was taken as 2 bytes a value, so every real q4 build was refused.
    const files = tinyMlcFiles({ arch: 'qwen2', quantization: 'q4f16_1' });
    const cache = parseTensorCache(dec(files['tensor-cache.json']), 'tiny');
    expect(recordsOf(cache).find((r) => r.name === 'model.embed_tokens.q_weight')).toMatchObject({ dtype: 'uint32', format: 'f32-to-bf16', nbytes: 331 * 8 * 4 });
    const w = await loadMlcWeights(memorySource(files));
    expect(w.embed).toMatchObject({ dtype: 'q4', scaleDtype: 'f16', shape: [331, 64] });
    const one = (r: Partial<TensorCacheRecord>) => ({ records: [{ dataPath: 'a.bin', format: 'raw-shard', nbytes: 64, records: [{ name: 'x', shape: [2, 2], byteOffset: 0, ...r }] }] });
    expect(() => parseTensorCache(one({ dtype: 'uint32', format: 'f32-to-bf16', nbytes: 16 }), 'c')).not.toThrow();
    expect(() => parseTensorCache(one({ dtype: 'float16', format: 'f32-to-bf16', nbytes: 8 }), 'c')).not.toThrow();
    expect(() => parseTensorCache(one({ dtype: 'float32', format: 'f32-to-bf16', nbytes: 8 }), 'c')).not.toThrow();
    expect(() => parseTensorCache(one({ dtype: 'float32', format: 'f32-to-bf16', nbytes: 16 }), 'c')).toThrow(/"x" \(float32 \[2,2\], stored as bfloat16\) should take 8 bytes, the record says 16/);
    expect(() => parseTensorCache(one({ dtype: 'float32', format: 'raw', nbytes: 16 }), 'c')).not.toThrow();
    expect(() => parseTensorCache(one({ dtype: 'float32', format: 'bf16' as 'raw', nbytes: 8 }), 'c')).toThrow(/unknown format "bf16"/);
  });

  it('decodes a record at its byteOffset, also from a piece of a shard that starts later', () => {
    const values = Float32Array.from([0.5, -2, 3.25, 1e-3]);
    const shard = new Uint8Array(24);
    shard.set(new Uint8Array(f32ArrayToBf16(values).buffer), 16);
    const r: TensorCacheRecord = { name: 'w', shape: [4], dtype: 'float32', format: 'f32-to-bf16', nbytes: 8, byteOffset: 16 };
    const want = Array.from(bf16ArrayToF32(f32ArrayToBf16(values)));
    expect(Array.from(decodeRecord(r, shard).data)).toEqual(want);
    expect(Array.from(decodeRecord(r, shard.subarray(10), 10).data)).toEqual(want);
    expect(() => decodeRecord(r, shard.subarray(20), 20)).toThrow(/"w" is at shard bytes \[16, 24\); the bytes given cover \[20, 24\)/);
    const f16 = decodeRecord({ ...r, dtype: 'float16' }, shard);
    expect(f16.data).toBeInstanceOf(Uint16Array); // raw f16 bits, whatever the format says
  });

  it('refuses malformed caches: overlapping records, a name twice, a shard path outside the folder', () => {
    const two = (b: Partial<TensorCacheRecord>, dataPath = 'a.bin') => ({
      records: [{ dataPath, format: 'raw-shard', nbytes: 64, records: [{ name: 'a', shape: [4], dtype: 'float32', format: 'raw', nbytes: 16, byteOffset: 0 }, { name: 'b', shape: [4], dtype: 'float32', format: 'raw', nbytes: 16, byteOffset: 16, ...b }] }],
    });
    expect(() => parseTensorCache(two({}), 'c')).not.toThrow();
    expect(() => parseTensorCache(two({ byteOffset: 8 }), 'c')).toThrow(/tensors "a" and "b" overlap in a.bin/);
    expect(() => parseTensorCache(two({ name: 'a' }), 'c')).toThrow(/"a" is listed twice/);
    for (const p of ['../secret.bin', '/etc/passwd', 'https://example.com/x.bin', 'sub/../../x.bin']) {
      expect(() => parseTensorCache(two({}, p), 'c'), p).toThrow(/not a file next to the tensor cache/);
    }
  });

  it('refuses, saying how to fix it, a shard path with a "?partitions=N" suffix (a repository\'s own split)', async () => {
    const files = tinyMlcFiles({ quantization: 'q4f16_1' });
    const split = withCache(files, (c) => (c.records[0].dataPath += '?partitions=2'));
    await expect(loadMlcWeights(memorySource(split))).rejects.toMatchObject({
      kind: 'unsupported',
      message: expect.stringMatching(/shard "params_shard_0.bin\?partitions=2" .*cat params_shard_0.bin_\* > params_shard_0.bin/s),
    });
  });

  it('refuses a 2023-era build (model_lib, no model_type) naming what is supported', () => {
    expect(() => parseMlcChatConfig({ model_lib: 'RedPajama-INCITE-Chat-3B-v1-q4f16_0', local_id: 'x', conv_template: 'redpajama_chat' }, 'old/mlc-chat-config.json')).toThrow(
      expect.objectContaining({ kind: 'unsupported', message: expect.stringMatching(/2023-era MLC build \("model_lib": "RedPajama-INCITE-Chat-3B-v1-q4f16_0"\).*"llama" or "qwen2".*q4f16_1/s) }),
    );
  });

  it('writes mlc-chat-config.json in the layout gen_config writes', () => {
    for (const arch of ['llama', 'qwen2'] as const) {
      const cfg = dec(tinyMlcFiles({ arch })['mlc-chat-config.json']);
      expect(Object.keys(cfg)).toEqual([
        'version', 'model_type', 'quantization', 'model_config', 'vocab_size', 'context_window_size', 'sliding_window_size', 'prefill_chunk_size',
        'attention_sink_size', 'tensor_parallel_shards', 'pipeline_parallel_stages', 'active_vocab_size', 'temperature', 'presence_penalty',
        'frequency_penalty', 'repetition_penalty', 'top_p', 'tokenizer_files', 'tokenizer_info', 'conv_template', 'pad_token_id', 'bos_token_id', 'eos_token_id',
      ]);
      expect(Object.keys(cfg.model_config)).toEqual(
        arch === 'qwen2'
          ? ['hidden_act', 'hidden_size', 'intermediate_size', 'num_attention_heads', 'num_hidden_layers', 'num_key_value_heads', 'rms_norm_eps', 'rope_theta', 'vocab_size', 'tie_word_embeddings', 'context_window_size', 'prefill_chunk_size', 'tensor_parallel_shards', 'head_dim', 'dtype', 'max_batch_size']
          : ['hidden_size', 'intermediate_size', 'num_attention_heads', 'num_hidden_layers', 'rms_norm_eps', 'vocab_size', 'tie_word_embeddings', 'position_embedding_base', 'rope_scaling', 'context_window_size', 'prefill_chunk_size', 'num_key_value_heads', 'head_dim', 'tensor_parallel_shards', 'pipeline_parallel_stages', 'max_batch_size'],
      );
    }
  });
});
