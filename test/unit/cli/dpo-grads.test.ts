/** The dpo-grads command: loss and gradients of a pairs file, written for other implementations. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { command, computeDpoGrads, gradientsSafetensors } from '../../../src/cli/dpo-grads';
import { CpuModel } from '../../../src/engine/cpu/model';
import { memorySource } from '../../../src/engine/load/files';
import { loadModel } from '../../../src/engine/load/model';
import { directorySource, writeFileMap } from '../../../src/engine/load/node-files';
import { parseSafetensors } from '../../../src/engine/load/safetensors';
import { bytesAsF32 } from '../../../src/engine/model/dtypes';
import { adapterTensors } from '../../../src/engine/train/lora';
import { dpoPairLoss } from '../../../src/engine/train/losses';
import { importPeft } from '../../../src/engine/train/peft';
import { tinyHfFiles } from '../../../src/engine/tiny/tiny';
import { pairsToLlamaFactoryJsonl, pairsToTrlJsonl } from '../../../src/spar/export';

const files = tinyHfFiles({ arch: 'qwen2', seed: 11 });
const pairs = [
  { prompt: 'Is the sky blue?', chosen: 'Yes.', rejected: 'No, it is green.' },
  { prompt: 'Write one word.', chosen: 'Sea', rejected: 'Here are three words.' },
];
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('dpo-grads', () => {
  it('computes the mean DPO loss (checked through scoring) and a non-zero gradient for every LoRA tensor', async () => {
    const r = await computeDpoGrads(memorySource(files), pairsToTrlJsonl(pairs), { lora: { rank: 2, alpha: 4, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] }, beta: 0.2, ftx: 0.1, seed: 3 });
    expect(r.pairs).toBe(2);
    expect(r.gradients).toHaveLength(2 * 7 * 2);
    for (const g of r.gradients) expect(g.data.some((x) => x !== 0), g.key).toBe(true);
    // The loss again, through CpuModel.score and the template split the backends use.
    const { weights, tokenizer } = await loadModel(memorySource(files));
    const m = new CpuModel(weights);
    m.setAdapter(r.adapter);
    let loss = 0;
    for (const p of pairs) {
      const msgs = [{ role: 'user' as const, content: p.prompt }];
      const c = tokenizer.encodeResponse(msgs, p.chosen);
      const j = tokenizer.encodeResponse(msgs, p.rejected);
      loss += dpoPairLoss(
        {
          policyChosen: m.score(c.prompt, c.response, [r.adapter.name]).logprob,
          policyRejected: m.score(j.prompt, j.response, [r.adapter.name]).logprob,
          refChosen: m.score(c.prompt, c.response).logprob,
          refRejected: m.score(j.prompt, j.response).logprob,
          chosenTokens: c.response.length,
        },
        0.2,
        0.1,
      ).loss;
    }
    expect(r.loss).toBeCloseTo(loss / 2, 4);
    // The same pairs in the LLaMA-Factory layout give the same numbers.
    const lf = await computeDpoGrads(memorySource(files), pairsToLlamaFactoryJsonl(pairs), { lora: { rank: 2, alpha: 4, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] }, beta: 0.2, ftx: 0.1, seed: 3 });
    expect(lf.loss).toBe(r.loss);
    const st = parseSafetensors(gradientsSafetensors(r));
    expect(Number(st.metadata.loss)).toBe(r.loss);
    expect(st.metadata).toMatchObject({ format: 'pt', pairs: '2', beta: '0.2', pref_ftx: '0.1', r: '2', lora_alpha: '4' });
  });

  it('writes the gradients (PEFT names) and the adapter (a PEFT folder) from the command line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'spar-dpo-grads-'));
    dirs.push(dir);
    await writeFileMap(join(dir, 'model'), files);
    await writeFileMap(dir, { 'pairs.jsonl': new TextEncoder().encode(pairsToTrlJsonl(pairs) + 'oops\n') });
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    const out = join(dir, 'out', 'grads.safetensors');
    expect(await command.run(['--model', join(dir, 'model'), '--pairs', join(dir, 'pairs.jsonl'), '--out', out, '--seed', '5', '--targets', 'q,v'])).toBe(0);
    expect(err.mock.calls.flat().join('\n')).toMatch(/pairs.jsonl:3: skipped \(not valid JSON/);
    err.mockRestore();
    const st = parseSafetensors(new Uint8Array(await readFile(out)));
    const { config } = await loadModel(directorySource(join(dir, 'model')));
    const adapter = await importPeft(directorySource(join(dir, 'out', 'grads-adapter')), config, 'a');
    expect(adapter).toMatchObject({ rank: 8, alpha: 16, targets: ['q', 'v'] });
    expect([...st.tensors.keys()]).toEqual(adapterTensors(adapter).map((t) => t.key));
    expect(st.tensors.get('base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight')!.shape).toEqual([32, 8]);
    const again = await computeDpoGrads(directorySource(join(dir, 'model')), pairsToTrlJsonl(pairs), { seed: 5, lora: { targets: ['q', 'v'] } });
    expect([...bytesAsF32(st.tensors.get(again.gradients[3].key)!.bytes)]).toEqual([...again.gradients[3].data]);
    await expect(command.run(['--model', 'x'])).rejects.toThrow(/--pairs <jsonl> and --out/);
    await expect(computeDpoGrads(memorySource(files), 'nope\n')).rejects.toThrow(/no usable pair.*line 1/);
  });
});
