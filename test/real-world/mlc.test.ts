/**
 * MLC builds as mlc_llm and tvmjs wrote them (../shared/real-world/mlc): every tensor cache there
 * parses with the meaning tvmjs gives "f32-to-bf16" (only float32 records are stored as bf16;
 * nbytes is the stored size), every mlc-chat-config.json gives the right model config, planModel
 * sizes a real q4f16_1 build from its metadata alone to the byte, real shard bytes decode to the
 * right float16 values at their record's offset, and a 2023-era build is refused by name.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, it } from 'vitest';
import { decodeRecord, loadMlcWeights, mlcNames, parseMlcChatConfig, parseTensorCache, readMlcChatConfig, storedBytesPerValue, type TensorCache, type TensorCacheRecord } from '../../src/engine/load/mlc';
import { loadModel } from '../../src/engine/load/model';
import { checkModelFits, planModel } from '../../src/engine/load/plan';
import { f16ArrayToF32 } from '../../src/engine/model/dtypes';
import { tinyMlcFiles } from '../../src/engine/tiny/tiny';
import { describeRealWorld, realBytes, realJson, realPath, realSource } from '../helpers/real-world';

const READERLM = 'mlc/readerlm-v2-qwen2-q4f16_1';
const LLAMA3 = 'mlc/llama3-8b-instruct-q4f16_1';
const LEGACY = 'mlc/legacy-redpajama-3b-q4f16_0';
const NONLLM = 'mlc/NONLLM-descript-audio-codec-tvmjs-caches';

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const recordsOf = (c: TensorCache) => c.records.flatMap((s) => s.records);
const cacheAt = (...parts: string[]) => parseTensorCache(realJson(...parts), parts.join('/'));

/** Every tensor-cache.json / ndarray-cache.json (and -b16 twin) under mlc/, relative to the real-world folder. */
function tensorCacheFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/^(tensor|ndarray)-cache(-b16)?\.json$/.test(name)) out.push(relative(realPath(), p));
    }
  };
  walk(realPath('mlc'));
  return out.sort();
}

describeRealWorld('MLC builds and tvmjs caches written by the real tools', () => {
  it('every tensor cache parses, and every record obeys tvmjs\'s f32-to-bf16 rule (nbytes = numel × stored size)', () => {
    const files = tensorCacheFiles();
    expect(files).toHaveLength(6);
    for (const f of files) {
      const cache = cacheAt(f);
      expect(cache.records.length, f).toBeGreaterThan(0);
      for (const r of recordsOf(cache)) {
        const perValue = r.format === 'f32-to-bf16' && r.dtype === 'float32' ? 2 : { float32: 4, float16: 2, bfloat16: 2, uint32: 4 }[r.dtype as 'float32'];
        expect(storedBytesPerValue(r), `${f} ${r.name}`).toBe(perValue);
        expect(r.nbytes, `${f} ${r.name}`).toBe(numel(r.shape) * perValue);
      }
      // A shard is its records back to back.
      for (const s of cache.records) expect(s.records.reduce((a, r) => a + r.nbytes, 0), `${f} ${s.dataPath}`).toBe(s.nbytes);
    }
  });

  it('q4f16_1 builds: uint32 and float16 records say f32-to-bf16 and are stored raw; metadata as convert_weight writes it', () => {
    for (const [file, paramSize, paramBytes] of [
      [`${READERLM}/tensor-cache.json`, 311, 868547584],
      [`${LLAMA3}/ndarray-cache.json`, 325, 4517404672],
    ] as const) {
      const cache = cacheAt(file);
      const records = recordsOf(cache);
      expect(new Set(records.map((r) => r.format))).toEqual(new Set(['f32-to-bf16']));
      expect(new Set(records.map((r) => r.dtype))).toEqual(new Set(['uint32', 'float16']));
      expect(cache.metadata).toMatchObject({ ParamSize: paramSize, ParamBytes: paramBytes });
      expect(records).toHaveLength(paramSize);
      expect(records.reduce((a, r) => a + r.nbytes, 0)).toBe(paramBytes);
      expect(cache.records.every((s) => /^[0-9a-f]{32}$/.test(s.md5sum ?? ''))).toBe(true);
    }
  });

  it('the non-LLM tvmjs caches: float32 stored as bf16 (nbytes = numel × 2), the -b16 twin declares the same bytes, a raw dump keeps 4 bytes', () => {
    const bf16 = cacheAt(NONLLM, 'dist-params/ndarray-cache.json');
    const twin = cacheAt(NONLLM, 'dist-params/ndarray-cache-b16.json');
    const raw = cacheAt(NONLLM, 'weights/ndarray-cache.json');
    expect(recordsOf(bf16)).toHaveLength(241);
    for (const r of recordsOf(bf16)) expect(r).toMatchObject({ dtype: 'float32', format: 'f32-to-bf16', nbytes: numel(r.shape) * 2 });
    // Same shards, md5s, offsets and sizes; only dtype/format say what the bytes are.
    expect(twin.records.map((s) => [s.dataPath, s.nbytes, s.md5sum])).toEqual(bf16.records.map((s) => [s.dataPath, s.nbytes, s.md5sum]));
    expect(recordsOf(twin)).toEqual(recordsOf(bf16).map((r) => ({ ...r, dtype: 'bfloat16', format: 'raw' })));
    for (const r of recordsOf(raw)) expect(r).toMatchObject({ dtype: 'float32', format: 'raw', nbytes: numel(r.shape) * 4 });
    expect(raw.metadata).toEqual({});
  });

  it('mlc-chat-config.json files give the right model configs', () => {
    const readerlm = {
      arch: 'qwen2', vocabSize: 151936, hiddenSize: 1536, intermediateSize: 8960, numLayers: 28, numHeads: 12, numKvHeads: 2, headDim: 128,
      rmsNormEps: 1e-6, ropeTheta: 5000000, ropeScaling: null, maxPositionEmbeddings: 8192, tieWordEmbeddings: true, attentionBias: true,
      bosTokenId: 151643, eosTokenIds: [151645, 151643],
    };
    const llama3 = {
      arch: 'llama', vocabSize: 128256, hiddenSize: 4096, intermediateSize: 14336, numLayers: 32, numHeads: 32, numKvHeads: 8, headDim: 128,
      rmsNormEps: 1e-5, ropeTheta: 500000, ropeScaling: null, maxPositionEmbeddings: 8192, tieWordEmbeddings: false, attentionBias: false,
      bosTokenId: 128000, eosTokenIds: [128001],
    };
    for (const [file, config, tokenizerFiles] of [
      [`${READERLM}/mlc-chat-config.json`, readerlm, ['tokenizer.json', 'vocab.json', 'merges.txt', 'added_tokens.json', 'tokenizer_config.json']],
      [`${READERLM}/mlc-chat-config.gen_config-original.json`, readerlm, ['tokenizer.json', 'vocab.json', 'merges.txt', 'added_tokens.json', 'tokenizer_config.json']],
      [`${LLAMA3}/mlc-chat-config.json`, llama3, ['tokenizer.json', 'tokenizer_config.json']],
      [`${LLAMA3}/alt-llamaxist-meta-llama3/mlc-chat-config.json`, llama3, ['tokenizer.json', 'tokenizer_config.json']],
    ] as const) {
      expect(parseMlcChatConfig(realJson(file), file), file).toEqual({ config, quantization: 'q4f16_1', tokenizerFiles });
    }
  });

  it('the tensor names and shapes are the ones the loader asks for', () => {
    for (const [dir, file] of [[READERLM, 'tensor-cache.json'], [LLAMA3, 'ndarray-cache.json']] as const) {
      const { config } = parseMlcChatConfig(realJson(dir, 'mlc-chat-config.json'));
      const byName = new Map(recordsOf(cacheAt(dir, file)).map((r) => [r.name, r]));
      const want = new Map<string, number[]>();
      const { hiddenSize: C, intermediateSize: I, numHeads: NH, numKvHeads: NKV, headDim: D, vocabSize: V } = config;
      const linear = (base: string, rows: number, cols: number) => want.set(`${base}.q_weight`, [rows, cols / 8]).set(`${base}.q_scale`, [rows, cols / 32]);
      const n = mlcNames(config.arch);
      linear(n.embed, V, C);
      if (!config.tieWordEmbeddings) linear(n.lmHead, V, C);
      want.set(n.finalNorm, [C]);
      for (let i = 0; i < config.numLayers; i++) {
        const l = n.layer(i);
        linear(l.qkv, (NH + 2 * NKV) * D, C);
        if (config.attentionBias) want.set(`${l.qkv}.bias`, [(NH + 2 * NKV) * D]);
        linear(l.o, C, NH * D);
        linear(l.gateUp, 2 * I, C);
        linear(l.down, C, I);
        want.set(l.inputNorm, [C]).set(l.postNorm, [C]);
      }
      expect([...byName.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [name, shape] of want) expect(byName.get(name)!.shape, name).toEqual(shape);
    }
  });

  it('planModel sizes a real build from its metadata alone (no shards in the folder): stored bytes = ParamBytes', async () => {
    const plan = await planModel(realSource(READERLM));
    expect(plan.info).toMatchObject({ format: 'mlc', quantization: 'q4f16_1', config: { arch: 'qwen2', numLayers: 28 } });
    expect(plan.weightBytes).toBe(868547584);
    expect(plan.files.filter((f) => f.path.startsWith('params_shard_'))).toHaveLength(30);
    // A desktop GPU (128 MiB bindings): q4 stays packed and f16 matrices stay f16, so it holds what
    // is stored, plus 2 bytes a value for the f16 vectors (norms, q|k|v biases: 144896 values in
    // this build) that are widened to f32 at upload.
    const gpu = { maxBufferSize: 2 ** 30, maxStorageBufferBindingSize: 2 ** 27, shaderF16: true };
    const fit = checkModelFits(plan, gpu);
    expect(fit).toMatchObject({ verdict: 'fits', gpuWeightBytes: 868547584 + 144896 * 2 });

    const llama = await planModel(realSource(LLAMA3));
    expect(llama.weightBytes).toBe(4517404672);
    // lm_head's codes (128256 × 512 u32 = 250.5 MiB) exceed a 128 MiB binding: split, not refused.
    const llamaFit = checkModelFits(llama, gpu);
    expect(llamaFit.verdict).toBe('fits-with-splitting');
    expect(llamaFit.split).toEqual([
      { name: 'lm_head.q_weight', bytes: 262668288, parts: 2 },
      { name: 'model.embed_tokens.q_weight', bytes: 262668288, parts: 2 },
    ]);
    expect(llamaFit.gpuWeightBytes).toBe(4517404672 + (32 * 2 + 1) * 4096 * 2); // + the 65 f16 norms widened
  });

  it('real shard bytes decode to the right float16 values at the record\'s byteOffset', () => {
    const cache = cacheAt(LLAMA3, 'ndarray-cache.json');
    const PIECE_START = 20971520; // shard-pieces/*.bin_01 = shard bytes [20971520, 22036480)
    // Expected values decoded independently (Python struct '<e'), and their sum in file order.
    const expected = {
      13: { layer: 2, at: { 0: 0.2265625, 1: 0.224609375, 2: 0.2236328125, 100: 0.2314453125, 2048: 0.234375, 4095: 0.232421875 }, sum: 901.0741975903511, min: -4.863739013671875e-5, max: 0.2412109375 },
      26: { layer: 6, at: { 0: 0.298828125, 1: 0.30078125, 2: 0.310546875, 100: 0.314453125, 2048: 0.3125, 4095: 0.30078125 }, sum: 1223.8837601542473, min: -2.8133392333984375e-5, max: 0.345703125 },
    };
    for (const [shardNo, want] of Object.entries(expected)) {
      const piece = realBytes(LLAMA3, 'shard-pieces', `params_shard_${shardNo}.bin_01`);
      const shard = cache.records.find((s) => s.dataPath.startsWith(`params_shard_${shardNo}.bin`))!;
      expect(PIECE_START + piece.byteLength).toBe(shard.nbytes);
      const r = shard.records.find((x) => x.name === `model.layers.${want.layer}.post_attention_layernorm.weight`) as TensorCacheRecord;
      expect(r).toMatchObject({ dtype: 'float16', format: 'f32-to-bf16', shape: [4096], nbytes: 8192, byteOffset: shard.nbytes - 8192 });
      const decoded = decodeRecord(r, piece, PIECE_START);
      expect(decoded.data).toBeInstanceOf(Uint16Array);
      const values = f16ArrayToF32(decoded.data as Uint16Array);
      for (const [i, v] of Object.entries(want.at)) expect(values[Number(i)], `shard ${shardNo} [${i}]`).toBe(v);
      expect(values.reduce((a, v) => a + v, 0)).toBe(want.sum);
      expect(Math.min(...values)).toBe(want.min);
      expect(Math.max(...values)).toBe(want.max);
    }
  });

  it('loading says what is wrong with each real folder: split shards, shards not downloaded (LFS)', async () => {
    await expect(loadMlcWeights(realSource(LLAMA3))).rejects.toMatchObject({
      kind: 'unsupported',
      message: expect.stringMatching(/shard "params_shard_0.bin\?partitions=4" is not a file name as mlc_llm writes it.*cat params_shard_0.bin_\* > params_shard_0.bin/s),
    });
    await expect(loadMlcWeights(realSource(READERLM))).rejects.toMatchObject({ kind: 'not-found', message: expect.stringContaining('"params_shard_0.bin" is missing') });
  });

  it('a 2023-era build is refused, naming what is supported; its cache still parses as a cache', async () => {
    const message = /2023-era MLC build \("model_lib": "RedPajama-INCITE-Chat-3B-v1-q4f16_0"\).*param_0, param_1.*model_type "llama" or "qwen2", quantization q0f32, q0f16, q4f32_1, q4f16_1/s;
    await expect(readMlcChatConfig(realSource(LEGACY))).rejects.toMatchObject({ kind: 'unsupported', message: expect.stringMatching(message) });
    await expect(planModel(realSource(LEGACY))).rejects.toMatchObject({ kind: 'unsupported', message: expect.stringMatching(message) });
    await expect(loadModel(realSource(LEGACY))).rejects.toMatchObject({ kind: 'unsupported', message: expect.stringMatching(message) });
    const names = recordsOf(cacheAt(LEGACY, 'ndarray-cache.json')).map((r) => r.name);
    expect(names.every((n) => /^param_\d+$/.test(n))).toBe(true);
  });

  it('our generated builds are laid out like the real ones (chat config, cache, shard and record keys)', () => {
    const dec = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));
    const realQwen = realJson(READERLM, 'mlc-chat-config.gen_config-original.json') as Record<string, Record<string, unknown>>;
    const ours = tinyMlcFiles({ arch: 'qwen2', quantization: 'q4f16_1' });
    const qwen = dec(ours['mlc-chat-config.json']);
    expect(Object.keys(qwen)).toEqual(Object.keys(realQwen));
    expect(Object.keys(qwen.model_config)).toEqual(Object.keys(realQwen.model_config));
    expect(Object.keys(qwen.conv_template)).toEqual(Object.keys(realQwen.conv_template));
    expect(Object.keys(qwen.tokenizer_info)).toEqual(Object.keys(realQwen.tokenizer_info));
    // The 2024 Llama build predates some LlamaConfig fields; the ones it has come in the same order.
    const realLlama = Object.keys((realJson(LLAMA3, 'mlc-chat-config.json') as { model_config: object }).model_config);
    const llama = Object.keys(dec(tinyMlcFiles({ arch: 'llama' })['mlc-chat-config.json']).model_config);
    expect(llama.filter((k) => realLlama.includes(k))).toEqual(realLlama);
    const realCache = realJson(READERLM, 'tensor-cache.json') as TensorCache;
    const cache = dec(ours['tensor-cache.json']) as TensorCache;
    expect(Object.keys(cache)).toEqual(Object.keys(realCache));
    expect(Object.keys(cache.metadata)).toEqual(Object.keys(realCache.metadata));
    expect(Object.keys(cache.records[0])).toEqual(Object.keys(realCache.records[0]));
    expect(Object.keys(cache.records[0].records[0])).toEqual(Object.keys(realCache.records[0].records[0]));
    expect(new Set(recordsOf(cache).map((r) => r.format))).toEqual(new Set(recordsOf(realCache).map((r) => r.format)));
  });
});
