/**
 * Issue 14, item 10: "Paper (SPaR defaults)" kept the random tiny model and failed 30 s after
 * Start with "The prompt has 2014 tokens; the usable context is 1024". Start now checks the
 * settings against the models' contexts first and says what to change.
 */
import { describe, expect, it } from 'vitest';
import { contextProblems, estimatedWindow, longestInstruction, type ModelWindow } from '../../../src/lab/context-check';
import { CPU_ENGINE } from '../../../src/lab/engine';
import { createLab } from '../../../src/lab/index';
import { ModelHost } from '../../../src/lab/models';
import { paperSpar, presetPatch, tinyDemoSpar } from '../../../src/lab/presets';
import { applyConfigPatch, parseRunConfig, TINY_MODEL, TINY_MODEL_CONTEXT, type RoleBinding } from '../../../src/lab/run-config';
import { MemoryLabStore } from '../../helpers/memory-lab-store';

const tiny: RoleBinding = { kind: 'lab', model: TINY_MODEL };
const INSTRUCTION = 'Write a short poem about the sea. Your answer must contain a title, wrapped in double angular brackets, such as <<poem of joy>>.';

/** A model with `contextLength` whose chat template adds nothing, counting four characters a token. */
const fake = (contextLength: number): ModelWindow => ({ name: `a ${contextLength}-token model`, contextLength, countChat: (m) => m.reduce((n, x) => n + Math.ceil(x.content.length / 4), 0), madeFor: null });

async function tinyHost() {
  const host = new ModelHost({ engine: CPU_ENGINE });
  await host.load({ type: 'tiny', seed: 1 });
  const window = host.contextWindow(tiny)!;
  return { host, window };
}

describe('context check with the real tiny model', () => {
  it('refuses the Paper preset on the tiny model, naming the model, the budgets and what to do', async () => {
    const { window } = await tinyHost();
    expect(window).toMatchObject({ contextLength: TINY_MODEL_CONTEXT, madeFor: 'Tiny demo', name: 'tiny random model (seed 1)' });
    const problems = contextProblems(paperSpar(), INSTRUCTION, { actor: window, refiner: window });
    expect(problems).toHaveLength(1);
    const [p] = problems;
    expect(p).toMatch(/^The refiner's model \(tiny random model \(seed 1\)\) holds 1,024 tokens, but with these settings a refine prompt can reach about [\d,]+: /);
    expect(p).toContain('a critique of up to 2,048 (spar.judge.maxTokens)');
    expect(p).toContain('use that preset, or choose a real instruction-tuned model');
    // The sum it names is the sum it reports, and it is far over the context.
    const need = Number(/reach about ([\d,]+)/.exec(p)![1].replace(/,/g, ''));
    expect(need).toBeGreaterThan(2 * TINY_MODEL_CONTEXT);
  });

  it('lets the Tiny demo preset through on the same model: its prompts fit', async () => {
    const { window } = await tinyHost();
    expect(contextProblems(tinyDemoSpar(), INSTRUCTION, { actor: window, refiner: window })).toEqual([]);
  });

  it('refuses an instruction longer than the actor can read, whatever the budgets', async () => {
    const { window } = await tinyHost();
    const long = 'Describe the sea. '.repeat(400);
    const [p] = contextProblems(tinyDemoSpar(), long, { actor: window, refiner: window });
    expect(p).toMatch(/^The longest instruction is [\d,]+ tokens with the actor's chat template, but the actor's model \(tiny random model \(seed 1\)\) holds 1,024\. Leave that instruction out in Data/);
  });

  it('Start of a Paper run on the tiny model stops before any model call, saying why, and leaves the history as it was', async () => {
    const store = new MemoryLabStore();
    const progress: string[] = [];
    const lab = createLab(store, { models: new ModelHost({ engine: CPU_ENGINE }), listener: { progress: (_r, s) => progress.push(s), tree() {}, text() {}, run() {} }, throttleMs: 0 });
    // A new run is on the tiny model; the Paper preset keeps the run's models.
    const run = await store.createRun({ name: 'paper on tiny', config: applyConfigPatch({}, presetPatch('paper')) });
    expect(parseRunConfig(run.config).models.actor).toEqual(tiny);
    await lab.prompts.generate(run.id, { count: 3, seed: 1 });
    const started = performance.now();
    const err = await lab.selfplay.start(run.id).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'invalid-input', message: expect.stringMatching(/^Self-play did not start: The refiner's model \(tiny random model \(seed 1\)\) holds 1,024 tokens/) });
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(progress).toEqual([]);
    const after = await store.getRun(run.id);
    expect(after.status).toBe('new');
    expect(parseRunConfig(after.config).iterations).toEqual([]);
    expect(await store.list('trees', run.id)).toEqual([]);
  }, 30_000);
});

describe('context check arithmetic', () => {
  it('fits the Paper preset in an 8k context and refuses it in 4k, with the room the budgets have', () => {
    expect(contextProblems(paperSpar(), INSTRUCTION, { actor: fake(8192), refiner: fake(8192) })).toEqual([]);
    const [p] = contextProblems(paperSpar(), INSTRUCTION, { actor: fake(4096), refiner: fake(4096) });
    // Templates with the instruction: the refine conversation with empty response and critique.
    const s = paperSpar();
    const fixed = fake(0).countChat([
      { role: 'user', content: s.templates.judge.replace('{instruction}', INSTRUCTION).replace('{response}', '') },
      { role: 'assistant', content: '' },
      { role: 'user', content: s.templates.refine },
    ]);
    // The refined response is the larger budget: spar.refine.maxTokens, cut to what the context leaves.
    const refined = Math.min(3072, 4096 - fixed);
    expect(p).toBe(
      `The refiner's model (a 4096-token model) holds 4,096 tokens, but with these settings a refine prompt can reach about ${(fixed + refined + 2048).toLocaleString('en-US')}: ` +
        `${fixed} for the judge and refine templates with the longest instruction, a response of up to ${refined.toLocaleString('en-US')} (a refined response, spar.refine.maxTokens is 3,072) ` +
        'and a critique of up to 2,048 (spar.judge.maxTokens). ' +
        `Lower the budgets in Setup → SPaR settings so that spar.judge.maxTokens plus the larger of spar.sample.maxTokens and spar.refine.maxTokens stay under ${(4096 - fixed - 1).toLocaleString('en-US')}, or choose a refiner with a longer context in Setup → Refiner.`,
    );
  });

  it('caps a response at what the actor context leaves, and checks only the judge prompt without refinement', () => {
    const s = paperSpar();
    s.mode = 'independent';
    s.sample.maxTokens = 100_000;
    const actor = fake(2000);
    const [p] = contextProblems(s, INSTRUCTION, { actor, refiner: fake(2100) });
    const prompt = actor.countChat([{ role: 'user', content: INSTRUCTION }]);
    expect(p).toContain(`a judge prompt can reach about`);
    expect(p).toContain(`a response of up to ${(2000 - prompt).toLocaleString('en-US')} (the 2,000 tokens of the actor's context less the instruction; spar.sample.maxTokens is 100,000)`);
    expect(p).not.toContain('critique');
    expect(contextProblems(s, INSTRUCTION, { actor, refiner: fake(4000) })).toEqual([]);
  });

  it('checks nothing it does not know (endpoints, unloaded models)', () => {
    expect(contextProblems(paperSpar(), INSTRUCTION, { actor: null, refiner: null })).toEqual([]);
    expect(contextProblems(paperSpar(), INSTRUCTION, {})).toEqual([]);
  });

  it('picks the longest instruction by characters', () => {
    expect(longestInstruction([])).toBeNull();
    expect(longestInstruction([{ prompt: 'ab' }, { prompt: 'abcd' }, { prompt: 'abc' }])).toBe('abcd');
  });
});

describe("the page's estimate", () => {
  const known = { loaded: [{ key: 'hub:HuggingFaceTB/SmolLM2-360M-Instruct@main', contextLength: 8192 }], webllm: (id: string) => (id === 'Small-q4f16_1-MLC' ? 2048 : null) };

  it('knows the tiny model, loaded models and web-llm contexts, and nothing else', () => {
    expect(estimatedWindow(tiny, known)).toMatchObject({ contextLength: TINY_MODEL_CONTEXT, madeFor: 'Tiny demo' });
    expect(estimatedWindow({ kind: 'lab', model: { type: 'hub', repo: 'HuggingFaceTB/SmolLM2-360M-Instruct' } }, known)).toMatchObject({ contextLength: 8192, madeFor: null });
    expect(estimatedWindow({ kind: 'lab', model: { type: 'hub', repo: 'other/model' } }, known)).toBeNull();
    expect(estimatedWindow({ kind: 'webllm', model: 'Small-q4f16_1-MLC' }, known)).toMatchObject({ contextLength: 2048, name: 'web-llm Small-q4f16_1-MLC' });
    expect(estimatedWindow({ kind: 'openai', baseUrl: 'http://x/v1', model: 'm', verdict: true }, known)).toBeNull();
  });

  it('warns about Paper on the tiny model before any instruction exists, and not about the Tiny demo', () => {
    const w = estimatedWindow(tiny, known);
    const [p] = contextProblems(paperSpar(), null, { actor: w, refiner: w });
    expect(p).toMatch(/^The refiner's model \(tiny random model \(seed 1\)\) holds 1,024 tokens, but with these settings a refine prompt can reach about [\d,]+: [\d,]+ for the judge and refine templates, /);
    expect(contextProblems(tinyDemoSpar(), null, { actor: w, refiner: w })).toEqual([]);
  });
});
