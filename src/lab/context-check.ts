/**
 * Do the longest prompts a run's settings build fit its models' contexts? SPaR's judge prompt
 * holds the instruction and a whole response; the refine prompt adds the critique and the refine
 * request. With the reference's budgets (responses of 2048 tokens, critiques of 2048, refinements
 * of 3072) that is several thousand tokens, far beyond the tiny demo model's 1024: a run that
 * started anyway failed after its first samples ("The prompt has 2014 tokens; the usable context
 * is 1024"). So Start checks first: the worker with each lab-engine model's own tokenizer and
 * usable context, the page with an estimate wherever it knows a model's context.
 *
 * Lengths are upper bounds from the settings: a response is at most `sample.maxTokens`, and no
 * more than the actor's context leaves after the instruction (generation stops there); a refined
 * response is at most `refine.maxTokens`, a critique at most `judge.maxTokens`. A critique cut
 * short by the context would not fit the refine prompt either, so the refine prompt must hold
 * the whole critique budget.
 */
import type { ChatMessage } from '../backends/types';
import type { SparConfig } from '../spar/config';
import { judgeMessages, refineMessages } from '../spar/templates';
import { transformersKey } from '../../workers/transformers-messages';
import { BUNDLED_MODELS, describeBinding, describeSource, modelKey, TINY_MODEL_CONTEXT, type ModelSourceSpec, type Role, type RoleBinding } from './run-config';

/** What the check needs of one role's model. */
export interface ModelWindow {
  /** For messages, e.g. "tiny random model (seed 1)". */
  name: string;
  /** Tokens the model takes: prompt and generated tokens together. */
  contextLength: number;
  /** Tokens of a conversation as the role's backend sends it (chat template and generation prompt included). */
  countChat(messages: readonly ChatMessage[]): number;
  /** The preset a small model is made for (the tiny demo model, SPaR-toy), whose budgets fit it; null for other models. */
  madeFor: string | null;
}

/** The preset whose budgets a small model is made for: its title, or null for a real model. */
export function madeForPreset(s: ModelSourceSpec): string | null {
  if (s.type === 'tiny') return 'Tiny demo';
  if (s.type === 'bundled' && s.name === 'spar-toy') return 'Toy world';
  return null;
}

const SETUP: Record<Role, string> = { actor: 'Setup → Actor', refiner: 'Setup → Refiner' };

/**
 * Why the settings cannot run on these models, one sentence group per role, each naming what to
 * change; empty when they fit or nothing is known. `instruction`: the run's longest instruction
 * (null: not known yet, the templates alone are counted).
 */
export function contextProblems(spar: SparConfig, instruction: string | null, windows: Partial<Record<Role, ModelWindow | null>>): string[] {
  const problems: string[] = [];
  const actor = windows.actor ?? null;
  const refiner = windows.refiner ?? null;
  const text = instruction ?? '';
  const fmt = (n: number) => n.toLocaleString('en-US');

  let response = spar.sample.maxTokens;
  let responseWhy = `spar.sample.maxTokens is ${fmt(spar.sample.maxTokens)}`;
  if (actor) {
    const prompt = actor.countChat([{ role: 'user', content: text }]);
    if (prompt >= actor.contextLength) {
      problems.push(
        `The longest instruction is ${fmt(prompt)} tokens with the actor's chat template, but the actor's model (${actor.name}) holds ${fmt(actor.contextLength)}. ` +
          `Leave that instruction out in Data, or choose a model with a longer context in ${SETUP.actor}.`,
      );
      return problems;
    }
    if (actor.contextLength - prompt < response) {
      response = actor.contextLength - prompt;
      responseWhy = `the ${fmt(actor.contextLength)} tokens of the actor's context less the instruction; spar.sample.maxTokens is ${fmt(spar.sample.maxTokens)}`;
    }
  }
  if (!refiner) return problems;

  const refining = spar.mode === 'refine';
  const t = spar.templates;
  const judgeFixed = refiner.countChat(judgeMessages(t, text, ''));
  const fixed = refining ? refiner.countChat(refineMessages(t, text, '', '')) : judgeFixed;
  // A refined response is judged and refined again: its reply can be no longer than the context leaves.
  const refined = refining ? Math.min(spar.refine.maxTokens, Math.max(0, refiner.contextLength - fixed)) : 0;
  if (refined > response) {
    response = refined;
    responseWhy = `a refined response, spar.refine.maxTokens is ${fmt(spar.refine.maxTokens)}`;
  }
  const critique = refining ? spar.judge.maxTokens : 0;
  const need = fixed + response + critique;
  if (need < refiner.contextLength) return problems;

  const prompt = refining ? 'a refine prompt' : 'a judge prompt';
  const parts = [`${fmt(fixed)} for the ${refining ? 'judge and refine templates' : 'judge template'}${instruction === null ? '' : ' with the longest instruction'}`, `a response of up to ${fmt(response)} (${responseWhy})`];
  if (refining) parts.push(`a critique of up to ${fmt(critique)} (spar.judge.maxTokens)`);
  const listed = `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`;
  const room = refiner.contextLength - fixed - 1;
  const budgets = refining ? 'spar.judge.maxTokens plus the larger of spar.sample.maxTokens and spar.refine.maxTokens' : 'spar.sample.maxTokens';
  const advice = refiner.madeFor
    ? `This model is made for the ${refiner.madeFor} preset: use that preset, or choose a real instruction-tuned model (e.g. a SmolLM2, Qwen2.5 or Llama-3.2 instruct model) for the actor and the refiner in Setup.`
    : room > 0
      ? `Lower the budgets in Setup → SPaR settings so that ${budgets} stay under ${fmt(room)}, or choose a refiner with a longer context in ${SETUP.refiner}.`
      : `The templates alone fill it: shorten them in Setup → SPaR settings, or choose a refiner with a longer context in ${SETUP.refiner}.`;
  problems.push(
    `The refiner's model (${refiner.name}) holds ${fmt(refiner.contextLength)} tokens, but with these settings ${prompt} can reach about ${fmt(need)}: ${listed}. ${advice}`,
  );
  return problems;
}

/** The longest text of a run's instructions (by characters), or null for none. */
export function longestInstruction(prompts: readonly { prompt: string }[]): string | null {
  let longest: string | null = null;
  for (const p of prompts) if (longest === null || p.prompt.length > longest.length) longest = p.prompt;
  return longest;
}

/**
 * A token count for the page, which has no tokenizer: about four characters a token (English
 * BPE), plus a few tokens of chat template per message. It counts low for small vocabularies,
 * so the page warns only where the worker would refuse too.
 */
export function estimateChatTokens(messages: readonly ChatMessage[]): number {
  return messages.reduce((n, m) => n + Math.ceil(m.content.length / 4) + 4, 2);
}

/** A model the page knows the context of: loaded lab-engine models (their summaries), web-llm's catalog, loaded transformers.js models. */
export interface KnownContexts {
  loaded: readonly { key: string; contextLength: number }[];
  webllm: (modelId: string) => number | null;
  /** By transformersKey; absent where the page has not started transformers.js. */
  transformers?: (key: string) => number | null;
}

/** The page's estimate of a role's window: known for the tiny model, the models shipped with the app, loaded models and web-llm's catalog; null otherwise. */
export function estimatedWindow(b: RoleBinding, known: KnownContexts): ModelWindow | null {
  let contextLength: number | null = null;
  let name = '';
  if (b.kind === 'lab') {
    name = describeSource(b.model);
    const m = b.model;
    contextLength = m.type === 'tiny' ? TINY_MODEL_CONTEXT : m.type === 'bundled' ? BUNDLED_MODELS[m.name].contextLength : (known.loaded.find((l) => l.key === modelKey(m))?.contextLength ?? null);
  } else if (b.kind === 'webllm') {
    name = `web-llm ${b.model}`;
    contextLength = known.webllm(b.model);
  } else if (b.kind === 'transformers') {
    name = describeBinding(b);
    contextLength = b.model.type === 'bundled' ? BUNDLED_MODELS[b.model.name].contextLength : (known.transformers?.(transformersKey(b)) ?? null);
  }
  if (contextLength === null) return null;
  return { name, contextLength, countChat: estimateChatTokens, madeFor: b.kind === 'lab' || b.kind === 'transformers' ? madeForPreset(b.model) : null };
}

/** The page's check of settings and models as Setup has them (no instruction counted): what Setup and Self-play warn about. */
export function estimatedContextProblems(spar: SparConfig, models: Record<Role, RoleBinding>, known: KnownContexts): string[] {
  return contextProblems(spar, null, { actor: estimatedWindow(models.actor, known), refiner: estimatedWindow(models.refiner, known) });
}
