import { describe, expect, it } from 'vitest';
import { memorySource, type FileMap } from '../../../../src/engine/load/files';
import { hfNames, loadHfWeights } from '../../../../src/engine/load/hf';
import { loadModel } from '../../../../src/engine/load/model';
import { parseSafetensors, writeSafetensors, type SafetensorsInput } from '../../../../src/engine/load/safetensors';
import { bf16ArrayToF32, f16ArrayToF32, f32ArrayToBf16, f32ArrayToF16, tensorToF32 } from '../../../../src/engine/model/dtypes';
import type { ModelWeights, Tensor } from '../../../../src/engine/model/weights';
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
