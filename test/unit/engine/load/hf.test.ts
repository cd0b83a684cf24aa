import { describe, expect, it } from 'vitest';
import { CpuModel } from '../../../../src/engine/cpu/model';
import { memorySource, type FileMap } from '../../../../src/engine/load/files';
import { hfNames, loadHfWeights, readHfConfig } from '../../../../src/engine/load/hf';
import { loadModel } from '../../../../src/engine/load/model';
import { parseSafetensors, writeSafetensors, type SafetensorsInput } from '../../../../src/engine/load/safetensors';
import { bf16ArrayToF32, f16ArrayToF32, f32ArrayToBf16, f32ArrayToF16, tensorToF32 } from '../../../../src/engine/model/dtypes';
import type { ModelWeights, Tensor } from '../../../../src/engine/model/weights';
import { parseHfConfig } from '../../../../src/engine/model/config';
import { configToV5 } from '../../../../src/engine/tiny/hf-layout';
import { tinyHfFiles, tinyTensors } from '../../../../src/engine/tiny/tiny';

const enc = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));
const dec = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b));

/** Every tensor of loaded weights, by HF name. */
function byName(w: ModelWeights): Map<string, Tensor> {
  const m = new Map<string, Tensor>([[hfNames.embed, w.embed], [hfNames.finalNorm, w.finalNorm]]);
  if (w.lmHead) m.set(hfNames.lmHead, w.lmHead);
  w.layers.forEach((l, i) => {
    const n = hfNames.layer(i);
    for (const k of Object.keys(n) as (keyof typeof n)[]) if (l[k]) m.set(n[k], l[k]!);
  });
  return m;
}

/** Rewrites model.safetensors with `edit` applied to its tensors. */
function editCheckpoint(files: FileMap, edit: (t: Record<string, SafetensorsInput>) => void): FileMap {
  const parsed = parseSafetensors(files['model.safetensors']);
  const tensors: Record<string, SafetensorsInput> = {};
  for (const [name, e] of parsed.tensors) tensors[name] = { dtype: 'F32', shape: e.shape, data: new Float32Array(e.bytes.slice().buffer) };
  edit(tensors);
  return { ...files, 'model.safetensors': writeSafetensors(tensors) };
}

describe.each(['llama', 'qwen2'] as const)('HF loader (%s)', (arch) => {
  const master = tinyTensors({ arch, seed: 2 });

  it('loads f32, f16, bf16 and sharded checkpoints with every tensor where it belongs', async () => {
    for (const [dtype, shards] of [['f32', 1], ['f16', 1], ['bf16', 1], ['f32', 3]] as const) {
      const w = await loadHfWeights(memorySource(tinyHfFiles({ arch, seed: 2, dtype, shards })));
      const got = byName(w);
      expect([...got.keys()].sort()).toEqual([...master.keys()].sort());
      for (const [name, t] of master) {
        const g = got.get(name)!;
        expect(g.shape).toEqual(t.shape);
        const expected = dtype === 'f16' ? f16ArrayToF32(f32ArrayToF16(t.data)) : dtype === 'bf16' ? bf16ArrayToF32(f32ArrayToBf16(t.data)) : t.data;
        expect(g.dtype).toBe(dtype === 'f16' ? 'f16' : 'f32');
        expect(Array.from(tensorToF32(g))).toEqual(Array.from(expected));
      }
      expect(w.config.arch).toBe(arch);
      expect(w.lmHead === null).toBe(arch === 'qwen2');
      expect(w.layers[0].qBias === null).toBe(arch === 'llama');
    }
  });

  it('names a missing or mis-shaped tensor', async () => {
    const files = tinyHfFiles({ arch, seed: 2 });
    const missing = editCheckpoint(files, (t) => delete t['model.layers.1.mlp.down_proj.weight']);
    await expect(loadHfWeights(memorySource(missing))).rejects.toThrow(/"model.layers.1.mlp.down_proj.weight" is missing .*expected shape \[64,160\]/);
    const wrong = editCheckpoint(files, (t) => {
      t['model.norm.weight'] = { dtype: 'F32', shape: [63], data: new Float32Array(63) };
    });
    await expect(loadHfWeights(memorySource(wrong))).rejects.toThrow(/"model.norm.weight" has shape \[63\] but config.json implies \[64\]/);
  });
});

describe('HF loader: config and formats', () => {
  it('refuses unsupported architectures, naming what is supported', async () => {
    const files = tinyHfFiles();
    const gpt2 = { ...files, 'config.json': enc({ ...dec(files['config.json']), architectures: ['GPT2LMHeadModel'], model_type: 'gpt2' }) };
    await expect(loadModel(memorySource(gpt2))).rejects.toMatchObject({ kind: 'unsupported', message: expect.stringMatching(/GPT2LMHeadModel.*LlamaForCausalLM.*Qwen2ForCausalLM/s) });
  });

  it('loadModel detects the format and brings the tokenizer', async () => {
    const m = await loadModel(memorySource(tinyHfFiles({ arch: 'qwen2' })));
    expect(m.format).toBe('hf');
    expect(m.quantization).toBeNull();
    expect(m.tokenizer.eosTokenIds).toEqual([2]);
    await expect(loadModel(memorySource({}, 'empty folder'))).rejects.toThrow(/empty folder: neither mlc-chat-config.json .* nor config.json/);
    const noTok = tinyHfFiles();
    delete noTok['tokenizer.json'];
    await expect(loadModel(memorySource(noTok))).rejects.toThrow(/tokenizer.json is missing/);
  });
});

/** The tokens the golden logits below were computed on: 100 positions, past llama3's original_max_position_embeddings (64). */
const GOLDEN_TOKENS = Array.from({ length: 100 }, (_, i) => (i * 37 + 5) % 331);

/**
 * Logits transformers 5.18.0 computes (torch 2.13, float32) for tinyHfFiles({ arch, seed: 7,
 * layout: 'v5' }) on GOLDEN_TOKENS: vocabulary ids 0..5 at position 99, and the argmax there.
 */
const TRANSFORMERS_V5_LOGITS = {
  llama: { first: [-0.302773, 2.03441, -0.276513, -0.726763, -0.844908, 0.213038], argmax: 140 },
  qwen2: { first: [-1.48585, 2.62587, -0.956714, -0.617122, -3.40125, -0.572537], argmax: 172 },
};

describe.each(['llama', 'qwen2'] as const)('HF checkpoints saved by transformers v4 and v5 (%s)', (arch) => {
  it('a v5 folder loads to the same ModelConfig and the same CPU logits as the v4 one', async () => {
    const v4 = await loadHfWeights(memorySource(tinyHfFiles({ arch, seed: 7 })));
    const v5 = await loadHfWeights(memorySource(tinyHfFiles({ arch, seed: 7, layout: 'v5' })));
    expect(v5.config).toEqual(v4.config);
    const logits = (w: ModelWeights) => {
      const model = new CpuModel(w);
      return model.forward(model.newCache(GOLDEN_TOKENS.length), GOLDEN_TOKENS).logits;
    };
    const [a, b] = [logits(v4), logits(v5)];
    expect(Array.from(b)).toEqual(Array.from(a));
    const V = v5.config.vocabSize;
    const last = b.subarray(99 * V, 100 * V);
    const want = TRANSFORMERS_V5_LOGITS[arch];
    want.first.forEach((x, i) => expect(Math.abs(last[i] - x), `logit ${i} at position 99`).toBeLessThan(1e-4));
    expect(last.indexOf(Math.max(...last))).toBe(want.argmax);
  });

  it('the v5 folder has the v5 files: rope_parameters and dtype in config.json, chat_template.jinja', () => {
    const files = tinyHfFiles({ arch, layout: 'v5', dtype: 'bf16' });
    const config = dec(files['config.json']);
    expect(config).toMatchObject({ dtype: 'bfloat16', transformers_version: expect.stringMatching(/^5\./), rope_parameters: { rope_type: arch === 'llama' ? 'llama3' : 'default' } });
    expect(config).not.toHaveProperty('rope_theta');
    expect(config).not.toHaveProperty('rope_scaling');
    expect(config).not.toHaveProperty('torch_dtype');
    expect('layer_types' in config).toBe(arch === 'qwen2');
    const tok = dec(files['tokenizer_config.json']);
    expect(tok).toMatchObject({ backend: 'tokenizers', extra_special_tokens: ['<|im_start|>', '<|im_end|>'] });
    expect(tok).not.toHaveProperty('chat_template');
    expect(tok).not.toHaveProperty('added_tokens_decoder');
    expect(new TextDecoder().decode(files['chat_template.jinja'])).toContain('<|im_start|>');
    expect(files).not.toHaveProperty('special_tokens_map.json');
    const v4 = tinyHfFiles({ arch, dtype: 'bf16' });
    expect(dec(v4['config.json'])).toMatchObject({ torch_dtype: 'bfloat16', transformers_version: expect.stringMatching(/^4\./) });
    expect(dec(v4['tokenizer_config.json'])).toHaveProperty('chat_template');
  });
});

describe('configToV5', () => {
  it('moves RoPE into rope_parameters as transformers 5.18 does, the older "type" key and a missing original length included', () => {
    const v4 = { model_type: 'llama', max_position_embeddings: 512, rope_theta: 500000, torch_dtype: 'float16', rope_scaling: { type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4 } };
    expect(configToV5(v4)).toEqual({
      model_type: 'llama',
      max_position_embeddings: 512,
      dtype: 'float16',
      pad_token_id: null,
      // What transformers 5.18.0 saved for this rope_scaling.
      rope_parameters: { factor: 8, high_freq_factor: 4, low_freq_factor: 1, original_max_position_embeddings: 512, rope_theta: 500000, rope_type: 'llama3', type: 'llama3' },
      transformers_version: '5.18.0',
    });
    expect(parseHfConfig({ ...configToV5(v4), architectures: ['LlamaForCausalLM'], hidden_size: 64, intermediate_size: 160, num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 331 })).toMatchObject({
      ropeTheta: 500000,
      ropeScaling: { factor: 8, originalMaxPositionEmbeddings: 512 },
    });
  });
});

describe('HF loader: what the engine cannot run is refused before any weight is read', () => {
  it('a bitsandbytes 4-bit checkpoint, naming the method, the folder and what to use instead', async () => {
    const files = tinyHfFiles({ seed: 2 });
    const quantized: FileMap = { ...files, 'config.json': enc({ ...dec(files['config.json']), quantization_config: { quant_method: 'bitsandbytes', load_in_4bit: true, bnb_4bit_quant_type: 'nf4' } }) };
    delete quantized['model.safetensors'];
    await expect(loadModel(memorySource(quantized, 'tinyllama-qlora'))).rejects.toMatchObject({
      kind: 'unsupported',
      message: expect.stringMatching(/^tinyllama-qlora: config.json: the weights are quantized with bitsandbytes 4-bit \(nf4\).*MLC q4 build/),
    });
  });

  it('a v5 Qwen2 config with sliding-window layers', async () => {
    const files = tinyHfFiles({ arch: 'qwen2', layout: 'v5' });
    const sliding = { ...files, 'config.json': enc({ ...dec(files['config.json']), use_sliding_window: true, sliding_window: 16, layer_types: ['full_attention', 'sliding_attention'] }) };
    await expect(readHfConfig(memorySource(sliding, 'qwen-swa'))).rejects.toMatchObject({ kind: 'unsupported', message: expect.stringMatching(/^qwen-swa: config.json: "layer_types" makes 1 of 2 layers "sliding_attention"/) });
  });
});
