import { describe, expect, it } from 'vitest';
import { hfConfigDtype, parseHfConfig, ropeInvFreq } from '../../../../src/engine/model/config';

/** Llama-3.2-1B's config.json as Meta ships it (transformers v4 layout). */
const LLAMA32_V4 = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
  head_dim: 64,
  hidden_act: 'silu',
  hidden_size: 2048,
  initializer_range: 0.02,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  transformers_version: '4.45.0.dev0',
  use_cache: true,
  vocab_size: 128256,
};

/** The same config after transformers 5.18.0's from_pretrained + save_pretrained. */
const { rope_scaling: _scaling, rope_theta: _theta, torch_dtype: _dtype, ...llama32Rest } = LLAMA32_V4;
const LLAMA32_V5 = {
  ...llama32Rest,
  dtype: 'bfloat16',
  pad_token_id: null,
  rope_parameters: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_theta: 500000.0, rope_type: 'llama3' },
  transformers_version: '5.18.0',
};

/** inv_freq of transformers 5.18.0's LlamaRotaryEmbedding for that config (float32). */
const LLAMA32_INV_FREQ = [
  1, 0.663601279, 0.440366626, 0.292227834, 0.193922758, 0.128687382, 0.0853971019, 0.0566696189, 0.0376060307, 0.0249554086,
  0.0165604409, 0.0109895291, 0.00729266508, 0.00483942125, 0.00321144611, 0.00129054801, 0.000429556705, 9.70828623e-5,
  1.94616387e-5, 1.29147675e-5, 8.57025589e-6, 5.68723226e-6, 3.77405445e-6, 2.50446715e-6, 1.66196742e-6, 1.10288363e-6,
  7.31874934e-7, 4.85673127e-7, 3.22293289e-7, 2.1387423e-7, 1.41927202e-7, 9.41830649e-8,
];

/** Qwen2.5-0.5B-style config (v4 layout). */
const QWEN = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  vocab_size: 151936,
  max_position_embeddings: 32768,
  max_window_layers: 21,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  use_sliding_window: false,
  tie_word_embeddings: true,
};

const refused = (json: unknown, kind: string, message: RegExp) => expect(() => parseHfConfig(json)).toThrow(expect.objectContaining({ kind, message: expect.stringMatching(message) }));

describe('HF config: transformers v4 and v5 layouts', () => {
  it('a v5 Llama-3.2 config (rope_parameters) gives the same config and RoPE as its v4 form', () => {
    const v4 = parseHfConfig(LLAMA32_V4);
    const v5 = parseHfConfig(LLAMA32_V5);
    expect(v5).toEqual(v4);
    expect(v5).toMatchObject({ ropeTheta: 500000, ropeScaling: { type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 } });
    expect(Array.from(ropeInvFreq(v5))).toEqual(Array.from(ropeInvFreq(v4)));
  });

  it('ropeInvFreq is transformers inv_freq for Llama-3.2 (every band of the llama3 rule)', () => {
    const got = ropeInvFreq(parseHfConfig(LLAMA32_V5));
    expect(got.length).toBe(32);
    got.forEach((f, i) => expect(Math.abs(f - LLAMA32_INV_FREQ[i]) / LLAMA32_INV_FREQ[i], `inv_freq[${i}]`).toBeLessThan(2e-6));
  });

  it('reads the v5 Qwen2 layout: rope_parameters, dtype, layer_types', () => {
    const { rope_theta: _t, ...rest } = QWEN;
    const v5 = { ...rest, sliding_window: null, dtype: 'bfloat16', rope_parameters: { rope_theta: 1000000.0, rope_type: 'default' }, layer_types: Array(24).fill('full_attention') };
    expect(parseHfConfig(v5)).toEqual(parseHfConfig(QWEN));
    expect(parseHfConfig(v5)).toMatchObject({ ropeTheta: 1e6, ropeScaling: null, attentionBias: true, maxPositionEmbeddings: 32768 });
  });

  it('resolves the RoPE keys as transformers v5 does', () => {
    const llama3 = { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4 };
    // rope_theta inside the parameters wins over the top-level one; the top-level one is the fallback, then 10000.
    expect(parseHfConfig({ ...LLAMA32_V5, rope_theta: 1234, rope_parameters: { rope_type: 'default', rope_theta: 99 } }).ropeTheta).toBe(99);
    expect(parseHfConfig({ ...LLAMA32_V5, rope_theta: 1234, rope_parameters: { rope_type: 'default' } }).ropeTheta).toBe(1234);
    expect(parseHfConfig({ ...LLAMA32_V5, rope_parameters: undefined }).ropeTheta).toBe(10000);
    // A rope_scaling dict takes precedence over rope_parameters.
    const both = parseHfConfig({ ...LLAMA32_V5, rope_theta: 1234, rope_parameters: { rope_type: 'default', rope_theta: 99 }, rope_scaling: { ...llama3, original_max_position_embeddings: 64 } });
    expect(both).toMatchObject({ ropeTheta: 1234, ropeScaling: { factor: 8, originalMaxPositionEmbeddings: 64 } });
    // The pre-rope_type key "type"; "default" scaling is plain RoPE.
    expect(parseHfConfig({ ...LLAMA32_V4, rope_scaling: { type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 } }).ropeScaling).toMatchObject({ factor: 8 });
    expect(parseHfConfig({ ...LLAMA32_V4, rope_scaling: { rope_type: 'default' } }).ropeScaling).toBeNull();
    // llama3 without original_max_position_embeddings: max_position_embeddings (v5's default).
    expect(parseHfConfig({ ...LLAMA32_V5, rope_parameters: { ...llama3, rope_theta: 5e5 } }).ropeScaling).toMatchObject({ originalMaxPositionEmbeddings: 131072 });
    // v5 nests the parameters per layer type when a model declares layer types.
    const nested = { ...QWEN, rope_theta: undefined, layer_types: Array(24).fill('full_attention'), rope_parameters: { full_attention: { rope_type: 'default', rope_theta: 5e6 } } };
    expect(parseHfConfig(nested).ropeTheta).toBe(5e6);
  });

  it('refuses RoPE types the engine does not compute, naming the field and what is supported', () => {
    for (const type of ['linear', 'dynamic', 'yarn', 'longrope']) {
      refused({ ...LLAMA32_V5, rope_parameters: { rope_type: type, factor: 4, rope_theta: 1e4 } }, 'unsupported', new RegExp(`"rope_parameters" asks for rope_type "${type}".*"default".*"llama3"`));
      refused({ ...QWEN, rope_scaling: { type, factor: 4 } }, 'unsupported', new RegExp(`"rope_scaling" asks for rope_type "${type}"`));
    }
    refused({ ...LLAMA32_V5, rope_parameters: { rope_type: 'llama3', factor: 8, rope_theta: 1e4 } }, 'invalid-input', /lacks a number for low_freq_factor, high_freq_factor/);
    refused({ ...LLAMA32_V5, rope_parameters: { rope_type: 'default', rope_theta: 1e4, partial_rotary_factor: 0.5 } }, 'unsupported', /"partial_rotary_factor" is 0.5/);
    refused({ ...LLAMA32_V4, rope_theta: 'big' }, 'invalid-input', /"rope_theta"\) must be a positive number/);
  });

  it('reads the storage dtype from v5 dtype or v4 torch_dtype, and refuses others', () => {
    expect(hfConfigDtype(LLAMA32_V4)).toBe('bfloat16');
    expect(hfConfigDtype(LLAMA32_V5)).toBe('bfloat16');
    expect(hfConfigDtype({ dtype: 'float16', torch_dtype: 'float32' })).toBe('float16');
    expect(hfConfigDtype({})).toBeNull();
    refused({ ...LLAMA32_V5, dtype: 'float8_e4m3fn' }, 'unsupported', /"dtype" is "float8_e4m3fn".*float32, float16, bfloat16/);
  });

  it('takes transformers defaults per architecture for keys a config leaves out', () => {
    const { max_position_embeddings: _m, ...qwenNoContext } = QWEN;
    expect(parseHfConfig(qwenNoContext).maxPositionEmbeddings).toBe(32768);
    const { max_position_embeddings: _l, num_key_value_heads: _k, head_dim: _d, ...llamaBare } = LLAMA32_V4;
    expect(parseHfConfig(llamaBare)).toMatchObject({ maxPositionEmbeddings: 2048, numKvHeads: 32, headDim: 64 });
    // Qwen2Config's num_key_value_heads defaults to 32, which 14 heads cannot share.
    const { num_key_value_heads: _q, ...qwenNoKv } = QWEN;
    refused(qwenNoKv, 'invalid-input', /14 heads \/ 32 KV heads/);
  });
});

describe('HF config: what changes the math is read or refused, never ignored', () => {
  it('refuses a quantization_config, naming the method and what to use instead', () => {
    const bnb = { _name_or_path: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0', quant_method: 'bitsandbytes', load_in_4bit: true, bnb_4bit_quant_type: 'nf4' };
    refused({ ...LLAMA32_V4, _name_or_path: bnb._name_or_path, quantization_config: bnb }, 'unsupported', /bitsandbytes 4-bit \(nf4\).*original float16\/bfloat16 checkpoint \(this one was made from "TinyLlama\/TinyLlama-1.1B-Chat-v1.0"\).*MLC q4 build/);
    refused({ ...QWEN, quantization_config: { quant_method: 'gptq', bits: 4, group_size: 128 } }, 'unsupported', /quantized with gptq 4-bit/);
    refused({ ...QWEN, quantization_config: { quant_method: 'awq', bits: 4 } }, 'unsupported', /awq/);
    refused({ ...LLAMA32_V5, quantization_config: { quant_method: 'fp8', weight_block_size: [128, 128] } }, 'unsupported', /quant_method "fp8"/);
  });

  it("refuses Llama's attention and MLP biases (the engine has q/k/v biases only)", () => {
    refused({ ...LLAMA32_V4, attention_bias: true }, 'unsupported', /"attention_bias" is true.*q, k, v and o/);
    refused({ ...LLAMA32_V4, mlp_bias: true }, 'unsupported', /"mlp_bias" is true/);
    // Qwen2's q/k/v biases are built in, whatever attention_bias says.
    expect(parseHfConfig({ ...QWEN, attention_bias: false }).attentionBias).toBe(true);
  });

  it('refuses sliding-window layers, and accepts the window switched off', () => {
    refused({ ...QWEN, use_sliding_window: true }, 'unsupported', /"use_sliding_window" is true.*"max_window_layers" \(21\).*layers 21, 22, 23; window 32768.*full causal attention/);
    refused({ ...QWEN, layer_types: [...Array(23).fill('full_attention'), 'sliding_attention'] }, 'unsupported', /1 of 24 layers "sliding_attention" \(layers 23;/);
    refused({ ...QWEN, layer_types: Array(23).fill('full_attention') }, 'invalid-input', /"layer_types" must list one attention type per layer \(24 layers\)/);
    expect(parseHfConfig({ ...QWEN, use_sliding_window: true, max_window_layers: 24 }).numLayers).toBe(24);
    // transformers' Llama has no sliding layers and ignores layer_types.
    expect(parseHfConfig({ ...LLAMA32_V5, layer_types: Array(16).fill('sliding_attention') }).numLayers).toBe(16);
  });

  it('uses head_dim where it differs from hidden/heads; pretraining_tp changes nothing', () => {
    expect(parseHfConfig({ ...LLAMA32_V4, head_dim: 128 }).headDim).toBe(128);
    expect(parseHfConfig({ ...LLAMA32_V4, pretraining_tp: 2 })).toEqual(parseHfConfig(LLAMA32_V4));
  });

  it('names the file in errors', () => {
    expect(() => parseHfConfig({ ...LLAMA32_V4, mlp_bias: true }, 'my-model: config.json')).toThrow(/^my-model: config.json: "mlp_bias"/);
    expect(() => parseHfConfig({ ...LLAMA32_V4, architectures: ['MistralForCausalLM'], model_type: 'mistral' }, 'my-model: config.json')).toThrow(
      /my-model: config.json: unsupported architecture MistralForCausalLM.*LlamaForCausalLM.*Qwen2ForCausalLM/,
    );
  });
});
