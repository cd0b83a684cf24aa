/**
 * PEFT files: names, shapes and config exactly as PEFT writes them; export → import bit-exact;
 * clear errors for what we cannot load; merge-to-base equals the adapter applied at run time.
 */
import { describe, expect, it } from 'vitest';
import { CpuModel } from '../../../../src/engine/cpu/model';
import { memorySource } from '../../../../src/engine/load/files';
import { loadHfWeights } from '../../../../src/engine/load/hf';
import { loadMlcWeights } from '../../../../src/engine/load/mlc';
import { parseSafetensors, writeSafetensors } from '../../../../src/engine/load/safetensors';
import { parseHfConfig } from '../../../../src/engine/model/config';
import { f32ArrayToF16 } from '../../../../src/engine/model/dtypes';
import { LINEAR_NAMES, type LoraAdapter } from '../../../../src/engine/model/weights';
import { adapterTensors, createAdapter } from '../../../../src/engine/train/lora';
import { hfConfigJson, mergedCheckpoint } from '../../../../src/engine/train/merge';
import { exportPeft, importPeft, parsePeft, PEFT_CONFIG, PEFT_WEIGHTS, readPeftConfig } from '../../../../src/engine/train/peft';
import { tinyMlcFiles, tinyWeights } from '../../../../src/engine/tiny/tiny';

const weights = tinyWeights({ arch: 'qwen2', seed: 5 });
const config = weights.config;
const bits = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];
const sameBits = (x: LoraAdapter, y: LoraAdapter) => {
  const a = adapterTensors(x);
  const b = adapterTensors(y);
  expect(b.map((t) => t.key)).toEqual(a.map((t) => t.key));
  a.forEach((t, i) => expect(bits(b[i].data)).toEqual(bits(t.data)));
};
const json = (files: Record<string, Uint8Array>) => JSON.parse(new TextDecoder().decode(files[PEFT_CONFIG]));

describe('PEFT export / import', () => {
  it("writes PEFT's file layout, tensor names, shapes and config", () => {
    const a = createAdapter('actor', config, { rank: 4, alpha: 8, targets: ['q', 'v', 'gate', 'down'] }, { seed: 1, init: 'random' });
    const files = exportPeft(a, { baseModel: 'Qwen/Qwen2.5-0.5B-Instruct' });
    expect(Object.keys(files).sort()).toEqual([PEFT_CONFIG, PEFT_WEIGHTS]);
    const st = parseSafetensors(files[PEFT_WEIGHTS]);
    expect(st.metadata).toEqual({ format: 'pt' });
    const C = config.hiddenSize;
    const I = config.intermediateSize;
    const kv = config.numKvHeads * config.headDim;
    // In name order, as the safetensors library writes them (mlp before self_attn).
    expect([...st.tensors.values()].map((e) => [e.name, e.dtype, e.shape])).toEqual(
      [0, 1].flatMap((l) => [
        [`base_model.model.model.layers.${l}.mlp.down_proj.lora_A.weight`, 'F32', [4, I]],
        [`base_model.model.model.layers.${l}.mlp.down_proj.lora_B.weight`, 'F32', [C, 4]],
        [`base_model.model.model.layers.${l}.mlp.gate_proj.lora_A.weight`, 'F32', [4, C]],
        [`base_model.model.model.layers.${l}.mlp.gate_proj.lora_B.weight`, 'F32', [I, 4]],
        [`base_model.model.model.layers.${l}.self_attn.q_proj.lora_A.weight`, 'F32', [4, C]],
        [`base_model.model.model.layers.${l}.self_attn.q_proj.lora_B.weight`, 'F32', [C, 4]],
        [`base_model.model.model.layers.${l}.self_attn.v_proj.lora_A.weight`, 'F32', [4, C]],
        [`base_model.model.model.layers.${l}.self_attn.v_proj.lora_B.weight`, 'F32', [kv, 4]],
      ]),
    );
    const text = new TextDecoder().decode(files[PEFT_CONFIG]);
    expect(text).toContain('"lora_dropout": 0.0,');
    const c = json(files);
    expect(Object.keys(c)).toEqual([...Object.keys(c)].sort()); // sort_keys=True
    expect(c).toMatchObject({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r: 4,
      lora_alpha: 8,
      use_rslora: false,
      target_modules: ['q_proj', 'v_proj', 'gate_proj', 'down_proj'],
      bias: 'none',
      fan_in_fan_out: false,
      lora_dropout: 0,
      base_model_name_or_path: 'Qwen/Qwen2.5-0.5B-Instruct',
      inference_mode: true,
      modules_to_save: null,
      layers_to_transform: null,
      revision: null,
      // Keys PEFT 0.19.1 writes that older exports left out.
      peft_version: '0.19.1',
      alora_invocation_tokens: null,
      lora_bias: false,
      lora_ga_config: null,
      use_bdlora: null,
      target_parameters: null,
      trainable_token_indices: null,
      megatron_core: 'megatron.core',
      qalora_group_size: 16,
      loftq_config: {},
    });
    expect(Object.keys(c)).toHaveLength(38); // peft 0.19.1's LoraConfig, as test/real-world/peft.test.ts checks against real files
    expect(json(exportPeft(a, { baseModel: null })).base_model_name_or_path).toBeNull();
    expect(json(exportPeft(a, { baseModel: 'Qwen/Qwen2.5-0.5B-Instruct', revision: 'abc123' })).revision).toBe('abc123');
  });

  it('round-trips bit-exactly (plain, rsLoRA, a subset of layers)', async () => {
    const a = createAdapter('actor', config, { rank: 3, alpha: 5, rslora: true, targets: [...LINEAR_NAMES] }, { seed: 2, init: 'random' });
    const back = await importPeft(memorySource(exportPeft(a)), config, 'actor');
    sameBits(a, back);
    expect(back).toMatchObject({ rank: 3, alpha: 5, scale: 5 / Math.sqrt(3), targets: [...LINEAR_NAMES] });
    const files = exportPeft(back);
    expect(files[PEFT_WEIGHTS]).toEqual(exportPeft(a)[PEFT_WEIGHTS]);

    const partial: LoraAdapter = { ...createAdapter('x', config, { rank: 2, alpha: 2 }, { seed: 3, init: 'random' }) };
    partial.layers = partial.layers.map((l, i) => (i === 1 ? l : {}));
    const pf = exportPeft(partial);
    expect(json(pf).layers_to_transform).toEqual([1]);
    sameBits(partial, parsePeft(json(pf), pf[PEFT_WEIGHTS], config, 'x'));
  });

  it('reads F16 weights and keys with the adapter name, and refuses what it cannot use, saying why', () => {
    const a = createAdapter('actor', config, { rank: 2, alpha: 4 }, { seed: 4, init: 'random' });
    const files = exportPeft(a);
    const cfg = json(files);
    const refs = adapterTensors(a);
    const f16 = writeSafetensors(Object.fromEntries(refs.map((t) => [t.key.replace('.weight', '.default.weight'), { dtype: 'F16', shape: t.shape, data: f32ArrayToF16(t.data) }])));
    const h = parsePeft(cfg, f16, config, 'h');
    expect(h.layers[0].q!.a[0]).toBeCloseTo(a.layers[0].q!.a[0], 3);

    const w = files[PEFT_WEIGHTS];
    expect(() => parsePeft({ ...cfg, peft_type: 'IA3' }, w, config, 'x')).toThrow(/"peft_type": "IA3"; SPaR Lab loads LoRA adapters only/);
    expect(() => parsePeft({ ...cfg, task_type: 'SEQ_CLS' }, w, config, 'x')).toThrow(/"task_type": "SEQ_CLS"/);
    expect(() => parsePeft({ ...cfg, r: 0 }, w, config, 'x')).toThrow(/"r" must be a positive integer/);
    expect(() => parsePeft({ ...cfg, r: 4 }, w, config, 'x')).toThrow(/has shape \[2,64\], expected \[4,64\] for r=4/);
    const other = tinyWeights({ arch: 'qwen2', seed: 5, hiddenSize: 96, numHeads: 6, numKvHeads: 3 }).config;
    expect(() => parsePeft(cfg, w, other, 'x')).toThrow(/another model/);
    const lmHead = writeSafetensors({ 'base_model.model.lm_head.lora_A.weight': { dtype: 'F32', shape: [2, 64], data: new Float32Array(128) } });
    expect(() => parsePeft(cfg, lmHead, config, 'x')).toThrow(/lm_head LoRA.*not supported/);
    const onlyA = writeSafetensors({ [refs[0].key]: { dtype: 'F32', shape: refs[0].shape, data: refs[0].data } });
    expect(() => parsePeft(cfg, onlyA, config, 'x')).toThrow(/lora_B missing/);
    expect(() => parsePeft(cfg, w.subarray(0, w.length - 9), config, 'x')).toThrow(/truncated/);
  });

  it('names a missing file, after refusing a config it cannot apply', async () => {
    const cfg = exportPeft(createAdapter('a', config, {}, { seed: 1 }))[PEFT_CONFIG];
    await expect(importPeft(memorySource({}, 'my-adapter'), config, 'x')).rejects.toThrow(/my-adapter: adapter_config.json is missing/);
    await expect(importPeft(memorySource({ [PEFT_CONFIG]: cfg }, 'my-adapter'), config, 'x')).rejects.toThrow(/my-adapter: adapter_model.safetensors is missing/);
    const dora = new TextEncoder().encode(JSON.stringify({ ...JSON.parse(new TextDecoder().decode(cfg)), use_dora: true }));
    await expect(importPeft(memorySource({ [PEFT_CONFIG]: dora }, 'my-adapter'), config, 'x')).rejects.toThrow(/my-adapter: adapter_config.json sets "use_dora": true/);
  });
});

describe('PEFT config fields the lab cannot apply', () => {
  const files = exportPeft(createAdapter('a', config, {}, { seed: 1 }));
  const cfg = json(files);
  // Each LoraConfig field that changes what the adapter computes, set as PEFT would save it.
  const refused: [string, unknown, RegExp][] = [
    ['alora_invocation_tokens', [27, 91, 1002], /Activated LoRA/],
    ['layer_replication', [[0, 2], [1, 2]], /repeating layers/],
    ['modules_to_save', ['lm_head', 'embed_tokens'], /lm_head, embed_tokens/],
    ['fan_in_fan_out', true, /Conv1D/],
    ['lora_bias', true, /trained bias/],
    ['bias', 'lora_only', /biases were trained/],
    ['use_dora', true, /DoRA/],
    ['rank_pattern', { q_proj: 16 }, /rank of their own/],
    ['alpha_pattern', { 'model.layers.0.self_attn.q_proj': 32 }, /lora_alpha of their own/],
    ['trainable_token_indices', [0, 1, 2], /token embeddings/],
    ['trainable_token_indices', { embed_tokens: [5] }, /token embeddings/],
    ['target_parameters', ['feed_forward.experts.down_proj'], /raw parameters/],
    ['use_qalora', true, /QA-LoRA/],
    ['megatron_config', { tensor_model_parallel_size: 2 }, /Megatron-LM/],
    ['use_bdlora', { target_modules_bd_a: ['q_proj'], nblocks: 2 }, /block-diagonal/],
    ['arrow_config', { top_k: 3 }, /Arrow routing/],
    ['init_lora_weights', 'pissa_niter_16', /PiSSA/],
    ['init_lora_weights', 'olora', /changed the base weights/],
    ['init_lora_weights', 'corda', /changed the base weights/],
    ['init_lora_weights', 'lora_ga', /changed the base weights/],
    ['init_lora_weights', 'loftq', /LoftQ/],
  ];
  it.each(refused)('refuses %s = %j, naming the field and what the lab applies', (key, value, why) => {
    const run = () => parsePeft({ ...cfg, [key]: value }, files[PEFT_WEIGHTS], config, 'a', 'adapter-dir');
    expect(run).toThrow(`adapter-dir: adapter_config.json sets "${key}": ${JSON.stringify(value)} (`);
    expect(run).toThrow(why);
    expect(run).toThrow(/SPaR Lab applies plain LoRA adapters/);
  });

  it('names every refused field at once', () => {
    expect(() => readPeftConfig({ ...cfg, fan_in_fan_out: true, modules_to_save: ['lm_head'] })).toThrow(/"fan_in_fan_out": true .*; "modules_to_save": \["lm_head"\]/);
  });

  it('accepts what only shaped training, and reports the config-level facts', () => {
    const f = readPeftConfig({
      ...cfg,
      r: 16,
      lora_alpha: 32,
      use_rslora: true,
      lora_dropout: 0.1,
      init_lora_weights: 'gaussian',
      eva_config: { rho: 2 }, // ignored by PEFT unless init_lora_weights is "eva"
      loftq_config: { loftq_bits: 4 }, // likewise
      exclude_modules: ['lm_head'],
      layers_to_transform: 1,
      target_modules: '.*\\.(q|v)_proj',
      some_future_key: true,
    });
    expect(f).toEqual({
      rank: 16,
      alpha: 32,
      rslora: true,
      scale: 8,
      targetModules: '.*\\.(q|v)_proj',
      layers: [1],
      baseModel: null,
      peftVersion: '0.19.1',
      unknownKeys: ['some_future_key'],
    });
    for (const init of [true, false, 'gaussian', 'eva', 'orthogonal']) expect(readPeftConfig({ ...cfg, init_lora_weights: init }).rank).toBe(8);
  });
});

describe('PEFT export order', () => {
  it('is the order of the names, so layer 10 comes before layer 2', () => {
    const deep = tinyWeights({ arch: 'llama', seed: 1, numLayers: 11 }).config;
    const names = [...parseSafetensors(exportPeft(createAdapter('a', deep, { targets: ['q'] }, { seed: 1 }))[PEFT_WEIGHTS]).tensors.keys()];
    expect(names.slice(0, 6).map((n) => n.split('.')[4])).toEqual(['0', '0', '1', '1', '10', '10']);
  });
});

describe('merge to base', () => {
  it('the merged checkpoint computes what the base with the adapter computes (f32 base)', async () => {
    const a = createAdapter('actor', config, { rank: 4, alpha: 8, targets: [...LINEAR_NAMES] }, { seed: 6, init: 'random' });
    const files = mergedCheckpoint(weights, a);
    expect(parseHfConfig(JSON.parse(new TextDecoder().decode(files['config.json'])))).toEqual(config);
    const merged = await loadHfWeights(memorySource(files));
    const m = new CpuModel(weights);
    m.setAdapter(a);
    const toks = [5, 40, 200, 7, 99, 3];
    const withAdapter = m.forward(m.newCache(), toks, { adapters: ['actor'] }).logits;
    const mm = new CpuModel(merged);
    expect(mm.forward(mm.newCache(), toks).logits).toBeAllclose(withAdapter, { rtol: 1e-4, floor: 0.1 });
    // Untargeted tensors are copied exactly.
    expect(merged.layers[1].inputNorm).toEqual(weights.layers[1].inputNorm);
  });

  it('a q4 base is dequantized as the engine computes it and written as F16 (or F32 exactly)', async () => {
    const q4 = await loadMlcWeights(memorySource(tinyMlcFiles({ arch: 'llama', seed: 7, quantization: 'q4f16_1' })));
    const a = createAdapter('actor', q4.config, { rank: 2, alpha: 4 }, { seed: 7, init: 'random' });
    const m = new CpuModel(q4);
    m.setAdapter(a);
    const toks = [1, 50, 300, 12];
    const ref = m.forward(m.newCache(), toks, { adapters: ['actor'] }).logits;
    const f16 = mergedCheckpoint(q4, a);
    expect(parseSafetensors(f16['model.safetensors']).tensors.get('model.layers.0.self_attn.q_proj.weight')!.dtype).toBe('F16');
    const f32 = await loadHfWeights(memorySource(mergedCheckpoint(q4, a, { dtype: 'f32' })));
    const m32 = new CpuModel(f32);
    expect(m32.forward(m32.newCache(), toks).logits).toBeAllclose(ref, { rtol: 1e-4, floor: 0.1 });
    const m16 = new CpuModel(await loadHfWeights(memorySource(f16)));
    expect(m16.forward(m16.newCache(), toks).logits).toBeAllclose(ref, { rtol: 1e-2, floor: 0.5 });
    expect(hfConfigJson(q4.config, 'f16').torch_dtype).toBe('float16');
  });
});
