/**
 * The PEFT export of a run's adapter names the Hugging Face model the role's model was made
 * from (src/models/hf-base.ts), not the MLC build the lab trained over, and the Train view's plan
 * carries the same answer with its sentence. Nothing is loaded: a PEFT export needs no model.
 */
import { describe, expect, it } from 'vitest';
import { stateToRecord } from '../../../src/engine/train/checkpoint';
import { createAdapter } from '../../../src/engine/train/lora';
import { tinyModelFiles, tinyWeights } from '../../../src/engine/tiny/tiny';
import { createLab } from '../../../src/lab/index';
import { defaultRunConfig, type IterationEntry, type RoleBinding } from '../../../src/lab/run-config';
import { MemoryLabStore } from '../../helpers/memory-lab-store';

const quiet = { progress() {}, tree() {}, text() {}, run() {} };

async function trainedRun(models: Record<'actor' | 'refiner', RoleBinding>, lab = createLab(new MemoryLabStore(), { listener: quiet })) {
  const store = lab.store;
  const d = defaultRunConfig();
  const entry: IterationEntry = { iteration: 0, status: 'done', startedAt: 1, updatedAt: 1, spar: d.spar, models, labels: { actor: '', refiner: '' }, adapters: {}, instructions: 0, finished: 0, failed: 0, pairs: 0, rft: 0 };
  const run = await store.createRun({ name: 'peft export', config: { ...d, models, iterations: [entry] } });
  const adapter = createAdapter('actor-it0', tinyWeights({ arch: 'llama', seed: 1 }).config, {}, { seed: 1 });
  await store.put('adapters', stateToRecord({ adapter, step: 1, totalSteps: 1, status: 'done', fingerprint: 'f', optimizer: null }, { runId: run.id, iteration: 0, role: 'actor' }));
  const exported = async () => {
    const files = await lab.train.exportAdapter(run.id, 0, 'actor', 'peft');
    return JSON.parse(await files[0].blob.text()) as Record<string, unknown>;
  };
  return { exported, plan: () => lab.train.plan(run.id, 0) };
}

/** A local checkpoint folder as the page hands it over, its config.json carrying `_name_or_path`. */
function pickedFolder(nameOrPath: string) {
  const files = tinyModelFiles({ format: 'hf', seed: 3 });
  const config = { ...JSON.parse(new TextDecoder().decode(files['config.json'])), _name_or_path: nameOrPath };
  files['config.json'] = new TextEncoder().encode(JSON.stringify(config));
  return Object.entries(files).map(([path, bytes]) => ({ path: `my-finetune/${path}`, file: new File([bytes as Uint8Array<ArrayBuffer>], path) }));
}

describe('PEFT export base model', () => {
  it('names the Hugging Face model an MLC build was converted from', async () => {
    const w = await trainedRun({ actor: { kind: 'lab', model: { type: 'hub', repo: 'mlc-ai/SmolLM2-135M-Instruct-q0f16-MLC' } }, refiner: { kind: 'webllm', model: 'Qwen2.5-0.5B-Instruct-q4f16_1-MLC' } });
    expect(await w.exported()).toMatchObject({ base_model_name_or_path: 'HuggingFaceTB/SmolLM2-135M-Instruct', revision: null });
    const plan = await w.plan();
    expect(plan.actor.peftBase).toMatchObject({ repo: 'HuggingFaceTB/SmolLM2-135M-Instruct', note: expect.stringContaining('mlc-ai/SmolLM2-135M-Instruct-q0f16-MLC was converted from') });
    expect(plan.refiner.peftBase).toBeNull(); // web-llm serves it frozen: nothing to export
  });

  it('keeps a hub checkpoint and its revision, and leaves an unknown base null with a note that says so', async () => {
    const hf = await trainedRun({ actor: { kind: 'lab', model: { type: 'hub', repo: 'Qwen/Qwen2.5-0.5B-Instruct', revision: 'a8b602d' } }, refiner: { kind: 'lab', model: { type: 'tiny', seed: 1 } } });
    expect(await hf.exported()).toMatchObject({ base_model_name_or_path: 'Qwen/Qwen2.5-0.5B-Instruct', revision: 'a8b602d' });

    const mine = await trainedRun({ actor: { kind: 'lab', model: { type: 'hub', repo: 'someone/MyFinetune-q4f16_1-MLC' } }, refiner: { kind: 'lab', model: { type: 'tiny', seed: 1 } } });
    expect(await mine.exported()).toMatchObject({ base_model_name_or_path: null });
    expect((await mine.plan()).actor.peftBase).toMatchObject({ repo: null, note: expect.stringMatching(/does not know which Hugging Face model .* leaves base_model_name_or_path empty/) });
  });

  it("names a local checkpoint's _name_or_path once the folder is open", async () => {
    const lab = createLab(new MemoryLabStore(), { listener: quiet });
    const summary = await lab.models.load({ type: 'files', label: 'my-finetune', files: pickedFolder('TinyLlama/TinyLlama-1.1B-Chat-v1.0') });
    expect(summary).toMatchObject({ format: 'hf', nameOrPath: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0' });
    const w = await trainedRun({ actor: { kind: 'lab', model: { type: 'files', label: 'my-finetune' } }, refiner: { kind: 'lab', model: { type: 'tiny', seed: 1 } } }, lab);
    expect(await w.exported()).toMatchObject({ base_model_name_or_path: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0' });
    expect((await w.plan()).actor.peftBase?.note).toMatch(/_name_or_path/);
  });
});
