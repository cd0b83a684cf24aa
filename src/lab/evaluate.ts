/**
 * Evaluation in the worker:
 * - the actor on a held-out IFEval-style prompt set: one response per prompt (greedy by
 *   default) through the actor backend, checked strict and loose (src/eval), giving the four
 *   accuracies, the per-type breakdown and per-prompt results; the actor is any model of the
 *   run, M_t (the adapter trained on iteration t−1's pairs, or the base for M0), by default the
 *   newest, so M0 can still be scored after training;
 * - optionally with inference-time refinement (SPaR's test-time search): the refiner of the same
 *   generation (R_t, or the newest trained before it) judges each response with the run's k-vote
 *   settings, and a failing one is refined by a small BFS tree search (src/spar) before it is
 *   checked; the unrefined accuracies are kept too;
 * - the refiner as a judge: its verdicts on an iteration's judged samples and tree nodes
 *   against the checkers' (`judgeAccuracy`), for prompts with checkable constraints.
 * Each result is stored as an EvalRecord: kind 'ifeval' with `iteration` = t of the evaluated
 * actor M_t, or kind 'judge' with `iteration` = the self-play iteration judged. `compare` puts
 * the models evaluated on one set side by side, per instruction type (eval-compare.ts).
 */
import type { ModelBackend } from '../backends/types';
import { isCancelled, LabError } from '../errors';
import type { SparConfig } from '../spar/config';
import { judgeResponses } from '../spar/judge';
import { PyRandom, streamSeeds } from '../spar/rng';
import { searchTree } from '../spar/search';
import type { SearchOutcome } from '../spar/types';
import { accuracy, evaluateLoose, evaluateStrict, judgeAccuracy, prepareFor, type Accuracy, type EvalOutput, type IfevalRecord, type JudgedItem } from '../eval/index';
import type { EvalRecord } from '../store/records';
import { recordProblems } from '../store/validate';
import { compareModels, describeSet, type ModelComparison } from './eval-compare';
import type { JobSlot } from './jobs';
import type { ModelHost } from './models';
import { asIfevalRecord, evalSetRecords } from './prompts';
import { parseRunConfig, type EvalSettings, type InferenceRefine } from './run-config';
import { NO_ADAPTERS, type AdapterSource } from './selfplay';
import type { LabStoreLike } from './store';

export interface EvalDeps {
  store: LabStoreLike;
  models: ModelHost;
  jobs: JobSlot;
  adapters?: AdapterSource;
  now?: () => number;
}

export interface ActorEvalOptions {
  /** t of the actor M_t to score (0: the base); default the newest. */
  model?: number;
  /** Default: the run's evaluation settings. */
  settings?: EvalSettings;
  /** Prompts per model call (the backend may decode them as one batch). */
  batch?: number;
  signal?: AbortSignal;
  onProgress?: (p: { label: string; done: number; total?: number }) => void;
}

/** One evaluated prompt. */
export interface PromptResult {
  key: number | string;
  prompt: string;
  response: string;
  instruction_id_list: string[];
  kwargs: Record<string, unknown>[];
  strict: boolean[];
  loose: boolean[];
  finishReason: 'stop' | 'length';
  tokens: number;
  /** With inference-time refinement: the actor's own response and what the refiner did with it. */
  refinement?: RefinementResult;
}

export interface RefinementResult {
  original: string;
  /** The refiner's majority verdict on the original (null: tied, kept as it was). */
  verdict: 'Yes' | 'No' | null;
  /** Judged tree nodes below the root (0 when it passed). */
  nodes: number;
  outcome: SearchOutcome | null;
  /** Value of the node taken (null when the original was kept). */
  value: number | null;
  changed: boolean;
  strict: boolean[];
  loose: boolean[];
}

/** A judged item of a judge evaluation. */
export interface JudgeItemResult {
  treeId: string;
  promptId: string;
  /** 'sample' i, or tree 'node' i (children of the root; the root is a sample). */
  what: 'sample' | 'node';
  index: number;
  verdict: 'Yes' | 'No' | null;
  followed: boolean;
}

export type EvalListItem = Omit<EvalRecord, 'details'>;

export class EvalService {
  private readonly now: () => number;

  constructor(private readonly d: EvalDeps) {
    this.now = d.now ?? Date.now;
  }

  /** IFEval-style accuracy of one of the run's actors M_t (default the newest: its newest adapter, or the base M0). */
  async evaluateActor(runId: string, o: ActorEvalOptions = {}): Promise<EvalRecord> {
    const run = await this.d.store.getRun(runId);
    return this.d.jobs.run({ kind: 'eval', runId, runName: run.name, startedAt: this.now() }, async () => {
      const config = parseRunConfig(run.config);
      const settings = o.settings ?? config.eval;
      const progress = o.onProgress ?? (() => {});
      progress({ label: 'Preparing the prompt set', done: 0 });
      const training = new Set((await this.d.store.list('prompts', runId)).map((p) => p.prompt));
      const all = await evalSetRecords(settings.set);
      // Held out: never score the actor on prompts it trained on.
      const records = all.filter((r) => !training.has(r.prompt));
      if (records.length === 0) throw new LabError('invalid-input', 'Every prompt of the evaluation set is also a training prompt of this run; choose another set or seed.');
      await prepareFor(records);
      const adapters = this.d.adapters ?? NO_ADAPTERS;
      const found = await actorAdapter(adapters, runId, o.model);
      const modelIndex = found ? found.trainedOn + 1 : 0;
      const actor = await this.d.models.backend(config.models.actor, 'actor', { adapter: found?.adapter, signal: o.signal, onProgress: o.onProgress });
      const started = this.now();
      const refine = settings.refine?.enabled ? settings.refine : null;
      const refinerFound = refine ? await adapters.latest(runId, 'refiner', modelIndex) : null;
      const refinerIndex = refinerFound ? refinerFound.trainedOn + 1 : 0;
      const refiner = refine ? await this.d.models.backend(config.models.refiner, 'refiner', { adapter: refinerFound?.adapter, signal: o.signal, onProgress: o.onProgress }) : null;
      const results = await generateResponses(actor, records, settings, o.batch ?? 4, o.signal, (done) => progress({ label: `Generating responses (M${modelIndex})`, done, total: records.length }));
      const before = refine ? { strict: accuracy(results.map((r) => r.strictOut)), loose: accuracy(results.map((r) => r.looseOut)) } : null;
      if (refine && refiner) {
        for (let i = 0; i < results.length; i++) {
          progress({ label: `Refining responses (R${refinerIndex} judges and refines)`, done: i, total: results.length });
          results[i] = await refineResult(results[i], records[i], refiner, config.spar, refine, settings.seed, o.signal);
        }
      }
      const strict = results.map((r) => r.strictOut);
      const loose = results.map((r) => r.looseOut);
      const sa = accuracy(strict);
      const la = accuracy(loose);
      const record: EvalRecord = {
        runId,
        id: `ifeval:${String(modelIndex).padStart(3, '0')}:${started}`,
        iteration: modelIndex,
        createdAt: this.now(),
        kind: 'ifeval',
        summary: {
          promptStrict: sa.promptLevel,
          instructionStrict: sa.instructionLevel,
          promptLoose: la.promptLevel,
          instructionLoose: la.instructionLevel,
          prompts: sa.prompts,
          instructions: sa.instructions,
          heldOutDropped: all.length - records.length,
          tokens: results.reduce((a, r) => a + r.detail.tokens, 0),
          seconds: (this.now() - started) / 1000,
          ...(before
            ? {
                refined: results.filter((r) => r.detail.refinement?.changed).length,
                judgedNo: results.filter((r) => r.detail.refinement?.verdict === 'No').length,
                promptStrictBefore: before.strict.promptLevel,
                instructionStrictBefore: before.strict.instructionLevel,
                promptLooseBefore: before.loose.promptLevel,
                instructionLooseBefore: before.loose.instructionLevel,
              }
            : {}),
        },
        meta: {
          model: actor.info.label,
          modelIndex,
          adapter: found?.adapter.name ?? null,
          mode: refine ? 'refine' : 'plain',
          ...(refine ? { refiner: refiner!.info.label, refinerIndex, refinerAdapter: refinerFound?.adapter.name ?? null, refine: { ...refine } } : {}),
          set: describeSet(settings),
          settings: { ...settings, set: { ...settings.set, ...(settings.set.source === 'upload' ? { records: [] } : {}) } },
        },
        details: results.map((r) => ({ ...r.detail })),
      };
      await this.d.store.put('evals', record);
      return record;
    });
  }

  /** The refiner's verdicts in one self-play iteration against the checkers. */
  async evaluateJudge(runId: string, iteration: number): Promise<EvalRecord> {
    const prompts = new Map((await this.d.store.list('prompts', runId)).map((p) => [p.id, p]));
    const trees = (await this.d.store.list('trees', runId)).filter((t) => t.iteration === iteration);
    if (trees.length === 0) throw new LabError('not-found', `Iteration ${iteration} has no finished instructions to judge.`);
    const checkable = new Map<string, IfevalRecord>();
    for (const t of trees) {
      const p = prompts.get(t.promptId);
      if (p && p.instructionIds.length) checkable.set(t.promptId, asIfevalRecord(p));
    }
    await prepareFor([...checkable.values()]);
    const items: JudgeItemResult[] = [];
    for (const t of trees) {
      const rec = checkable.get(t.promptId);
      if (!rec) continue;
      const followed = (response: string) => evaluateStrict(rec, response).follow_all_instructions;
      t.data.samples.forEach((s, i) => {
        items.push({ treeId: t.id, promptId: t.promptId, what: 'sample', index: i, verdict: s.judge.ok ? s.judge.judgment.label : null, followed: followed(s.response) });
      });
      for (const n of t.data.tree?.nodes ?? []) {
        if (n.id === 0 || !n.judgment) continue;
        items.push({ treeId: t.id, promptId: t.promptId, what: 'node', index: n.id, verdict: n.judgment.label, followed: followed(n.response) });
      }
    }
    if (items.length === 0) throw new LabError('invalid-input', `No instruction of iteration ${iteration} has checkable constraints, so the judge cannot be scored. Use built-in or IFEval prompts.`);
    const toJudged = (list: JudgeItemResult[]): JudgedItem[] => list.map((x) => ({ verdict: x.verdict, followed: x.followed }));
    const all = judgeAccuracy(toJudged(items));
    const samples = judgeAccuracy(toJudged(items.filter((x) => x.what === 'sample')));
    const nodes = judgeAccuracy(toJudged(items.filter((x) => x.what === 'node')));
    const summary: Record<string, number> = {};
    for (const [prefix, a] of [['', all], ['samples.', samples], ['nodes.', nodes]] as const) {
      for (const [k, v] of Object.entries(a)) if (typeof v === 'number') summary[prefix + k] = v;
    }
    const createdAt = this.now();
    const record: EvalRecord = {
      runId,
      id: `judge:${String(iteration).padStart(3, '0')}:${createdAt}`,
      iteration,
      createdAt,
      kind: 'judge',
      summary,
      meta: { trees: trees.length, checkableTrees: checkable.size },
      details: items.map((x) => ({ ...x })),
    };
    await this.d.store.put('evals', record);
    return record;
  }

  /**
   * The models evaluated on one prompt set (`meta.set`), each by its newest plain evaluation, per
   * instruction type. Records that cannot be read are left out, as the Evaluate view lists them.
   */
  async compare(runId: string, set: string): Promise<ModelComparison> {
    const readable = (await this.d.store.list('evals', runId)).filter((r) => recordProblems('evals', r).length === 0);
    return compareModels(readable, set);
  }

  /** Every evaluation of a run, without per-prompt details, oldest first. */
  async list(runId: string): Promise<EvalListItem[]> {
    const all = await this.d.store.list('evals', runId);
    return all.map(({ details: _d, ...rest }) => rest).sort((a, b) => a.createdAt - b.createdAt);
  }

  /** One evaluation with its details and (for 'ifeval') the per-type breakdowns. */
  async get(runId: string, id: string): Promise<{ record: EvalRecord; strict: Accuracy | null; loose: Accuracy | null }> {
    const record = await this.d.store.get('evals', runId, id);
    if (!record) throw new LabError('not-found', `No evaluation ${id} in this run.`);
    if (record.kind !== 'ifeval') return { record, strict: null, loose: null };
    const rows = record.details as unknown as PromptResult[];
    const out = (r: PromptResult, follow: boolean[]): EvalOutput => ({
      instruction_id_list: r.instruction_id_list,
      prompt: r.prompt,
      response: r.response,
      follow_all_instructions: follow.every(Boolean),
      follow_instruction_list: follow,
    });
    return { record, strict: accuracy(rows.map((r) => out(r, r.strict))), loose: accuracy(rows.map((r) => out(r, r.loose))) };
  }

  async remove(runId: string, id: string): Promise<void> {
    await this.d.store.delete('evals', runId, id);
  }
}

type Evaluated = { detail: PromptResult; strictOut: EvalOutput; looseOut: EvalOutput };

/** The adapter that makes M_model (none for M0), or the newest one when `model` is not given. */
async function actorAdapter(adapters: AdapterSource, runId: string, model: number | undefined): Promise<Awaited<ReturnType<AdapterSource['latest']>>> {
  if (model === undefined) return adapters.latest(runId, 'actor', Number.MAX_SAFE_INTEGER);
  if (!(Number.isInteger(model) && model >= 0)) throw new LabError('invalid-input', `There is no actor M${model}: models are M0 (the base), M1, M2, …`);
  if (model === 0) return null;
  const found = await adapters.latest(runId, 'actor', model);
  if (found?.trainedOn !== model - 1) throw new LabError('not-found', `There is no M${model} yet: the actor has not been trained on iteration ${model - 1} (Train makes it).`);
  return found;
}

/**
 * SPaR's inference-time search on one evaluated response: the refiner judges it (k votes, the
 * run's judge settings); a failing one roots a BFS tree search with the given budgets, and the
 * search's final node replaces it when the search solved it or found a node valued above the
 * root's 0. Seeded per prompt, so a re-run gives the same refinements.
 */
async function refineResult(r: Evaluated, record: IfevalRecord, refiner: ModelBackend, spar: SparConfig, o: InferenceRefine, seed: number, signal?: AbortSignal): Promise<Evaluated> {
  const original = r.detail.response;
  const seeds = streamSeeds(seed, 0, `eval:${record.key}`);
  const rng = { judge: new PyRandom(seeds.judge), search: new PyRandom(seeds.search) };
  const ctx = { signal, stats: { modelCalls: 0, generatedTokens: 0, judgments: 0 } };
  let verdict: RefinementResult['verdict'] = null;
  let nodes = 0;
  let outcome: SearchOutcome | null = null;
  let value: number | null = null;
  let response = original;
  try {
    const [j] = await judgeResponses(refiner, record.prompt, [original], { ...spar.judge, attempts: spar.judge.sampleAttempts, strip: true }, spar.templates, rng.judge, ctx);
    if (j.ok) verdict = j.judgment.label;
    if (j.ok && j.judgment.label === 'No') {
      const tree = await searchTree({
        instruction: record.prompt,
        root: { response: original, critique: j.judgment.critiques[j.judgment.representative].text, judgment: j.judgment },
        refiner,
        config: { ...spar, search: { ...spar.search, algorithm: 'bfs', branch: o.branch, selectBranch: Math.min(spar.search.selectBranch, o.branch), maxDepth: o.maxDepth, budget: o.budget } },
        rng,
        ctx,
      });
      nodes = tree.nodes.length - 1;
      outcome = tree.outcome;
      const f = tree.finalNode;
      if (f !== null && f !== 0 && (tree.outcome === 'solved' || tree.nodes[f].value > 0)) {
        response = tree.nodes[f].response;
        value = tree.nodes[f].value;
      }
    }
  } catch (e) {
    if (isCancelled(e)) throw new LabError('cancelled', 'Evaluation cancelled; nothing was stored.');
    throw e;
  }
  const strictOut = evaluateStrict(record, response);
  const looseOut = evaluateLoose(record, response);
  return {
    strictOut,
    looseOut,
    detail: {
      ...r.detail,
      response,
      strict: strictOut.follow_instruction_list,
      loose: looseOut.follow_instruction_list,
      refinement: { original, verdict, nodes, outcome, value, changed: response !== original, strict: r.detail.strict, loose: r.detail.loose },
    },
  };
}

async function generateResponses(
  actor: ModelBackend,
  records: IfevalRecord[],
  s: EvalSettings,
  batch: number,
  signal: AbortSignal | undefined,
  onDone: (done: number) => void,
): Promise<Evaluated[]> {
  const out: Evaluated[] = [];
  onDone(0);
  for (let i = 0; i < records.length; i += batch) {
    if (signal?.aborted) throw new LabError('cancelled', 'Evaluation cancelled; nothing was stored.');
    const chunk = records.slice(i, i + batch);
    let gens;
    try {
      gens = await actor.generate(
        chunk.map((r, j) => ({ messages: [{ role: 'user' as const, content: r.prompt }], n: 1, sampling: { temperature: s.temperature, topP: s.topP, maxTokens: s.maxTokens, seed: s.seed + i + j } })),
        { signal },
      );
    } catch (e) {
      if (isCancelled(e)) throw new LabError('cancelled', 'Evaluation cancelled; nothing was stored.');
      throw e;
    }
    chunk.forEach((r, j) => {
      const g = gens[j][0];
      const strictOut = evaluateStrict(r, g.text);
      const looseOut = evaluateLoose(r, g.text);
      out.push({
        strictOut,
        looseOut,
        detail: {
          key: r.key,
          prompt: r.prompt,
          response: g.text,
          instruction_id_list: r.instruction_id_list,
          kwargs: r.kwargs.map((k) => ({ ...k })),
          strict: strictOut.follow_instruction_list,
          loose: looseOut.follow_instruction_list,
          finishReason: g.finishReason,
          tokens: g.tokens,
        },
      });
    });
    onDone(out.length);
  }
  return out;
}
