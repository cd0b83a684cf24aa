import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { memorySource } from '../../../../src/engine/load/files';
import { loadModel } from '../../../../src/engine/load/model';
import { trainBpe } from '../../../../src/engine/tiny/bpe';
import { md5Hex } from '../../../../src/engine/tiny/md5';
import { tinyHfFiles, tinyMlcFiles, tinyModelFiles } from '../../../../src/engine/tiny/tiny';

describe('tiny models', () => {
  it('are deterministic: same options, same bytes; another seed, other weights', () => {
    const a = tinyModelFiles({ format: 'mlc', arch: 'qwen2', seed: 3, quantization: 'q4f16_1' });
    const b = tinyModelFiles({ format: 'mlc', arch: 'qwen2', seed: 3, quantization: 'q4f16_1' });
    expect(Object.keys(a)).toEqual(Object.keys(b));
    for (const k of Object.keys(a)) expect(a[k]).toEqual(b[k]);
    const c = tinyHfFiles({ seed: 4 });
    expect(c['model.safetensors']).not.toEqual(tinyHfFiles({ seed: 3 })['model.safetensors']);
    expect(c['tokenizer.json']).toEqual(tinyHfFiles({ seed: 3 })['tokenizer.json']);
  });

  it('have the promised sizes and a tokenizer covering the vocabulary', async () => {
    const m = await loadModel(memorySource(tinyMlcFiles({ arch: 'llama', quantization: 'q0f32' })));
    expect(m.config).toMatchObject({ hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16, intermediateSize: 160, vocabSize: 331 });
    expect(m.config.ropeScaling).toMatchObject({ type: 'llama3', factor: 8 });
    expect(m.tokenizer.idToToken(330)).toBeDefined();
    expect(m.tokenizer.idToToken(331)).toBeUndefined();
    const big = await loadModel(memorySource(tinyHfFiles({ hiddenSize: 96, numLayers: 3, numHeads: 6, numKvHeads: 3, intermediateSize: 224, vocabSize: 300 })));
    expect(big.config).toMatchObject({ hiddenSize: 96, numLayers: 3, headDim: 16, vocabSize: 300 });
    const bytes = Object.values(tinyMlcFiles()).reduce((s, f) => s + f.byteLength, 0);
    expect(bytes).toBeLessThan(200 * 1024);
  });

  it('train BPE merges deterministically, most frequent pair first', () => {
    const { merges } = trainBpe('aaab aaab aab', 3);
    expect(merges[0]).toEqual(['a', 'a']);
    expect(trainBpe('aaab aaab aab', 3)).toEqual(trainBpe('aaab aaab aab', 3));
    expect(() => trainBpe('ab', 5)).toThrow(/allows only/);
  });

  it('md5Hex is MD5 (the md5sum tvmjs writes per shard), at every padding boundary', () => {
    expect(md5Hex(new TextEncoder().encode(''))).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(md5Hex(new TextEncoder().encode('The quick brown fox jumps over the lazy dog'))).toBe('9e107d9d372bb6826bd81d3542a419d6');
    for (const n of [1, 55, 56, 63, 64, 65, 119, 120, 4096, 70001]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 131 + 7) & 255);
      expect(md5Hex(bytes), `${n} bytes`).toBe(createHash('md5').update(bytes).digest('hex'));
    }
  });
});

