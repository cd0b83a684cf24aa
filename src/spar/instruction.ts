/**
 * One instruction through one self-play iteration (SPAR.md "Self-play data construction"):
 * sample n → judge each (k-vote) → pick one failing response → tree search (or, in the
 * ablation, pick one passing response) → pairs and RFT records.
 */
import type { ModelBackend } from '../backends/types';
import { generate, type ModelCtx } from './calls';
import type { SparConfig } from './config';
import { extractPairs, extractRft, type PairDraft, type RftDraft } from './extract';
import { judgeResponses } from './judge';
import { PyRandom, requestSeed, streamSeeds } from './rng';
import { searchTree } from './search';
import type { InstructionData } from './types';

export interface InstructionInput {
  iteration: number;
  promptId: string;
  prompt: string;
}

export interface Models {
  actor: ModelBackend;
  refiner: ModelBackend;
}

export interface InstructionResult {
  data: InstructionData;
  pairs: PairDraft[];
  rft: RftDraft[];
}

/** A model call failed: `data` holds what the instruction had produced up to then. */
export class InstructionFailure extends Error {
  override name = 'InstructionFailure';
  constructor(
    readonly error: unknown,
    readonly data: InstructionData,
  ) {
    super(error instanceof Error ? error.message : String(error), { cause: error });
  }
}

export async function processInstruction(
  input: InstructionInput,
  config: SparConfig,
  models: Models,
  ctx: Omit<ModelCtx, 'stats'>,
): Promise<InstructionResult> {
  const seeds = streamSeeds(config.seed, input.iteration, input.promptId);
  const rng = {
    sample: new PyRandom(seeds.sample),
    judge: new PyRandom(seeds.judge),
    select: new PyRandom(seeds.select),
    search: new PyRandom(seeds.search),
  };
  const data: InstructionData = {
    prompt: input.prompt,
    mode: config.mode,
    seeds,
    samples: [],
    negative: null,
    positive: null,
    tree: null,
    stats: { modelCalls: 0, generatedTokens: 0, judgments: 0 },
  };
  const mctx: ModelCtx = { ...ctx, stats: data.stats };
  try {
    // 1. Sample: one request of n (reference infer.py strips each output).
    const s = config.sample;
    const [samples] = await generate(
      models.actor,
      [{ messages: [{ role: 'user', content: input.prompt }], n: s.n, sampling: { temperature: s.temperature, topP: s.topP, maxTokens: s.maxTokens, stop: s.stop, seed: requestSeed(rng.sample) } }],
      mctx,
      'sample',
    );
    const responses = samples.map((g) => g.text.trim());

    // 2. Judge every sample (judge.py: stripped critiques; ties dropped unless sampleAttempts > 1).
    const judged = await judgeResponses(
      models.refiner,
      input.prompt,
      responses,
      { ...config.judge, attempts: config.judge.sampleAttempts, strip: true },
      config.templates,
      rng.judge,
      mctx,
    );
    data.samples = responses.map((response, i) => ({ response, finishReason: samples[i].finishReason, judge: judged[i] }));

    // 3. One failing response, chosen as process_score_res_voting does: shuffle the failing
    //    (non-tied, majority No) samples in order, take the first.
    const failing = indicesWithLabel(data, 'No');
    if (failing.length) data.negative = rng.select.shuffle(failing)[0];

    if (data.negative !== null && config.mode === 'independent') {
      // Ablation: a passing sample of the same instruction, drawn the same way.
      const passing = indicesWithLabel(data, 'Yes');
      if (passing.length) data.positive = rng.select.shuffle(passing)[0];
    } else if (data.negative !== null) {
      // 4. Tree search from the failing response with its representative critique, value 0.
      const root = data.samples[data.negative];
      const judgment = root.judge.ok ? root.judge.judgment : undefined;
      data.tree = await searchTree({
        instruction: input.prompt,
        root: { response: root.response, critique: judgment!.critiques[judgment!.representative].text, judgment },
        refiner: models.refiner,
        config,
        rng: { search: rng.search, judge: rng.judge },
        ctx: mctx,
      });
    }
  } catch (e) {
    throw new InstructionFailure(e, data);
  }
  // 5–6. Pairs and RFT records.
  return {
    data,
    pairs: extractPairs(data, config.extract.minFinalValue),
    rft: extractRft(data, config.templates, config.extract.minFinalValue),
  };
}

function indicesWithLabel(data: InstructionData, label: 'Yes' | 'No'): number[] {
  return data.samples.flatMap((s, i) => (s.judge.ok && s.judge.judgment.label === label ? [i] : []));
}
