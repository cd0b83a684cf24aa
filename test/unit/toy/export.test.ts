/**
 * SPaR-toy as shipped (public/models/spar-toy) loads through the ordinary HF loader, and the lab's
 * CPU reference reproduces the trainer's logits on it (scripts/toy/reference_logits.py wrote them
 * with PyTorch): proof that the export is right.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { CpuModel } from '../../../src/engine/cpu/model';
import { loadModel } from '../../../src/engine/load/model';
import { directorySource } from '../../../src/engine/load/node-files';

const MODEL = 'public/models/spar-toy';

interface Reference {
  weights_sha256: string;
  cases: { tokens: number[]; positions: number[]; logits: number[][] }[];
}

describe('SPaR-toy', () => {
  it("reproduces the trainer's logits (relative error <= 1e-4)", async () => {
    const ref = JSON.parse(await readFile('test/fixtures/spar-toy-logits.json', 'utf8')) as Reference;
    const sha = createHash('sha256').update(await readFile(`${MODEL}/model.safetensors`)).digest('hex');
    expect(sha, 'the fixture is for other weights: run scripts/toy/reference_logits.py').toBe(ref.weights_sha256);
    const { weights, config } = await loadModel(directorySource(MODEL));
    expect(config.arch).toBe('llama');
    const model = new CpuModel(weights);
    const V = model.config.vocabSize;
    for (const c of ref.cases) {
      const { logits } = model.forward(model.newCache(c.tokens.length), c.tokens);
      c.positions.forEach((p, i) => {
        const got = logits.subarray(p * V, (p + 1) * V);
        const want = c.logits[i];
        let err = 0;
        let scale = 0;
        for (let v = 0; v < V; v++) {
          err = Math.max(err, Math.abs(got[v] - want[v]));
          scale = Math.max(scale, Math.abs(want[v]));
        }
        expect(Number.isFinite(err)).toBe(true);
        expect(err / scale).toBeLessThanOrEqual(1e-4);
      });
    }
  });

  it('fits the size the app ships (<= 16 MB in all)', async () => {
    const files = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'model.safetensors', 'README.md'];
    let bytes = 0;
    for (const f of files) bytes += (await readFile(`${MODEL}/${f}`)).byteLength;
    expect(bytes).toBeLessThanOrEqual(16 * 2 ** 20);
  });
});
