/**
 * Starting points for a run's settings.
 *
 * - Toy world (the default): SPaR-toy, a 1M-parameter model shipped with the app and trained
 *   from scratch on the toy world (src/toy), with the judge and refine templates it was trained
 *   on. It is not a language model, but inside the toy world it follows some of the
 *   constraints, judges and refines, so SPaR visibly improves it in minutes.
 * - Tiny demo: a random tiny model (about 60k parameters) and budgets small enough that a whole
 *   iteration takes a minute or two on any device. Its text is noise. So that the loop still
 *   runs end to end, verdicts are read out from P(yes) vs P(no) where a critique has none
 *   ('parsed-else-readout'), and the refine markers are two short strings ("the", "own") that
 *   such a model writes by chance, so refinements can be extracted. Everything downstream
 *   (trees, pairs, RFT records, exports, evaluation) is real; only the model is a toy.
 * - Paper: the reference implementation's settings (SPAR.md), which need a real instruct model.
 *
 * Both use the batched call order (a node's branches refined and judged together), which gives
 * the reference's trees for a model whose answers do not depend on call order and is much
 * faster in one browser tab.
 */
import { DEFAULT_TEMPLATES, type SparTemplates } from '../spar/templates';
import { parseSparConfig, type SparConfig } from '../spar/config';
import { TOY_TEMPLATES } from '../toy/roles';
import type { GenerateOptions } from './prompts';
import { DEFAULT_EVAL, SPAR_TOY, TINY_MODEL, type EvalSettings, type PresetName, type Role, type RoleBinding, type RunConfigPatch } from './run-config';
import { defaultTrainConfig, type TrainConfig } from './train-settings';

/**
 * The Toy world's SPaR budgets. SPaR-toy's answers are short (a title, a few sentences, a P.S.)
 * and its critiques are a line per constraint and "Final Judgement: Yes|No", so these leave room
 * in its 1024-token context for the refine prompt (instruction, answer, critique, refinement).
 */
export function toyWorldSpar(): SparConfig {
  return parseSparConfig({
    seed: 0,
    sample: { n: 4, temperature: 0.9, topP: 0.9, maxTokens: 160 },
    judge: { k: 3, maxTokens: 64, verdict: 'parsed' },
    refine: { maxTokens: 220, attempts: 2 },
    search: { branch: 2, selectBranch: 1, maxDepth: 2, callOrder: 'batched' },
    templates: TOY_TEMPLATES,
  });
}

/**
 * Training for the Toy world, every knob in one place: a few dozen pairs and RFT records on a
 * 1M-parameter model, so a LoRA learning rate well above a real model's and a few epochs for the
 * actor's DPO. The refiner's RFT is gentler: at the actor's settings it overfit its ~170 records
 * and its verdicts fell from 67% to 39% right (toy-spar bench, seed 1), which dragged M2 down.
 */
export const TOY_WORLD_TRAINING = {
  actor: { lr: 2e-3, epochs: 3, batchSize: 2, warmupRatio: 0 },
  refiner: { lr: 5e-4, epochs: 1, batchSize: 2, warmupRatio: 0 },
} as const;

export function toyWorldTrain(): TrainConfig {
  const d = defaultTrainConfig();
  return { actor: { ...d.actor, ...TOY_WORLD_TRAINING.actor }, refiner: { ...d.refiner, ...TOY_WORLD_TRAINING.refiner } };
}

export const TINY_DEMO_TEMPLATES: SparTemplates = {
  ...DEFAULT_TEMPLATES,
  judge: 'Does the Output follow the Prompt?\nPrompt: {instruction}\nOutput: {response}\nAnswer: yes or no.',
  verdictMarker: 'Answer',
  verdictCue: 'Answer:',
  yes: 'yes',
  no: 'no',
  refine: 'Rewrite the Output so that it follows the Prompt. Start the new Output after "the" and end it with "own".',
  outputStart: 'the',
  outputEnd: 'own',
};

export function tinyDemoSpar(): SparConfig {
  return parseSparConfig({
    seed: 0,
    concurrency: 2,
    sample: { n: 2, maxTokens: 32 },
    judge: { k: 2, maxTokens: 24, verdict: 'parsed-else-readout', sampleAttempts: 2 },
    refine: { maxTokens: 32, attempts: 2, callAttempts: 2 },
    search: { branch: 2, selectBranch: 1, maxDepth: 2, callOrder: 'batched' },
    templates: TINY_DEMO_TEMPLATES,
  });
}

/**
 * Training for the tiny demo: a handful of pairs and RFT records, so small batches, a few epochs
 * and a learning rate large enough that the curves move within a few steps (a random 60k-parameter
 * model has nothing to lose). Real models keep the defaults.
 */
export function tinyDemoTrain(): TrainConfig {
  const d = defaultTrainConfig();
  const fast = { lr: 5e-3, batchSize: 1, warmupRatio: 0, checkpointEvery: 2 };
  return { actor: { ...d.actor, ...fast, epochs: 3 }, refiner: { ...d.refiner, ...fast, epochs: 2 } };
}

export function paperSpar(): SparConfig {
  return parseSparConfig({ search: { callOrder: 'batched' } });
}

export interface Preset {
  name: Exclude<PresetName, 'custom'>;
  title: string;
  description: string;
  spar: () => SparConfig;
  /** Models the preset sets (the paper preset keeps the run's models). */
  models?: Record<Role, RoleBinding>;
  eval: EvalSettings;
  train: () => TrainConfig;
  /** Training instructions a new run made from the preset starts with (others start with none). */
  instructions?: GenerateOptions;
}

/** The preset a new run starts from. */
export const DEFAULT_PRESET: Exclude<PresetName, 'custom'> = 'toy-world';

export const PRESETS: Record<Exclude<PresetName, 'custom'>, Preset> = {
  'toy-world': {
    name: 'toy-world',
    title: 'Toy world',
    description:
      'SPaR-toy, a 1M-parameter model shipped with the app and trained from scratch on a toy world: short notes about 24 topics under one to three of ten IFEval constraints. ' +
      'It is not a language model (outside the toy world it writes nonsense), but it follows some of the constraints, judges with "Final Judgement: Yes/No" (about 4 in 5 right) and rewrites failing answers to fix them, ' +
      'so SPaR visibly improves it in minutes, on any device, offline. 16 toy instructions, n = 4 samples, k = 3 critiques, 2 branches, depth 2; evaluated on 40 held-out toy prompts.',
    spar: toyWorldSpar,
    models: { actor: { kind: 'lab', model: SPAR_TOY }, refiner: { kind: 'lab', model: SPAR_TOY } },
    eval: { ...DEFAULT_EVAL, set: { source: 'toy', count: 40, seed: 0 }, temperature: 0, maxTokens: 160 },
    train: toyWorldTrain,
    instructions: { source: 'toy', count: 16, seed: 0 },
  },
  'tiny-demo': {
    name: 'tiny-demo',
    title: 'Tiny demo',
    description:
      'A random tiny model generated in this tab, n = 2 samples, k = 2 critiques, 2 branches, depth 2, 32-token replies. ' +
      'The whole loop runs in a minute or two on any device, but the model is random: its text is noise. ' +
      'Verdicts are read out from P(yes) vs P(no), and the refine markers are short strings a random model writes by chance.',
    spar: tinyDemoSpar,
    models: { actor: { kind: 'lab', model: TINY_MODEL }, refiner: { kind: 'lab', model: TINY_MODEL } },
    eval: { ...DEFAULT_EVAL, set: { source: 'generated', count: 5, seed: 1000 }, maxTokens: 32 },
    train: tinyDemoTrain,
  },
  paper: {
    name: 'paper',
    title: 'Paper (SPaR defaults)',
    description:
      'The reference settings: n = 5 samples at temperature 0.9, k = 5 critiques, BFS with 3 branches to depth 3, end gate 0.5, ' +
      '2048-token replies. Needs a real instruction-tuned model (e.g. a SmolLM2, Qwen2.5 or Llama-3.2 instruct model) with a context of about 6,000 tokens or more: ' +
      'its refine prompts hold an instruction, a response and a critique. It keeps the run\'s models, so choose them below; the tiny model cannot hold these prompts.',
    spar: paperSpar,
    eval: { ...DEFAULT_EVAL, set: { source: 'ifeval', count: 541, seed: 0 } },
    train: defaultTrainConfig,
  },
};

/** The config patch a preset applies (the paper preset leaves the models as they are). */
export function presetPatch(name: Exclude<PresetName, 'custom'>): RunConfigPatch {
  const p = PRESETS[name];
  return { preset: name, spar: p.spar(), eval: structuredClone(p.eval), train: p.train(), ...(p.models ? { models: structuredClone(p.models) } : {}) };
}
