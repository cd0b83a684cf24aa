/**
 * Issue 15: the Toy world preset, the default for new runs: SPaR-toy (shipped with the app) as
 * actor and refiner with the templates it was trained on, toy instructions to train on and the
 * toy world's held-out prompts to evaluate on.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { directorySource } from '../../../src/engine/load/node-files';
import { ChatTokenizer } from '../../../src/engine/load/tokenizer';
import { contextProblems, estimatedContextProblems, longestInstruction, type ModelWindow } from '../../../src/lab/context-check';
import { describeSet } from '../../../src/lab/eval-compare';
import { DEFAULT_PRESET, PRESETS, paperSpar, presetPatch, TOY_WORLD_TRAINING } from '../../../src/lab/presets';
import { applyConfigPatch, BUNDLED_MODELS, parseRunConfig, SPAR_TOY, type RoleBinding } from '../../../src/lab/run-config';
import { templateProblems } from '../../../src/spar/index';
import { TOY_ARCH } from '../../../src/toy/model-files';
import { TOY_TEMPLATES } from '../../../src/toy/roles';
import { toyInstructions } from '../../../src/toy/world';

const SPAR_TOY_DIR = new URL('../../../public/models/spar-toy/', import.meta.url).pathname;
const toy: RoleBinding = { kind: 'lab', model: SPAR_TOY };
const known = { loaded: [], webllm: () => null };

describe('the Toy world preset', () => {
  it('is the default for new runs and starts them with 16 toy training instructions', () => {
    expect(DEFAULT_PRESET).toBe('toy-world');
    expect(PRESETS['toy-world'].instructions).toEqual({ source: 'toy', count: 16, seed: 0 });
    expect(PRESETS['tiny-demo'].instructions).toBeUndefined();
  });

  it('sets SPaR-toy for both roles, its own templates, small budgets, the toy held-out set and fast training', () => {
    const patch = presetPatch('toy-world');
    const c = parseRunConfig(applyConfigPatch({}, patch));
    expect(c.preset).toBe('toy-world');
    expect(c.models).toEqual({ actor: toy, refiner: toy });
    expect(c.spar.templates).toEqual(TOY_TEMPLATES);
    expect(templateProblems(c.spar.templates)).toEqual([]);
    expect(c.spar.sample).toMatchObject({ n: 4, maxTokens: 160, temperature: 0.9, topP: 0.9 });
    expect(c.spar.judge).toMatchObject({ k: 3, maxTokens: 64, verdict: 'parsed' });
    expect(c.spar.refine).toMatchObject({ maxTokens: 220, attempts: 2 });
    expect(c.spar.search).toMatchObject({ branch: 2, selectBranch: 1, maxDepth: 2, callOrder: 'batched' });
    expect(c.eval).toMatchObject({ set: { source: 'toy', count: 40, seed: 0 }, maxTokens: 160, temperature: 0 });
    expect(describeSet(c.eval)).toBe('toy world held-out prompts, 40 (seed 0); greedy, up to 160 tokens');
    expect(c.train.actor).toMatchObject(TOY_WORLD_TRAINING.actor);
    expect(c.train.refiner).toMatchObject(TOY_WORLD_TRAINING.refiner);
    expect(TOY_WORLD_TRAINING.actor).toEqual({ lr: 2e-3, epochs: 3, batchSize: 2, warmupRatio: 0 });
    // A patch is a copy: applying it twice gives the same config, and editing one leaves the preset alone.
    (patch.models!.actor as { kind: string }).kind = 'changed';
    expect(presetPatch('toy-world').models!.actor).toEqual(toy);
  });

  it("knows SPaR-toy's context before it loads: its config's max_position_embeddings", async () => {
    const config = JSON.parse(await readFile(`${SPAR_TOY_DIR}config.json`, 'utf8')) as { max_position_embeddings: number };
    expect(BUNDLED_MODELS['spar-toy'].contextLength).toBe(config.max_position_embeddings);
    expect(BUNDLED_MODELS['spar-toy'].contextLength).toBe(TOY_ARCH.maxPositionEmbeddings);
  });

  it("fits SPaR-toy's context with its own tokenizer, for the longest toy instruction; the Paper budgets do not, and the warning says which preset it is for", async () => {
    const tokenizer = await ChatTokenizer.fromSource(directorySource(SPAR_TOY_DIR));
    const window: ModelWindow = {
      name: 'SPaR-toy (shipped with the app)',
      contextLength: BUNDLED_MODELS['spar-toy'].contextLength,
      countChat: (m) => tokenizer.encodeChat(m, { addGenerationPrompt: true }).length,
      madeFor: 'Toy world',
    };
    const prompts = [...toyInstructions({ count: 200, seed: 0, split: 'train' }), ...toyInstructions({ count: 200, seed: 0, split: 'heldout' })].map((t) => t.record);
    const longest = longestInstruction(prompts);
    const spar = PRESETS['toy-world'].spar();
    expect(contextProblems(spar, longest, { actor: window, refiner: window })).toEqual([]);
    const [paper] = contextProblems(paperSpar(), longest, { actor: window, refiner: window });
    expect(paper).toContain('This model is made for the Toy world preset: use that preset, or choose a real instruction-tuned model');
    // The page's estimate (no tokenizer) agrees.
    expect(estimatedContextProblems(spar, { actor: toy, refiner: toy }, known)).toEqual([]);
    expect(estimatedContextProblems(paperSpar(), { actor: toy, refiner: toy }, known)).toHaveLength(1);
  });
});
