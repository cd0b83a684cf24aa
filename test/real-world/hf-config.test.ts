/**
 * Hugging Face config.json files as transformers v4 (4.47, 4.49) and v5 (5.13.1) saved them
 * (../shared/real-world/hf), and the MLC chat configs that carry RoPE settings: each gives the
 * right model numbers, or is refused with a message naming what is supported. The tiny
 * checkpoints the lab generates are compared, key by key, with the real files of each layout.
 */
import { expect, it } from 'vitest';
import { readHfConfig } from '../../src/engine/load/hf';
import { parseMlcChatConfig } from '../../src/engine/load/mlc';
import { hfConfigDtype, parseHfConfig, ropeInvFreq } from '../../src/engine/model/config';
import { configToV5 } from '../../src/engine/tiny/hf-layout';
import { tinyHfFiles } from '../../src/engine/tiny/tiny';
import { describeRealWorld, realJson, realSource } from '../helpers/real-world';

const SMOLLM2_V4 = 'hf/smollm2-135m-arch-tf4.47.0-v4-tokenizer';
const QWEN_V5 = 'hf/qwen2.5-0.5b-merged-transformers-v5.13.1';
const TINYLLAMA_BNB = 'hf/tinyllama-chat-merged-bnb4bit-tf4.49.0';
const SMOLLM2_V5_TOKENIZER = 'peft/smollm2-135m-instruct-lora-r8-qv-peft0.19.1-COMPLETE';

type Json = Record<string, unknown>;
const json = (...parts: string[]) => realJson(...parts) as Json;
const dec = (b: Uint8Array) => JSON.parse(new TextDecoder().decode(b)) as Json;
const keys = (x: Json) => Object.keys(x).sort();
/** Keys in one and not the other, each side sorted. */
const keyDiff = (ours: Json, real: Json) => ({ onlyOurs: keys(ours).filter((k) => !(k in real)), onlyReal: keys(real).filter((k) => !(k in ours)) });

describeRealWorld('real HF configs, transformers v4 and v5 layouts', () => {
  it('SmolLM2-135M (transformers 4.47, v4 layout) loads with its numbers', async () => {
    expect(await readHfConfig(realSource(SMOLLM2_V4))).toEqual({
      arch: 'llama', vocabSize: 49152, hiddenSize: 576, intermediateSize: 1536, numLayers: 30, numHeads: 9, numKvHeads: 3, headDim: 64,
      rmsNormEps: 1e-5, ropeTheta: 10000, ropeScaling: null, maxPositionEmbeddings: 2048, tieWordEmbeddings: false, attentionBias: false,
      bosTokenId: 0, eosTokenIds: [0],
    });
    expect(hfConfigDtype(json(SMOLLM2_V4, 'config.json'))).toBe('float32');
  });

  it('Qwen2.5-0.5B saved by transformers 5.13.1 (rope_parameters, no top-level rope_theta) loads with theta 1e6, as its v4 form does', async () => {
    const real = json(QWEN_V5, 'config.json');
    expect(real).not.toHaveProperty('rope_theta');
    const config = await readHfConfig(realSource(QWEN_V5));
    expect(config).toEqual({
      arch: 'qwen2', vocabSize: 151936, hiddenSize: 896, intermediateSize: 4864, numLayers: 24, numHeads: 14, numKvHeads: 2, headDim: 64,
      rmsNormEps: 1e-6, ropeTheta: 1_000_000, ropeScaling: null, maxPositionEmbeddings: 32768, tieWordEmbeddings: true, attentionBias: true,
      bosTokenId: 151643, eosTokenIds: [151643],
    });
    expect(hfConfigDtype(real)).toBe('float32');
    // The same config in the v4 layout (as transformers 4.x wrote Qwen2.5-0.5B) is the same model.
    const { rope_parameters, dtype, layer_types, pad_token_id, ...rest } = real;
    const v4 = { ...rest, rope_theta: (rope_parameters as Json).rope_theta, rope_scaling: null, torch_dtype: dtype };
    expect(parseHfConfig(v4)).toEqual(config);
    expect(Array.from(ropeInvFreq(config))).toEqual(Array.from(ropeInvFreq(parseHfConfig(v4))));
  });

  it('TinyLlama with a bitsandbytes 4-bit quantization_config is refused, naming bitsandbytes and what to use instead', async () => {
    await expect(readHfConfig(realSource(TINYLLAMA_BNB))).rejects.toMatchObject({
      kind: 'unsupported',
      message: expect.stringMatching(/config\.json: the weights are quantized with bitsandbytes 4-bit \(nf4\).*"TinyLlama\/TinyLlama-1\.1B-Chat-v1\.0".*MLC q4 build/),
    });
    // Everything else in it is read right: only the quantization stands in the way.
    const { quantization_config, ...plain } = json(TINYLLAMA_BNB, 'config.json');
    expect(quantization_config).toMatchObject({ quant_method: 'bitsandbytes' });
    expect(parseHfConfig(plain)).toMatchObject({ arch: 'llama', numLayers: 22, hiddenSize: 2048, numHeads: 32, numKvHeads: 4, headDim: 64, vocabSize: 32000, ropeTheta: 10000, ropeScaling: null, maxPositionEmbeddings: 2048, bosTokenId: 1, eosTokenIds: [2] });
  });

  it("each config's eos ids agree with its generation_config.json", () => {
    for (const folder of [SMOLLM2_V4, QWEN_V5, TINYLLAMA_BNB]) {
      const { quantization_config: _q, ...config } = json(folder, 'config.json');
      expect(parseHfConfig(config).eosTokenIds, folder).toEqual([json(folder, 'generation_config.json').eos_token_id].flat());
    }
  });

  it('a real v4 config rewritten as transformers v5 saves it reads back to the same model', () => {
    const v4 = json(SMOLLM2_V4, 'config.json');
    const v5 = configToV5(v4);
    expect(v5).toMatchObject({ dtype: 'float32', pad_token_id: null, rope_parameters: { rope_theta: 10000, rope_type: 'default' } });
    expect(parseHfConfig(v5)).toEqual(parseHfConfig(v4));
  });

  it('MLC chat configs carry the RoPE base and context the same way', () => {
    const reader = parseMlcChatConfig(realJson('mlc/readerlm-v2-qwen2-q4f16_1/mlc-chat-config.json')).config;
    expect(reader).toMatchObject({ arch: 'qwen2', ropeTheta: 5_000_000, ropeScaling: null, maxPositionEmbeddings: 8192, headDim: 128 });
    for (const path of ['mlc/llama3-8b-instruct-q4f16_1/mlc-chat-config.json', 'mlc/llama3-8b-instruct-q4f16_1/alt-llamaxist-meta-llama3/mlc-chat-config.json']) {
      expect(parseMlcChatConfig(realJson(path)).config, path).toMatchObject({ arch: 'llama', ropeTheta: 500_000, ropeScaling: null, maxPositionEmbeddings: 8192, headDim: 128 });
    }
  });
});

describeRealWorld('tiny checkpoints against the real files of each layout', () => {
  it('v4: config.json, generation_config.json and the tokenizer files have the keys transformers 4.47 wrote for SmolLM2', () => {
    const ours = tinyHfFiles({ arch: 'llama', ropeScaling: false });
    const config = dec(ours['config.json']);
    const real = json(SMOLLM2_V4, 'config.json');
    expect(Object.keys(config)).toEqual(Object.keys(real)); // same keys, same (sorted) order
    expect(config).toMatchObject({ torch_dtype: 'float32', transformers_version: real.transformers_version, rope_scaling: null });
    expect(Object.keys(dec(ours['generation_config.json']))).toEqual(Object.keys(json(SMOLLM2_V4, 'generation_config.json')));
    // Tokenizer keys follow the tokenizer's own init arguments: ours has add_bos_token, SmolLM2's vocab_size.
    expect(keyDiff(dec(ours['tokenizer_config.json']), json(SMOLLM2_V4, 'tokenizer_config.json'))).toEqual({ onlyOurs: ['add_bos_token'], onlyReal: ['vocab_size'] });
    // SmolLM2 has an unk_token; the tiny tokenizer has none.
    expect(keyDiff(dec(ours['special_tokens_map.json']), json(SMOLLM2_V4, 'special_tokens_map.json'))).toEqual({ onlyOurs: [], onlyReal: ['unk_token'] });
  });

  it('v5: config.json has the keys transformers 5.13.1 wrote for Qwen2.5, and the tokenizer its v5 form', () => {
    const ours = tinyHfFiles({ arch: 'qwen2', layout: 'v5' });
    const config = dec(ours['config.json']);
    const real = json(QWEN_V5, 'config.json');
    // head_dim: the tiny config states it (transformers keeps it); use_mrope came over from that model's origin, no Qwen2Config key.
    expect(keyDiff(config, real)).toEqual({ onlyOurs: ['head_dim'], onlyReal: ['use_mrope'] });
    expect(keys(config.rope_parameters as Json)).toEqual(keys(real.rope_parameters as Json));
    expect(config.layer_types).toEqual(Array(config.num_hidden_layers).fill('full_attention'));
    expect(config).toMatchObject({ dtype: 'float32', sliding_window: null, use_sliding_window: false, transformers_version: expect.stringMatching(/^5\./) });
    // Tokenizer: no chat_template (it is chat_template.jinja) and no added_tokens_decoder, extra_special_tokens a list.
    for (const [tok, realFolder, onlyReal] of [
      [dec(ours['tokenizer_config.json']), QWEN_V5, ['errors', 'split_special_tokens']],
      [dec(tinyHfFiles({ arch: 'llama', layout: 'v5' })['tokenizer_config.json']), SMOLLM2_V5_TOKENIZER, ['vocab_size']],
    ] as const) {
      const realTok = json(realFolder, 'tokenizer_config.json');
      expect(keyDiff(tok, realTok), realFolder).toEqual({ onlyOurs: [], onlyReal });
      expect(Array.isArray(realTok.extra_special_tokens) && Array.isArray(tok.extra_special_tokens)).toBe(true);
    }
    expect(ours['chat_template.jinja']).toBeDefined();
  });
});
