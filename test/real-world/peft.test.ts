/**
 * PEFT adapters as peft 0.19.1 wrote them (../shared/real-world/peft): the complete SmolLM2-135M
 * LoRA imports against SmolLM2-135M's config with the values in its bytes, exports back to the
 * very bytes peft wrote, and every real adapter_config is accepted or refused naming the field.
 */
import { readdirSync } from 'node:fs';
import { expect, it } from 'vitest';
import { parseHfConfig } from '../../src/engine/model/config';
import { memorySource } from '../../src/engine/load/files';
import { parseSafetensors } from '../../src/engine/load/safetensors';
import { adapterTensors } from '../../src/engine/train/lora';
import { exportPeft, importPeft, PEFT_CONFIG, PEFT_WEIGHTS, readPeftConfig } from '../../src/engine/train/peft';
import { hfRepoOfMlcBuild } from '../../src/models/hf-base';
import { describeRealWorld, realBytes, realJson, realPath, realSource, realText } from '../helpers/real-world';

const SMOL = 'peft/smollm2-135m-instruct-lora-r8-qv-peft0.19.1-COMPLETE';
const TINYLLAMA = 'peft/tinyllama-chat-lora-r16-peft0.19.1';
const UNSLOTH = 'peft/unsloth-tinyllama-lora-r32-modules_to_save';
const GPT2 = 'peft/NEGATIVE-gpt2-lora-r8-c_attn-peft0.18.1';
const smolConfig = () => parseHfConfig(realJson('hf/smollm2-135m-arch-tf4.47.0-v4-tokenizer/config.json'));

/** A safetensors file decoded here with DataView, independently of src/engine/load/safetensors.ts. */
function decodeF32(bytes: Uint8Array): Map<string, { shape: number[]; values: Float32Array }> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, { shape: number[]; values: Float32Array }>();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    expect(t.dtype).toBe('F32');
    const [begin, end] = t.data_offsets;
    const values = new Float32Array((end - begin) / 4);
    for (let i = 0; i < values.length; i++) values[i] = view.getFloat32(8 + n + begin + 4 * i, true);
    out.set(name, { shape: t.shape, values });
  }
  return out;
}

/** Same bits (a byte compare: expect().toEqual over 120 arrays of thousands of values is slow). */
const sameBits = (a: Float32Array, b: Float32Array) => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
const sum = (a: Float32Array, f = (x: number) => x) => a.reduce((s, x) => s + f(x), 0);

describeRealWorld('peft 0.19.1 LoRA for SmolLM2-135M-Instruct (complete)', () => {
  it('imports against SmolLM2-135M: rank 8, alpha 16, scale 2, q and v on all 30 layers, PEFT shapes', async () => {
    const config = smolConfig();
    expect(config).toMatchObject({ numLayers: 30, hiddenSize: 576, numHeads: 9, numKvHeads: 3, headDim: 64 });
    const a = await importPeft(realSource(SMOL), config, 'smol');
    expect(a).toMatchObject({ name: 'smol', rank: 8, alpha: 16, scale: 2, targets: ['q', 'v'] });
    expect(a.layers).toHaveLength(30);
    for (const layer of a.layers) {
      expect(Object.keys(layer).sort()).toEqual(['q', 'v']);
      expect([layer.q!.a.length, layer.q!.b.length, layer.v!.a.length, layer.v!.b.length]).toEqual([8 * 576, 576 * 8, 8 * 576, 192 * 8]);
    }
    expect(readPeftConfig(realJson(SMOL, PEFT_CONFIG))).toEqual({
      rank: 8,
      alpha: 16,
      rslora: false,
      scale: 2,
      targetModules: ['q_proj', 'v_proj'],
      layers: null,
      baseModel: 'HuggingFaceTB/SmolLM2-135M-Instruct',
      peftVersion: '0.19.1',
      unknownKeys: [],
    });
  });

  it('holds the values in the file: bit for bit against a DataView decode, and the sums numpy gives', async () => {
    const a = await importPeft(realSource(SMOL), smolConfig(), 'smol');
    const decoded = decodeF32(realBytes(SMOL, PEFT_WEIGHTS));
    expect(decoded.size).toBe(120);
    const refs = adapterTensors(a);
    expect(refs.map((t) => t.key).sort()).toEqual([...decoded.keys()].sort());
    for (const t of refs) {
      const d = decoded.get(t.key)!;
      expect(t.shape, t.key).toEqual(d.shape);
      expect(sameBits(t.data, d.values), t.key).toBe(true);
    }
    // python3 + numpy one-off over the file: float64 sums and |sums| of four tensors, first values, and Σ|x| of all 120.
    const key = (l: number, p: 'q' | 'v', ab: 'A' | 'B') => `base_model.model.model.layers.${l}.self_attn.${p}_proj.lora_${ab}.weight`;
    const expected: [string, number, number, number][] = [
      [key(0, 'q', 'A'), -0.5485942542200064, 96.03190383168294, 0.036038752645254135],
      [key(0, 'q', 'B'), 0.12766968151572655, 3.8170740380401185, -0.0009542951011098921],
      [key(29, 'v', 'A'), 1.572384404433251, 97.2202874991126, -0.00717683881521225],
      [key(29, 'v', 'B'), 0.043198914528147725, 1.2095489244511555, -0.00029813736910000443],
    ];
    for (const [k, s, abs, first] of expected) {
      const t = refs.find((r) => r.key === k)!.data;
      expect(sum(t), k).toBeCloseTo(s, 9);
      expect(sum(t, Math.abs), k).toBeCloseTo(abs, 9);
      expect(t[0], k).toBe(Math.fround(first));
    }
    expect(refs.reduce((s, t) => s + sum(t.data, Math.abs), 0)).toBeCloseTo(5901.165037672544, 7);
  });

  it('exports back to the bytes peft wrote, and re-imports bit-exactly', async () => {
    const a = await importPeft(realSource(SMOL), smolConfig(), 'smol');
    const files = exportPeft(a, { baseModel: hfRepoOfMlcBuild('mlc-ai/SmolLM2-135M-Instruct-q0f16-MLC') });
    const real = realBytes(SMOL, PEFT_WEIGHTS);
    const ours = parseSafetensors(files[PEFT_WEIGHTS]);
    const theirs = parseSafetensors(real);
    expect(ours.metadata).toEqual(theirs.metadata);
    expect([...ours.tensors.values()].map((e) => [e.name, e.dtype, e.shape])).toEqual([...theirs.tensors.values()].map((e) => [e.name, e.dtype, e.shape]));
    expect(files[PEFT_WEIGHTS].byteLength).toBe(real.byteLength);
    expect(Buffer.compare(Buffer.from(files[PEFT_WEIGHTS]), Buffer.from(real))).toBe(0);

    // adapter_config.json: peft's key set and text; the lab trains without dropout (0.0 where this run used 0.05).
    const text = new TextDecoder().decode(files[PEFT_CONFIG]);
    const realConfig = realText(SMOL, PEFT_CONFIG);
    expect(Object.keys(JSON.parse(text))).toEqual(Object.keys(JSON.parse(realConfig)));
    expect(text).toBe(realConfig.replace('"lora_dropout": 0.05,', '"lora_dropout": 0.0,'));

    const back = await importPeft(memorySource(files), smolConfig(), 'back');
    const refs = adapterTensors(back);
    adapterTensors(a).forEach((t, i) => expect(sameBits(refs[i].data, t.data), t.key).toBe(true));
    expect(back).toMatchObject({ rank: 8, alpha: 16, scale: 2, targets: ['q', 'v'] });
  });
});

describeRealWorld('every real adapter_config.json', () => {
  it('has the key set the export writes (peft 0.19.1), or a subset of it (older peft, Unsloth)', () => {
    const ours = Object.keys(JSON.parse(new TextDecoder().decode(exportPeft({ name: 'x', rank: 1, alpha: 1, scale: 1, targets: ['q'], layers: [{ q: { a: new Float32Array(1), b: new Float32Array(1) } }] })[PEFT_CONFIG])));
    expect(Object.keys(realJson(TINYLLAMA, PEFT_CONFIG) as object)).toEqual(ours);
    for (const dir of [UNSLOTH, GPT2]) expect(ours, dir).toEqual(expect.arrayContaining(Object.keys(realJson(dir, PEFT_CONFIG) as object)));
  });

  it('is accepted or refused with a message that names the field', async () => {
    const verdicts: Record<string, string> = {};
    for (const dir of readdirSync(realPath('peft'))) {
      try {
        const f = readPeftConfig(realJson('peft', dir, PEFT_CONFIG), dir);
        verdicts[dir] = `r ${f.rank}, alpha ${f.alpha}, scale ${f.scale}, ${String(f.targetModules)}, base ${f.baseModel}`;
      } catch (e) {
        verdicts[dir] = (e as Error).message;
      }
    }
    expect(Object.keys(verdicts)).toEqual(expect.arrayContaining([GPT2, SMOL, TINYLLAMA, UNSLOTH].map((d) => d.slice('peft/'.length))));
    for (const [dir, v] of Object.entries(verdicts)) expect(v, dir).toMatch(/^r \d+, |^[^:]+: adapter_config\.json (sets|has) "\w+": /);
    expect(verdicts[SMOL.slice(5)]).toBe('r 8, alpha 16, scale 2, q_proj,v_proj, base HuggingFaceTB/SmolLM2-135M-Instruct');
    expect(verdicts[TINYLLAMA.slice(5)]).toBe('r 16, alpha 32, scale 2, o_proj,v_proj,gate_proj,down_proj,k_proj,q_proj,up_proj, base TinyLlama/TinyLlama-1.1B-Chat-v1.0');
    expect(verdicts[UNSLOTH.slice(5)]).toMatch(/adapter_config\.json sets "modules_to_save": \["lm_head","embed_tokens"\] \(whole modules/);
    expect(verdicts[GPT2.slice(5)]).toMatch(/adapter_config\.json sets "fan_in_fan_out": true \(the adapter is for Conv1D layers .*GPT-2's c_attn/);

    // Through importPeft too: the config is refused before the weights are looked at (Unsloth's folder has none).
    await expect(importPeft(realSource(UNSLOTH), smolConfig(), 'u')).rejects.toThrow(/"modules_to_save"/);
    await expect(importPeft(realSource(GPT2), smolConfig(), 'g')).rejects.toThrow(/"fan_in_fan_out"/);
  });

  it('names the Hugging Face base that the MLC build of the same model maps to', () => {
    expect(hfRepoOfMlcBuild('SmolLM2-135M-Instruct-q0f16-MLC')).toBe((realJson(SMOL, PEFT_CONFIG) as { base_model_name_or_path: string }).base_model_name_or_path);
    expect(hfRepoOfMlcBuild('TinyLlama-1.1B-Chat-v1.0-q4f16_1-MLC')).toBe((realJson(TINYLLAMA, PEFT_CONFIG) as { base_model_name_or_path: string }).base_model_name_or_path);
  });
});
