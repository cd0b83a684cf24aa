/**
 * Starting points for a run's settings.
 *
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
import { DEFAULT_EVAL, TINY_MODEL, type EvalSettings, type PresetName, type Role, type RoleBinding, type RunConfigPatch } from './run-config';
import { defaultTrainConfig, type TrainConfig } from './train-settings';

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
}

export const PRESETS: Record<Exclude<PresetName, 'custom'>, Preset> = {
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
