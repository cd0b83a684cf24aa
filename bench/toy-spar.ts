/**
 * The SPaR experiment as a benchmark (`npm run bench -- --page toy-spar`): SPaR-toy in the Toy
 * world preset, driven through the lab worker over the same protocol the UI uses, so the numbers
 * are the ones a user sees. Per seed:
 *   1. M0's IFEval accuracies on the preset's held-out toy set;
 *   2. one SPaR iteration on the toy training instructions (self-play → pairs; actor DPO → M1,
 *      evaluated; refiner RFT → R1);
 *   3. the paper's ablation on the same instructions and settings: spar mode 'independent'
 *      (a majority-Yes and a majority-No sample, no refinement), actor DPO → M1-indep, evaluated;
 *   4. the judge's accuracy against the checkers, pair counts, word edit distance within pairs;
 *   5. the SPaR run's second iteration (self-play with M1 and R1; actor DPO → M2, evaluated);
 *   6. each phase's wall time.
 * Query: `seeds=1,2,3` (default), `instructions=64` (default), `eval=N` (held-out prompts;
 * default the preset's). The seed sets the training instructions, SPaR's seed and the training
 * seeds; the held-out set is the preset's for every seed.
 */
import { LabError } from '../src/errors';
import { LabClient } from '../workers/rpc';
import type { LabEvent, Method, Params, Result } from '../workers/protocol';
import { PRESETS, presetPatch } from '../src/lab/presets';
import { SPAR_TOY, type EvalSettings, type Role } from '../src/lab/run-config';
import type { EvalRecord } from '../src/store/records';
import { wordEditDistance } from '../src/toy/edit-distance';
import { log, runPage } from './page';
import { summarize, summaryLines, type Accuracies, type JudgeScore, type Model, type PairStats, type Phase, type SeedResult, type Summary, type TrainSummary } from './toy-spar-summary';

interface Options {
  seeds: number[];
  instructions: number;
  /** Held-out prompts (null: the preset's count). */
  eval: number | null;
}

function options(search: string): Options {
  const q = new URLSearchParams(search);
  const int = (name: string, text: string, min: number) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new Error(`?${name}= must be whole numbers ≥ ${min} (got ${JSON.stringify(text)})`);
    return n;
  };
  return {
    seeds: (q.get('seeds') ?? '1,2,3').split(',').map((s) => int('seeds', s.trim(), 0)),
    instructions: int('instructions', q.get('instructions') ?? '64', 1),
    eval: q.has('eval') ? int('eval', q.get('eval')!, 1) : null,
  };
}

/** The lab worker and a typed client, as the UI makes them (src/ui/lab.svelte.ts). */
function startLab(): { lab: LabClient; worker: Worker } {
  const worker = new Worker(new URL('../workers/lab.worker.ts', import.meta.url), { type: 'module', name: 'lab' });
  const lab = new LabClient(worker);
  // A crashed worker answers nothing: fail what is waiting rather than wait for the runner's timeout.
  worker.addEventListener('error', (e) => lab.failAll(new LabError('internal', `The lab worker crashed: ${e.message || 'unknown error'}.`)));
  return { lab, worker };
}

/** Progress lines: each finished instruction of self-play, and training every 10 steps (step events are throttled). */
function progressLogger(): (e: LabEvent) => void {
  let logged = 0;
  return (e) => {
    if (e.type === 'selfplay.tree') log(`  tree ${e.tree.promptId}: ${e.tree.status}, ${e.tree.pairs} pair(s)`);
    if (e.type !== 'train.steps' || e.metrics.length === 0) return;
    const { step, totalSteps } = e.metrics.at(-1)!;
    const role = e.role;
    if (step < logged) logged = 0; // a new training
    if (step >= logged + 10) {
      logged = step - (step % 10);
      log(`  ${role} step ${step}/${totalSteps}`);
    }
  };
}

/** One seed's two runs (SPaR and the ablation) and what they measured. */
class SeedExperiment {
  readonly seconds: Partial<Record<Phase, number>> = {};
  readonly skipped: Partial<Record<Phase, string>> = {};
  readonly training: Partial<Record<Phase, TrainSummary>> = {};

  constructor(
    private readonly lab: LabClient,
    private readonly seed: number,
    private readonly o: Options,
  ) {}

  private call<M extends Method>(method: M, params: Params<M>): Promise<Result<M>> {
    return this.lab.call(method, params);
  }

  /** Runs one phase, timing it. */
  private async phase<T>(name: Phase, work: () => Promise<T>): Promise<T> {
    log(`seed ${this.seed}: ${name}…`);
    const t0 = performance.now();
    const out = await work();
    this.seconds[name] = (performance.now() - t0) / 1000;
    log(`seed ${this.seed}: ${name} took ${this.seconds[name]!.toFixed(1)} s`);
    return out;
  }

  /** A run from the Toy world preset with this seed (and `mode`), holding the seed's training instructions. */
  private async createRun(name: string, mode: 'refine' | 'independent'): Promise<string> {
    const preset = PRESETS['toy-world'];
    const train = preset.train();
    const evalSettings = structuredClone(preset.eval);
    if (this.o.eval !== null) evalSettings.set = { ...evalSettings.set, count: this.o.eval } as EvalSettings['set'];
    const config = {
      ...presetPatch('toy-world'),
      spar: { ...preset.spar(), seed: this.seed, mode },
      train: { actor: { ...train.actor, seed: this.seed }, refiner: { ...train.refiner, seed: this.seed } },
      eval: evalSettings,
    };
    const run = await this.call('runs.create', { name, config: config as Record<string, unknown> });
    const added = await this.call('prompts.generate', { runId: run.id, source: 'toy', count: this.o.instructions, seed: this.seed });
    if (added.added !== this.o.instructions) throw new Error(`expected ${this.o.instructions} toy instructions, the run got ${added.added}`);
    return run.id;
  }

  private async evaluate(phase: Phase, runId: string, model: number): Promise<{ accuracies: Accuracies; prompts: number; responses: Map<string, string> }> {
    const r = await this.phase(phase, () => this.call('eval.run', { runId, model }));
    const s = r.summary;
    log(`seed ${this.seed}: M${model} instruction strict ${(100 * s.instructionStrict).toFixed(1)}%, prompt strict ${(100 * s.promptStrict).toFixed(1)}%`);
    const responses = new Map(r.details.map((d) => [String(d.prompt), String(d.response)]));
    return { accuracies: { promptStrict: s.promptStrict, instructionStrict: s.instructionStrict, promptLoose: s.promptLoose, instructionLoose: s.instructionLoose }, prompts: s.prompts, responses };
  }

  private async selfPlay(phase: Phase, runId: string, iteration: number): Promise<void> {
    const out = await this.phase(phase, () => this.call('selfplay.start', { runId, iteration }));
    if (out.state !== 'done') throw new Error(`self-play of iteration ${iteration} ended ${out.state}: ${JSON.stringify(out.run.config.iterations)}`);
    const s = out.stats;
    log(`seed ${this.seed}: iteration ${iteration}: ${s.finished} finished, ${s.failed} failed, ${s.pairs} pairs, ${s.rft} RFT records, ${s.modelCalls} model calls, ${s.generatedTokens} tokens`);
  }

  /** Trains one role on one iteration's data; false (and the reason kept) when the lab says it cannot. */
  private async train(phase: Phase, runId: string, iteration: number, role: Role): Promise<boolean> {
    const plan = (await this.call('train.plan', { runId, iteration }))[role];
    if (plan.blocked) {
      this.skipped[phase] = plan.blocked;
      log(`seed ${this.seed}: ${phase} skipped: ${plan.blocked}`);
      return false;
    }
    const { state, entry } = await this.phase(phase, () => this.call('train.start', { runId, iteration, role }));
    if (state !== 'done') throw new Error(`${role} training on iteration ${iteration} ended ${state}: ${entry.error?.message ?? ''}`);
    const t = entry.timing;
    this.training[phase] = {
      examples: entry.examples,
      steps: entry.totalSteps,
      wallSeconds: t?.wallSeconds ?? NaN,
      loadSeconds: t?.loadSeconds ?? NaN,
      compileSeconds: t?.compileSeconds ?? NaN,
      referenceSeconds: t?.referenceSeconds ?? NaN,
      stepSeconds: t?.stepSeconds ?? NaN,
      last: entry.last ?? {},
    };
    const last = entry.last ?? {};
    log(
      `seed ${this.seed}: ${role} trained on ${entry.examples} examples, ${entry.totalSteps} steps (steps ${t?.stepSeconds.toFixed(0)} s, compile ${t?.compileSeconds.toFixed(0)} s, reference ${t?.referenceSeconds.toFixed(0)} s, load ${t?.loadSeconds.toFixed(0)} s); ` +
        `last step loss ${last.loss?.toFixed(3)}${last.rewardMargin === undefined ? '' : `, reward margin ${last.rewardMargin.toFixed(3)}`}`,
    );
    return true;
  }

  private async pairStats(runId: string, iteration: number): Promise<PairStats> {
    const { items, total } = await this.call('pairs.list', { runId, iteration, limit: Number.MAX_SAFE_INTEGER });
    if (items.length !== total) throw new Error(`pairs.list gave ${items.length} of ${total} pairs`);
    const edits = items.map((p) => wordEditDistance(p.chosen, p.rejected));
    return { pairs: items.length, meanWordEdits: edits.length ? edits.reduce((a, b) => a + b, 0) / edits.length : null };
  }

  private async judge(runId: string, iteration: number): Promise<JudgeScore | null> {
    let r: EvalRecord;
    try {
      r = await this.call('eval.judge', { runId, iteration });
    } catch (e) {
      log(`seed ${this.seed}: no judge score for iteration ${iteration}: ${(e as Error).message}`);
      return null;
    }
    const s = r.summary;
    return {
      accuracy: s.accuracy ?? null,
      samples: s['samples.accuracy'] ?? null,
      nodes: s['nodes.accuracy'] ?? null,
      judged: s.judged,
      invalid: s.invalid,
      noOnFailing: s.noOnFailing,
      noOnFollowing: s.noOnFollowing,
      yesOnFailing: s.yesOnFailing,
      yesOnFollowing: s.yesOnFollowing,
    };
  }

  async run(): Promise<SeedResult> {
    const models: SeedResult['models'] = { M0: null, M1: null, M1indep: null, M2: null };
    const changedFromM0: SeedResult['changedFromM0'] = { M1: null, M1indep: null, M2: null };
    const spar = await this.createRun(`toy-spar seed ${this.seed}`, 'refine');
    const m0 = await this.evaluate('evalM0', spar, 0);
    models.M0 = m0.accuracies;
    const evaluate = async (name: Exclude<Model, 'M0'>, phase: Phase, runId: string, model: number) => {
      const r = await this.evaluate(phase, runId, model);
      models[name] = r.accuracies;
      changedFromM0[name] = [...r.responses].filter(([prompt, response]) => m0.responses.get(prompt) !== response).length;
      log(`seed ${this.seed}: ${changedFromM0[name]} of ${r.prompts} responses differ from M0's`);
    };

    await this.selfPlay('selfplay0', spar, 0);
    const spar0 = await this.pairStats(spar, 0);
    if (await this.train('trainActor0', spar, 0, 'actor')) await evaluate('M1', 'evalM1', spar, 1);
    await this.train('trainRefiner0', spar, 0, 'refiner');
    const iteration0 = await this.phase('judge0', () => this.judge(spar, 0));

    const indep = await this.createRun(`toy-spar seed ${this.seed} independent`, 'independent');
    await this.selfPlay('selfplayIndep', indep, 0);
    const independent = await this.pairStats(indep, 0);
    if (await this.train('trainActorIndep', indep, 0, 'actor')) await evaluate('M1indep', 'evalM1Indep', indep, 1);

    await this.selfPlay('selfplay1', spar, 1);
    const spar1 = await this.pairStats(spar, 1);
    if (await this.train('trainActor1', spar, 1, 'actor')) await evaluate('M2', 'evalM2', spar, 2);
    const iteration1 = await this.judge(spar, 1);

    return {
      seed: this.seed,
      instructions: this.o.instructions,
      evalPrompts: m0.prompts,
      models,
      changedFromM0,
      judge: { iteration0, iteration1 },
      pairs: { spar0, independent, spar1 },
      seconds: this.seconds,
      training: this.training,
      skipped: this.skipped,
    };
  }
}

async function main(): Promise<{ options: Options; device: string; engine: string; model: string; seeds: SeedResult[]; summary: Summary }> {
  const o = options(location.search);
  log(`toy-spar: seeds ${o.seeds.join(', ')}, ${o.instructions} training instructions, ${o.eval ?? "the preset's"} held-out prompts`);
  const { lab, worker } = startLab();
  lab.onEvent(progressLogger());
  const gpu = await lab.call('gpu.report', {});
  const device = gpu.available ? `${gpu.description || `${gpu.vendor} ${gpu.architecture}`}${gpu.isFallbackAdapter ? ' (fallback adapter)' : ''}` : `no WebGPU (${gpu.reason})`;
  const t0 = performance.now();
  const loaded = await lab.call('models.load', { request: SPAR_TOY });
  const { engine } = await lab.call('models.list', {});
  log(`device: ${device}; ${engine}; ${loaded.name} loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const seeds: SeedResult[] = [];
  for (const seed of o.seeds) {
    const r = await new SeedExperiment(lab, seed, o).run();
    seeds.push(r);
    log(JSON.stringify(r));
  }
  worker.terminate();
  const summary = summarize(seeds);
  for (const line of summaryLines(summary, device)) log(line);
  return { options: o, device, engine, model: loaded.name, seeds, summary };
}

runPage(main);
